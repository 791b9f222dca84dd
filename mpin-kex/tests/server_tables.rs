//! The server gives the identity points of a frequent (identity, day) fixed-base tables after
//! 64 runs: runs past that point still verify, derive matching keys and classify wrong PINs.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use mpin_kex::*;

fn pin_error(r: Result<(Session, Session), AuthError>) -> Option<i32> {
    match r {
        Err(AuthError::BadProof { pin_error, .. }) => pin_error,
        other => panic!("expected a bad proof, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn runs_past_the_table_threshold_verify_and_classify_wrong_pins() {
    let w = MpinWorld::new(2);
    let ctx = w.context(ServerPolicy {
        require_permits: false,
        pin_error_detection: true,
        lockout_after: u32::MAX,
        ..Default::default()
    });
    // with a permit (A' ≠ A) and without (one shared table)
    let creds = [
        w.credential(ID, 1234, Some(today())),
        w.credential(b"bob@example.com", 1234, None),
    ];
    for cred in &creds {
        for i in 0..70 {
            let (c, s) = if i % 2 == 0 {
                multi_pass(cred, 1234, &ctx, NOW).unwrap()
            } else {
                one_pass(cred, 1234, &ctx, NOW, b"m").unwrap()
            };
            assert_eq!(c.key.as_bytes(), s.key.as_bytes(), "run {i}");
        }
        assert_eq!(pin_error(multi_pass(cred, 1243, &ctx, NOW)), Some(9));
        assert_eq!(pin_error(one_pass(cred, 1230, &ctx, NOW, b"")), Some(-4));
    }
    let (c, s) = multi_pass(&creds[0], 1234, &ctx, NOW).unwrap();
    assert_eq!(s.identity, ID);
    assert_eq!(c.key.as_bytes(), s.key.as_bytes());
}
