//! A fake D-TA (a real `Dta` behind a tampering HTTPS front, in-process on 127.0.0.1:0):
//! the client detects a modified share (signature check) and a bad share signed by the D-TA
//! itself (point validation), and names the D-TA.

#![allow(clippy::unwrap_used)] // test helper outside #[test] functions

use std::sync::Arc;

use dta_lite::api::ShareResponse;
use dta_lite::client::{self, ClientError, DtaEndpoint};
use dta_lite::ra::RaKey;
use dta_lite::service::{ApiRequest, Dta};
use dta_lite::{dtadir, seal, tls};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use mpin_kex::HashedId;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    /// Forwards the D-TA's answer unchanged.
    Honest,
    /// Flips a bit of the share and keeps the D-TA's signature (a man in the middle).
    Mitm,
    /// Flips a bit of the share and signs with the D-TA's key (a faulty or malicious D-TA).
    Resign,
}

fn tamper(body: &[u8]) -> Vec<u8> {
    let Ok(mut r) = serde_json::from_slice::<ShareResponse>(body) else {
        return body.to_vec();
    };
    let mut b = hex::decode(&r.share).unwrap_or_default();
    if let Some(last) = b.last_mut() {
        *last ^= 1;
    }
    r.share = hex::encode(b);
    serde_json::to_vec(&r).unwrap_or_default()
}

struct Fake {
    _tmp: tempfile::TempDir,
    endpoint: DtaEndpoint,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn fake(ra: &RaKey, mode: Mode) -> Fake {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fake");
    let fast = seal::SealParams {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };
    dtadir::init(&dir, "fake", &[ra.public()], b"pw", fast).unwrap();
    let opened = dtadir::open(&dir, b"pw").unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(
        tls::server_config(&opened.tls_cert, &opened.tls_key).unwrap(),
    ));
    let dta = Arc::new(opened.dta);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = DtaEndpoint {
        url: format!("https://{}", listener.local_addr().unwrap()),
        fingerprint: opened.config.fingerprint.clone(),
        signing_key: opened.config.signing_key.clone(),
    };
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let Ok(tls) = acceptor.accept(tcp).await else {
                continue;
            };
            let dta: Arc<Dta> = dta.clone();
            let svc =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let dta = dta.clone();
                    async move {
                        let (parts, body) = req.into_parts();
                        let body = body
                            .collect()
                            .await
                            .map(|c| c.to_bytes())
                            .unwrap_or_default();
                        let (m, p) = (parts.method.as_str(), parts.uri.path());
                        let a = dta.handle(
                            &ApiRequest {
                                method: m,
                                path: p,
                                headers: &[],
                                body: &body,
                            },
                            dta_lite::clock::now(),
                        );
                        let (out, sig) = match mode {
                            Mode::Honest => (a.body, a.signature),
                            Mode::Mitm => (tamper(&a.body), a.signature),
                            Mode::Resign => {
                                let t = tamper(&a.body);
                                let s = dta.sign(m, p, &body, a.status, &t);
                                (t, s)
                            }
                        };
                        let mut r = hyper::Response::new(Full::new(Bytes::from(out)));
                        *r.status_mut() = hyper::StatusCode::from_u16(a.status).unwrap();
                        r.headers_mut()
                            .insert(dta_lite::api::SIGNATURE_HEADER, sig.parse().unwrap());
                        Ok::<_, std::convert::Infallible>(r)
                    }
                });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tls), svc),
            );
        }
    });
    Fake {
        _tmp: tmp,
        endpoint,
        task,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_shares_and_signatures_are_detected_and_name_the_dta() {
    let ra = RaKey::generate();
    let who = "alice@example.com";
    let pin = "1234".parse().unwrap();
    for mode in [Mode::Honest, Mode::Mitm, Mode::Resign] {
        let f = fake(&ra, mode).await;
        let grant = ra.grant_client(&HashedId::of(who.as_bytes()), dta_lite::clock::now(), 60);
        let r = client::enroll(std::slice::from_ref(&f.endpoint), &grant, who, &pin, None).await;
        match mode {
            Mode::Honest => assert!(r.is_ok(), "{r:?}"),
            Mode::Mitm => assert!(
                matches!(&r, Err(ClientError::BadSignature { url }) if *url == f.endpoint.url),
                "{r:?}"
            ),
            Mode::Resign => assert!(
                matches!(&r, Err(ClientError::BadAnswer { url, field: "share", .. }) if *url == f.endpoint.url),
                "{r:?}"
            ),
        }
    }
}
