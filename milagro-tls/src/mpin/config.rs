//! Settings of the M-Pin channel, shared by the sans-IO connections and the tokio adapters.

use std::sync::Arc;
use std::time::Duration;

use mpin_kex::{Credential, Mode, Pin, ServerContext};

use super::resume::{permit_day_end, MpinBinding};
use crate::options::Options;
use crate::psk::PskStore;
use crate::server::ServerConfig;
use crate::ticket::{TicketSettings, TicketStore};

/// Client settings for the M-Pin channel.
#[derive(Clone)]
pub struct MpinClientConfig {
    /// Identity, token, permit and precomputed pairings.
    pub credential: Arc<Credential>,
    /// The PIN the user entered.
    pub pin: Pin,
    /// Multi-pass (default) or one-pass.
    pub mode: Mode,
    /// A label naming the server, bound into the PSK (and, in one-pass mode, into the proof);
    /// both ends must use the same (default: empty).
    pub server_label: Vec<u8>,
    /// What every layer shares, handed to the TLS connection as is: suites (SHA-256 suites
    /// only: the imported PSK is bound to SHA-256), groups, the clock (also for one-pass
    /// timestamps and ticket expiry), the handshake timeout of the whole M-Pin + TLS
    /// handshake ([`MpinConnector`](super::MpinConnector)), and `resume`: keep the session
    /// ticket the server issues and resume with it on the next connection (no M-Pin
    /// exchange, no pairing) while it is fresh (default true). `tickets` is ignored.
    pub options: Options,
}

impl MpinClientConfig {
    /// Multi-pass, empty server label, default suites and groups, system clock.
    pub fn new(credential: Arc<Credential>, pin: Pin) -> Self {
        Self {
            credential,
            pin,
            mode: Mode::MultiPass,
            server_label: Vec::new(),
            options: Options::default(),
        }
    }
}

impl std::fmt::Debug for MpinClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpinClientConfig")
            .field("credential", &self.credential)
            .field("mode", &self.mode)
            .field("server_label", &String::from_utf8_lossy(&self.server_label))
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Default lifetime of the session tickets an M-Pin server issues.
pub const DEFAULT_TICKET_LIFETIME: Duration = Duration::from_secs(3600);

/// Server settings for the M-Pin channel.
#[derive(Clone)]
pub struct MpinServerConfig {
    /// Server key, policy (permits, allow-list, lockout) and stores.
    pub context: ServerContext,
    /// PSKs for plain TLS-PSK peers on the same port (`None`: M-Pin only).
    pub static_psks: Option<Arc<dyn PskStore>>,
    /// Label naming this server, bound into the PSK (and one-pass proofs); default empty.
    pub server_label: Vec<u8>,
    /// What every layer shares: suites, groups, the clock (unix seconds, also for permits,
    /// timestamps, challenge and ticket expiry) and the handshake timeout of the whole
    /// M-Pin + TLS handshake ([`MpinAcceptor`](super::MpinAcceptor)). Its `tickets` are
    /// ignored: M-Pin tickets are bound per connection, from [`tickets`](Self::tickets) and
    /// [`ticket_lifetime`](Self::ticket_lifetime).
    pub options: Options,
    /// Session tickets (default: an in-memory store shared by clones of this config).
    /// After an M-Pin handshake the client gets a single-use ticket bound to its identity
    /// that expires with the permit's day (or after `ticket_lifetime` without a permit); a
    /// client presenting it skips the M-Pin exchange. Tickets are redeemed only on a
    /// connection that starts with a TLS ClientHello (`0x16`); the TLS handshake after an
    /// M-Pin exchange accepts only the PSK imported from it. `None`: no tickets.
    pub tickets: Option<Arc<TicketStore>>,
    /// Lifetime of one ticket (default 1 hour; capped by the permit day and at 7 days).
    pub ticket_lifetime: Duration,
}

impl MpinServerConfig {
    /// M-Pin only, empty label, default suites and groups, system clock.
    pub fn new(context: ServerContext) -> Self {
        Self {
            context,
            static_psks: None,
            server_label: Vec::new(),
            options: Options::default(),
            tickets: Some(Arc::new(TicketStore::default())),
            ticket_lifetime: DEFAULT_TICKET_LIFETIME,
        }
    }

    /// The TLS settings; tickets issued after a full handshake are bound to `binding`
    /// (`None`: only resumed handshakes get a fresh ticket). With a binding (the handshake
    /// after an M-Pin exchange) tickets are issued but never redeemed, so `store` (the
    /// imported PSK) is the only key the handshake can use.
    pub(crate) fn tls(
        &self,
        store: Arc<dyn PskStore>,
        binding: Option<&MpinBinding>,
    ) -> Arc<ServerConfig> {
        let mut c = ServerConfig::with_options(store, self.options.clone());
        c.options.tickets = self.tickets.as_ref().map(|store| {
            let mut t = TicketSettings::new(
                store.clone(),
                self.ticket_lifetime,
                binding.map(MpinBinding::encode),
            );
            t.not_after = binding.map(|b| match b.day {
                0 => (self.options.clock)().saturating_add(self.ticket_lifetime.as_secs()),
                day => permit_day_end(day),
            });
            t.clock = self.options.clock.clone();
            t.redeem = binding.is_none();
            t
        });
        Arc::new(c)
    }
}

impl std::fmt::Debug for MpinServerConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MpinServerConfig")
            .field("policy", &self.context.policy)
            .field("static_psks", &self.static_psks.is_some())
            .field("server_label", &String::from_utf8_lossy(&self.server_label))
            .field("options", &self.options)
            .field("tickets", &self.tickets)
            .field("ticket_lifetime", &self.ticket_lifetime)
            .finish_non_exhaustive()
    }
}
