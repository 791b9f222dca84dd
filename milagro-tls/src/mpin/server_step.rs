//! The M-Pin computations of the server connection (handed out as jobs) and the channel
//! binding check after its TLS handshake.

use mpin_kex::{
    AuthError, Challenge, Hello, OnePassHello, OnePassReply, Response, Server, Session,
};
use rand_core::OsRng;

use super::MpinError;

/// An M-Pin computation: the message and what running it on the [`Server`] yields.
pub(crate) enum Step {
    /// Multi-pass hello → challenge.
    Hello(Hello),
    /// Multi-pass response → session (deciding).
    Response(Response),
    /// One-pass hello → reply and session (deciding).
    OnePass(OnePassHello),
}

/// What a [`Step`] produced.
pub(crate) enum Outcome {
    Challenge(Challenge),
    Session(Session),
    OnePass(OnePassReply, Session),
}

impl Step {
    pub(crate) fn run(&self, server: &mut Server, now: u64) -> Result<Outcome, AuthError> {
        Ok(match self {
            Step::Hello(h) => Outcome::Challenge(server.hello(h, now, &mut OsRng)?),
            Step::Response(r) => Outcome::Session(server.response(r, now)?),
            Step::OnePass(h) => {
                let (reply, session) = server.one_pass(h, now, &mut OsRng)?;
                Outcome::OnePass(reply, session)
            }
        })
    }

    /// True for the steps that decide the authentication (retried while busy, refused no
    /// sooner than [`REFUSAL_FLOOR`](super::REFUSAL_FLOOR)).
    pub(crate) fn decides(&self) -> bool {
        !matches!(self, Step::Hello(_))
    }
}

/// What a step's job hands back: the server and message (for a retry) and the result.
pub(crate) type StepDone = (Server, Step, Result<Outcome, AuthError>);

/// Channel binding, checked after the TLS handshake that follows an M-Pin exchange: the
/// session must have used the PSK imported from that exchange (`imported`, its identity) in a
/// full handshake. Fails closed with [`MpinError::Unbound`] otherwise.
pub(crate) fn check_bound(
    psk_identity: Option<&[u8]>,
    resumed: bool,
    imported: &[u8],
) -> Result<(), MpinError> {
    match psk_identity {
        Some(id) if id == imported && !resumed => Ok(()),
        _ => Err(MpinError::Unbound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_imported_psk_in_a_full_handshake_is_bound() {
        let imported = b"imported-identity";
        assert!(check_bound(Some(imported), false, imported).is_ok());
        for (id, resumed) in [
            (Some(&imported[..]), true),
            (Some(&b"a-ticket"[..]), true),
            (Some(&b"legacy"[..]), false),
            (Some(&b"imported-identit"[..]), false),
            (None, false),
        ] {
            assert!(
                matches!(check_bound(id, resumed, imported), Err(MpinError::Unbound)),
                "{id:?} resumed={resumed}"
            );
        }
    }
}
