//! Client side: talks to N D-TAs concurrently over HTTPS with pinned certificates, checks
//! every response signature and every share, and combines the shares.
//!
//! Used by `milagro-tunnel enroll | server-secret | permit`:
//!
//! * [`enroll`] → a [`CredentialFile`] (token, D-TAs, grant; the PIN is extracted and never
//!   stored); then [`permits`] and [`CredentialFile::add_permits`] for time permits;
//! * [`server_secret`] → a [`ServerSecretFile`];
//! * [`revoke`] (the RA's side) revokes an identity at every D-TA.
//!
//! Every error names the D-TA (its URL). Progress is reported per D-TA through an optional
//! callback and as `tracing` events.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::VerifyingKey;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use mpin_kex::{
    ClientSecret, ClientSecretShare, HashedId, Pin, SecretError, ServerSecret, ServerSecretShare,
    TimePermit, TimePermitShare, Token,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio_rustls::TlsConnector;
use zeroize::Zeroizing;

use crate::api::{
    self, ClientSecretRequest, ErrorBody, RevocationRequest, ServerSecretRequest, ShareResponse,
    TimePermitsRequest, TimePermitsResponse,
};
use crate::files::{CredentialFile, ServerSecretFile};
use crate::ra::{Grant, GrantKind, RaKey};

/// Deadline for one request to one D-TA (connect, TLS, request, answer).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Largest answer accepted.
pub const MAX_RESPONSE: usize = 256 * 1024;

/// How to reach and authenticate one D-TA. As a string: `URL,FINGERPRINT,SIGNING_KEY`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DtaEndpoint {
    /// `https://host:port`.
    pub url: String,
    /// SHA-256 of its TLS certificate (64 hex digits).
    pub fingerprint: String,
    /// Its response-signing Ed25519 public key (64 hex digits).
    pub signing_key: String,
}

impl FromStr for DtaEndpoint {
    type Err = ClientError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.trim().split(',').collect();
        let [url, fingerprint, signing_key] = parts.as_slice() else {
            return Err(ClientError::Endpoint {
                url: s.to_owned(),
                why: "expected URL,FINGERPRINT,SIGNING_KEY".to_owned(),
            });
        };
        let ep = DtaEndpoint {
            url: (*url).to_owned(),
            fingerprint: (*fingerprint).to_owned(),
            signing_key: (*signing_key).to_owned(),
        };
        ep.parse()?;
        Ok(ep)
    }
}

impl fmt::Display for DtaEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{},{},{}", self.url, self.fingerprint, self.signing_key)
    }
}

#[derive(Clone)]
struct Parsed {
    url: String,
    host: String,
    port: u16,
    pin: [u8; 32],
    key: VerifyingKey,
}

impl DtaEndpoint {
    fn parse(&self) -> Result<Parsed, ClientError> {
        let bad = |why: &str| ClientError::Endpoint {
            url: self.url.clone(),
            why: why.to_owned(),
        };
        let rest = self
            .url
            .strip_prefix("https://")
            .ok_or_else(|| bad("URL must start with https://"))?;
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') || rest.contains('@') || rest.contains('?') {
            return Err(bad("URL must be https://host:port with no path"));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                (h, p.parse::<u16>().map_err(|_| bad("bad port"))?)
            }
            _ => (rest, 443),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("missing host"));
        }
        let pin: [u8; 32] = hex::decode(&self.fingerprint)
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| bad("fingerprint must be 64 hex digits (SHA-256 of the certificate)"))?;
        let key = crate::ra::parse_public_key(&self.signing_key, "signing_key")
            .map_err(|_| bad("signing_key must be a 64-hex-digit Ed25519 public key"))?;
        Ok(Parsed {
            url: self.url.clone(),
            host: host.to_owned(),
            port,
            pin,
            key,
        })
    }
}

/// Client errors. Those about one D-TA name it.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// A D-TA descriptor is invalid.
    #[error("D-TA {url}: {why}")]
    Endpoint {
        /// The D-TA.
        url: String,
        /// Why.
        why: String,
    },
    /// Could not reach the D-TA.
    #[error("D-TA {url}: cannot connect: {why}")]
    Connect {
        /// The D-TA.
        url: String,
        /// Why.
        why: String,
    },
    /// The TLS handshake failed (wrong pin, not a D-TA).
    #[error(
        "D-TA {url}: TLS handshake failed (is the pinned certificate fingerprint right?): {why}"
    )]
    Tls {
        /// The D-TA.
        url: String,
        /// Why.
        why: String,
    },
    /// An HTTP-level failure.
    #[error("D-TA {url}: HTTP failure: {why}")]
    Http {
        /// The D-TA.
        url: String,
        /// Why.
        why: String,
    },
    /// No answer in time.
    #[error("D-TA {url}: no answer within {} s", REQUEST_TIMEOUT.as_secs())]
    Timeout {
        /// The D-TA.
        url: String,
    },
    /// The answer's signature is missing or wrong.
    #[error("D-TA {url}: response signature missing or invalid (tampered answer, or wrong signing key configured)")]
    BadSignature {
        /// The D-TA.
        url: String,
    },
    /// The D-TA refused the request.
    #[error("D-TA {url}: refused with HTTP {status}: {message}")]
    Refused {
        /// The D-TA.
        url: String,
        /// HTTP status.
        status: u16,
        /// The D-TA's message.
        message: String,
    },
    /// The answer is malformed or a share does not validate.
    #[error("D-TA {url}: invalid answer, field `{field}`: {why}")]
    BadAnswer {
        /// The D-TA.
        url: String,
        /// The field.
        field: &'static str,
        /// Why.
        why: String,
    },
    /// Combining shares failed.
    #[error("combining shares: {0}")]
    Combine(#[from] SecretError),
    /// No D-TA given.
    #[error("no D-TAs given")]
    NoDtas,
    /// The grant does not fit the operation.
    #[error("grant: {0}")]
    Grant(String),
}

impl ClientError {
    /// HTTP status of a refusal, if this is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Per-D-TA progress callback: `(url, Ok(()) | Err(error))`.
pub type Progress<'a> = Option<&'a (dyn Fn(&str, Result<(), &ClientError>) + Sync)>;

/// One HTTPS exchange with one D-TA; returns the verified answer body of a 2xx answer.
async fn call(
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

fn decode<T: DeserializeOwned>(url: &str, body: &[u8]) -> Result<T, ClientError> {
    serde_json::from_slice(body).map_err(|e| ClientError::BadAnswer {
        url: url.to_owned(),
        field: "body",
        why: e.to_string(),
    })
}

fn share_bytes(
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
async fn fan_out<T: Send + 'static>(
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

fn body_of<T: Serialize>(v: &T) -> Result<Vec<u8>, ClientError> {
    serde_json::to_vec(v).map_err(|e| ClientError::Grant(e.to_string()))
}

fn client_hashed_id(grant: &Grant) -> Result<String, ClientError> {
    if grant.kind != GrantKind::Client {
        return Err(ClientError::Grant(format!(
            "this needs a client grant, not a {} grant",
            grant.kind
        )));
    }
    grant
        .hashed_id
        .clone()
        .ok_or_else(|| ClientError::Grant("client grant without `hashed_id`".to_owned()))
}

fn parse_client_share(url: &str, body: &[u8]) -> Result<ClientSecretShare, ClientError> {
    let r: ShareResponse = decode(url, body)?;
    let b = share_bytes(url, "share", &r.share)?;
    ClientSecretShare::from_bytes(&b).map_err(|e| ClientError::BadAnswer {
        url: url.to_owned(),
        field: "share",
        why: e.to_string(),
    })
}

fn parse_server_share(url: &str, body: &[u8]) -> Result<ServerSecretShare, ClientError> {
    let r: ShareResponse = decode(url, body)?;
    let b = share_bytes(url, "share", &r.share)?;
    ServerSecretShare::from_bytes(&b).map_err(|e| ClientError::BadAnswer {
        url: url.to_owned(),
        field: "share",
        why: e.to_string(),
    })
}

fn parse_permits(url: &str, body: &[u8]) -> Result<Vec<TimePermitShare>, ClientError> {
    let r: TimePermitsResponse = decode(url, body)?;
    r.permits
        .iter()
        .map(|p| {
            let b = share_bytes(url, "permits.share", &p.share)?;
            let s = TimePermitShare::from_bytes(&b).map_err(|e| ClientError::BadAnswer {
                url: url.to_owned(),
                field: "permits.share",
                why: e.to_string(),
            })?;
            if s.day() != p.day {
                return Err(ClientError::BadAnswer {
                    url: url.to_owned(),
                    field: "permits.day",
                    why: "does not match the share".to_owned(),
                });
            }
            Ok(s)
        })
        .collect()
}

/// Enrols `identity`: fetches a client-secret share from every D-TA (the grant must be a
/// client grant for this identity), validates and combines them, extracts the PIN and
/// returns the credential (no permits yet: see [`permits`]).
pub async fn enroll(
    dtas: &[DtaEndpoint],
    grant: &Grant,
    identity: &str,
    pin: &Pin,
    progress: Progress<'_>,
) -> Result<CredentialFile, ClientError> {
    let hashed = client_hashed_id(grant)?;
    if hex::encode(HashedId::of(identity.as_bytes()).as_bytes()) != hashed {
        return Err(ClientError::Grant(
            "the grant is for another identity".to_owned(),
        ));
    }
    let body = body_of(&ClientSecretRequest {
        hashed_id: hashed,
        grant: grant.clone(),
    })?;
    let shares = fan_out(
        dtas,
        "POST",
        "/v1/client-secret",
        body,
        Vec::new,
        parse_client_share,
        progress,
    )
    .await?;
    let cs = ClientSecret::combine(&shares)?;
    let token = Token::extract(&cs, identity.as_bytes(), pin)?;
    Ok(CredentialFile::new(
        identity.to_owned(),
        token,
        dtas.to_vec(),
        grant.clone(),
    ))
}

/// Fetches and combines time permits for `days` days from `from_day` from the credential's
/// D-TAs. A revoked identity gets `ClientError::Refused` with status 403.
pub async fn permits(
    credential: &CredentialFile,
    from_day: u32,
    days: u32,
    progress: Progress<'_>,
) -> Result<Vec<TimePermit>, ClientError> {
    let hashed = client_hashed_id(&credential.grant)?;
    let body = body_of(&TimePermitsRequest {
        hashed_id: hashed,
        grant: credential.grant.clone(),
        from_day,
        days,
    })?;
    let per_dta = fan_out(
        &credential.dtas,
        "POST",
        "/v1/time-permits",
        body,
        Vec::new,
        parse_permits,
        progress,
    )
    .await?;
    let mut out = Vec::with_capacity(days as usize);
    for (i, day) in (from_day..from_day.saturating_add(days)).enumerate() {
        let mut shares = Vec::with_capacity(per_dta.len());
        for (list, ep) in per_dta.iter().zip(&credential.dtas) {
            let s =
                list.get(i)
                    .filter(|s| s.day() == day)
                    .ok_or_else(|| ClientError::BadAnswer {
                        url: ep.url.clone(),
                        field: "permits",
                        why: format!("no share for day {day}"),
                    })?;
            shares.push(s.clone());
        }
        out.push(TimePermit::combine(&shares)?);
    }
    Ok(out)
}

/// Fetches permits for `days` days from `today`, stores them in the credential and drops
/// cached permits older than `today - 1` (kept for the server's grace period). Returns the
/// number of permits fetched. Save the credential afterwards.
pub async fn refresh_permits(
    credential: &mut CredentialFile,
    today: u32,
    days: u32,
    progress: Progress<'_>,
) -> Result<usize, ClientError> {
    let new = permits(credential, today, days, progress).await?;
    let n = new.len();
    credential.add_permits(new, today.saturating_sub(1));
    Ok(n)
}

/// The smallest permit horizon (days, `GET /v1/info`) among `dtas`: a client asks for
/// permits for today to today + this − 1 only, since every D-TA must issue each day's share.
pub async fn permit_horizon(
    dtas: &[DtaEndpoint],
    progress: Progress<'_>,
) -> Result<u32, ClientError> {
    let horizons = fan_out(
        dtas,
        "GET",
        "/v1/info",
        Vec::new(),
        Vec::new,
        |url, body| {
            let info: api::Info = decode(url, body)?;
            if info.permit_horizon_days == 0 {
                return Err(ClientError::BadAnswer {
                    url: url.to_owned(),
                    field: "permit_horizon_days",
                    why: "must be at least 1".to_owned(),
                });
            }
            Ok(info.permit_horizon_days)
        },
        progress,
    )
    .await?;
    horizons.into_iter().min().ok_or(ClientError::NoDtas)
}

/// Fetches and combines the server secret for a server grant.
pub async fn server_secret(
    dtas: &[DtaEndpoint],
    grant: &Grant,
    progress: Progress<'_>,
) -> Result<ServerSecretFile, ClientError> {
    if grant.kind != GrantKind::Server {
        return Err(ClientError::Grant(format!(
            "this needs a server grant, not a {} grant",
            grant.kind
        )));
    }
    let body = body_of(&ServerSecretRequest {
        grant: grant.clone(),
    })?;
    let shares = fan_out(
        dtas,
        "POST",
        "/v1/server-secret",
        body,
        Vec::new,
        parse_server_share,
        progress,
    )
    .await?;
    let ss = ServerSecret::combine(&shares)?;
    Ok(ServerSecretFile::new(
        ss,
        grant.server_name.clone().unwrap_or_default(),
        dtas.to_vec(),
    ))
}

/// The RA revokes a hashed identity at every D-TA (RA-signed requests).
pub async fn revoke(
    dtas: &[DtaEndpoint],
    ra: &RaKey,
    hashed_id: &HashedId,
    progress: Progress<'_>,
) -> Result<(), ClientError> {
    let body = body_of(&RevocationRequest {
        hashed_id: hex::encode(hashed_id.as_bytes()),
    })?;
    let b = body.clone();
    fan_out(
        dtas,
        "POST",
        "/v1/revocations",
        body,
        move || ra.sign_request("POST", "/v1/revocations", &b, crate::server::unix_now()),
        |_, _| Ok(()),
        progress,
    )
    .await
    .map(|_| ())
}

/// Sends one request to one D-TA and returns the body of a 2xx answer (the answer's
/// signature is checked; other statuses are [`ClientError::Refused`]). For tools and tests.
pub async fn send(
    dta: &DtaEndpoint,
    method: &'static str,
    path: &'static str,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
) -> Result<Vec<u8>, ClientError> {
    call(&dta.parse()?, method, path, body, headers).await
}

/// Fetches `GET /v1/info` from one D-TA (signature checked).
pub async fn info(dta: &DtaEndpoint) -> Result<api::Info, ClientError> {
    let ep = dta.parse()?;
    let body = call(&ep, "GET", "/v1/info", Vec::new(), Vec::new()).await?;
    decode(&ep.url, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(url: &str) -> DtaEndpoint {
        DtaEndpoint {
            url: url.into(),
            fingerprint: "ab".repeat(32),
            signing_key: hex::encode(RaKey::generate().public().as_bytes()),
        }
    }

    #[test]
    fn endpoint_parsing() {
        let p = ep("https://127.0.0.1:7443").parse().unwrap();
        assert_eq!((p.host.as_str(), p.port), ("127.0.0.1", 7443));
        let p = ep("https://localhost/").parse().unwrap();
        assert_eq!((p.host.as_str(), p.port), ("localhost", 443));
        let p = ep("https://[::1]:9").parse().unwrap();
        assert_eq!((p.host.as_str(), p.port), ("::1", 9));
        for bad in [
            "http://127.0.0.1:1",
            "https://h:99999",
            "https://h:1/path",
            "https://:1",
            "https://u@h:1",
        ] {
            let e = ep(bad)
                .parse()
                .err()
                .unwrap_or_else(|| panic!("{bad} accepted"));
            assert!(e.to_string().contains(bad), "{e}");
        }
        let mut e = ep("https://h:1");
        e.fingerprint = "abc".into();
        assert!(e.parse().is_err());
        let mut e = ep("https://h:1");
        e.signing_key = "00".into();
        assert!(e.parse().is_err());
        let s = ep("https://h:1").to_string();
        assert_eq!(s.parse::<DtaEndpoint>().unwrap().to_string(), s);
        assert!("https://h:1,ab".parse::<DtaEndpoint>().is_err());
    }

    #[test]
    fn tampered_or_invalid_shares_are_refused() {
        let master = mpin_kex::MasterShare::generate(&mut rand_core::OsRng);
        let share = master.client_secret_share(&HashedId::of(b"alice"));
        let mut bytes = share.to_bytes().to_vec();
        let ok = serde_json::to_vec(&ShareResponse {
            share: hex::encode(&bytes),
        })
        .unwrap();
        assert!(parse_client_share("https://x", &ok).is_ok());
        bytes[50] ^= 1;
        let bad = serde_json::to_vec(&ShareResponse {
            share: hex::encode(&bytes),
        })
        .unwrap();
        let e = parse_client_share("https://x", &bad).unwrap_err();
        assert!(
            matches!(e, ClientError::BadAnswer { field: "share", .. }),
            "{e}"
        );
        assert!(parse_client_share("https://x", br#"{"share":"zz"}"#).is_err());
        assert!(parse_client_share("https://x", br#"{"share":"04"}"#).is_err());
        assert!(parse_client_share("https://x", b"garbage").is_err());
        assert!(
            parse_server_share("https://x", &ok).is_err(),
            "a G1 share is not a G2 share"
        );
        let p = master
            .time_permit_share(&HashedId::of(b"alice"), 5)
            .unwrap();
        let body = format!(
            r#"{{"permits":[{{"day":6,"share":"{}"}}]}}"#,
            hex::encode(&*p.to_bytes())
        );
        let e = parse_permits("https://x", body.as_bytes()).unwrap_err();
        assert!(
            matches!(
                e,
                ClientError::BadAnswer {
                    field: "permits.day",
                    ..
                }
            ),
            "{e}"
        );
    }
}
