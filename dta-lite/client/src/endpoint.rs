//! [`DtaEndpoint`]: how to reach and authenticate one D-TA (`URL,FINGERPRINT,SIGNING_KEY`).

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::error::ClientError;

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
pub(crate) struct Parsed {
    pub(crate) url: String,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) pin: [u8; 32],
    pub(crate) key: VerifyingKey,
}

impl DtaEndpoint {
    pub(crate) fn parse(&self) -> Result<Parsed, ClientError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ra::RaKey;

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
}
