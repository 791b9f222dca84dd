//! Key-exchange groups, backed by rustls's aws-lc-rs provider.

use std::fmt;
use std::str::FromStr;

use rustls::crypto::aws_lc_rs::kx_group;
use rustls::crypto::SupportedKxGroup;

use crate::error::Error;

/// A supported (EC)DHE / hybrid KEM group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NamedGroup {
    /// X25519MLKEM768 (0x11EC), hybrid post-quantum KEM; preferred.
    X25519Mlkem768,
    /// X25519 (0x001D).
    X25519,
    /// secp256r1 / P-256 (0x0017).
    Secp256r1,
}

impl NamedGroup {
    /// Every supported group, in default preference order.
    pub const ALL: [NamedGroup; 3] = [Self::X25519Mlkem768, Self::X25519, Self::Secp256r1];

    /// The IANA code point.
    pub fn code(self) -> u16 {
        match self {
            Self::X25519Mlkem768 => 0x11ec,
            Self::X25519 => 0x001d,
            Self::Secp256r1 => 0x0017,
        }
    }

    /// Maps a code point to a supported group.
    pub fn from_code(code: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.code() == code)
    }

    /// The IANA name, e.g. `X25519MLKEM768`.
    pub fn name(self) -> &'static str {
        match self {
            Self::X25519Mlkem768 => "X25519MLKEM768",
            Self::X25519 => "X25519",
            Self::Secp256r1 => "secp256r1",
        }
    }

    pub(crate) fn provider(self) -> &'static dyn SupportedKxGroup {
        match self {
            Self::X25519Mlkem768 => kx_group::X25519MLKEM768,
            Self::X25519 => kx_group::X25519,
            Self::Secp256r1 => kx_group::SECP256R1,
        }
    }
}

impl fmt::Display for NamedGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for NamedGroup {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let alias = match s.to_ascii_lowercase().as_str() {
            "p-256" | "prime256v1" => Some(Self::Secp256r1),
            _ => None,
        };
        alias
            .or_else(|| {
                Self::ALL
                    .into_iter()
                    .find(|g| g.name().eq_ignore_ascii_case(s))
            })
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown group {s:?}; expected one of X25519MLKEM768, X25519, secp256r1"
                ))
            })
    }
}

/// Our half of a key exchange in progress (client side).
pub(crate) struct KeyShare {
    pub(crate) group: NamedGroup,
    active: Box<dyn rustls::crypto::ActiveKeyExchange>,
}

impl KeyShare {
    pub(crate) fn start(group: NamedGroup) -> Result<Self, Error> {
        let active = group
            .provider()
            .start()
            .map_err(|_| Error::Internal("key share generation failed"))?;
        Ok(Self { group, active })
    }

    pub(crate) fn public(&self) -> &[u8] {
        self.active.pub_key()
    }

    /// Completes with the peer's share; a bad share is `illegal_parameter`.
    pub(crate) fn complete(self, peer: &[u8]) -> Result<zeroize::Zeroizing<Vec<u8>>, Error> {
        let secret = self
            .active
            .complete(peer)
            .map_err(|_| Error::IllegalParameter("invalid key share"))?;
        Ok(zeroize::Zeroizing::new(secret.secret_bytes().to_vec()))
    }
}

/// Server side: answers the client's share (encapsulating for KEMs).
/// Returns (our share, shared secret).
pub(crate) fn respond(
    group: NamedGroup,
    peer: &[u8],
) -> Result<(Vec<u8>, zeroize::Zeroizing<Vec<u8>>), Error> {
    let done = group
        .provider()
        .start_and_complete(peer)
        .map_err(|_| Error::IllegalParameter("invalid key share"))?;
    Ok((
        done.pub_key,
        zeroize::Zeroizing::new(done.secret.secret_bytes().to_vec()),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_group_agrees() {
        for g in NamedGroup::ALL {
            let c = KeyShare::start(g).unwrap();
            let (spub, ssec) = respond(g, c.public()).unwrap();
            let csec = c.complete(&spub).unwrap();
            assert_eq!(*csec, *ssec, "{g}");
            assert_eq!(g.name().parse::<NamedGroup>().unwrap(), g);
            assert_eq!(NamedGroup::from_code(g.code()), Some(g));
        }
    }

    #[test]
    fn bad_shares_are_rejected() {
        for g in NamedGroup::ALL {
            assert_eq!(
                respond(g, &[1, 2, 3]).err(),
                Some(Error::IllegalParameter("invalid key share"))
            );
        }
        assert!("ffdhe2048".parse::<NamedGroup>().is_err());
    }
}
