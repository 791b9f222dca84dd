//! One connection: authentication within the handshake timeout, the forward target, the
//! relay.

use std::io;
use std::sync::Arc;
use std::time::Instant;

use tokio::time::timeout;

use super::state::{ConnGuard, Established, ServiceState};
use super::{Authenticator, Runtime, Shared, SOURCE_FAILURE_COST};
use crate::addr::{BoxStream, PlainStream};
use crate::auth::PeerInfo;
use crate::copy::relay;
use crate::metrics::Metrics;
use crate::ratelimit::{RateLimiter, SourceKey};
use crate::refusals::Refusal;
use crate::slots::Slot;

fn handshake_result(e: &io::Error) -> &'static str {
    if e.kind() == io::ErrorKind::TimedOut {
        "timeout"
    } else {
        "failed"
    }
}

/// True when the failure `e` of an incoming handshake counts against its source.
fn source_failure(e: &io::Error) -> bool {
    match milagro_tls::mpin::mpin_error(e) {
        Some(m) => m.is_source_failure(),
        None => e.kind() != io::ErrorKind::TimedOut,
    }
}

/// One connection's context.
pub(super) struct Conn {
    pub(super) rt: Arc<Runtime>,
    pub(super) shared: Arc<Shared>,
    pub(super) state: Arc<ServiceState>,
    pub(super) source: SourceKey,
    pub(super) limiter: Option<Arc<RateLimiter>>,
}

impl Conn {
    /// Connects to the forward target within the handshake timeout.
    async fn connect_target(&self) -> Option<PlainStream> {
        let (rt, shared) = (&self.rt, &self.shared);
        let target = &rt.config.connect;
        let err = match timeout(rt.config.options.handshake_timeout, target.connect()).await {
            Ok(Ok(s)) => return Some(s),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "timed out".into(),
        };
        shared
            .metrics
            .connect_errors
            .get_or_create(&Metrics::svc(&rt.config.name))
            .inc();
        tracing::warn!(target = %target, error = %err, "cannot connect to the forward target; connection closed");
        None
    }

    /// Authenticates with the handshake timeout, recording metrics and logs.
    async fn authenticate<F>(
        &self,
        remote: Option<&crate::addr::Addr>,
        fut: F,
    ) -> Option<(BoxStream, PeerInfo)>
    where
        F: std::future::Future<Output = io::Result<(BoxStream, PeerInfo)>>,
    {
        let (rt, shared) = (&self.rt, &self.shared);
        let start = Instant::now();
        let name = &rt.config.name;
        let result = match timeout(rt.config.options.handshake_timeout, fut).await {
            Ok(r) => r,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "handshake timed out",
            )),
        };
        match result {
            Ok((s, info)) => {
                if let Some(id) = &info.identity {
                    // every later line of this connection carries the identity
                    tracing::Span::current().record("identity", tracing::field::display(id));
                }
                shared.metrics.handshake(name, "ok");
                shared.metrics.authenticated(name, info.method.name());
                shared
                    .metrics
                    .handshake_seconds
                    .get_or_create(&Metrics::svc(name))
                    .observe(start.elapsed().as_secs_f64());
                tracing::info!(
                    identity = %info.identity.as_ref().map_or_else(|| "-".into(), |id| id.to_string()),
                    method = %info.method,
                    suite = %info.suite.map_or("-", |s| s.name()),
                    group = %info.group.map_or("-", |g| g.name()),
                    "authenticated"
                );
                Some((s, info))
            }
            Err(e) => {
                let result = handshake_result(&e);
                let now = Instant::now();
                if remote.is_none() && source_failure(&e) {
                    if let Some(limiter) = &self.limiter {
                        limiter.charge(self.source, SOURCE_FAILURE_COST, now);
                    }
                }
                shared.metrics.handshake(name, result);
                let warn = self
                    .state
                    .refusals
                    .lock()
                    .map_or(true, |mut log| log.failure(now));
                match (remote, warn) {
                    (Some(server), true) => tracing::warn!(error = %e, result = %result, %server,
                        "handshake with the server failed; connection closed"),
                    (Some(server), false) => tracing::debug!(error = %e, result = %result, %server,
                        "handshake with the server failed; connection closed"),
                    (None, true) => tracing::warn!(error = %e, result = %result,
                        "handshake failed; connection closed"),
                    (None, false) => tracing::debug!(error = %e, result = %result,
                        "handshake failed; connection closed"),
                }
                None
            }
        }
    }

    /// Everything before authentication: returns the TLS stream and, in
    /// client mode, the accepted plaintext stream.
    async fn pre_auth(&self, io: PlainStream) -> Option<(BoxStream, Option<PlainStream>)> {
        match &self.rt.authenticator {
            Authenticator::Server(auth) => {
                let (tls, _) = self
                    .authenticate(None, auth.accept(Box::pin(io), self.source))
                    .await?;
                Some((tls, None))
            }
            Authenticator::Client(auth) => {
                let up = self.connect_target().await?;
                let remote = Some(&self.rt.config.connect);
                let attempt = async {
                    match auth.connect(Box::pin(up)).await {
                        Err(e) if crate::mpin_auth::is_ticket_refused(&e) => {
                            // the user never sees a refused ticket: one full M-Pin run instead
                            tracing::debug!(error = %e, "session ticket refused; running M-Pin on a new connection");
                            let up = self.connect_target().await.ok_or_else(|| {
                                io::Error::other(
                                    "cannot reconnect to the server for a full M-Pin run",
                                )
                            })?;
                            auth.connect(Box::pin(up)).await
                        }
                        r => r,
                    }
                };
                let (tls, _) = self.authenticate(remote, attempt).await?;
                Some((tls, Some(io)))
            }
        }
    }

    pub(super) async fn handle(self, io: PlainStream, mut slot: Slot, guard: ConnGuard) {
        let start = Instant::now();
        tracing::debug!("accepted");
        let (rt, shared) = (&self.rt, &self.shared);
        let authed = tokio::select! {
            r = self.pre_auth(io) => r,
            Ok(()) = &mut slot.evicted => {
                shared.metrics.handshake(&rt.config.name, "evicted");
                tracing::debug!("every handshake slot was taken: this oldest handshake was closed for a new connection");
                return;
            }
        };
        // authenticated (or failed): the handshake slot is free again
        drop(slot);
        let Some((tls, accepted_plain)) = authed else {
            return;
        };
        let limit = rt.config.max_connections;
        let Some(established) = Established::try_new(&self.state.established, limit) else {
            tracing::debug!(limit, "connection limit reached; connection closed");
            self.state
                .refuse(&shared.metrics, Refusal::Limit, Instant::now());
            return;
        };
        let (plain, accepted_tls) = match accepted_plain {
            Some(p) => (p, false),
            None => match self.connect_target().await {
                Some(p) => (p, true),
                None => return,
            },
        };
        let stats = relay(
            tls,
            plain,
            accepted_tls,
            rt.config.idle_timeout,
            &shared.metrics,
            &rt.config.name,
        )
        .await;
        tracing::info!(
            bytes_in = stats.bytes_in,
            bytes_out = stats.bytes_out,
            duration_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
            end = %stats.end,
            "closed"
        );
        drop(established);
        drop(guard);
    }
}
