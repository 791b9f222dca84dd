//! One listener = one service: accept loop, limits, handshake, forward.
//!
//! Right after `accept`, before any cryptography and in this order: the
//! established-connection limit (`max_connections`), the per-source rate
//! limit, and a handshake slot (global `max_handshakes`, oldest evicted when
//! full; `max_handshakes_per_source`, newest refused). The slot is held until
//! the connection is authenticated; then it counts as established.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::{oneshot, Notify};
use tokio::task::JoinHandle;

use crate::addr::Listener;
use crate::auth::{build_client, build_server, AuthClient, AuthServer};
use crate::config::{AuthSpec, ConfigError, ServiceConfig};
use crate::fleet::Fleet;
use crate::metrics::Metrics;

mod accept;
mod conn;
mod state;

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
        let task = tokio::spawn(accept::accept_loop(
            listener,
            current.clone(),
            shared,
            stop_rx,
        ));
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

/// Extra rate-limit tokens a source pays for a handshake failure that is not
/// attributable to a token (junk, a wrong static PSK, a proof that did not
/// verify): a failed handshake costs 5 tokens instead of 1.
pub const SOURCE_FAILURE_COST: f64 = 4.0;
