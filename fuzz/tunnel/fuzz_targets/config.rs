//! `milagro_tunnel::config::Config::from_toml_str(text, "fuzz.toml")`.
//!
//! The input is (lossily UTF-8 decoded) TOML. An accepted configuration must have at least
//! one service, unique service names, addresses that round-trip through `Display`, and
//! positive limits; a refused one must give a one-line message naming the file (the
//! module's documented contract).
#![no_main]

use std::collections::HashSet;

use libfuzzer_sys::fuzz_target;
use milagro_tunnel::addr::Addr;
use milagro_tunnel::config::{Config, ConfigError};

const PATH: &str = "fuzz.toml";

fn round_trips(a: &Addr) {
    assert_eq!(a.to_string().parse::<Addr>().ok().as_ref(), Some(a));
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match Config::from_toml_str(&text, PATH) {
        Ok(c) => {
            assert!(!c.services.is_empty());
            let mut names = HashSet::new();
            for s in &c.services {
                assert!(names.insert(s.name.clone()), "duplicate name {:?}", s.name);
                assert!(s.max_connections >= 1);
                round_trips(&s.accept);
                round_trips(&s.connect);
                if let Some(r) = s.rate_limit {
                    assert!(r.is_finite() && r > 0.0);
                }
                assert!(s.rate_burst.is_finite() && s.rate_burst >= 1.0);
                assert!(s.max_handshakes >= 1 && s.max_handshakes_per_source >= 1);
                let _ = s.role().as_str();
            }
            if let Some(st) = &c.status {
                round_trips(st);
            }
        }
        Err(e) => {
            assert!(matches!(e, ConfigError::Invalid(_)));
            let msg = e.to_string();
            assert!(
                msg.starts_with(PATH),
                "error does not name the file: {msg:?}"
            );
            assert!(!msg.contains('\n'), "multi-line error: {msg:?}");
        }
    }
});
