//! Device credential files: round trip, mode, redaction, and every bad field named.

use super::*;
use crate::ra::RaKey;
use mpin_kex::wcc::P2pMasterShare;
use mpin_kex::HashedId;

fn sample(keys: DeviceKeys) -> DeviceCredentialFile {
    let m = P2pMasterShare::generate(&mut rand_core::OsRng);
    let id = HashedId::of(b"device:a");
    let grant = RaKey::generate().grant_device(&id, keys, 1, 2);
    let dta = DtaEndpoint {
        url: "https://127.0.0.1:1".into(),
        fingerprint: "ab".repeat(32),
        signing_key: RaKey::generate().public_hex(),
    };
    let s = keys
        .send()
        .then(|| SenderKey::combine(&[m.sender_key_share(&id)]).unwrap());
    let r = keys
        .receive()
        .then(|| ReceiverKey::combine(&[m.receiver_key_share(&id)]).unwrap());
    let mut c = DeviceCredentialFile::new("device:a".into(), vec![dta], grant, s, r);
    let sp = keys
        .send()
        .then(|| SenderPermit::combine(&[m.sender_permit_share(&id, 7).unwrap()]).unwrap());
    let rp = keys
        .receive()
        .then(|| ReceiverPermit::combine(&[m.receiver_permit_share(&id, 7).unwrap()]).unwrap());
    c.add_permits(sp.into_iter().collect(), rp.into_iter().collect(), 0);
    c
}

fn with(c: &DeviceCredentialFile, f: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_str(&c.to_json()).unwrap();
    f(&mut v);
    serde_json::to_vec(&v).unwrap()
}

fn bad_field(text: &[u8]) -> String {
    match DeviceCredentialFile::from_json(text, Path::new("d.json")) {
        Err(FileError::Field { field, .. }) => field,
        other => panic!("expected a field error, got {other:?}"),
    }
}

#[test]
fn device_file_round_trip_mode_and_redaction() {
    let d = tempfile::tempdir().unwrap();
    for keys in [DeviceKeys::Send, DeviceKeys::Receive, DeviceKeys::Both] {
        let c = sample(keys);
        let p = d.path().join(format!("{keys}.device"));
        c.save(&p).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let back = DeviceCredentialFile::load(&p).unwrap();
        assert_eq!(*back.to_json(), *c.to_json());
        assert_eq!(back.keys(), Some(keys));
        assert_eq!(back.sender_permit_for(7).is_some(), keys.send());
        assert_eq!(back.receiver_permit_for(7).is_some(), keys.receive());
        let dbg = format!("{c:?}");
        if let Some(k) = c.sender_key() {
            assert!(!dbg.contains(&hex::encode(&*k.to_bytes())));
        }
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            DeviceCredentialFile::load(&p).is_err(),
            "readable by others"
        );
    }
}

#[test]
fn device_file_parser_names_bad_fields() {
    let c = sample(DeviceKeys::Send);
    let b = sample(DeviceKeys::Both);
    assert_eq!(bad_field(&with(&c, |v| v["version"] = 2.into())), "version");
    assert_eq!(
        bad_field(&with(&c, |v| v["identity"] = "".into())),
        "identity"
    );
    assert_eq!(
        bad_field(&with(&c, |v| v["identity"] = "device:b".into())),
        "grant.hashed_id"
    );
    assert_eq!(
        bad_field(&with(&c, |v| v["dtas"] = serde_json::json!([]))),
        "dtas"
    );
    assert_eq!(
        bad_field(&with(&c, |v| v["sender_key"] = "zz".into())),
        "sender_key"
    );
    let key = |v: &mut serde_json::Value| {
        let mut s = v["sender_key"].as_str().unwrap().to_owned();
        s.replace_range(10..12, "00");
        v["sender_key"] = s.into();
    };
    assert_eq!(bad_field(&with(&c, key)), "sender_key");
    // Keys other than the grant's, or none at all.
    let rk = b.to_json();
    let rk: serde_json::Value = serde_json::from_str(&rk).unwrap();
    assert_eq!(
        bad_field(&with(&c, |v| v["receiver_key"] = rk["receiver_key"].clone())),
        "grant.device_keys"
    );
    assert_eq!(
        bad_field(&with(&c, |v| {
            v.as_object_mut().unwrap().remove("sender_key");
        })),
        "sender_key"
    );
    // A receiver permit in a send-only file, a permit for another day.
    assert_eq!(
        bad_field(&with(&c, |v| v["receiver_permits"] =
            rk["receiver_permits"].clone())),
        "receiver_permits[0]"
    );
    assert_eq!(
        bad_field(&with(&c, |v| v["sender_permits"][0]["day"] = 8.into())),
        "sender_permits[0]"
    );
    let client = RaKey::generate().grant_client(&HashedId::of(b"device:a"), 1, 2);
    let g = serde_json::to_value(&client).unwrap();
    assert_eq!(
        bad_field(&with(&c, |v| v["grant"] = g.clone())),
        "grant.kind"
    );
    assert!(matches!(
        DeviceCredentialFile::from_json(&with(&c, |v| v["x"] = 1.into()), Path::new("d")),
        Err(FileError::Json { .. })
    ));
}
