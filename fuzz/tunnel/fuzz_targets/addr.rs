//! `milagro_tunnel::addr::Addr` (`FromStr`): `HOST:PORT` or `unix:PATH`.
//!
//! The input is (lossily UTF-8 decoded) text. A parsed address must print (`Display`) to
//! text that parses to the same address; `is_local` must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use milagro_tunnel::addr::Addr;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match text.parse::<Addr>() {
        Ok(a) => {
            let shown = a.to_string();
            let again = shown.parse::<Addr>().ok();
            assert_eq!(again.as_ref(), Some(&a), "Display/FromStr: {shown:?}");
            let _ = a.is_local();
            if let Addr::Tcp(s) = &a {
                assert_eq!(s, &*text);
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
