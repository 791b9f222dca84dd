//! Sealed tickets: single use, expiry, tampering, key ids, rotation and the key file.

use super::*;

fn entry(expires: u64) -> Sealed {
    let mut id = [0u8; TICKET_ID_LEN];
    aws_lc_rs::rand::fill(&mut id).unwrap();
    Sealed {
        id,
        hash: HashAlgorithm::Sha256,
        expires,
        chain_not_after: expires,
        psk: zeroize::Zeroizing::new(vec![7; 32]),
        app_data: b"x".to_vec(),
    }
}

fn key(b: u8) -> TicketKey {
    TicketKey::new([b; 4], &[b; 32])
}

#[test]
fn store_is_single_use_bounded_and_expires() {
    let s = TicketStore::new(2);
    let t = s.seal(&entry(100)).unwrap();
    assert_eq!(
        t.len(),
        TICKET_LEN + 1,
        "the documented length plus 1 byte of app data"
    );
    let r = s.redeem(&t, 10).unwrap();
    assert_eq!(r.binding.app_data, b"x");
    assert_eq!(r.psk.identity(), &t[..]);
    assert!(s.redeem(&t, 10).is_none(), "single use");
    let t2 = s.seal(&entry(100)).unwrap();
    assert!(s.redeem(&t2, 100).is_none(), "expired");
    // two live used ids fill it: a further redemption is refused (fail closed)
    let t3 = s.seal(&entry(100)).unwrap();
    assert!(s.redeem(&t3, 10).is_some());
    let t4 = s.seal(&entry(100)).unwrap();
    assert!(s.redeem(&t4, 10).is_none(), "full of live ids");
    let t5 = s.seal(&entry(300)).unwrap();
    assert!(s.redeem(&t5, 100).is_some(), "expired ids make room");
    assert!(s.redeem(&t5[..t5.len() - 1], 100).is_none());
}

#[test]
fn a_ticket_from_one_server_resumes_once_on_another_with_the_same_key() {
    let keys = TicketKeys::new(key(1), None);
    let used: Arc<dyn UsedTickets> = Arc::new(MemoryUsedTickets::new(16));
    let a = TicketStore::with_keys(keys.clone(), used.clone());
    let b = TicketStore::with_keys(keys.clone(), used);
    let t = a.seal(&entry(100)).unwrap();
    assert!(b.redeem(&t, 10).is_some(), "replica B opens A's ticket");
    assert!(a.redeem(&t, 10).is_none(), "once across the fleet");
    // a restarted server (new store, same key file) resumes an earlier ticket
    let before = a.seal(&entry(100)).unwrap();
    let restarted = TicketStore::with_keys(keys, Arc::new(MemoryUsedTickets::new(16)));
    assert!(restarted.redeem(&before, 10).is_some());
    // another key cannot open it
    let other = TicketStore::with_keys(
        TicketKeys::new(key(2), None),
        Arc::new(MemoryUsedTickets::new(16)),
    );
    assert!(other.redeem(&a.seal(&entry(100)).unwrap(), 10).is_none());
}

#[test]
fn tampered_truncated_and_unknown_key_tickets_are_refused() {
    let s = TicketStore::with_keys(
        TicketKeys::new(key(1), None),
        Arc::new(MemoryUsedTickets::new(64)),
    );
    let t = s.seal(&entry(100)).unwrap();
    for i in 0..t.len() {
        let mut bad = t.clone();
        bad[i] ^= 0x01;
        assert!(s.redeem(&bad, 10).is_none(), "byte {i} flipped");
    }
    for n in [0, 3, 4, 16, 17, t.len() - 1] {
        assert!(s.redeem(&t[..n], 10).is_none(), "truncated to {n}");
    }
    let mut longer = t.clone();
    longer.push(0);
    assert!(s.redeem(&longer, 10).is_none());
    assert!(
        s.redeem(&t, 10).is_some(),
        "the untouched ticket still works, once"
    );
}

#[test]
fn rotation_accepts_the_previous_key_and_refuses_older_ones() {
    let s = TicketStore::with_keys(
        TicketKeys::new(key(1), None),
        Arc::new(MemoryUsedTickets::new(64)),
    );
    let old = s.seal(&entry(100)).unwrap();
    let older = s.seal(&entry(100)).unwrap();
    s.set_keys(s.keys().unwrap().rotated(key(2)));
    let new = s.seal(&entry(100)).unwrap();
    assert_eq!(&new[..4], &[2; 4], "sealed under the new key");
    assert!(s.redeem(&old, 10).is_some(), "previous key accepted");
    s.set_keys(s.keys().unwrap().rotated(key(3)));
    assert!(s.redeem(&older, 10).is_none(), "two rotations ago: refused");
    assert!(s.redeem(&new, 10).is_some());
    s.clear().unwrap();
    assert!(s.redeem(&s.seal(&entry(100)).unwrap(), 10).is_some());
}

#[cfg(unix)]
#[test]
fn the_key_file_must_be_private_and_well_formed() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("milagro-ticket-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ticket.keys");
    let write = |text: &str, mode: u32| {
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    let good = format!(
        "# current, then previous\n01020304 {}\n0a0b0c0d {}\n",
        "11".repeat(32),
        "22".repeat(32)
    );
    write(&good, 0o644);
    let err = TicketKeys::from_file(&path).unwrap_err();
    assert!(
        matches!(err, TicketKeyError::Mode { mode: 0o644, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("chmod 600"), "{err}");
    write(&good, 0o600);
    let keys = TicketKeys::from_file(&path).unwrap();
    assert_eq!(keys.current().id(), [1, 2, 3, 4]);
    assert_eq!(keys.previous().map(TicketKey::id), Some([10, 11, 12, 13]));
    assert!(!format!("{keys:?}").contains("1111"), "secrets not printed");
    write(&format!("01020304 {}\n", "zz".repeat(32)), 0o600);
    assert!(matches!(
        TicketKeys::from_file(&path),
        Err(TicketKeyError::Format { line: 1, .. })
    ));
    write("# nothing\n", 0o600);
    assert!(matches!(
        TicketKeys::from_file(&path),
        Err(TicketKeyError::Count { count: 0, .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(
        TicketKeys::from_file(&path),
        Err(TicketKeyError::Read { .. })
    ));
}

#[test]
fn store_debug_hides_secrets() {
    let s = TicketStore::with_keys(
        TicketKeys::new(key(7), None),
        Arc::new(MemoryUsedTickets::new(1)),
    );
    assert!(!format!("{s:?}").contains("070707070707"));
}
