//! One listener = one service: accept loop, limits, handshake, forward.

use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use tracing::Instrument;

use crate::addr::{BoxStream, Listener};
use crate::auth::{build_client, build_server, AuthClient, AuthServer, PeerInfo};
use crate::config::{ConfigError, Mode, ServiceConfig};
use crate::copy::relay;
use crate::metrics::{Metrics, ReasonLabel};
use crate::ratelimit::RateLimiter;

/// The authenticating half of a service.
#[derive(Clone)]
pub enum Side {
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
    pub side: Side,
    /// Handshake rate limit.
    pub limiter: Option<RateLimiter>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Reads the files the config names and builds the authenticator.
    pub fn build(config: ServiceConfig) -> Result<Self, ConfigError> {
        let at = |e: crate::auth::AuthError| {
            ConfigError::Invalid(format!("{}: {e}", config.auth_origin))
        };
        let side = match config.mode {
            Mode::Client => Side::Client(build_client(&config.auth, &config.tls).map_err(at)?),
            Mode::Server => Side::Server(build_server(&config.auth, &config.tls).map_err(at)?),
        };
        let limiter = config.rate_limit.map(RateLimiter::new);
        Ok(Self {
            config,
            side,
            limiter,
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

/// Counts a live connection until dropped.
struct ConnGuard {
    shared: Arc<Shared>,
    service_active: Arc<AtomicUsize>,
    service: String,
}

impl ConnGuard {
    fn new(shared: Arc<Shared>, service_active: Arc<AtomicUsize>, service: &str) -> Self {
        service_active.fetch_add(1, Ordering::SeqCst);
        shared.live.fetch_add(1, Ordering::SeqCst);
        shared
            .metrics
            .active
            .get_or_create(&Metrics::svc(service))
            .inc();
        Self {
            shared,
            service_active,
            service: service.into(),
        }
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.service_active.fetch_sub(1, Ordering::SeqCst);
        self.shared.live.fetch_sub(1, Ordering::SeqCst);
        self.shared
            .metrics
            .active
            .get_or_create(&Metrics::svc(&self.service))
            .dec();
        self.shared.changed.notify_waiters();
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
    let service_active = Arc::new(AtomicUsize::new(0));
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = &mut stop => break,
        };
        let (io, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // e.g. EMFILE: back off instead of spinning
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(rt) = current.read().ok().map(|r| r.clone()) else {
            break;
        };
        let name = rt.config.name.clone();
        let m = &shared.metrics;
        m.connections.get_or_create(&Metrics::svc(&name)).inc();
        if service_active.load(Ordering::SeqCst) >= rt.config.max_connections {
            m.rejected
                .get_or_create(&ReasonLabel {
                    service: name.clone(),
                    reason: "limit".into(),
                })
                .inc();
            tracing::warn!(service = %name, peer = %peer.display, limit = rt.config.max_connections,
                "connection limit reached; connection closed");
            drop(io);
            continue;
        }
        if let Some(limiter) = &rt.limiter {
            if !limiter.allow(peer.ip, Instant::now()) {
                m.handshake(&name, "rate_limited");
                tracing::warn!(service = %name, peer = %peer.display, "handshake rate limit exceeded; connection closed");
                drop(io);
                continue;
            }
        }
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let guard = ConnGuard::new(shared.clone(), service_active.clone(), &name);
        let span = tracing::info_span!(
            "conn",
            id,
            service = %name,
            peer = %peer.display,
            identity = tracing::field::Empty
        );
        tokio::spawn(handle(io, rt, shared.clone(), guard).instrument(span));
    }
}

fn handshake_result(e: &io::Error) -> &'static str {
    if e.kind() == io::ErrorKind::TimedOut {
        "timeout"
    } else {
        "failed"
    }
}

/// Connects to the forward target within `limit`.
async fn connect_target(rt: &Runtime, shared: &Shared) -> Option<BoxStream> {
    let target = &rt.config.connect;
    let err = match timeout(rt.config.tls.handshake_timeout, target.connect()).await {
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
    rt: &Runtime,
    shared: &Shared,
    remote: Option<&crate::addr::Addr>,
    fut: F,
) -> Option<(BoxStream, PeerInfo)>
where
    F: std::future::Future<Output = io::Result<(BoxStream, PeerInfo)>>,
{
    let start = Instant::now();
    let name = &rt.config.name;
    let result = match timeout(rt.config.tls.handshake_timeout, fut).await {
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
            shared
                .metrics
                .handshake_seconds
                .get_or_create(&Metrics::svc(name))
                .observe(start.elapsed().as_secs_f64());
            tracing::info!(
                identity = %info.identity.as_deref().unwrap_or("-"),
                method = %info.method,
                suite = %info.suite.map_or("-", |s| s.name()),
                group = %info.group.map_or("-", |g| g.name()),
                "authenticated"
            );
            Some((s, info))
        }
        Err(e) => {
            let result = handshake_result(&e);
            shared.metrics.handshake(name, result);
            match remote {
                Some(server) => tracing::warn!(error = %e, result = %result, %server,
                    "handshake with the server failed; connection closed"),
                None => tracing::warn!(error = %e, result = %result,
                    "handshake failed; connection closed"),
            }
            None
        }
    }
}

async fn handle(io: BoxStream, rt: Arc<Runtime>, shared: Arc<Shared>, guard: ConnGuard) {
    let start = Instant::now();
    tracing::debug!("accepted");
    let (down, up) = match &rt.side {
        Side::Server(auth) => {
            let Some((tls, _)) = authenticate(&rt, &shared, None, auth.accept(io)).await else {
                return;
            };
            let Some(up) = connect_target(&rt, &shared).await else {
                return;
            };
            (tls, up)
        }
        Side::Client(auth) => {
            let Some(up) = connect_target(&rt, &shared).await else {
                return;
            };
            let Some((tls, _)) =
                authenticate(&rt, &shared, Some(&rt.config.connect), auth.connect(up)).await
            else {
                return;
            };
            (io, tls)
        }
    };
    let stats = relay(
        down,
        up,
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
    drop(guard);
}
