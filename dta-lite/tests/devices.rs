//! Device grants, keys and permits (P2P links) with three real `dta-lite serve` processes on
//! 127.0.0.1 (test-only clock): `ra grant device` → `dta_client::device::enroll_device` →
//! keys that link two devices (mpin-kex WCC); keys from N−1 D-TAs do not; a send-only grant
//! never gets a receiver key; a revoked device gets no permit the next day; the P2P master
//! share is not the M-Pin one and `add-p2p-share` adds one without touching the M-Pin share.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{run_ok, set_clock, World};
use dta_client::api::{ClientSecretRequest, DeviceKeysRequest, ShareResponse};
use dta_client::client::{self, ClientError, DtaEndpoint};
use dta_client::device::{device_permits, enroll_device, refresh_device_permits};
use dta_client::device_file::DeviceCredentialFile;
use dta_client::ra::{DeviceKeys, Grant};
use mpin_kex::policy::{day_of, DAY_SECS};
use mpin_kex::wcc::{Initiator, P2pHello, P2pReply, Responder, WccError};
use mpin_kex::{ClientSecret, ClientSecretShare, HashedId};
use rand_core::OsRng;

/// `dta-lite ra grant device --identity ID [FLAGS]` (run at the test clock).
fn device_grant(w: &World, clock: &Path, identity: &str, flags: &[&str]) -> Grant {
    let out = w.path(&format!("dgrant-{identity}-{}.json", flags.join("")));
    let _ = std::fs::remove_file(&out);
    let o = std::process::Command::new(common::BIN)
        .args(["ra", "grant", "device", "--key", w.ra_key.to_str().unwrap()])
        .args(["--identity", identity, "--out", out.to_str().unwrap()])
        .args(flags)
        .env(dta_client::clock::TEST_NOW_FILE_ENV, clock)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    Grant::load(&out).unwrap()
}

/// Three D-TAs serving at the test clock (noon of a day).
fn three(w: &World, clock: &Path) -> (Vec<common::Running>, Vec<DtaEndpoint>, u32) {
    let today = day_of(dta_client::clock::system_now()) + 1;
    set_clock(clock, u64::from(today) * DAY_SECS + DAY_SECS / 2);
    let running: Vec<_> = (1..=3)
        .map(|i| w.serve_with(&w.init(&format!("dta{i}")), &[], clock))
        .collect();
    let dtas = running.iter().map(|r| r.endpoint.clone()).collect();
    (running, dtas, today)
}

/// One WCC run, `a` dialling `b` on `day` with their cached permits; whether both ends
/// derived the same key.
fn link(a: &DeviceCredentialFile, b: &DeviceCredentialFile, day: u32) -> Result<bool, WccError> {
    let mut i = Initiator::new(
        a.identity.as_bytes(),
        a.sender_key().expect("a may dial"),
        a.sender_permit_for(day),
        b.identity.as_bytes(),
    )?;
    let r = Responder::new(
        b.identity.as_bytes(),
        b.receiver_key().expect("b may accept"),
    )?
    .with_permits(b.receiver_permits(), true)?;
    let hello = i.hello(&mut OsRng)?.encode();
    let (reply, rs) = r.respond(&P2pHello::decode(&hello)?, &mut OsRng)?;
    let is = i.reply(&P2pReply::decode(&reply.encode())?)?;
    assert_eq!(
        (is.initiator.as_slice(), rs.responder.as_slice()),
        (a.identity.as_bytes(), b.identity.as_bytes())
    );
    Ok(is.key.as_bytes() == rs.key.as_bytes())
}

async fn enrolled(dtas: &[DtaEndpoint], grant: &Grant, id: &str, day: u32) -> DeviceCredentialFile {
    let mut c = enroll_device(dtas, grant, id, None).await.unwrap();
    assert_eq!(
        refresh_device_permits(&mut c, day, 1, None).await.unwrap(),
        1
    );
    c
}

fn refused_403(r: Result<impl std::fmt::Debug, ClientError>, needle: &str) {
    let e = r.expect_err("must be refused");
    assert_eq!(e.status(), Some(403), "{e}");
    assert!(
        e.to_string().contains(needle),
        "{needle:?} missing from: {e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_enrol_with_three_dtas_and_their_keys_link_a_send_only_grant_gets_no_receiver_key()
{
    let w = World::new();
    let clock = w.path("now");
    let (_running, dtas, today) = three(&w, &clock);
    let ga = device_grant(&w, &clock, "device:alice", &["--send"]);
    let gb = device_grant(&w, &clock, "device:bob", &[]);
    assert_eq!(ga.device_keys, Some(DeviceKeys::Send));
    assert_eq!(
        gb.device_keys,
        Some(DeviceKeys::Both),
        "neither flag means both"
    );
    let alice = enrolled(&dtas, &ga, "device:alice", today).await;
    let bob = enrolled(&dtas, &gb, "device:bob", today).await;
    assert_eq!(alice.keys(), Some(DeviceKeys::Send));
    assert!(alice.receiver_key().is_none() && alice.receiver_permits().is_empty());
    assert_eq!(bob.keys(), Some(DeviceKeys::Both));
    assert!(link(&alice, &bob, today).unwrap());

    // The file: mode 0600, round trip, keys redacted in Debug.
    let f = w.path("alice.device");
    alice.save(&f).unwrap();
    assert_eq!(
        std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let back = DeviceCredentialFile::load(&f).unwrap();
    assert_eq!(*back.to_json(), *alice.to_json());
    assert!(link(&back, &bob, today).unwrap());
    let key_hex = hex::encode(&*alice.sender_key().unwrap().to_bytes());
    assert!(!format!("{alice:?}").contains(&key_hex));

    // A send-only grant cannot fetch a receive key (asked for alone or with the sender key),
    // at any D-TA, even before it was used there.
    let gc = device_grant(&w, &clock, "device:carol", &["--send"]);
    for keys in [DeviceKeys::Receive, DeviceKeys::Both] {
        let body = serde_json::to_vec(&DeviceKeysRequest {
            hashed_id: hex::encode(HashedId::of(b"device:carol").as_bytes()),
            grant: gc.clone(),
            keys,
        })
        .unwrap();
        for d in &dtas {
            let r = client::send(d, "POST", "/v1/device-keys", body.clone(), Vec::new()).await;
            refused_403(r, "allows the `send` keys only");
        }
    }
    // ... and its permits are sender permits only.
    let carol = enrolled(&dtas, &gc, "device:carol", today).await;
    assert!(carol.receiver_permits().is_empty() && carol.sender_permit_for(today).is_some());
    // A grant is used once per D-TA.
    let again = enroll_device(&dtas, &gc, "device:carol", None).await;
    assert_eq!(again.unwrap_err().status(), Some(409));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_key_from_two_of_three_dtas_is_another_key_and_does_not_link() {
    let w = World::new();
    let clock = w.path("now");
    let (_running, dtas, today) = three(&w, &clock);
    let bob = enrolled(
        &dtas,
        &device_grant(&w, &clock, "device:bob", &[]),
        "device:bob",
        today,
    )
    .await;
    let partial = enrolled(
        &dtas[..2],
        &device_grant(&w, &clock, "device:dave", &["--send"]),
        "device:dave",
        today,
    )
    .await;
    let full = enrolled(
        &dtas,
        &device_grant(&w, &clock, "device:dave", &["--send", "--receive"]),
        "device:dave",
        today,
    )
    .await;
    assert_ne!(
        *partial.sender_key().unwrap().to_bytes(),
        *full.sender_key().unwrap().to_bytes()
    );
    assert!(link(&full, &bob, today).unwrap());
    assert!(
        !link(&partial, &bob, today).unwrap(),
        "N-1 shares must not link"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_device_gets_no_permit_the_next_day_and_no_longer_links() {
    let w = World::new();
    let clock = w.path("now");
    let (_running, dtas, today) = three(&w, &clock);
    let gd = device_grant(&w, &clock, "device:erin", &[]);
    let mut erin = enrolled(&dtas, &gd, "device:erin", today).await;
    let mut bob = enrolled(
        &dtas,
        &device_grant(&w, &clock, "device:bob", &[]),
        "device:bob",
        today,
    )
    .await;
    assert!(link(&erin, &bob, today).unwrap());
    let o = std::process::Command::new(common::BIN)
        .args(["ra", "revoke", "--key", w.ra_key.to_str().unwrap()])
        .args(
            dtas.iter()
                .flat_map(|d| ["--dta".to_owned(), d.to_string()]),
        )
        .args(["--identity", "device:erin"])
        .env(dta_client::clock::TEST_NOW_FILE_ENV, &clock)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The next day (past the grace hour): no permit for erin, bob still gets his.
    set_clock(&clock, u64::from(today + 1) * DAY_SECS + 2 * 3600);
    refused_403(
        device_permits(&erin, today + 1, 1, None).await,
        "identity revoked",
    );
    refused_403(
        refresh_device_permits(&mut erin, today + 1, 1, None).await,
        "identity revoked",
    );
    refresh_device_permits(&mut bob, today + 1, 1, None)
        .await
        .unwrap();
    let bob_today: Vec<_> = bob.receiver_permits().iter().map(|p| p.day()).collect();
    assert!(bob_today.contains(&(today + 1)));
    // Bob accepts only permit days he holds and requires one: erin, without a permit for
    // the day, fails whatever she offers.
    let mut bob_next = bob.clone();
    bob_next.add_permits(Vec::new(), Vec::new(), today + 1);
    assert!(matches!(
        link(&erin, &bob_next, today + 1),
        Err(WccError::PermitRequired)
    ));
    assert!(matches!(
        link(&erin, &bob_next, today),
        Err(WccError::PermitDay(_))
    ));
}

/// Fetches the client-secret share of `identity` from one D-TA with a fresh client grant.
async fn mpin_share(w: &World, d: &DtaEndpoint, identity: &str, now: u64) -> ClientSecretShare {
    let grant = w
        .ra()
        .grant_client(&HashedId::of(identity.as_bytes()), now, 600);
    let body = serde_json::to_vec(&ClientSecretRequest {
        hashed_id: hex::encode(HashedId::of(identity.as_bytes()).as_bytes()),
        grant,
    })
    .unwrap();
    let answer = client::send(d, "POST", "/v1/client-secret", body, Vec::new())
        .await
        .unwrap();
    let r: ShareResponse = serde_json::from_slice(&answer).unwrap();
    ClientSecretShare::from_bytes(&hex::decode(&r.share).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_p2p_share_is_not_the_mpin_share_and_add_p2p_share_keeps_the_mpin_share() {
    let w = World::new();
    let clock = w.path("now");
    let (mut running, mut dtas, today) = three(&w, &clock);
    let noon = u64::from(today) * DAY_SECS + DAY_SECS / 2;
    // D-TA 3 as a folder made before device keys existed: no p2p.sealed.
    let dir3 = w.path("dta3");
    running[2].kill();
    std::fs::remove_file(dir3.join("p2p.sealed")).unwrap();
    running[2] = w.serve_with(&dir3, &[], &clock);
    dtas[2] = running[2].endpoint.clone();
    let id = "device:frank";
    let before = mpin_share(&w, &dtas[2], id, noon).await;
    let g = device_grant(&w, &clock, id, &[]);
    let e = enroll_device(&dtas, &g, id, None).await.unwrap_err();
    assert_eq!(e.status(), Some(503), "{e}");
    assert!(e.to_string().contains("add-p2p-share"), "{e}");

    running[2].kill();
    let sealed = std::fs::read(dir3.join("secrets.sealed")).unwrap();
    let pw = w.passphrase.to_str().unwrap();
    let d3 = dir3.to_str().unwrap();
    run_ok(&["add-p2p-share", "--dir", d3, "--passphrase-file", pw]);
    assert_eq!(std::fs::read(dir3.join("secrets.sealed")).unwrap(), sealed);
    let mode = std::fs::metadata(dir3.join("p2p.sealed"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let again = common::run(&["add-p2p-share", "--dir", d3, "--passphrase-file", pw]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a P2P master share"));
    running[2] = w.serve_with(&dir3, &[], &clock);
    dtas[2] = running[2].endpoint.clone();
    let after = mpin_share(&w, &dtas[2], id, noon).await;
    assert_eq!(
        *before.to_bytes(),
        *after.to_bytes(),
        "the M-Pin share is unchanged"
    );

    // The device sender key is not the M-Pin client secret of the same identity.
    // D-TAs 1 and 2 recorded the first grant: a new one.
    let g = device_grant(&w, &clock, id, &[]);
    let frank = enrolled(&dtas, &g, id, today).await;
    let mut shares = vec![after];
    for d in &dtas[..2] {
        shares.push(mpin_share(&w, d, id, noon).await);
    }
    let cs = ClientSecret::combine(&shares).unwrap();
    assert_ne!(*cs.to_bytes(), *frank.sender_key().unwrap().to_bytes());
    let bob = enrolled(
        &dtas,
        &device_grant(&w, &clock, "device:bob", &[]),
        "device:bob",
        today,
    )
    .await;
    assert!(link(&frank, &bob, today).unwrap());
}
