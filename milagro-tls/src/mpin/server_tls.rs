//! The TLS side of the server connection: the first-byte dispatch, the TLS server handshake
//! (plain, or bound to the PSK an M-Pin exchange imported) and the checks once it finished.

use std::sync::Arc;

use mpin_kex::Session;

use super::importer;
use super::peer::Peer;
use super::resume::MpinBinding;
use super::server_connection::{MpinServerConnection, State};
use super::server_step::check_bound;
use super::MpinError;
use crate::conn::ConnectionCommon;
use crate::psk::{PskStore, StaticPskStore};
use crate::server::ServerConnection;

/// Which checks the TLS handshake must pass before the peer is reported.
pub(super) enum TlsKind {
    /// After an M-Pin exchange: only the imported PSK (its identity) in a full handshake.
    Bound { psk_identity: Vec<u8>, peer: Peer },
    /// A ClientHello first: a static-PSK peer, or an M-Pin client resuming a ticket.
    Plain,
}

impl MpinServerConnection {
    /// The protocol arms of the first-byte dispatch (one more channel is one more arm).
    pub(super) fn dispatch(&mut self, first: u8) -> Result<(), MpinError> {
        let cfg = &self.config;
        match first {
            0x16 if cfg.static_psks.is_some() || cfg.tickets.is_some() => {
                let store: Arc<dyn PskStore> = match &cfg.static_psks {
                    Some(s) => s.clone(),
                    None => Arc::new(StaticPskStore::new()),
                };
                self.start_tls(store, None, TlsKind::Plain)
            }
            b'M' => {
                self.state = State::Preface;
                Ok(())
            }
            other => Err(MpinError::UnknownProtocol(other)),
        }
    }

    /// Starts the TLS server handshake on what is buffered.
    fn start_tls(
        &mut self,
        store: Arc<dyn PskStore>,
        binding: Option<&MpinBinding>,
        kind: TlsKind,
    ) -> Result<(), MpinError> {
        let mut conn = ServerConnection::new(self.config.tls(store, binding))?.into_common();
        conn.read_tls(&std::mem::take(&mut self.input));
        self.state = State::Tls(conn, kind);
        Ok(())
    }
    /// The TLS handshake after an M-Pin exchange: only the imported PSK may be used.
    pub(super) fn start_bound_tls(&mut self, session: Session) -> Result<(), MpinError> {
        let psk = importer::session_psk(&self.session_id, &session, &self.config.server_label)?;
        let psk_identity = psk.identity().to_vec();
        // the only key this handshake may use: no ticket, no static PSK
        let store: StaticPskStore = [psk].into_iter().collect();
        let binding = MpinBinding {
            identity: session.identity.clone(),
            mode: session.mode,
            day: session.day,
        };
        let peer = Peer::Mpin {
            identity: session.identity.clone(),
            hashed_id: session.hashed_id,
            mode: session.mode,
            day: session.day,
            resumed: false,
        };
        let kind = TlsKind::Bound { psk_identity, peer };
        self.start_tls(Arc::new(store), Some(&binding), kind)
    }

    /// The checks after the TLS handshake; the peer to report.
    pub(super) fn finish_tls(
        &self,
        conn: &ConnectionCommon,
        kind: TlsKind,
    ) -> Result<Peer, MpinError> {
        match kind {
            TlsKind::Bound { psk_identity, peer } => {
                check_bound(conn.psk_identity(), conn.resumed(), &psk_identity)?;
                Ok(peer)
            }
            TlsKind::Plain => {
                let Some(app_data) = conn.resumption_app_data() else {
                    let identity = conn.psk_identity().unwrap_or_default().to_vec();
                    return Ok(Peer::Psk { identity });
                };
                let cfg = &self.config;
                let binding = MpinBinding::decode(app_data)?;
                // the ticket is spent; a refused peer just sees the connection close
                let hashed_id = binding.admit(
                    &cfg.context.policy,
                    cfg.context.failures.as_ref(),
                    (cfg.options.clock)(),
                )?;
                Ok(Peer::Mpin {
                    identity: binding.identity,
                    hashed_id,
                    mode: binding.mode,
                    day: binding.day,
                    resumed: true,
                })
            }
        }
    }
}
