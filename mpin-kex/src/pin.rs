//! The user's PIN: four decimal digits at most, zeroized on drop, never printed.

use core::fmt;
use core::str::FromStr;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Largest PIN plus one (`MAXPIN`).
pub const MAX_PIN: u32 = 10_000;
/// Bits used by the fixed-length PIN ladders (`PBLEN`).
pub(crate) const PIN_BITS: i32 = 14;

/// A PIN in `0..10000`.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct Pin(u32);

/// A PIN that is not 1 to 4 decimal digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a PIN is 1 to 4 decimal digits (0000-9999)")]
pub struct InvalidPin;

impl Pin {
    /// A PIN from a number below 10000.
    pub fn new(value: u32) -> Result<Self, InvalidPin> {
        if value < MAX_PIN {
            Ok(Self(value))
        } else {
            Err(InvalidPin)
        }
    }

    pub(crate) fn value(&self) -> i32 {
        // < 10000 by construction, so the conversion is exact.
        self.0 as i32
    }
}

impl FromStr for Pin {
    type Err = InvalidPin;

    /// Parses 1 to 4 ASCII digits; surrounding white space (a trailing newline from a file) is
    /// ignored.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.is_empty() || t.len() > 4 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidPin);
        }
        t.parse::<u32>().map_err(|_| InvalidPin).and_then(Pin::new)
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_bounds() {
        assert_eq!("0042".parse::<Pin>().unwrap().value(), 42);
        assert_eq!(" 9999\n".parse::<Pin>().unwrap().value(), 9999);
        for bad in ["", "10000", "12a4", "-1", "+123", "1 2"] {
            assert_eq!(bad.parse::<Pin>(), Err(InvalidPin), "{bad:?}");
        }
        assert!(Pin::new(10_000).is_err());
    }

    #[test]
    fn debug_does_not_print_the_pin() {
        let p = Pin::new(4711).unwrap();
        assert!(!format!("{p:?}").contains("4711"));
    }
}
