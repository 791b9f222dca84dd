//! Device enrolment and device permits (P2P links), like the M-Pin ones in [`crate::client`]:
//! every D-TA's answer is signature-checked, every share validated, and the shares combined.
//!
//! * [`enroll_device`] → a [`DeviceCredentialFile`] with the keys of the device grant (sender
//!   key in G1 to dial, receiver key in G2 to accept), held whole;
//! * [`device_permits`] / [`refresh_device_permits`]: daily permits for those keys; a revoked
//!   device gets [`ClientError::Refused`] with status 403.

use mpin_kex::wcc::{
    ReceiverKey, ReceiverKeyShare, ReceiverPermit, ReceiverPermitShare, SenderKey, SenderKeyShare,
    SenderPermit, SenderPermitShare,
};

use crate::api::{
    DeviceKeysRequest, DeviceKeysResponse, DevicePermitsRequest, DevicePermitsResponse,
};
use crate::client::check_grant_identity;
use crate::client::{ClientError, DtaEndpoint, Progress};
use crate::device_file::DeviceCredentialFile;
use crate::ra::{DeviceKeys, Grant, GrantKind};
use crate::transport::{body_of, decode, fan_out, share_bytes, shares_by_day};

/// The hashed identity and keys of a device grant.
fn device_grant(grant: &Grant) -> Result<(String, DeviceKeys), ClientError> {
    if grant.kind != GrantKind::Device {
        return Err(ClientError::Grant(format!(
            "this needs a device grant, not a {} grant",
            grant.kind
        )));
    }
    let hashed = grant
        .hashed_id
        .clone()
        .ok_or_else(|| ClientError::Grant("device grant without `hashed_id`".to_owned()))?;
    let keys = grant
        .device_keys
        .ok_or_else(|| ClientError::Grant("device grant without `device_keys`".to_owned()))?;
    Ok((hashed, keys))
}

fn bad(url: &str, field: &'static str, why: impl Into<String>) -> ClientError {
    ClientError::BadAnswer {
        url: url.to_owned(),
        field,
        why: why.into(),
    }
}

type KeyShares = (Option<SenderKeyShare>, Option<ReceiverKeyShare>);

fn parse_key_shares(url: &str, body: &[u8]) -> Result<KeyShares, ClientError> {
    let r: DeviceKeysResponse = decode(url, body)?;
    let sender = match &r.sender_key {
        Some(h) => Some(
            SenderKeyShare::from_bytes(&share_bytes(url, "sender_key", h)?)
                .map_err(|e| bad(url, "sender_key", e.to_string()))?,
        ),
        None => None,
    };
    let receiver = match &r.receiver_key {
        Some(h) => Some(
            ReceiverKeyShare::from_bytes(&share_bytes(url, "receiver_key", h)?)
                .map_err(|e| bad(url, "receiver_key", e.to_string()))?,
        ),
        None => None,
    };
    Ok((sender, receiver))
}

type PermitShares = Vec<(u32, Option<SenderPermitShare>, Option<ReceiverPermitShare>)>;

fn parse_permit_shares(url: &str, body: &[u8]) -> Result<PermitShares, ClientError> {
    let r: DevicePermitsResponse = decode(url, body)?;
    r.permits
        .iter()
        .map(|p| {
            let sender = match &p.sender {
                Some(h) => {
                    let s = SenderPermitShare::from_bytes(&share_bytes(url, "permits.sender", h)?)
                        .map_err(|e| bad(url, "permits.sender", e.to_string()))?;
                    (s.day() == p.day)
                        .then_some(s)
                        .ok_or_else(|| bad(url, "permits.day", "does not match the share"))
                        .map(Some)?
                }
                None => None,
            };
            let receiver = match &p.receiver {
                Some(h) => {
                    let s =
                        ReceiverPermitShare::from_bytes(&share_bytes(url, "permits.receiver", h)?)
                            .map_err(|e| bad(url, "permits.receiver", e.to_string()))?;
                    (s.day() == p.day)
                        .then_some(s)
                        .ok_or_else(|| bad(url, "permits.day", "does not match the share"))
                        .map(Some)?
                }
                None => None,
            };
            Ok((p.day, sender, receiver))
        })
        .collect()
}

/// Enrols a device: fetches the key shares the device grant allows from every D-TA (the
/// grant must be a device grant for `identity`), validates and combines them, and returns
/// the device credential (no permits yet: see [`refresh_device_permits`]).
pub async fn enroll_device(
    dtas: &[DtaEndpoint],
    grant: &Grant,
    identity: &str,
    progress: Progress<'_>,
) -> Result<DeviceCredentialFile, ClientError> {
    let (hashed, keys) = device_grant(grant)?;
    check_grant_identity(&hashed, identity)?;
    let body = body_of(&DeviceKeysRequest {
        hashed_id: hashed,
        grant: grant.clone(),
        keys,
    })?;
    let per_dta = fan_out(
        dtas,
        "POST",
        "/v1/device-keys",
        body,
        Vec::new,
        parse_key_shares,
        progress,
    )
    .await?;
    let mut senders = Vec::new();
    let mut receivers = Vec::new();
    for ((s, r), ep) in per_dta.into_iter().zip(dtas) {
        if s.is_some() != keys.send() || r.is_some() != keys.receive() {
            return Err(bad(
                &ep.url,
                "body",
                format!("asked for the `{keys}` keys, got others"),
            ));
        }
        senders.extend(s);
        receivers.extend(r);
    }
    let sender = keys
        .send()
        .then(|| SenderKey::combine(&senders))
        .transpose()?;
    let receiver = keys
        .receive()
        .then(|| ReceiverKey::combine(&receivers))
        .transpose()?;
    Ok(DeviceCredentialFile::new(
        identity.to_owned(),
        dtas.to_vec(),
        grant.clone(),
        sender,
        receiver,
    ))
}

/// Fetches and combines device permits for `days` days from `from_day` (for the keys of the
/// credential's grant) from its D-TAs.
pub async fn device_permits(
    credential: &DeviceCredentialFile,
    from_day: u32,
    days: u32,
    progress: Progress<'_>,
) -> Result<(Vec<SenderPermit>, Vec<ReceiverPermit>), ClientError> {
    let (hashed, keys) = device_grant(&credential.grant)?;
    let body = body_of(&DevicePermitsRequest {
        hashed_id: hashed,
        grant: credential.grant.clone(),
        from_day,
        days,
    })?;
    let per_dta = fan_out(
        &credential.dtas,
        "POST",
        "/v1/device-permits",
        body,
        Vec::new,
        parse_permit_shares,
        progress,
    )
    .await?;
    let mut sender = Vec::new();
    let mut receiver = Vec::new();
    let by_day = shares_by_day(&per_dta, &credential.dtas, from_day, days, |p| p.0)?;
    for (day, shares) in by_day {
        let mut ss = Vec::with_capacity(shares.len());
        let mut rs = Vec::with_capacity(shares.len());
        for ((_, s, r), ep) in shares {
            if s.is_some() != keys.send() || r.is_some() != keys.receive() {
                return Err(bad(
                    &ep.url,
                    "permits",
                    format!("day {day}: not the permits of the `{keys}` keys"),
                ));
            }
            ss.extend(s.clone());
            rs.extend(r.clone());
        }
        if keys.send() {
            sender.push(SenderPermit::combine(&ss)?);
        }
        if keys.receive() {
            receiver.push(ReceiverPermit::combine(&rs)?);
        }
    }
    Ok((sender, receiver))
}

/// Fetches device permits for `days` days from `today`, stores them in the credential and
/// drops cached permits older than `today - 1`. Returns the number of days fetched. Save the
/// credential afterwards.
pub async fn refresh_device_permits(
    credential: &mut DeviceCredentialFile,
    today: u32,
    days: u32,
    progress: Progress<'_>,
) -> Result<usize, ClientError> {
    let (sender, receiver) = device_permits(credential, today, days, progress).await?;
    credential.add_permits(sender, receiver, today.saturating_sub(1));
    Ok(days as usize)
}
