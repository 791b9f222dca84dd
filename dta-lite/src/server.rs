//! HTTPS front of the service: tokio-rustls + hyper (HTTP/1.1). Bounded: request bodies
//! ([`api::MAX_BODY`]), TLS handshake time, connection lifetime and concurrent connections.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

use crate::api::{self, ErrorBody};
use crate::ratelimit::RateLimiter;
use crate::service::{ApiRequest, ApiResponse, Dta};

/// Requests a source may send at once.
pub const RATE_BURST: u32 = 100;
/// Requests per second a source may sustain.
pub const RATE_PER_SEC: u32 = 20;
/// Most concurrent connections.
pub const MAX_CONNECTIONS: usize = 256;
/// TLS handshake deadline.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline for a request's headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a connection may live.
pub const CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);

/// Serves HTTPS on `listener` until the task is dropped or accepting fails persistently.
pub async fn serve(
    dta: Arc<Dta>,
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    let limiter = Arc::new(RateLimiter::new(RATE_BURST, RATE_PER_SEC));
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, "connection limit reached; dropping connection");
            continue;
        };
        let acceptor = acceptor.clone();
        let dta = dta.clone();
        let limiter = limiter.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TLS handshake timed out");
                    return;
                }
            };
            let svc = hyper::service::service_fn(move |req| {
                let allowed = limiter.allow(peer.ip(), Instant::now());
                handle(dta.clone(), req, allowed)
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(tls), svc);
            match tokio::time::timeout(CONNECTION_TIMEOUT, conn).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "connection error"),
                Err(_) => tracing::debug!(%peer, "connection closed after its time limit"),
            }
        });
    }
}

async fn handle(
    dta: Arc<Dta>,
    req: Request<Incoming>,
    allowed: bool,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let request_body = match Limited::new(body, api::MAX_BODY).collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => {
            return Ok(error_response(
                &dta,
                &method,
                &path,
                413,
                "request body too large or unreadable",
            ));
        }
    };
    if !allowed {
        let body = serde_json::to_vec(&ErrorBody {
            error: "too many requests from this address; slow down".to_owned(),
        })
        .unwrap_or_default();
        let sig = dta.sign(&method, &path, &request_body, 429, &body);
        return Ok(to_hyper(ApiResponse {
            status: 429,
            content_type: "application/json",
            body,
            signature: sig,
        }));
    }
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_owned(), v.to_owned()))
        })
        .collect();
    let d = dta.clone();
    let (m, p) = (method.clone(), path.clone());
    let answer = tokio::task::spawn_blocking(move || {
        d.handle(
            &ApiRequest {
                method: &m,
                path: &p,
                headers: &headers,
                body: &request_body,
            },
            crate::clock::now(),
        )
    })
    .await;
    Ok(match answer {
        Ok(a) => to_hyper(a),
        Err(_) => error_response(&dta, &method, &path, 500, "internal error"),
    })
}

fn error_response(
    dta: &Dta,
    method: &str,
    path: &str,
    status: u16,
    msg: &str,
) -> Response<Full<Bytes>> {
    // The request body was not read: sign over an empty one.
    let body = serde_json::to_vec(&ErrorBody {
        error: msg.to_owned(),
    })
    .unwrap_or_default();
    let signature = dta.sign(method, path, b"", status, &body);
    to_hyper(ApiResponse {
        status,
        content_type: "application/json",
        body,
        signature,
    })
}

fn to_hyper(a: ApiResponse) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(a.body)));
    *r.status_mut() =
        hyper::StatusCode::from_u16(a.status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = hyper::header::HeaderValue::from_str(a.content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    if let Ok(v) = hyper::header::HeaderValue::from_str(&a.signature) {
        r.headers_mut().insert(api::SIGNATURE_HEADER, v);
    }
    r
}
