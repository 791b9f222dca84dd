//! One listener = one service: accept loop, limits, handshake, forward.
//!
//! Right after `accept`, before any cryptography and in this order: the
//! established-connection limit (`max_connections`), the per-source rate
//! limit, and a handshake slot (global `max_handshakes`, oldest evicted when
//! full; `max_handshakes_per_source`, newest refused). The slot is held until
//! the connection is authenticated; then it counts as established.

use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tracing::Instrument;

use crate::addr::{BoxStream, Listener, PlainStream};
use crate::auth::{build_client, build_server, AuthClient, AuthServer, PeerInfo};
use crate::config::{AuthSpec, ConfigError, ServiceConfig};
use crate::copy::relay;
use crate::fleet::Fleet;
use crate::metrics::Metrics;
use crate::ratelimit::{RateLimiter, SourceKey};
use crate::refusals::{Refusal, RefusalLog, SUMMARY_EVERY};
use crate::slots::{HandshakeSlots, Slot, SlotRefusal};

/// The authenticating half of a service, built from its [`AuthSpec`].
#[derive(Clone)]
pub enum Authenticator {
    /// Client mode: authenticate outgoing connections.
    Client(Arc<dyn AuthClient>),
    /// Server mode: authenticate incoming connections.
    Server(Arc<dyn AuthServer>),
}

/// A service's current settings; replaced as a whole on reload, while live
/// connections keep the one they started with.
pub struct Runtime {
    /// Validated settings.
    pub config: ServiceConfig,
    /// Authentication.
    pub authenticator: Authenticator,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Reads the files the config names and builds the authenticator (an M-Pin server
    /// decides with `fleet`).
    pub fn build(config: ServiceConfig, fleet: &Fleet) -> Result<Self, ConfigError> {
        let at = |e: crate::auth::AuthError| {
            ConfigError::Invalid(format!("{}: {e}", config.auth_origin))
        };
        let authenticator = match &config.auth {
            AuthSpec::Client(a) => Authenticator::Client(
                build_client(a, &config.options, config.max_connections).map_err(at)?,
            ),
            AuthSpec::Server(a) => {
                Authenticator::Server(build_server(a, &config.options, fleet).map_err(at)?)
            }
        };
        Ok(Self {
            config,
            authenticator,
        })
    }
}

/// State shared by every service of the process.
#[derive(Debug, Default)]
pub struct Shared {
    /// Metrics.
    pub metrics: Arc<Metrics>,
    next_id: AtomicU64,
    live: AtomicUsize,
    changed: Notify,
}

impl Shared {
    /// New shared state around `metrics`.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self {
            metrics,
            ..Self::default()
        }
    }

    /// Live connections over all services (including handshakes in progress).
    pub fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Waits until no connection is live.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.changed.notified();
            if self.live() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Counts a live connection (handshaking or established) until dropped.
struct ConnGuard {
    shared: Arc<Shared>,
    service: String,
}

impl ConnGuard {
    fn new(shared: Arc<Shared>, service: &str) -> Self {
        shared.live.fetch_add(1, Ordering::SeqCst);
        shared
            .metrics
            .active
            .get_or_create(&Metrics::svc(service))
            .inc();
        Self {
            shared,
            service: service.into(),
        }
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.shared.live.fetch_sub(1, Ordering::SeqCst);
        self.shared
            .metrics
            .active
            .get_or_create(&Metrics::svc(&self.service))
            .dec();
        self.shared.changed.notify_waiters();
    }
}

/// Per-service state kept across reloads: established connections,
/// handshake slots, the refusal log.
struct ServiceState {
    name: String,
    established: AtomicUsize,
    slots: Arc<HandshakeSlots>,
    refusals: Mutex<RefusalLog>,
    /// The rate limiter and the (rate, burst) it was made for: kept across
    /// reloads that do not change them, so a SIGHUP does not refill buckets.
    limiter: Mutex<Option<(f64, f64, Arc<RateLimiter>)>>,
}

impl ServiceState {
    /// The rate limiter for `config` (None: no rate limit).
    fn limiter(&self, config: &ServiceConfig) -> Option<Arc<RateLimiter>> {
        let Ok(mut held) = self.limiter.lock() else {
            return None;
        };
        let Some(rate) = config.rate_limit else {
            *held = None;
            return None;
        };
        let burst = config.rate_burst;
        if let Some((r, b, l)) = held.as_ref() {
            if *r == rate && *b == burst {
                return Some(l.clone());
            }
        }
        let l = Arc::new(RateLimiter::new(rate, burst));
        *held = Some((rate, burst, l.clone()));
        Some(l)
    }

    /// Counts a refusal in metrics and the (rate-limited) log.
    fn refuse(&self, metrics: &Metrics, reason: Refusal, now: Instant) {
        metrics.reject(&self.name, reason.as_str());
        if let Ok(mut log) = self.refusals.lock() {
            log.refuse(reason, now);
        }
    }
}

/// Counts an established connection until dropped.
struct Established<'a>(&'a AtomicUsize);

impl<'a> Established<'a> {
    /// None when `max` connections are established already.
    fn try_new(count: &'a AtomicUsize, max: usize) -> Option<Self> {
        if count.fetch_add(1, Ordering::SeqCst) >= max {
            count.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(Self(count))
    }
}

impl Drop for Established<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running service: its listener task and its swappable settings.
pub struct ServiceHandle {
    current: Arc<RwLock<Arc<Runtime>>>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
    /// The bound address as text.
    pub local: String,
}

impl ServiceHandle {
    /// Starts accepting on `listener` with `runtime`.
    pub fn start(listener: Listener, runtime: Arc<Runtime>, shared: Arc<Shared>) -> Self {
        let local = listener.local_display();
        if !runtime.config.accept.is_local() {
            tracing::warn!(
                service = %runtime.config.name,
                addr = %local,
                "listening on a non-loopback address: other machines can connect"
            );
        }
        let current = Arc::new(RwLock::new(runtime));
        let (stop, stop_rx) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, current.clone(), shared, stop_rx));
        Self {
            current,
            stop: Some(stop),
            task,
            local,
        }
    }

    /// The settings new connections get.
    pub fn runtime(&self) -> Option<Arc<Runtime>> {
        self.current.read().ok().map(|r| r.clone())
    }

    /// New connections use `runtime` from now on.
    pub fn replace(&self, runtime: Arc<Runtime>) {
        if let Ok(mut r) = self.current.write() {
            *r = runtime;
        }
    }

    /// Stops accepting and closes the listener (live connections go on).
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = (&mut self.task).await;
    }
}

async fn accept_loop(
    listener: Listener,
    current: Arc<RwLock<Arc<Runtime>>>,
    shared: Arc<Shared>,
    mut stop: oneshot::Receiver<()>,
) {
    let Some(first) = current.read().ok().map(|r| r.clone()) else {
        return;
    };
    let name = first.config.name.clone();
    let gauge = shared
        .metrics
        .handshaking
        .get_or_create(&Metrics::svc(&name))
        .clone();
    let state = Arc::new(ServiceState {
        slots: Arc::new(HandshakeSlots::new(gauge)),
        refusals: Mutex::new(RefusalLog::new(&name)),
        established: AtomicUsize::new(0),
        limiter: Mutex::new(None),
        name,
    });
    let (mut accept_errors, mut last_accept_warn) = (0u64, None::<Instant>);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = tick.tick() => {
                if let Ok(mut log) = state.refusals.lock() {
                    log.flush(Instant::now());
                }
                continue;
            }
            _ = &mut stop => break,
        };
        let (io, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // e.g. EMFILE: back off instead of spinning; one WARN line per period
                let now = Instant::now();
                accept_errors += 1;
                if last_accept_warn
                    .is_none_or(|t| now.saturating_duration_since(t) >= SUMMARY_EVERY)
                {
                    tracing::warn!(service = %state.name, error = %e, count = accept_errors,
                        "accept failed (count since the last such line; raise `ulimit -n` for EMFILE)");
                    last_accept_warn = Some(now);
                    accept_errors = 0;
                } else {
                    tracing::debug!(error = %e, "accept failed");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(rt) = current.read().ok().map(|r| r.clone()) else {
            break;
        };
        let name = &state.name;
        let m = &shared.metrics;
        let now = Instant::now();
        let source = SourceKey::of(peer.ip);
        m.connections.get_or_create(&Metrics::svc(name)).inc();
        let limit = rt.config.max_connections;
        if state.established.load(Ordering::SeqCst) >= limit {
            tracing::debug!(service = %name, peer = %peer.display, limit,
                "connection limit reached; connection closed");
            state.refuse(m, Refusal::Limit, now);
            continue;
        }
        let limiter = state.limiter(&rt.config);
        if let Some(limiter) = &limiter {
            if !limiter.allow(source, now) {
                m.handshake(name, "rate_limited");
                tracing::debug!(service = %name, peer = %peer.display,
                    "handshake rate limit exceeded; connection closed");
                state.refuse(m, Refusal::RateLimited, now);
                continue;
            }
        }
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let slot = match state.slots.acquire(
            id,
            source,
            rt.config.max_handshakes,
            rt.config.max_handshakes_per_source,
        ) {
            Ok((slot, evicted)) => {
                for _ in 0..evicted {
                    state.refuse(m, Refusal::Evicted, now);
                }
                slot
            }
            Err(SlotRefusal::PerSource) => {
                tracing::debug!(service = %name, peer = %peer.display,
                    limit = rt.config.max_handshakes_per_source,
                    "this source holds its share of handshake slots; connection closed");
                state.refuse(m, Refusal::HandshakeCap, now);
                continue;
            }
        };
        let guard = ConnGuard::new(shared.clone(), name);
        let span = tracing::info_span!(
            "conn",
            id,
            service = %name,
            peer = %peer.display,
            identity = tracing::field::Empty
        );
        let conn = Conn {
            rt,
            shared: shared.clone(),
            state: state.clone(),
            source,
            limiter,
        };
        tokio::spawn(conn.handle(io, slot, guard).instrument(span));
    }
    // the listener closes: report what the last summary has not
    let pending = state.refusals.lock();
    if let Ok(mut log) = pending {
        log.flush_pending(Instant::now());
    }
}

fn handshake_result(e: &io::Error) -> &'static str {
    if e.kind() == io::ErrorKind::TimedOut {
        "timeout"
    } else {
        "failed"
    }
}

/// Extra rate-limit tokens a source pays for a handshake failure that is not
/// attributable to a token (junk, a wrong static PSK, a proof that did not
/// verify): a failed handshake costs 5 tokens instead of 1.
pub const SOURCE_FAILURE_COST: f64 = 4.0;

/// True when the failure `e` of an incoming handshake counts against its source.
fn source_failure(e: &io::Error) -> bool {
    match milagro_tls::mpin::mpin_error(e) {
        Some(m) => m.is_source_failure(),
        None => e.kind() != io::ErrorKind::TimedOut,
    }
}

/// One connection's context.
struct Conn {
    rt: Arc<Runtime>,
    shared: Arc<Shared>,
    state: Arc<ServiceState>,
    source: SourceKey,
    limiter: Option<Arc<RateLimiter>>,
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

    async fn handle(self, io: PlainStream, mut slot: Slot, guard: ConnGuard) {
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
