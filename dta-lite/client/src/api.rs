//! The JSON API: request and response bodies, and the response signature every D-TA answer
//! carries (header [`SIGNATURE_HEADER`]).
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `POST /v1/client-secret` | [`ClientSecretRequest`] | [`ShareResponse`] (97-byte G1 share) |
//! | `POST /v1/time-permits` | [`TimePermitsRequest`] | [`TimePermitsResponse`] |
//! | `POST /v1/server-secret` | [`ServerSecretRequest`] | [`ShareResponse`] (192-byte G2 share) |
//! | `POST /v1/device-keys` | [`DeviceKeysRequest`] | [`DeviceKeysResponse`] (G1 and/or G2 key shares) |
//! | `POST /v1/device-permits` | [`DevicePermitsRequest`] | [`DevicePermitsResponse`] |
//! | `POST /v1/revocations` (RA-signed) | [`RevocationRequest`] | [`RevocationResponse`] |
//! | `GET /v1/info` | — | [`Info`] |
//! | `GET /healthz` | — | `ok` |
//! | `GET /metrics` | — | Prometheus text |
//!
//! Errors answer [`ErrorBody`] with 400 (bad request), 401 (RA signature missing, wrong,
//! untrusted or expired), 403 (identity revoked, grant expired or of the wrong kind, permit
//! days outside [`issuable_days`]),
//! 404, 409 (replayed nonce, grant already used), 413 (body over [`MAX_BODY`]), 500 (e.g. the
//! audit log cannot be written: nothing is issued).

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ra::{DeviceKeys, Grant};

/// Header carrying the D-TA's Ed25519 response signature (hex).
pub const SIGNATURE_HEADER: &str = "x-dta-signature";
/// Largest request body a D-TA reads.
pub const MAX_BODY: usize = 64 * 1024;
/// Most permit days per request.
pub const MAX_PERMIT_DAYS: u32 = 31;
/// Default permit horizon (`dta-lite serve --permit-horizon`): today and tomorrow.
pub const DEFAULT_PERMIT_HORIZON_DAYS: u32 = 2;
/// Largest permit horizon a D-TA may be configured with.
pub const MAX_PERMIT_HORIZON_DAYS: u32 = MAX_PERMIT_DAYS;

/// The days a D-TA with permit horizon `horizon` (1 to [`MAX_PERMIT_HORIZON_DAYS`]) issues
/// permits for at unix time `now`: today to today + `horizon` − 1, and also yesterday during
/// the first `grace_secs` seconds of the UTC day (the relying servers' `permit_grace_secs`,
/// during which they still accept yesterday's permit).
pub fn issuable_days(now: u64, horizon: u32, grace_secs: u64) -> std::ops::RangeInclusive<u32> {
    let today = mpin_kex::policy::day_of(now);
    let first = if now % mpin_kex::policy::DAY_SECS < grace_secs {
        today.saturating_sub(1)
    } else {
        today
    };
    first..=today.saturating_add(horizon.max(1) - 1)
}

/// `POST /v1/client-secret`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSecretRequest {
    /// The hashed identity (96 hex digits); must equal the grant's.
    pub hashed_id: String,
    /// The RA's client grant.
    pub grant: Grant,
}

/// `POST /v1/server-secret`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSecretRequest {
    /// The RA's server grant.
    pub grant: Grant,
}

/// Answer carrying one share (hex of its mpin-kex encoding).
#[derive(Debug, Clone, Serialize, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
pub struct ShareResponse {
    /// The share, hex.
    pub share: String,
}

/// A permit request, `POST /v1/time-permits` ([`TimePermitsRequest`]) or
/// `POST /v1/device-permits` ([`DevicePermitsRequest`]): the same fields for both.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermitsRequest {
    /// The hashed identity (96 hex digits); must equal the grant's.
    pub hashed_id: String,
    /// The grant kept in the credential: a client grant for time permits, a device grant
    /// for device permits (its enrolment deadline does not apply).
    pub grant: Grant,
    /// First day (days since 1970-01-01 UTC).
    pub from_day: u32,
    /// Number of days, 1 to [`MAX_PERMIT_DAYS`].
    pub days: u32,
}

/// `POST /v1/time-permits`: a [`PermitsRequest`] with the client grant.
pub type TimePermitsRequest = PermitsRequest;

/// One day's permit share.
#[derive(Debug, Clone, Serialize, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
pub struct PermitShare {
    /// The day.
    pub day: u32,
    /// The 101-byte permit share (`be32(day) ‖ G1 point`), hex.
    pub share: String,
}

/// Answer to `POST /v1/time-permits`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimePermitsResponse {
    /// One share per requested day, in order.
    pub permits: Vec<PermitShare>,
}

/// `POST /v1/device-keys`: device key shares from the D-TA's P2P master share (never the
/// M-Pin one), issued once per grant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceKeysRequest {
    /// The hashed identity (96 hex digits); must equal the grant's.
    pub hashed_id: String,
    /// The RA's device grant.
    pub grant: Grant,
    /// The keys wanted: refused (403) unless the grant allows every one of them.
    pub keys: DeviceKeys,
}

/// Answer to `POST /v1/device-keys`: exactly the keys asked for.
#[derive(Debug, Clone, Serialize, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
pub struct DeviceKeysResponse {
    /// The 97-byte G1 sender-key share `s'_i·H1(HID)`, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender_key: Option<String>,
    /// The 192-byte G2 receiver-key share `s'_i·H2(HID)`, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver_key: Option<String>,
}

/// `POST /v1/device-permits`: a [`PermitsRequest`] with the device grant, for permit shares
/// of the keys that grant allows.
pub type DevicePermitsRequest = PermitsRequest;

/// One day's device permit shares (those of the grant's keys).
#[derive(Debug, Clone, Serialize, Deserialize, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
pub struct DevicePermitShare {
    /// The day.
    pub day: u32,
    /// The 101-byte sender-permit share (`be32(day) ‖ G1 point`), hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// The 196-byte receiver-permit share (`be32(day) ‖ G2 point`), hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
}

/// Answer to `POST /v1/device-permits`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicePermitsResponse {
    /// One entry per requested day, in order.
    pub permits: Vec<DevicePermitShare>,
}

/// `POST /v1/revocations` (RA-signed).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationRequest {
    /// The hashed identity to revoke.
    pub hashed_id: String,
}

/// Answer to a revocation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationResponse {
    /// The hashed identity.
    pub hashed_id: String,
    /// False if it was already revoked.
    pub newly_revoked: bool,
}

/// `GET /v1/info`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Info {
    /// The D-TA's name.
    pub name: String,
    /// Its id: the first 8 bytes of SHA-256 of the signing key, hex.
    pub id: String,
    /// The response-signing public key, hex.
    pub signing_key: String,
    /// SHA-256 of the TLS certificate, hex.
    pub fingerprint: String,
    /// The crate version.
    pub version: String,
    /// The API version.
    pub api: u32,
    /// Permit horizon in days: permits are issued for today to today + this − 1 (and
    /// yesterday during the grace hour); clients ask for no more.
    pub permit_horizon_days: u32,
}

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, for people.
    pub error: String,
}

/// The bytes a D-TA signs for an answer: method, path, SHA-256 of the request body, status
/// and SHA-256 of the answer body.
pub fn response_message(
    method: &str,
    path: &str,
    request_body: &[u8],
    status: u16,
    response_body: &[u8],
) -> Vec<u8> {
    format!(
        "milagro-dta-response-v1\n{method}\n{path}\n{}\n{status}\n{}",
        hex::encode(Sha256::digest(request_body)),
        hex::encode(Sha256::digest(response_body))
    )
    .into_bytes()
}

/// Signs an answer (hex signature for [`SIGNATURE_HEADER`]).
pub fn sign_response(
    key: &SigningKey,
    method: &str,
    path: &str,
    request_body: &[u8],
    status: u16,
    response_body: &[u8],
) -> String {
    hex::encode(
        key.sign(&response_message(
            method,
            path,
            request_body,
            status,
            response_body,
        ))
        .to_bytes(),
    )
}

/// Checks an answer's signature. `false` on any mismatch or malformed signature.
pub fn verify_response(
    key: &VerifyingKey,
    method: &str,
    path: &str,
    request_body: &[u8],
    status: u16,
    response_body: &[u8],
    signature_hex: &str,
) -> bool {
    let Some(sig) = hex::decode(signature_hex)
        .ok()
        .and_then(|v| <[u8; 64]>::try_from(v).ok())
    else {
        return false;
    };
    key.verify(
        &response_message(method, path, request_body, status, response_body),
        &Signature::from_bytes(&sig),
    )
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn response_signatures_detect_any_change() {
        let k = SigningKey::generate(&mut OsRng);
        let vk = k.verifying_key();
        let s = sign_response(
            &k,
            "POST",
            "/v1/client-secret",
            b"req",
            200,
            b"{\"share\":\"04\"}",
        );
        assert!(verify_response(
            &vk,
            "POST",
            "/v1/client-secret",
            b"req",
            200,
            b"{\"share\":\"04\"}",
            &s
        ));
        assert!(!verify_response(
            &vk,
            "POST",
            "/v1/client-secret",
            b"req",
            200,
            b"{\"share\":\"05\"}",
            &s
        ));
        assert!(!verify_response(
            &vk,
            "POST",
            "/v1/client-secret",
            b"req2",
            200,
            b"{\"share\":\"04\"}",
            &s
        ));
        assert!(!verify_response(
            &vk,
            "POST",
            "/v1/server-secret",
            b"req",
            200,
            b"{\"share\":\"04\"}",
            &s
        ));
        assert!(!verify_response(
            &vk,
            "POST",
            "/v1/client-secret",
            b"req",
            403,
            b"{\"share\":\"04\"}",
            &s
        ));
        assert!(!verify_response(
            &vk,
            "POST",
            "/v1/client-secret",
            b"req",
            200,
            b"{\"share\":\"04\"}",
            "zz"
        ));
        assert!(!verify_response(
            &vk,
            "POST",
            "/v1/client-secret",
            b"req",
            200,
            b"{\"share\":\"04\"}",
            &s[..64]
        ));
        let other = SigningKey::generate(&mut OsRng).verifying_key();
        assert!(!verify_response(
            &other,
            "POST",
            "/v1/client-secret",
            b"req",
            200,
            b"{\"share\":\"04\"}",
            &s
        ));
    }

    #[test]
    fn request_bodies_refuse_unknown_and_missing_fields() {
        assert!(serde_json::from_str::<RevocationRequest>(r#"{"hashed_id":"00","x":1}"#).is_err());
        assert!(serde_json::from_str::<RevocationRequest>(r#"{}"#).is_err());
        assert!(serde_json::from_str::<TimePermitsRequest>(
            r#"{"hashed_id":"00","from_day":-1,"days":1}"#
        )
        .is_err());
    }

    #[test]
    fn issuable_days_are_today_to_the_horizon_and_yesterday_in_the_grace_hour() {
        let day = 20_000u32;
        let noon = u64::from(day) * 86_400 + 43_200;
        assert_eq!(issuable_days(noon, 2, 3600), day..=day + 1);
        assert_eq!(issuable_days(noon, 1, 3600), day..=day);
        let early = u64::from(day) * 86_400 + 3599;
        assert_eq!(issuable_days(early, 2, 3600), day - 1..=day + 1);
        assert_eq!(issuable_days(early + 1, 2, 3600), day..=day + 1);
        assert_eq!(
            issuable_days(early, 0, 3600),
            day - 1..=day,
            "horizon 0 acts as 1"
        );
    }
}
