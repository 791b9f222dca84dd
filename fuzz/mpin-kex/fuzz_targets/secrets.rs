//! Every secret decoder (`from_bytes`), `HashedId::from_bytes` and the PIN parser. The first
//! byte selects the decoder; successes must round-trip through `to_bytes` to the exact input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpin_kex::{
    ClientSecret, ClientSecretShare, HashedId, MasterShare, Pin, ServerSecret, ServerSecretShare,
    TimePermit, TimePermitShare, Token,
};

macro_rules! round_trip {
    ($t:ty, $data:expr) => {{
        let data: &[u8] = $data;
        if let Ok(s) = <$t>::from_bytes(data) {
            let enc = s.to_bytes();
            assert_eq!(
                &enc[..],
                data,
                concat!(stringify!($t), ": to_bytes(from_bytes(x)) != x")
            );
            assert!(
                <$t>::from_bytes(&enc).is_ok(),
                concat!(stringify!($t), ": own encoding refused")
            );
        }
    }};
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 10 {
        0 => round_trip!(MasterShare, rest),
        1 => round_trip!(ClientSecretShare, rest),
        2 => round_trip!(ClientSecret, rest),
        3 => round_trip!(Token, rest),
        4 => round_trip!(TimePermitShare, rest),
        5 => round_trip!(TimePermit, rest),
        6 => round_trip!(ServerSecretShare, rest),
        7 => round_trip!(ServerSecret, rest),
        8 => {
            if let Some(id) = HashedId::from_bytes(rest) {
                assert_eq!(
                    &id.as_bytes()[..],
                    rest,
                    "HashedId: as_bytes(from_bytes(x)) != x"
                );
                let _ = id.short_hex();
            }
        }
        _ => {
            if let Ok(s) = std::str::from_utf8(rest) {
                if let Ok(pin) = s.parse::<Pin>() {
                    // Accepted PINs are 1 to 4 ASCII digits after trimming white space.
                    let t = s.trim();
                    assert!(
                        (1..=4).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()),
                        "Pin accepted {s:?}"
                    );
                    let n: u32 = t.parse().unwrap_or(u32::MAX);
                    assert_eq!(Pin::new(n).ok(), Some(pin), "Pin {s:?} != Pin::new({n})");
                }
            }
        }
    }
});
