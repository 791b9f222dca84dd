//! The client's files: `CredentialFile::from_json` and `ServerSecretFile::from_json`.
//!
//! First byte `% 3`: 0 = the rest is a credential file, 1 = a server-secret file, 2 = one
//! field of a valid credential file (built once: fixed master share, fixed RA key, one
//! permit) is replaced by the rest (parsed as JSON if it is JSON, else as a JSON string).
//! Every accepted file must re-encode (`to_json`) to a file that parses to the same JSON.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use dta_client::client::DtaEndpoint;
use dta_client::files::{CredentialFile, ServerSecretFile};
use dta_client::ra::RaKey;
use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use mpin_kex::{ClientSecret, HashedId, MasterShare, Pin, TimePermit, Token};

const FILE: &str = "fuzz.json";
const FIELDS: [&str; 12] = [
    "version",
    "identity",
    "token",
    "dtas",
    "grant",
    "permits",
    "/dtas/0/url",
    "/dtas/0/fingerprint",
    "/dtas/0/signing_key",
    "/grant/hashed_id",
    "/permits/0/day",
    "/permits/0/permit",
];

fn template() -> &'static serde_json::Value {
    static T: OnceLock<serde_json::Value> = OnceLock::new();
    T.get_or_init(|| {
        let mut ms = [0u8; 48];
        ms[47] = 7;
        let m = MasterShare::from_bytes(&ms).expect("fixed master share");
        let identity = "alice@example.com";
        let id = HashedId::of(identity.as_bytes());
        let cs = ClientSecret::combine(&[m.client_secret_share(&id)]).expect("client secret");
        let pin: Pin = "1234".parse().expect("pin");
        let token = Token::extract(&cs, identity.as_bytes(), &pin).expect("token");
        let ra = RaKey::from_signing_key(SigningKey::from_bytes(&[7; 32]));
        let dta = DtaEndpoint {
            url: "https://127.0.0.1:7443".into(),
            fingerprint: "ab".repeat(32),
            signing_key: ra.public_hex(),
        };
        let mut c = CredentialFile::new(
            identity.into(),
            token,
            vec![dta],
            ra.grant_client(&id, 1_800_000_000, 600),
        );
        let p = m.time_permit_share(&id, 20_000).expect("permit share");
        c.add_permits(vec![TimePermit::combine(&[p]).expect("permit")], 0);
        serde_json::from_str(&c.to_json()).expect("template JSON")
    })
}

fn credential(text: &[u8]) {
    match CredentialFile::from_json(text, Path::new(FILE)) {
        Ok(c) => {
            let json = c.to_json();
            let back = CredentialFile::from_json(json.as_bytes(), Path::new(FILE))
                .expect("re-encoded credential parses");
            assert_eq!(*back.to_json(), *json);
            assert_eq!(back.permits().len(), c.permits().len());
            for p in c.permits() {
                assert!(back.permit_for(p.day()).is_some());
            }
            let _ = format!("{c:?}");
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(FILE), "error does not name the file: {msg}");
        }
    }
}

fn server_secret(text: &[u8]) {
    match ServerSecretFile::from_json(text, Path::new(FILE)) {
        Ok(s) => {
            let json = s.to_json();
            let back = ServerSecretFile::from_json(json.as_bytes(), Path::new(FILE))
                .expect("re-encoded server secret parses");
            assert_eq!(*back.to_json(), *json);
            assert_eq!(back.secret().to_bytes(), s.secret().to_bytes());
            let _ = format!("{s:?}");
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(FILE), "error does not name the file: {msg}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 3 {
        0 => credential(rest),
        1 => server_secret(rest),
        _ => {
            let Some((&field, value)) = rest.split_first() else {
                return;
            };
            let value: serde_json::Value = serde_json::from_slice(value)
                .unwrap_or_else(|_| String::from_utf8_lossy(value).into_owned().into());
            let mut v = template().clone();
            let field = FIELDS[usize::from(field) % FIELDS.len()];
            if let Some(slot) = if field.starts_with('/') {
                v.pointer_mut(field)
            } else {
                v.get_mut(field)
            } {
                *slot = value;
            }
            credential(v.to_string().as_bytes());
        }
    }
});
