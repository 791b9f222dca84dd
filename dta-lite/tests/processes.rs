//! End-to-end tests with real `dta-lite` processes on 127.0.0.1 (port 0).

mod common;

use common::{all_files, login, now, run, run_ok, LoginError, World};
use dta_lite::client::{self, ClientError};
use dta_lite::files::CredentialFile;
use mpin_kex::policy::day_of;
use mpin_kex::{AuthError, HashedId, Pin};

const ALICE: &str = "alice.plaintext@example.com";
const CAROL: &str = "carol.plaintext@example.com";

fn pin(s: &str) -> Pin {
    s.parse()
        .unwrap_or_else(|_| unreachable!("test PINs are valid"))
}

/// Three D-TAs: enrol, server secret, M-Pin Full login; 2-of-3 shares fail; grants are
/// single-use; revocation stops permits and therefore logins; no D-TA file or log holds a
/// plaintext identity.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_dtas_enrol_login_two_of_three_fails_revocation_stops_permits_privacy() {
    let w = World::new();
    let dirs: Vec<_> = (1..=3).map(|i| w.init(&format!("dta{i}"))).collect();
    let running: Vec<_> = dirs.iter().map(|d| w.serve(d)).collect();
    let dtas: Vec<_> = running.iter().map(|r| r.endpoint.clone()).collect();
    let t = now();
    let today = day_of(t);

    // Enrol alice at all three D-TAs; progress is reported per D-TA.
    let grant = w.client_grant(ALICE);
    let seen = std::sync::Mutex::new(Vec::new());
    let progress = |url: &str, r: Result<(), &ClientError>| {
        seen.lock().unwrap().push((url.to_owned(), r.is_ok()))
    };
    let mut cred = client::enroll(&dtas, &grant, ALICE, &pin("4321"), Some(&progress))
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap().len(), 3);
    assert!(seen.lock().unwrap().iter().all(|(_, ok)| *ok));
    let permits = client::permits(&cred, today, 1, None).await.unwrap();
    cred.add_permits(permits, today);
    let cred_path = w.path("alice.cred");
    cred.save(&cred_path).unwrap();
    let cred = CredentialFile::load(&cred_path).unwrap();
    assert!(!std::fs::read_to_string(&cred_path).unwrap().contains("pin"));

    // The same grant cannot be used twice.
    let e = client::enroll(&dtas, &grant, ALICE, &pin("4321"), None)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(409), "{e}");

    // The relying server's secret.
    let ss = client::server_secret(&dtas, &w.server_grant("web-1"), None)
        .await
        .unwrap();
    let ss_path = w.path("server.secret");
    ss.save(&ss_path).unwrap();
    let ss = dta_lite::files::ServerSecretFile::load(&ss_path).unwrap();

    // M-Pin Full succeeds with equal keys; a wrong PIN gives BadProof.
    login(&cred, &ss, "4321", t).unwrap();
    assert!(matches!(
        login(&cred, &ss, "4322", t),
        Err(LoginError::Server(AuthError::BadProof { .. }))
    ));

    // A credential built from 2 of the 3 D-TAs fails.
    let g = w.client_grant(CAROL);
    let mut partial = client::enroll(&dtas[..2], &g, CAROL, &pin("1111"), None)
        .await
        .unwrap();
    let p = client::permits(&partial, today, 1, None).await.unwrap();
    partial.add_permits(p, today);
    assert!(matches!(
        login(&partial, &ss, "1111", t),
        Err(LoginError::Server(AuthError::BadProof { .. }))
    ));

    // Revocation (RA-signed, at every D-TA) stops the next permit, and so the next login.
    let tomorrow = today + 1;
    let alice_id = HashedId::of(ALICE.as_bytes());
    client::revoke(&dtas, &w.ra(), &alice_id, None)
        .await
        .unwrap();
    let e = client::permits(&cred, tomorrow, 1, None).await.unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");
    assert!(
        e.to_string().contains("https://127.0.0.1:"),
        "errors name the D-TA: {e}"
    );
    assert!(cred.permit_for(tomorrow).is_none());
    let r = login(&cred, &ss, "4321", t + 86_400);
    assert!(
        matches!(r, Err(LoginError::Server(AuthError::PermitRequired))),
        "{r:?}"
    );

    // A D-TA that is down is named in the error.
    let mut running = running;
    running[2].kill();
    let e = client::permits(&partial, today, 1, None).await;
    assert!(e.is_ok(), "carol used only D-TAs 1 and 2");
    let e = client::enroll(
        &dtas,
        &w.client_grant("dave@example.com"),
        "dave@example.com",
        &pin("1"),
        None,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&e, ClientError::Connect { url, .. } if *url == dtas[2].url),
        "{e}"
    );
    drop(running);

    // Privacy: no file a D-TA wrote (folder, database, logs) holds a plaintext identity, and
    // outside `secrets.sealed` none holds a D-TA secret, a share-derived token or the PIN file.
    let mut secrets = vec![hex::encode(&*cred.token().to_bytes())];
    for dir in &dirs {
        let sealed: dta_lite::seal::Sealed =
            serde_json::from_slice(&std::fs::read(dir.join("secrets.sealed")).unwrap()).unwrap();
        let plain = dta_lite::seal::open(&sealed, b"test passphrase").unwrap();
        let bundle: serde_json::Value = serde_json::from_slice(&plain).unwrap();
        for k in ["master_share", "signing_key", "tls_key"] {
            let v = bundle[k].as_str().unwrap().to_owned();
            assert!(v.len() >= 64);
            secrets.push(v);
        }
    }
    let mut checked = 0;
    for f in all_files(w.tmp.path()) {
        let rel = f.strip_prefix(w.tmp.path()).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned();
        if !top.starts_with("dta") {
            continue; // RA and client files
        }
        let bytes = std::fs::read(&f).unwrap();
        let has = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        for id in [ALICE, CAROL, "dave@example.com", "plaintext"] {
            assert!(!has(id), "{} contains the identity {id}", f.display());
        }
        if !rel.ends_with("secrets.sealed") {
            for s in &secrets {
                assert!(!has(s), "{} contains a secret in the clear", f.display());
            }
        }
        checked += 1;
    }
    assert_eq!(
        checked, 15,
        "3 × (dta.json, secrets.sealed, p2p.sealed, dta.redb, log)"
    );
    let log = std::fs::read_to_string(w.path("dta1.log")).unwrap();
    assert!(
        log.contains(&alice_id.short_hex()),
        "logs name hashed identities"
    );
}

/// RA-signed requests: forged, expired and replayed requests are refused with 401/401/409.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_expired_and_replayed_ra_requests_are_refused() {
    let w = World::new();
    let dir = w.init("dta1");
    let r = w.serve(&dir);
    let ep = &r.endpoint;
    let id = HashedId::of(b"x@example.com");
    let body = serde_json::to_vec(&dta_lite::api::RevocationRequest {
        hashed_id: hex::encode(id.as_bytes()),
    })
    .unwrap();
    let send = |headers: Vec<(&'static str, String)>| {
        let body = body.clone();
        async move { client::send(ep, "POST", "/v1/revocations", body, headers).await }
    };
    let ra = w.ra();

    // Unsigned, and signed by an untrusted key.
    assert_eq!(send(vec![]).await.unwrap_err().status(), Some(401));
    let forger = dta_lite::ra::RaKey::generate();
    let e = send(forger.sign_request("POST", "/v1/revocations", &body, now()))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(401), "{e}");
    // The trusted key's name with a signature over another body.
    let e = send(ra.sign_request("POST", "/v1/revocations", b"{}", now()))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(401), "{e}");
    // Expired.
    let e = send(ra.sign_request("POST", "/v1/revocations", &body, now() - 120))
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(401), "{e}");
    assert!(e.to_string().contains("expired"), "{e}");
    // Valid once, then a replay.
    let h = ra.sign_request("POST", "/v1/revocations", &body, now());
    send(h.clone()).await.unwrap();
    let e = send(h).await.unwrap_err();
    assert_eq!(e.status(), Some(409), "{e}");

    // A grant signed by an untrusted RA gets nothing.
    let forged = forger.grant_client(&id, now(), 60);
    let e = client::enroll(
        std::slice::from_ref(ep),
        &forged,
        "x@example.com",
        &"1234".parse().unwrap(),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");
    // An expired grant gets nothing.
    let old = ra.grant_client(&HashedId::of(b"y@example.com"), now() - 100, 10);
    let e = client::enroll(
        std::slice::from_ref(ep),
        &old,
        "y@example.com",
        &"1234".parse().unwrap(),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");

    // A wrong pin (fingerprint) or a wrong signing key are detected and name the D-TA.
    let mut wrong = ep.clone();
    wrong.fingerprint = "00".repeat(32);
    let e = client::info(&wrong).await.unwrap_err();
    assert!(
        matches!(&e, ClientError::Tls { url, .. } if *url == ep.url),
        "{e}"
    );
    let mut wrong = ep.clone();
    wrong.signing_key = forger.public_hex();
    let e = client::info(&wrong).await.unwrap_err();
    assert!(
        matches!(&e, ClientError::BadSignature { url } if *url == ep.url),
        "{e}"
    );
    assert_eq!(client::info(ep).await.unwrap().name, "dta1");
}

/// A restarted D-TA (same passphrase) issues identical shares and keeps its revocations; a
/// wrong passphrase does not start; `stats` verifies the audit chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_revocations_and_issues_identical_shares() {
    let w = World::new();
    let dir = w.init("dta1");
    let mut r = w.serve(&dir);
    let today = day_of(now());
    let cred_for = |who: &str, ep: &dta_lite::client::DtaEndpoint, grant: dta_lite::ra::Grant| {
        let m = mpin_kex::MasterShare::generate(&mut rand_core::OsRng);
        let cs =
            mpin_kex::ClientSecret::combine(
                &[m.client_secret_share(&HashedId::of(who.as_bytes()))],
            )
            .unwrap();
        let t = mpin_kex::Token::extract(&cs, who.as_bytes(), &"1".parse().unwrap()).unwrap();
        CredentialFile::new(who.to_owned(), t, vec![ep.clone()], grant)
    };
    let dave = cred_for(
        "dave@example.com",
        &r.endpoint,
        w.client_grant("dave@example.com"),
    );
    let erin = cred_for(
        "erin@example.com",
        &r.endpoint,
        w.client_grant("erin@example.com"),
    );
    let p1 = client::permits(&dave, today, 2, None).await.unwrap();
    let s1 = client::server_secret(
        std::slice::from_ref(&r.endpoint),
        &w.server_grant("web"),
        None,
    )
    .await
    .unwrap();
    client::revoke(
        std::slice::from_ref(&r.endpoint),
        &w.ra(),
        &HashedId::of(b"erin@example.com"),
        None,
    )
    .await
    .unwrap();
    let henry1 = client::enroll(
        std::slice::from_ref(&r.endpoint),
        &w.client_grant("henry@example.com"),
        "henry@example.com",
        &pin("2468"),
        None,
    )
    .await
    .unwrap();
    r.kill();

    // The offline tools see the revocation and a valid audit chain.
    let stats = run_ok(&["stats", "--dir", dir.to_str().unwrap()]);
    assert!(stats.contains("revoked_identities 1"), "{stats}");
    assert!(stats.contains("chain verified"), "{stats}");
    assert!(stats.contains("time_permits_issued 2"), "{stats}");

    // The offline revoke command (server stopped) also survives the restart.
    let frank = HashedId::of(b"frank@example.com");
    let out = run_ok(&[
        "revoke",
        "--dir",
        dir.to_str().unwrap(),
        "--hashed-id",
        &hex::encode(frank.as_bytes()),
    ]);
    assert!(out.starts_with("revoked"), "{out}");

    // A wrong passphrase does not start the D-TA.
    let bad = w.path("bad-pass");
    dta_lite::fsutil::write_atomic(&bad, b"nope\n", 0o600).unwrap();
    let out = run(&[
        "serve",
        "--dir",
        dir.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--passphrase-file",
        bad.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong passphrase"));

    let r2 = common::Running::start(&dir, &w.passphrase);
    let ep2 = r2.endpoint.clone();
    assert_eq!(ep2.fingerprint, r.endpoint.fingerprint);
    let mut dave2 = dave.clone();
    dave2.dtas = vec![ep2.clone()];
    let p2 = client::permits(&dave2, today, 2, None).await.unwrap();
    for (a, b) in p1.iter().zip(&p2) {
        assert_eq!(
            a.to_bytes(),
            b.to_bytes(),
            "identical permits after restart"
        );
    }
    let s2 = client::server_secret(std::slice::from_ref(&ep2), &w.server_grant("web"), None)
        .await
        .unwrap();
    assert_eq!(
        s1.secret().to_bytes(),
        s2.secret().to_bytes(),
        "identical server secret after restart"
    );
    let mut henry2 = client::enroll(
        std::slice::from_ref(&ep2),
        &w.client_grant("henry@example.com"),
        "henry@example.com",
        &pin("2468"),
        None,
    )
    .await
    .unwrap();
    assert_eq!(
        henry1.token().to_bytes(),
        henry2.token().to_bytes(),
        "identical client-secret share after restart"
    );
    assert_eq!(
        client::refresh_permits(&mut henry2, today, 2, None)
            .await
            .unwrap(),
        2
    );
    assert!(henry2.permit_for(today + 1).is_some());
    let mut erin2 = erin;
    erin2.dtas = vec![ep2];
    let e = client::permits(&erin2, today, 1, None).await.unwrap_err();
    assert_eq!(
        e.status(),
        Some(403),
        "revocation survived the restart: {e}"
    );
    let frank2 = cred_for(
        "frank@example.com",
        &r2.endpoint,
        w.client_grant("frank@example.com"),
    );
    let e = client::permits(&frank2, today, 1, None).await.unwrap_err();
    assert_eq!(e.status(), Some(403), "offline revocation: {e}");
}

/// The CLI: `ra trust`, refusing to re-initialise, bad keys, permissive passphrase files,
/// grants without the identity, `ra revoke` against a running D-TA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_trust_refusals_and_ra_revoke() {
    let w = World::new();
    let dir = w.path("dta-x");
    let pass = w.passphrase.to_str().unwrap();
    run_ok(&[
        "init",
        "--dir",
        dir.to_str().unwrap(),
        "--passphrase-file",
        pass,
    ]);
    let out = run(&[
        "init",
        "--dir",
        dir.to_str().unwrap(),
        "--passphrase-file",
        pass,
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("already initialised"));
    let out = run(&[
        "init",
        "--dir",
        w.path("dta-y").to_str().unwrap(),
        "--ra-pubkey",
        "abcd",
        "--passphrase-file",
        pass,
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--ra-pubkey"));
    let loose = w.path("loose-pass");
    dta_lite::fsutil::write_atomic(&loose, b"test passphrase\n", 0o644).unwrap();
    let out = run(&[
        "serve",
        "--dir",
        dir.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--passphrase-file",
        loose.to_str().unwrap(),
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"));

    // Without a trusted RA the D-TA refuses the RA's grants; `ra trust` fixes that.
    let r = w.serve(&dir);
    let g = w.client_grant("gina@example.com");
    let e = client::enroll(
        std::slice::from_ref(&r.endpoint),
        &g,
        "gina@example.com",
        &pin("7"),
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");
    drop(r);
    let out = run_ok(&[
        "ra",
        "trust",
        "--dir",
        dir.to_str().unwrap(),
        "--pubkey",
        &w.ra_pub,
    ]);
    assert!(out.contains("trusted"), "{out}");
    let r = w.serve(&dir);
    client::enroll(
        std::slice::from_ref(&r.endpoint),
        &g,
        "gina@example.com",
        &pin("7"),
        None,
    )
    .await
    .unwrap();

    // Grant files hold the hashed identity only.
    for f in all_files(w.tmp.path()) {
        if f.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("grant-")
        {
            assert!(
                !std::fs::read_to_string(&f).unwrap().contains("\"gina@"),
                "{}",
                f.display()
            );
        }
    }

    // `ra revoke` over the API.
    let out = run_ok(&[
        "ra",
        "revoke",
        "--key",
        w.ra_key.to_str().unwrap(),
        "--dta",
        &r.endpoint.to_string(),
        "--identity",
        "gina@example.com",
    ]);
    assert!(out.starts_with("revoked"), "{out}");
    let cred = {
        let m = mpin_kex::MasterShare::generate(&mut rand_core::OsRng);
        let cs = mpin_kex::ClientSecret::combine(&[
            m.client_secret_share(&HashedId::of(b"gina@example.com"))
        ])
        .unwrap();
        let t = mpin_kex::Token::extract(&cs, b"gina@example.com", &pin("7")).unwrap();
        CredentialFile::new("gina@example.com".into(), t, vec![r.endpoint.clone()], g)
    };
    let e = client::permits(&cred, day_of(now()), 1, None)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");
    // SIGTERM stops the server cleanly (exit status 0), within a bounded time.
    let mut r = r;
    let pid = r.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(s) = r.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "serve ignored SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}
