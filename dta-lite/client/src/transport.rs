//! One HTTPS exchange with one D-TA (pinned certificate, checked answer signature), and the
//! same request sent to every D-TA concurrently.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio_rustls::TlsConnector;
use zeroize::Zeroizing;

use crate::api::{self, ErrorBody};
use crate::endpoint::{DtaEndpoint, Parsed};
use crate::error::ClientError;

/// Deadline for one request to one D-TA (connect, TLS, request, answer).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Largest answer accepted.
pub const MAX_RESPONSE: usize = 256 * 1024;

/// Per-D-TA progress callback: `(url, Ok(()) | Err(error))`.
pub type Progress<'a> = Option<&'a (dyn Fn(&str, Result<(), &ClientError>) + Sync)>;

/// One HTTPS exchange with one D-TA; returns the verified answer body of a 2xx answer.
pub(crate) async fn call(
    ep: &Parsed,
    method: &'static str,
    path: &'static str,
    body: Vec<u8>,
    extra_headers: Vec<(&'static str, String)>,
) -> Result<Vec<u8>, ClientError> {
    match tokio::time::timeout(
        REQUEST_TIMEOUT,
        call_inner(ep, method, path, body, extra_headers),
    )
    .await
    {
        Ok(r) => r,
        Err(_) => Err(ClientError::Timeout {
            url: ep.url.clone(),
        }),
    }
}

async fn call_inner(
    ep: &Parsed,
    method: &'static str,
    path: &'static str,
    body: Vec<u8>,
    extra_headers: Vec<(&'static str, String)>,
) -> Result<Vec<u8>, ClientError> {
    let url = || ep.url.clone();
    let tcp = tokio::net::TcpStream::connect((ep.host.as_str(), ep.port))
        .await
        .map_err(|e| ClientError::Connect {
            url: url(),
            why: e.to_string(),
        })?;
    let cfg = crate::tls::client_config(ep.pin).map_err(|e| ClientError::Tls {
        url: url(),
        why: e.to_string(),
    })?;
    let name = rustls::pki_types::ServerName::try_from(ep.host.clone()).map_err(|_| {
        ClientError::Endpoint {
            url: url(),
            why: "bad host name".to_owned(),
        }
    })?;
    let tls = TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
        .map_err(|e| ClientError::Tls {
            url: url(),
            why: e.to_string(),
        })?;
    let http = |e: hyper::Error| ClientError::Http {
        url: url(),
        why: e.to_string(),
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(http)?;
    let conn_task = tokio::spawn(conn);
    let mut builder = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, format!("{}:{}", ep.host, ep.port))
        .header(hyper::header::CONTENT_TYPE, "application/json");
    for (k, v) in &extra_headers {
        builder = builder.header(*k, v.as_str());
    }
    let req = builder
        .body(Full::new(Bytes::from(body.clone())))
        .map_err(|e| ClientError::Http {
            url: url(),
            why: e.to_string(),
        })?;
    let resp = sender.send_request(req).await.map_err(http)?;
    let status = resp.status().as_u16();
    let sig = resp
        .headers()
        .get(api::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let answer = Limited::new(resp.into_body(), MAX_RESPONSE)
        .collect()
        .await
        .map_err(|e| ClientError::Http {
            url: url(),
            why: format!("reading the answer: {e}"),
        })?
        .to_bytes()
        .to_vec();
    conn_task.abort();
    let Some(sig) = sig else {
        return Err(ClientError::BadSignature { url: url() });
    };
    if !api::verify_response(&ep.key, method, path, &body, status, &answer, &sig) {
        return Err(ClientError::BadSignature { url: url() });
    }
    if !(200..300).contains(&status) {
        let message = serde_json::from_slice::<ErrorBody>(&answer)
            .map(|e| e.error)
            .unwrap_or_else(|_| "(no message)".to_owned());
        return Err(ClientError::Refused {
            url: url(),
            status,
            message,
        });
    }
    Ok(answer)
}

pub(crate) fn decode<T: DeserializeOwned>(url: &str, body: &[u8]) -> Result<T, ClientError> {
    serde_json::from_slice(body).map_err(|e| ClientError::BadAnswer {
        url: url.to_owned(),
        field: "body",
        why: e.to_string(),
    })
}

pub(crate) fn share_bytes(
    url: &str,
    field: &'static str,
    hex_str: &str,
) -> Result<Zeroizing<Vec<u8>>, ClientError> {
    hex::decode(hex_str)
        .map(Zeroizing::new)
        .map_err(|_| ClientError::BadAnswer {
            url: url.to_owned(),
            field,
            why: "not hex".to_owned(),
        })
}

/// Sends the same request to every D-TA concurrently; `parse` turns each verified answer
/// into a value. Reports progress per D-TA; returns the first error (after all finished).
pub(crate) async fn fan_out<T: Send + 'static>(
    dtas: &[DtaEndpoint],
    method: &'static str,
    path: &'static str,
    body: Vec<u8>,
    headers: impl Fn() -> Vec<(&'static str, String)>,
    parse: fn(&str, &[u8]) -> Result<T, ClientError>,
    progress: Progress<'_>,
) -> Result<Vec<T>, ClientError> {
    if dtas.is_empty() {
        return Err(ClientError::NoDtas);
    }
    let parsed = dtas
        .iter()
        .map(DtaEndpoint::parse)
        .collect::<Result<Vec<_>, _>>()?;
    let tasks: Vec<_> = parsed
        .into_iter()
        .map(|ep| {
            let body = body.clone();
            let hdrs = headers();
            tokio::spawn(async move {
                let r = call(&ep, method, path, body, hdrs)
                    .await
                    .and_then(|b| parse(&ep.url, &b));
                (ep.url, r)
            })
        })
        .collect();
    let mut out = Vec::with_capacity(tasks.len());
    let mut first_err = None;
    for (task, ep) in tasks.into_iter().zip(dtas) {
        let (url, r) = match task.await {
            Ok(x) => x,
            Err(e) => (
                ep.url.clone(),
                Err(ClientError::Http {
                    url: ep.url.clone(),
                    why: format!("task failed: {e}"),
                }),
            ),
        };
        match r {
            Ok(v) => {
                tracing::info!(dta = %url, path, "D-TA answered");
                if let Some(p) = progress {
                    p(&url, Ok(()));
                }
                out.push(v);
            }
            Err(e) => {
                tracing::warn!(dta = %url, path, error = %e, "D-TA failed");
                if let Some(p) = progress {
                    p(&url, Err(&e));
                }
                first_err.get_or_insert(e);
            }
        }
    }
    match first_err {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

pub(crate) fn body_of<T: Serialize>(v: &T) -> Result<Vec<u8>, ClientError> {
    serde_json::to_vec(v).map_err(|e| ClientError::Grant(e.to_string()))
}

/// One day of permit shares: the day and each D-TA's share for it, with that D-TA.
pub(crate) type DayShares<'a, T> = (u32, Vec<(&'a T, &'a DtaEndpoint)>);

/// Lines up the per-D-TA answers of a permit request by day: for each of the `days` days
/// from `from_day`, that day and the share of every D-TA for it (in `dtas` order). `day_of`
/// tells the day a share is for; a D-TA whose answer has no share for a day is a bad answer.
pub(crate) fn shares_by_day<'a, T>(
    per_dta: &'a [Vec<T>],
    dtas: &'a [DtaEndpoint],
    from_day: u32,
    days: u32,
    day_of: impl Fn(&T) -> u32,
) -> Result<Vec<DayShares<'a, T>>, ClientError> {
    (from_day..from_day.saturating_add(days))
        .enumerate()
        .map(|(i, day)| {
            let shares = per_dta
                .iter()
                .zip(dtas)
                .map(|(list, ep)| {
                    list.get(i)
                        .filter(|s| day_of(s) == day)
                        .map(|s| (s, ep))
                        .ok_or_else(|| ClientError::BadAnswer {
                            url: ep.url.clone(),
                            field: "permits",
                            why: format!("no share for day {day}"),
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((day, shares))
        })
        .collect()
}
