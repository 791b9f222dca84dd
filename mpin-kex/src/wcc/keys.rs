//! Device key material (P2P-SPEC §4): sender keys in G1, receiver keys in G2, their D-TA
//! shares, and daily permits in both groups.
//!
//! | type | bytes |
//! |---|---|
//! | [`SenderKeyShare`], [`SenderKey`] | 97-byte G1 point `04 ‖ X ‖ Y` |
//! | [`ReceiverKeyShare`], [`ReceiverKey`] | 192-byte G2 point `X.re ‖ X.im ‖ Y.re ‖ Y.im` |
//! | [`SenderPermitShare`], [`SenderPermit`] | `be32(day)` ‖ 97-byte G1 point |
//! | [`ReceiverPermitShare`], [`ReceiverPermit`] | `be32(day)` ‖ 192-byte G2 point |
//!
//! Permits are **our extension** (Apache Milagro's WCC dropped them in 2018; they follow
//! milagro-crypto-c 4.x: `s·H1(Hn(d, HID))` and `s·H2(Hn(d, HID))`), tested for
//! self-consistency only. Every type zeroizes on drop, prints `<redacted>` in `Debug`, and
//! validates fully when decoded (canonical, on the curve, in the subgroup, not the identity).
//! Combining refuses an empty list, mixed days and an identity sum.

use core::fmt;

use miracl_core::bls12381::ecp::ECP;
use miracl_core::bls12381::ecp2::ECP2;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::curve::{big_from, G1_LEN, G2_LEN, MB};
use crate::curve::{g1_decode, g1_decode_on_curve, g1_to_bytes, g2_decode, g2_to_bytes};
use crate::error::{DecodeError, PointError, SecretError};
use miracl_core::bls12381::fp2::FP2;

fn point_err(field: &'static str) -> impl Fn(PointError) -> DecodeError {
    move |source| DecodeError::Point { field, source }
}

/// The G1 and G2 operations the key types need.
trait Group: Sized {
    const LEN: usize;
    fn decode(b: &[u8]) -> Result<Self, PointError>;
    /// Decodes bytes this crate validated before (G1 skips the subgroup check).
    fn decode_known(b: &[u8]) -> Result<Self, PointError>;
    fn encode(&self) -> Vec<u8>;
    fn plus(&mut self, o: &Self);
    fn infinite(&self) -> bool;
}

impl Group for ECP {
    const LEN: usize = G1_LEN;
    fn decode(b: &[u8]) -> Result<Self, PointError> {
        g1_decode(b)
    }
    fn decode_known(b: &[u8]) -> Result<Self, PointError> {
        g1_decode_on_curve(b)
    }
    fn encode(&self) -> Vec<u8> {
        g1_to_bytes(self).to_vec()
    }
    fn plus(&mut self, o: &Self) {
        self.add(o);
    }
    fn infinite(&self) -> bool {
        self.is_infinity()
    }
}

impl Group for ECP2 {
    const LEN: usize = G2_LEN;
    fn decode(b: &[u8]) -> Result<Self, PointError> {
        g2_decode(b)
    }
    fn decode_known(b: &[u8]) -> Result<Self, PointError> {
        g2_on_curve(b)
    }
    fn encode(&self) -> Vec<u8> {
        g2_to_bytes(self).to_vec()
    }
    fn plus(&mut self, o: &Self) {
        self.add(o);
    }
    fn infinite(&self) -> bool {
        self.is_infinity()
    }
}

/// A G2 point this crate encoded after full validation: on the twist and not infinity (the
/// subgroup check, as costly as a multiplication, was made when it was first decoded).
fn g2_on_curve(b: &[u8]) -> Result<ECP2, PointError> {
    if b.len() != G2_LEN {
        return Err(PointError::Length);
    }
    let fp2 = |o: usize| {
        let mut re = [0u8; MB];
        let mut im = [0u8; MB];
        re.copy_from_slice(&b[o..o + MB]);
        im.copy_from_slice(&b[o + MB..o + 2 * MB]);
        FP2::new_bigs(&big_from(&re), &big_from(&im))
    };
    let p = ECP2::new_fp2s(&fp2(0), &fp2(2 * MB));
    if p.is_infinity() {
        return Err(PointError::NotOnCurve);
    }
    Ok(p)
}

fn sum<G: Group>(field: &'static str, parts: &[&[u8]]) -> Result<G, SecretError> {
    let mut acc: Option<G> = None;
    for b in parts {
        let p = G::decode_known(b).map_err(point_err(field))?;
        match acc.as_mut() {
            Some(a) => a.plus(&p),
            None => acc = Some(p),
        }
    }
    let acc = acc.ok_or(SecretError::NoShares)?;
    if acc.infinite() {
        return Err(SecretError::Degenerate);
    }
    Ok(acc)
}

macro_rules! key_type {
    ($(#[$doc:meta])* $name:ident, $group:ty, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub struct $name {
            bytes: Vec<u8>,
        }

        impl $name {
            /// Length of the encoding.
            pub const LEN: usize = <$group as Group>::LEN;

            /// Decodes and fully validates the encoding.
            pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
                let p = <$group as Group>::decode(bytes).map_err(point_err($field))?;
                Ok(Self::from_point(&p))
            }

            /// The encoding. Treat it as secret.
            pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
                Zeroizing::new(self.bytes.clone())
            }

            pub(crate) fn from_point(p: &$group) -> Self {
                Self { bytes: Group::encode(p) }
            }

            /// The point (validated when this value was built).
            #[allow(dead_code)]
            pub(crate) fn point(&self) -> Result<$group, DecodeError> {
                <$group as Group>::decode_known(&self.bytes).map_err(point_err($field))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

macro_rules! permit_type {
    ($(#[$doc:meta])* $name:ident, $group:ty, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub struct $name {
            day: u32,
            bytes: Vec<u8>,
        }

        impl $name {
            /// Length of the encoding: day (4 bytes) and point.
            pub const LEN: usize = 4 + <$group as Group>::LEN;

            /// The day number (days since 1970-01-01 UTC) this permit is for (never 0).
            pub fn day(&self) -> u32 {
                self.day
            }

            /// Decodes and validates `be32(day) ‖ point`.
            pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
                if bytes.len() != Self::LEN {
                    return Err(DecodeError::Point { field: $field, source: PointError::Length });
                }
                let day = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                if day == 0 {
                    return Err(DecodeError::Invalid { field: $field, why: "day 0" });
                }
                let p = <$group as Group>::decode(&bytes[4..]).map_err(point_err($field))?;
                Ok(Self::from_point(day, &p))
            }

            /// The encoding `be32(day) ‖ point`. Treat it as secret.
            pub fn to_bytes(&self) -> Zeroizing<Vec<u8>> {
                let mut v = Vec::with_capacity(Self::LEN);
                v.extend_from_slice(&self.day.to_be_bytes());
                v.extend_from_slice(&self.bytes);
                Zeroizing::new(v)
            }

            pub(crate) fn from_point(day: u32, p: &$group) -> Self {
                Self { day, bytes: Group::encode(p) }
            }

            /// The point (validated when this value was built).
            #[allow(dead_code)]
            pub(crate) fn point(&self) -> Result<$group, DecodeError> {
                <$group as Group>::decode_known(&self.bytes).map_err(point_err($field))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "(day {}, <redacted>)"), self.day)
            }
        }
    };
}

macro_rules! combine_keys {
    ($whole:ident, $share:ident, $group:ty, $field:literal) => {
        impl $whole {
            /// Combines the shares of all D-TAs (any order; at least one) by point addition.
            pub fn combine(shares: &[$share]) -> Result<Self, SecretError> {
                let parts: Vec<&[u8]> = shares.iter().map(|s| s.bytes.as_slice()).collect();
                Ok(Self::from_point(&sum::<$group>($field, &parts)?))
            }
        }
    };
}

macro_rules! combine_permits {
    ($whole:ident, $share:ident, $group:ty, $field:literal) => {
        impl $whole {
            /// Combines the permit shares of all D-TAs for one day by point addition.
            pub fn combine(shares: &[$share]) -> Result<Self, SecretError> {
                let day = shares.first().ok_or(SecretError::NoShares)?.day;
                if let Some(other) = shares.iter().find(|s| s.day != day) {
                    return Err(SecretError::MixedDays(day, other.day));
                }
                let parts: Vec<&[u8]> = shares.iter().map(|s| s.bytes.as_slice()).collect();
                Ok(Self::from_point(day, &sum::<$group>($field, &parts)?))
            }
        }
    };
}

key_type!(
    /// One D-TA's share `s'_i·H1(HID)` of a device sender key.
    SenderKeyShare, ECP, "sender-key share"
);
key_type!(
    /// A device sender key `s'·H1(HID)` (G1): lets a device **dial** (be the initiator).
    SenderKey, ECP, "sender key"
);
key_type!(
    /// One D-TA's share `s'_i·H2(HID)` of a device receiver key.
    ReceiverKeyShare, ECP2, "receiver-key share"
);
key_type!(
    /// A device receiver key `s'·H2(HID)` (G2): lets a device **accept** (be the responder).
    ReceiverKey, ECP2, "receiver key"
);
permit_type!(
    /// One D-TA's share `s'_i·H1(Hn(d, HID))` of a sender permit (our extension).
    SenderPermitShare, ECP, "sender-permit share"
);
permit_type!(
    /// A sender permit `s'·H1(Hn(d, HID))` for one day (our extension).
    SenderPermit, ECP, "sender permit"
);
permit_type!(
    /// One D-TA's share `s'_i·H2(Hn(d, HID))` of a receiver permit (our extension).
    ReceiverPermitShare, ECP2, "receiver-permit share"
);
permit_type!(
    /// A receiver permit `s'·H2(Hn(d, HID))` for one day (our extension).
    ReceiverPermit, ECP2, "receiver permit"
);

combine_keys!(SenderKey, SenderKeyShare, ECP, "sender-key share");
combine_keys!(ReceiverKey, ReceiverKeyShare, ECP2, "receiver-key share");
combine_permits!(SenderPermit, SenderPermitShare, ECP, "sender-permit share");
combine_permits!(
    ReceiverPermit,
    ReceiverPermitShare,
    ECP2,
    "receiver-permit share"
);
