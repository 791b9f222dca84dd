//! What client and server connections share: the record layer state,
//! buffers, alerts, events, post-handshake messages and the exporter.

use std::collections::VecDeque;

use crate::alert::AlertDescription;
use crate::client::ClientState;
use crate::error::Error;
use crate::key_schedule::{self, Secret};
use crate::kx::NamedGroup;
use crate::limits::{ConnectionLimits, ConnectionStats};
use crate::messages::{self, HandshakeMessage, NewSessionTicket};
use crate::record::{
    content, write_plain, Deframer, RecordCipher, RecordRef, HEADER_LEN, MAX_PLAINTEXT,
};
use crate::server::ServerState;
use crate::suites::CipherSuite;
use crate::ticket::{ClientResumption, ClientTicket};

/// Something that happened on a connection, reported by
/// [`ConnectionCommon::next_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The handshake finished; application data can flow.
    HandshakeComplete,
    /// The peer sent a NewSessionTicket (client side). The usable ticket is
    /// available from [`ConnectionCommon::take_tickets`] (and the configured
    /// [`TicketCache`](crate::TicketCache)).
    SessionTicket(NewSessionTicket),
    /// The peer updated its sending keys (KeyUpdate).
    PeerKeyUpdate,
    /// The peer sent close_notify: no more data will arrive.
    PeerClosed,
}

/// Which end of the connection this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The TLS client.
    Client,
    /// The TLS server.
    Server,
}

/// Parameters agreed by the handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The cipher suite.
    pub suite: CipherSuite,
    /// The key-exchange group.
    pub group: NamedGroup,
    /// The PSK identity that authenticated the handshake.
    pub psk_identity: Vec<u8>,
    /// True if a HelloRetryRequest was needed.
    pub hello_retry: bool,
}

/// Application-stage secrets.
pub(crate) struct AppKeys {
    pub(crate) suite: CipherSuite,
    pub(crate) client: Secret,
    pub(crate) server: Secret,
    pub(crate) exporter: Secret,
}

pub(crate) enum HsState {
    Client(Box<ClientState>),
    Server(Box<ServerState>),
    Done,
    Failed,
}

/// Cap on data the application may queue before the handshake completes.
const MAX_PENDING: usize = 1 << 20;

/// Wire bytes (headers included) of 0-RTT records a server skips after a
/// ClientHello offering early data, which it never accepts (RFC 8446
/// §4.2.10): twice the 16 KiB that common clients send.
pub(crate) const MAX_SKIPPED_EARLY_DATA: usize = 2 * (MAX_PLAINTEXT + 256 + HEADER_LEN);

/// The shared part of [`crate::ClientConnection`] and
/// [`crate::ServerConnection`] (reached through `Deref`).
///
/// Feed received bytes with [`read_tls`](Self::read_tls), call
/// [`process_new_packets`](Self::process_new_packets), send what
/// [`take_tls`](Self::take_tls) returns, and exchange application data with
/// [`write_plaintext`](Self::write_plaintext) /
/// [`read_plaintext`](Self::read_plaintext).
pub struct ConnectionCommon {
    side: Side,
    pub(crate) state: HsState,
    deframer: Deframer,
    hs_buf: Vec<u8>,
    read: Option<RecordCipher>,
    write: Option<RecordCipher>,
    read_epoch: u64,
    out: Vec<u8>,
    received: Vec<u8>,
    received_pos: usize,
    pending: Vec<u8>,
    events: VecDeque<Event>,
    limits: ConnectionLimits,
    stats: ConnectionStats,
    /// The peer asked for a KeyUpdate and ours has not been queued yet; it is
    /// queued when the output is taken or before the next application data
    /// (RFC 8446 §4.6.3), so any number of requests get one reply.
    key_update_due: bool,
    tickets_accepted: usize,
    error: Option<Error>,
    peer_closed: bool,
    sent_close: bool,
    pub(crate) ccs_sent: bool,
    ccs_received: bool,
    early_data_skip: usize,
    negotiated: Option<Negotiated>,
    app: Option<AppKeys>,
    resumed: bool,
    resumption_app_data: Option<Vec<u8>>,
    client_resumption: Option<ClientResumption>,
}

impl ConnectionCommon {
    pub(crate) fn new(side: Side, state: HsState) -> Self {
        Self {
            side,
            state,
            deframer: Deframer::default(),
            hs_buf: Vec::new(),
            read: None,
            write: None,
            read_epoch: 0,
            out: Vec::new(),
            received: Vec::new(),
            received_pos: 0,
            pending: Vec::new(),
            events: VecDeque::new(),
            limits: ConnectionLimits::default(),
            stats: ConnectionStats::default(),
            key_update_due: false,
            tickets_accepted: 0,
            error: None,
            peer_closed: false,
            sent_close: false,
            ccs_sent: false,
            ccs_received: false,
            early_data_skip: 0,
            negotiated: None,
            app: None,
            resumed: false,
            resumption_app_data: None,
            client_resumption: None,
        }
    }

    pub(crate) fn set_limits(&mut self, limits: ConnectionLimits) {
        self.limits = limits;
    }

    /// Which side this is.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The bounds this connection applies.
    pub fn limits(&self) -> &ConnectionLimits {
        &self.limits
    }

    /// Counters of what the bounds did (KeyUpdates, dropped events, ignored
    /// tickets).
    pub fn stats(&self) -> ConnectionStats {
        self.stats
    }

    /// False while the queued TLS output is at least
    /// [`ConnectionLimits::max_tls_out`]: the I/O adapter should send
    /// [`take_tls`](Self::take_tls) output before feeding more input, so a
    /// peer that sends requests but never reads cannot grow this side's
    /// memory. An adapter should bound the application's own writes below
    /// this (as [`TlsStream`](crate::TlsStream) does, at half), or two
    /// full-duplex peers that both write before reading deadlock.
    pub fn wants_read(&self) -> bool {
        self.out.len() < self.limits.max_tls_out
    }

    /// Bytes of sealed TLS output queued and not yet taken.
    pub fn buffered_tls(&self) -> usize {
        self.out.len()
    }

    /// Hands received TLS bytes to the connection; call
    /// [`process_new_packets`](Self::process_new_packets) afterwards.
    pub fn read_tls(&mut self, data: &[u8]) {
        self.deframer.push(data);
    }

    /// Processes every complete record received so far. On error the matching
    /// alert is queued for the peer (see [`take_tls`](Self::take_tls)) and the
    /// same error is returned by every later call.
    pub fn process_new_packets(&mut self) -> Result<(), Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        match self.process_records() {
            Ok(()) => Ok(()),
            Err(e) => {
                self.fail(&e);
                Err(e)
            }
        }
    }

    /// Records `e` as fatal and queues its alert.
    pub(crate) fn fail(&mut self, e: &Error) {
        if self.error.is_some() {
            return;
        }
        if let Some(alert) = e.alert() {
            if !self.sent_close {
                self.send_alert(alert);
            }
        }
        self.sent_close = true;
        self.error = Some(e.clone());
        self.state = HsState::Failed;
    }

    /// The fatal error this connection ended with, if any.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    /// True while the handshake has not completed.
    pub fn is_handshaking(&self) -> bool {
        !matches!(self.state, HsState::Done)
    }

    /// True if there are TLS bytes to send (or a KeyUpdate reply is due).
    pub fn wants_write(&self) -> bool {
        !self.out.is_empty() || (self.key_update_due && !self.sent_close)
    }

    /// Takes every TLS byte queued for the peer (queuing a due KeyUpdate
    /// reply first).
    pub fn take_tls(&mut self) -> Vec<u8> {
        self.queue_due_key_update();
        std::mem::take(&mut self.out)
    }

    /// Appends the queued TLS bytes to `out` (avoids an allocation per call).
    pub fn write_tls_into(&mut self, out: &mut Vec<u8>) {
        self.queue_due_key_update();
        if out.is_empty() {
            std::mem::swap(out, &mut self.out);
        } else {
            out.append(&mut self.out);
            self.out = Vec::new();
        }
    }

    /// Queues application data. Before the handshake completes it is held
    /// back (up to 1 MiB) and sent once the handshake is done.
    pub fn write_plaintext(&mut self, data: &[u8]) -> Result<usize, Error> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.sent_close {
            return Err(Error::AlreadyClosed);
        }
        if self.is_handshaking() {
            if self.pending.len() + data.len() > MAX_PENDING {
                return Err(Error::Config(
                    "more than 1 MiB queued before the handshake completed".into(),
                ));
            }
            self.pending.extend_from_slice(data);
            return Ok(data.len());
        }
        self.seal(content::APPLICATION_DATA, data)?;
        Ok(data.len())
    }

    /// Number of received plaintext bytes ready for
    /// [`read_plaintext`](Self::read_plaintext).
    pub fn plaintext_len(&self) -> usize {
        self.received.len() - self.received_pos
    }

    /// Copies received application data into `buf`; returns the count.
    pub fn read_plaintext(&mut self, buf: &mut [u8]) -> usize {
        let avail = &self.received[self.received_pos..];
        let n = avail.len().min(buf.len());
        buf[..n].copy_from_slice(&avail[..n]);
        self.received_pos += n;
        if self.received_pos == self.received.len() {
            // freed, not kept: an idle connection holds no plaintext buffer
            self.received = Vec::new();
            self.received_pos = 0;
        }
        n
    }

    /// Bytes of memory held by this connection's record buffers (received
    /// TLS bytes, handshake fragments, plaintext not yet read, output not yet
    /// taken, data held back until the handshake completes). Buffers are
    /// freed as soon as they are empty, so this is 0 on an idle connection.
    pub fn buffer_capacity(&self) -> usize {
        self.deframer.capacity()
            + self.hs_buf.capacity()
            + self.received.capacity()
            + self.out.capacity()
            + self.pending.capacity()
    }

    /// True once the peer's close_notify has been received.
    pub fn peer_has_closed(&self) -> bool {
        self.peer_closed
    }

    /// Queues close_notify; no application data can be written afterwards.
    pub fn send_close_notify(&mut self) {
        if !self.sent_close {
            self.send_alert(AlertDescription::CloseNotify);
            self.sent_close = true;
        }
    }

    /// Sends a KeyUpdate asking the peer to update too, and switches to new
    /// sending keys.
    pub fn refresh_traffic_keys(&mut self) -> Result<(), Error> {
        if self.is_handshaking() || self.sent_close {
            return Err(Error::Config(
                "KeyUpdate is only possible on an open, established connection".into(),
            ));
        }
        self.send_key_update(true)
    }

    /// The next event, if any. At most
    /// [`ConnectionLimits::max_events`] unread events are kept (see
    /// [`ConnectionStats::dropped_events`]).
    pub fn next_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Number of unread events.
    pub fn pending_events(&self) -> usize {
        self.events.len()
    }

    fn push_event(&mut self, e: Event) {
        let always = matches!(e, Event::HandshakeComplete | Event::PeerClosed);
        if always || self.events.len() < self.limits.max_events {
            self.events.push_back(e);
        } else {
            self.stats.dropped_events += 1;
        }
    }

    /// The negotiated parameters, once the handshake completed.
    pub fn negotiated(&self) -> Option<&Negotiated> {
        self.negotiated.as_ref()
    }

    /// The negotiated cipher suite.
    pub fn cipher_suite(&self) -> Option<CipherSuite> {
        self.negotiated.as_ref().map(|n| n.suite)
    }

    /// The negotiated key-exchange group.
    pub fn group(&self) -> Option<NamedGroup> {
        self.negotiated.as_ref().map(|n| n.group)
    }

    /// The PSK identity that authenticated the handshake.
    pub fn psk_identity(&self) -> Option<&[u8]> {
        self.negotiated.as_ref().map(|n| n.psk_identity.as_slice())
    }

    /// True once the handshake completed through the PSK (psk_dhe_ke)
    /// path. This engine has no other path, so this is the same as a completed
    /// handshake; it exists so callers can assert it.
    pub fn authenticated_by_psk(&self) -> bool {
        !self.is_handshaking() && self.negotiated.is_some()
    }

    /// True once a handshake that resumed a session ticket completed.
    pub fn resumed(&self) -> bool {
        self.resumed && !self.is_handshaking()
    }

    /// Server side, after a resumed handshake: the application data the
    /// redeemed ticket was bound to ([`TicketSettings::app_data`](crate::TicketSettings::app_data)).
    pub fn resumption_app_data(&self) -> Option<&[u8]> {
        if self.is_handshaking() {
            return None;
        }
        self.resumption_app_data.as_deref()
    }

    /// Client side: takes the usable tickets received so far (at most the
    /// four most recent), each able to resume one later connection
    /// ([`ClientConfig::resuming`](crate::ClientConfig::resuming)).
    pub fn take_tickets(&mut self) -> Vec<ClientTicket> {
        self.client_resumption
            .as_mut()
            .map(|r| r.received.drain(..).collect())
            .unwrap_or_default()
    }

    /// RFC 8446 §7.5 exporter: fills `out` from `label` and `context`.
    pub fn export_keying_material(
        &self,
        out: &mut [u8],
        label: &[u8],
        context: &[u8],
    ) -> Result<(), Error> {
        let app = self.app.as_ref().ok_or_else(|| {
            Error::Config("keying material can be exported only after the handshake".into())
        })?;
        if out.len() > 255 * app.suite.hash().output_len() {
            return Err(Error::Config("exporter output too long".into()));
        }
        key_schedule::export(app.suite.hash(), &app.exporter, label, context, out)
    }

    // ----- crate-internal plumbing used by the handshake code -----

    pub(crate) fn emit_handshake(&mut self, msg: &[u8]) -> Result<(), Error> {
        match &mut self.write {
            Some(w) => w.seal(content::HANDSHAKE, msg, &mut self.out),
            None => {
                write_plain(&mut self.out, content::HANDSHAKE, msg);
                Ok(())
            }
        }
    }

    pub(crate) fn emit_ccs(&mut self) {
        if !self.ccs_sent {
            write_plain(&mut self.out, content::CHANGE_CIPHER_SPEC, &[1]);
            self.ccs_sent = true;
        }
    }

    /// Server side: after a ClientHello offering early data, records that
    /// do not deprotect (or, before a second ClientHello, any protected
    /// record) are skipped up to [`MAX_SKIPPED_EARLY_DATA`] bytes; `false`
    /// stops skipping.
    pub(crate) fn skip_early_data(&mut self, on: bool) {
        self.early_data_skip = if on { MAX_SKIPPED_EARLY_DATA } else { 0 };
    }

    /// Charges one skipped early-data record against the bound.
    fn skip_record(&mut self, rec: &RecordRef) -> Result<(), Error> {
        let cost = HEADER_LEN + (rec.end - rec.start);
        if cost > self.early_data_skip {
            self.early_data_skip = 0;
            return Err(Error::UnexpectedMessage(
                "more early data than this server skips (0-RTT is not accepted)",
            ));
        }
        self.early_data_skip -= cost;
        Ok(())
    }

    pub(crate) fn set_read(&mut self, c: RecordCipher) {
        self.read = Some(c);
        self.read_epoch += 1;
    }

    pub(crate) fn set_write(&mut self, c: RecordCipher) {
        self.write = Some(c);
    }

    pub(crate) fn set_resumption(
        &mut self,
        resumed: bool,
        app_data: Option<Vec<u8>>,
        client: Option<ClientResumption>,
    ) {
        self.resumed = resumed;
        self.resumption_app_data = app_data;
        self.client_resumption = client;
    }

    pub(crate) fn complete(&mut self, app: AppKeys, negotiated: Negotiated) -> Result<(), Error> {
        let (r, w) = match self.side {
            Side::Client => (&app.server, &app.client),
            Side::Server => (&app.client, &app.server),
        };
        let read = RecordCipher::new(app.suite, r)?;
        let write = RecordCipher::new(app.suite, w)?;
        self.set_read(read);
        self.set_write(write);
        self.app = Some(app);
        self.negotiated = Some(negotiated);
        self.push_event(Event::HandshakeComplete);
        let pending = std::mem::take(&mut self.pending);
        if !pending.is_empty() && !self.sent_close {
            self.seal(content::APPLICATION_DATA, &pending)?;
        }
        Ok(())
    }

    /// Test hook: seals `data` as one record of inner type `typ` under the
    /// current write keys, to play a misbehaving peer.
    #[cfg(test)]
    pub(crate) fn seal_for_test(&mut self, typ: u8, data: &[u8]) -> Result<(), Error> {
        self.seal(typ, data)
    }

    /// Seals `data` record by record, sending our own KeyUpdate first when
    /// the write key reaches the AEAD usage limit (RFC 8446 §5.5), and a due
    /// KeyUpdate reply before application data (§4.6.3).
    fn seal(&mut self, typ: u8, data: &[u8]) -> Result<(), Error> {
        if typ == content::APPLICATION_DATA && self.key_update_due {
            self.key_update_due = false;
            self.send_key_update(false)?;
        }
        let mut chunks = data.chunks(MAX_PLAINTEXT);
        // an empty payload still produces one record
        let first = chunks.next().unwrap_or_default();
        for chunk in std::iter::once(first).chain(chunks) {
            self.rekey_if_worn()?;
            self.seal_record(typ, chunk)?;
        }
        Ok(())
    }

    fn seal_record(&mut self, typ: u8, data: &[u8]) -> Result<(), Error> {
        match &mut self.write {
            Some(w) => w.seal(typ, data, &mut self.out),
            None => Err(Error::Internal("no write keys")),
        }
    }

    /// Sends a KeyUpdate when only one record (the KeyUpdate itself) is left
    /// under the current application write key.
    fn rekey_if_worn(&mut self) -> Result<(), Error> {
        let (Some(app), Some(w)) = (&self.app, &self.write) else {
            return Ok(());
        };
        let limit = self.limits.record_limit(app.suite);
        if w.seq().saturating_add(1) >= limit {
            self.stats.limit_rekeys += 1;
            self.send_key_update(false)?;
        }
        Ok(())
    }

    /// Queues the KeyUpdate reply the peer asked for, if one is due.
    fn queue_due_key_update(&mut self) {
        if !std::mem::take(&mut self.key_update_due) || self.sent_close || self.app.is_none() {
            return;
        }
        if let Err(e) = self.send_key_update(false) {
            self.fail(&e);
        }
    }

    fn send_alert(&mut self, alert: AlertDescription) {
        let level = if alert == AlertDescription::CloseNotify {
            1
        } else {
            2
        };
        let body = [level, alert.code()];
        let sealed = match &mut self.write {
            Some(w) => w.seal(content::ALERT, &body, &mut self.out).is_ok(),
            None => false,
        };
        if !sealed {
            write_plain(&mut self.out, content::ALERT, &body);
        }
    }

    fn send_key_update(&mut self, request: bool) -> Result<(), Error> {
        let msg = messages::key_update(request);
        self.seal_record(content::HANDSHAKE, &msg)?;
        // any KeyUpdate of ours answers the peer's pending request
        self.key_update_due = false;
        self.stats.key_updates_sent += 1;
        let app = self
            .app
            .as_mut()
            .ok_or(Error::Internal("no traffic secrets"))?;
        let alg = app.suite.hash();
        let secret = match self.side {
            Side::Client => &mut app.client,
            Side::Server => &mut app.server,
        };
        *secret = key_schedule::next_traffic_secret(alg, secret)?;
        let c = RecordCipher::new(app.suite, secret)?;
        self.write = Some(c);
        Ok(())
    }

    fn process_records(&mut self) -> Result<(), Error> {
        while !self.peer_closed {
            let Some(rec) = self.deframer.next_record()? else {
                break;
            };
            self.process_record(rec)?;
        }
        // an idle connection keeps no buffer it is not using
        self.deframer.release_if_consumed();
        if self.hs_buf.is_empty() {
            self.hs_buf = Vec::new();
        }
        Ok(())
    }

    fn process_record(&mut self, rec: RecordRef) -> Result<(), Error> {
        let handshaking = self.is_handshaking();
        if rec.typ != content::APPLICATION_DATA && rec.end - rec.start > MAX_PLAINTEXT {
            return Err(Error::RecordOverflow);
        }
        if rec.typ != content::HANDSHAKE && rec.typ != content::APPLICATION_DATA {
            self.check_not_interleaved()?;
        }
        match rec.typ {
            content::CHANGE_CIPHER_SPEC => {
                if !handshaking || self.deframer.payload_mut(&rec) != [1] {
                    return Err(Error::UnexpectedMessage("change_cipher_spec"));
                }
                if self.before_first_client_hello() {
                    return Err(Error::UnexpectedMessage(
                        "change_cipher_spec before the ClientHello",
                    ));
                }
                if self.ccs_received {
                    return Err(Error::UnexpectedMessage("second change_cipher_spec"));
                }
                self.ccs_received = true;
                Ok(())
            }
            content::ALERT if self.read.is_none() => {
                let body = self.deframer.payload_mut(&rec).to_vec();
                self.handle_alert(&body)
            }
            content::ALERT => Err(Error::UnexpectedMessage(
                "plaintext alert after handshake keys were installed",
            )),
            content::HANDSHAKE if self.read.is_none() => {
                let body = self.deframer.payload_mut(&rec).to_vec();
                self.handle_handshake_fragment(&body)
            }
            content::APPLICATION_DATA if self.read.is_none() && self.early_data_skip > 0 => {
                // early data sent before the client saw our HelloRetryRequest
                self.skip_record(&rec)
            }
            content::APPLICATION_DATA if self.read.is_some() => {
                let payload = self.deframer.payload_mut(&rec);
                let read = self.read.as_mut().ok_or(Error::Internal("no read keys"))?;
                let (typ, n) = match read.open(rec.header, payload) {
                    Err(Error::BadRecordMac) if self.early_data_skip > 0 => {
                        return self.skip_record(&rec);
                    }
                    r => r?,
                };
                // the first record that deprotects starts the client's flight
                self.early_data_skip = 0;
                let plain = &payload[..n];
                if typ != content::HANDSHAKE && !self.hs_buf.is_empty() {
                    return Err(Self::interleaved());
                }
                match typ {
                    content::APPLICATION_DATA if !handshaking => {
                        self.received.extend_from_slice(plain);
                        Ok(())
                    }
                    content::HANDSHAKE => {
                        let body = plain.to_vec();
                        self.handle_handshake_fragment(&body)
                    }
                    content::ALERT => {
                        let body = plain.to_vec();
                        self.handle_alert(&body)
                    }
                    _ => Err(Error::UnexpectedMessage("record type in this state")),
                }
            }
            _ => Err(Error::UnexpectedMessage("record type in this state")),
        }
    }

    /// RFC 8446 §5.1: no other record may come between the fragments of
    /// one handshake message.
    fn check_not_interleaved(&self) -> Result<(), Error> {
        if self.hs_buf.is_empty() {
            Ok(())
        } else {
            Err(Self::interleaved())
        }
    }

    fn interleaved() -> Error {
        Error::UnexpectedMessage("record between the fragments of a handshake message")
    }

    /// Server side, before any ClientHello arrived (RFC 8446 §5: a
    /// change_cipher_spec is allowed only after it).
    fn before_first_client_hello(&self) -> bool {
        matches!(&self.state, HsState::Server(st) if st.awaiting_first_hello())
    }

    fn handle_alert(&mut self, body: &[u8]) -> Result<(), Error> {
        if body.is_empty() {
            // RFC 8446 §5.1: zero-length alert fragments are not allowed
            return Err(Error::UnexpectedMessage("empty alert record"));
        }
        let [_level, desc] = body else {
            return Err(Error::Decode("alert"));
        };
        match AlertDescription::from_code(*desc) {
            AlertDescription::CloseNotify => {
                self.peer_closed = true;
                self.push_event(Event::PeerClosed);
                if self.is_handshaking() {
                    return Err(Error::AlertReceived(AlertDescription::CloseNotify));
                }
                Ok(())
            }
            AlertDescription::UserCanceled => Ok(()),
            other => {
                // A fatal alert from the peer: we must not answer with another.
                self.sent_close = true;
                Err(Error::AlertReceived(other))
            }
        }
    }

    fn handle_handshake_fragment(&mut self, body: &[u8]) -> Result<(), Error> {
        if body.is_empty() {
            return Err(Error::UnexpectedMessage("empty handshake record"));
        }
        self.hs_buf.extend_from_slice(body);
        while let Some((typ, _body, used)) = messages::split_message(&self.hs_buf)? {
            let msg: Vec<u8> = self.hs_buf.drain(..used).collect();
            let epoch = self.read_epoch;
            self.handle_handshake(typ, &msg)?;
            if self.read_epoch != epoch && !self.hs_buf.is_empty() {
                return Err(Error::UnexpectedMessage(
                    "handshake data not aligned with a key change",
                ));
            }
        }
        if self.hs_buf.len() > 4 + messages::MAX_HANDSHAKE_MESSAGE {
            return Err(Error::Decode("oversized handshake message"));
        }
        Ok(())
    }

    fn handle_handshake(&mut self, typ: u8, msg: &[u8]) -> Result<(), Error> {
        let parsed = messages::decode(typ, &msg[4..])?;
        let state = std::mem::replace(&mut self.state, HsState::Failed);
        self.state = match state {
            HsState::Client(st) => crate::client::handle(self, *st, parsed, msg)?,
            HsState::Server(st) => crate::server::handle(self, *st, parsed, msg)?,
            HsState::Done => {
                self.handle_post_handshake(parsed)?;
                HsState::Done
            }
            HsState::Failed => return Err(Error::Internal("connection already failed")),
        };
        Ok(())
    }

    fn handle_post_handshake(&mut self, msg: HandshakeMessage) -> Result<(), Error> {
        match msg {
            HandshakeMessage::KeyUpdate(request) => {
                let app = self
                    .app
                    .as_mut()
                    .ok_or(Error::Internal("no traffic secrets"))?;
                let alg = app.suite.hash();
                let secret = match self.side {
                    Side::Client => &mut app.server,
                    Side::Server => &mut app.client,
                };
                *secret = key_schedule::next_traffic_secret(alg, secret)?;
                let c = RecordCipher::new(app.suite, secret)?;
                self.set_read(c);
                self.stats.key_updates_received += 1;
                self.push_event(Event::PeerKeyUpdate);
                if request && !self.sent_close {
                    if self.key_update_due {
                        self.stats.coalesced_key_update_requests += 1;
                    }
                    self.key_update_due = true;
                }
                Ok(())
            }
            HandshakeMessage::NewSessionTicket(t) if self.side == Side::Client => {
                // A server may send tickets at any time (§4.6.1); past the
                // cap they are parsed and ignored: no key derivation, no
                // event, no memory.
                if self.tickets_accepted >= self.limits.max_session_tickets {
                    self.stats.ignored_tickets += 1;
                    return Ok(());
                }
                self.tickets_accepted += 1;
                if let Some(r) = &mut self.client_resumption {
                    r.receive(&t)?;
                }
                self.push_event(Event::SessionTicket(t));
                Ok(())
            }
            _ => Err(Error::UnexpectedMessage(
                "handshake message after the handshake",
            )),
        }
    }
}
