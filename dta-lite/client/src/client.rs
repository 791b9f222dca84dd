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

use mpin_kex::{
    ClientSecret, ClientSecretShare, HashedId, Pin, ServerSecret, ServerSecretShare, TimePermit,
    TimePermitShare, Token,
};

use crate::api::{
    self, ClientSecretRequest, RevocationRequest, ServerSecretRequest, ShareResponse,
    TimePermitsRequest, TimePermitsResponse,
};
use crate::files::{CredentialFile, ServerSecretFile};
use crate::ra::{Grant, GrantKind, RaKey};
use crate::transport::{body_of, call, decode, fan_out, share_bytes, shares_by_day};

pub use crate::endpoint::DtaEndpoint;
pub use crate::error::ClientError;
pub use crate::transport::{Progress, MAX_RESPONSE, REQUEST_TIMEOUT};

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

/// Checks that `hashed` (a grant's hashed id) is the hash of `identity`.
pub(crate) fn check_grant_identity(hashed: &str, identity: &str) -> Result<(), ClientError> {
    if hex::encode(HashedId::of(identity.as_bytes()).as_bytes()) != hashed {
        return Err(ClientError::Grant(
            "the grant is for another identity".to_owned(),
        ));
    }
    Ok(())
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
    check_grant_identity(&hashed, identity)?;
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
    let by_day = shares_by_day(&per_dta, &credential.dtas, from_day, days, |s| s.day())?;
    let mut out = Vec::with_capacity(by_day.len());
    for (_, shares) in by_day {
        let shares: Vec<_> = shares.into_iter().map(|(s, _)| s.clone()).collect();
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
        move || ra.sign_request("POST", "/v1/revocations", &b, crate::clock::now()),
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
