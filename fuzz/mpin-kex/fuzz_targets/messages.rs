//! Every message decoder: the first byte selects the message, the rest is decoded. Decoding is
//! canonical, so a successful decode must re-encode to exactly the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mpin_kex::{Challenge, Hello, OnePassHello, OnePassReply, Response};

macro_rules! round_trip {
    ($t:ty, $data:expr) => {{
        let data: &[u8] = $data;
        if let Ok(m) = <$t>::decode(data) {
            let enc = m.encode();
            assert_eq!(
                enc, data,
                concat!(stringify!($t), ": encode(decode(x)) != x")
            );
            match <$t>::decode(&enc) {
                Ok(back) => {
                    assert_eq!(back, m, concat!(stringify!($t), ": decode(encode(m)) != m"))
                }
                Err(e) => panic!(concat!(stringify!($t), ": re-decoding failed: {:?}"), e),
            }
        }
    }};
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 5 {
        0 => round_trip!(Hello, rest),
        1 => round_trip!(Challenge, rest),
        2 => round_trip!(Response, rest),
        3 => round_trip!(OnePassHello, rest),
        _ => round_trip!(OnePassReply, rest),
    }
});
