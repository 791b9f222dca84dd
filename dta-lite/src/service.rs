//! The D-TA service core, free of sockets: [`Dta::handle`] turns one HTTP request (method,
//! path, headers, body, time) into a signed answer. `server` puts it behind HTTPS.

use std::sync::atomic::{AtomicU64, Ordering};

use ed25519_dalek::{SigningKey, VerifyingKey};
use mpin_kex::MasterShare;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::api::{self, ErrorBody, Info};
use crate::db::{Db, DbError};

mod device;
mod grants;
mod issue;
mod metrics;
mod revocation;
#[cfg(test)]
mod tests;

/// One request as the service sees it.
#[derive(Debug, Clone, Copy)]
pub struct ApiRequest<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The path, without query.
    pub path: &'a str,
    /// Headers (lower-case names).
    pub headers: &'a [(String, String)],
    /// The body.
    pub body: &'a [u8],
}

/// A signed answer.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    /// HTTP status.
    pub status: u16,
    /// Content type.
    pub content_type: &'static str,
    /// Body.
    pub body: Vec<u8>,
    /// Value of the `x-dta-signature` header.
    pub signature: String,
}

/// A refused request: status and a message for the client.
#[derive(Debug)]
struct Refusal {
    status: u16,
    message: String,
}

fn refuse(status: u16, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
    }
}

impl From<DbError> for Refusal {
    fn from(e: DbError) -> Self {
        match e {
            DbError::GrantUsed => refuse(409, e.to_string()),
            e => {
                tracing::error!(error = %e, "database failure; nothing issued");
                refuse(
                    500,
                    "internal error: the D-TA cannot record this request; nothing was issued",
                )
            }
        }
    }
}

const JSON: &str = "application/json";

/// One running D-TA: master share, response-signing key, trusted RA keys, database.
pub struct Dta {
    name: String,
    master: MasterShare,
    p2p: Option<mpin_kex::wcc::P2pMasterShare>,
    signing: SigningKey,
    fingerprint: String,
    trusted: Vec<VerifyingKey>,
    db: Db,
    permit_horizon: u32,
    permit_grace_secs: u64,
    requests: AtomicU64,
    refused: AtomicU64,
}

impl std::fmt::Debug for Dta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dta")
            .field("name", &self.name)
            .field(
                "signing_key",
                &hex::encode(self.signing.verifying_key().as_bytes()),
            )
            .field("master", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Dta {
    /// Assembles a D-TA.
    pub fn new(
        name: String,
        master: MasterShare,
        signing: SigningKey,
        fingerprint: String,
        trusted: Vec<VerifyingKey>,
        db: Db,
    ) -> Self {
        Self {
            name,
            master,
            p2p: None,
            signing,
            fingerprint,
            trusted,
            db,
            permit_horizon: api::DEFAULT_PERMIT_HORIZON_DAYS,
            permit_grace_secs: mpin_kex::ServerPolicy::default().permit_grace_secs,
            requests: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }

    /// Sets the permit horizon: permits are issued for today to today + `days` − 1 (and
    /// yesterday during the grace hour). `days` is clamped to 1 ..=
    /// [`api::MAX_PERMIT_HORIZON_DAYS`]; the default is [`api::DEFAULT_PERMIT_HORIZON_DAYS`].
    pub fn with_permit_horizon(mut self, days: u32) -> Self {
        self.permit_horizon = days.clamp(1, api::MAX_PERMIT_HORIZON_DAYS);
        self
    }

    /// Sets the P2P master share that device keys and permits come from (kept apart from the
    /// M-Pin master share). Without one, the device endpoints answer 503.
    pub fn with_p2p_master(mut self, share: mpin_kex::wcc::P2pMasterShare) -> Self {
        self.p2p = Some(share);
        self
    }

    /// The permit horizon in days.
    pub fn permit_horizon(&self) -> u32 {
        self.permit_horizon
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// What `GET /v1/info` answers.
    pub fn info(&self) -> Info {
        let pk = self.signing.verifying_key();
        Info {
            name: self.name.clone(),
            id: hex::encode(&Sha256::digest(pk.as_bytes())[..8]),
            signing_key: hex::encode(pk.as_bytes()),
            fingerprint: self.fingerprint.clone(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            api: crate::API_VERSION,
            permit_horizon_days: self.permit_horizon,
        }
    }

    /// Signs an answer with the response-signing key.
    pub fn sign(
        &self,
        method: &str,
        path: &str,
        request_body: &[u8],
        status: u16,
        body: &[u8],
    ) -> String {
        api::sign_response(&self.signing, method, path, request_body, status, body)
    }

    /// Handles one request at unix time `now`. Never panics on any input.
    pub fn handle(&self, req: &ApiRequest<'_>, now: u64) -> ApiResponse {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let (status, content_type, body) = match self.route(req, now) {
            Ok(ok) => ok,
            Err(r) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                // A 400 message may quote the request body: log only the status for those.
                let reason = if r.status == 400 {
                    "malformed request"
                } else {
                    r.message.as_str()
                };
                tracing::warn!(
                    method = req.method,
                    path = req.path,
                    status = r.status,
                    reason,
                    "request refused"
                );
                let body = serde_json::to_vec(&ErrorBody { error: r.message }).unwrap_or_default();
                (r.status, JSON, body)
            }
        };
        let signature =
            api::sign_response(&self.signing, req.method, req.path, req.body, status, &body);
        ApiResponse {
            status,
            content_type,
            body,
            signature,
        }
    }

    fn route(
        &self,
        req: &ApiRequest<'_>,
        now: u64,
    ) -> Result<(u16, &'static str, Vec<u8>), Refusal> {
        let json = |v: &dyn erased::Ser| v.to_json().map(|b| (200, JSON, b));
        match (req.method, req.path) {
            ("POST", "/v1/client-secret") => json(&self.client_secret(req.body, now)?),
            ("POST", "/v1/time-permits") => json(&self.time_permits(req.body, now)?),
            ("POST", "/v1/server-secret") => json(&self.server_secret(req.body, now)?),
            ("POST", "/v1/device-keys") => json(&self.device_keys(req.body, now)?),
            ("POST", "/v1/device-permits") => json(&self.device_permits(req.body, now)?),
            ("POST", "/v1/revocations") => json(&self.revocation(req, now)?),
            ("GET", "/v1/info") => json(&self.info()),
            ("GET", "/healthz") => Ok((200, "text/plain", b"ok\n".to_vec())),
            ("GET", "/metrics") => Ok((
                200,
                "text/plain; version=0.0.4",
                self.metrics()?.into_bytes(),
            )),
            (
                _,
                "/v1/client-secret" | "/v1/time-permits" | "/v1/server-secret" | "/v1/revocations"
                | "/v1/device-keys" | "/v1/device-permits" | "/v1/info" | "/healthz" | "/metrics",
            ) => Err(refuse(
                405,
                format!("method {} not allowed on {}", req.method, req.path),
            )),
            _ => Err(refuse(404, format!("no such endpoint: {}", req.path))),
        }
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| refuse(400, format!("request body: {e}")))
}

/// Object-safe JSON serialisation for the router.
mod erased {
    use super::{refuse, Refusal};

    pub(super) trait Ser {
        fn to_json(&self) -> Result<Vec<u8>, Refusal>;
    }

    impl<T: serde::Serialize> Ser for T {
        fn to_json(&self) -> Result<Vec<u8>, Refusal> {
            serde_json::to_vec(self)
                .map_err(|_| refuse(500, "internal error: cannot encode the answer"))
        }
    }
}
