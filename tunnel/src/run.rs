//! The process: binds every service and the status listener, then reacts to
//! signals — SIGHUP reloads, SIGTERM/SIGINT drain and exit.
//!
//! Bound addresses are announced on stdout, one line each:
//! `listening service=NAME addr=ADDR` and `status addr=ADDR` (so callers
//! may use port 0).

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::addr::Addr;
use crate::config::{Config, ConfigError};
use crate::fleet::Fleet;
use crate::metrics::Metrics;
use crate::service::{Runtime, ServiceHandle, Shared};

/// Produces a fresh configuration (re-reading files) for start and reload.
pub type Loader = Box<dyn Fn() -> Result<Config, ConfigError> + Send + Sync>;

/// A runtime failure (exit status 1).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A listener could not be bound.
    #[error("{what}: cannot listen on {addr}: {source}")]
    Bind {
        /// `service "NAME"` or `status`.
        what: String,
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Signal handlers could not be installed.
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
}

/// A loaded configuration with every service's authenticator built.
#[derive(Debug)]
pub struct Prepared {
    /// The configuration.
    pub config: Config,
    /// One runtime per service, in order.
    pub runtimes: Vec<Arc<Runtime>>,
    /// The state the M-Pin servers decide with.
    pub fleet: Arc<Fleet>,
}

/// Loads and builds everything; any error is a configuration error.
pub fn prepare(loader: &Loader) -> Result<Prepared, ConfigError> {
    let config = loader()?;
    let fleet = Fleet::open(&config.fleet).map_err(|e| ConfigError::Invalid(e.to_string()))?;
    let runtimes = config
        .services
        .iter()
        .map(|s| Runtime::build(s.clone(), &fleet).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Prepared {
        config,
        runtimes,
        fleet,
    })
}

fn announce(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

struct Supervisor {
    shared: Arc<Shared>,
    services: HashMap<String, (Addr, ServiceHandle)>,
}

impl Supervisor {
    async fn bind(&mut self, rt: Arc<Runtime>) -> Result<(), RunError> {
        let cfg = &rt.config;
        let listener = cfg.accept.bind().await.map_err(|source| RunError::Bind {
            what: format!("service {:?}", cfg.name),
            addr: cfg.accept.to_string(),
            source,
        })?;
        let (name, accept) = (cfg.name.clone(), cfg.accept.clone());
        let handle = ServiceHandle::start(listener, rt, self.shared.clone());
        tracing::info!(service = %name, addr = %handle.local, "listening");
        announce(&format!("listening service={name} addr={}", handle.local));
        self.services.insert(name, (accept, handle));
        Ok(())
    }

    /// Applies a fresh configuration; returns its drain timeout.
    async fn reload(&mut self, loader: &Loader) -> Option<Duration> {
        let prepared = match prepare(loader) {
            Ok(p) => p,
            Err(e) => {
                self.shared.metrics.reload(false);
                tracing::error!(error = %e, "reload failed; keeping the running configuration");
                return None;
            }
        };
        // stop removed or moved services first, so their addresses are free
        let mut keep = HashMap::new();
        for (name, (accept, handle)) in std::mem::take(&mut self.services) {
            let same = prepared
                .runtimes
                .iter()
                .any(|rt| rt.config.name == name && rt.config.accept == accept);
            if same {
                keep.insert(name, (accept, handle));
            } else {
                tracing::info!(service = %name, "listener closed; its live connections go on");
                handle.stop().await;
            }
        }
        let mut ok = true;
        for rt in prepared.runtimes {
            match keep.remove(&rt.config.name) {
                Some((accept, handle)) => {
                    let name = rt.config.name.clone();
                    handle.replace(rt);
                    self.services.insert(name, (accept, handle));
                }
                None => {
                    if let Err(e) = self.bind(rt).await {
                        ok = false;
                        tracing::error!(error = %e, "reload: service not started");
                    }
                }
            }
        }
        self.shared.metrics.reload(ok);
        tracing::info!(services = self.services.len(), "configuration reloaded");
        Some(prepared.config.drain_timeout)
    }

    async fn drain(self, deadline: Duration, term: &mut Signal, int: &mut Signal) {
        tracing::info!(
            live = self.shared.live(),
            deadline_s = deadline.as_secs_f64(),
            "draining: listeners closed, waiting for live connections"
        );
        for (_, (_, handle)) in self.services {
            handle.stop().await;
        }
        tokio::select! {
            () = self.shared.wait_idle() => tracing::info!("drained; exiting"),
            () = tokio::time::sleep(deadline) => tracing::warn!(
                live = self.shared.live(),
                "drain deadline passed; closing the remaining connections"
            ),
            _ = term.recv() => tracing::warn!(
                live = self.shared.live(),
                "second termination signal; closing the remaining connections"
            ),
            _ = int.recv() => tracing::warn!(
                live = self.shared.live(),
                "second interrupt; closing the remaining connections"
            ),
        }
    }
}

/// Runs until SIGTERM/SIGINT (then drains and returns `Ok`).
pub async fn run(prepared: Prepared, loader: Loader) -> Result<(), RunError> {
    let mut hup = signal(SignalKind::hangup()).map_err(RunError::Signals)?;
    let mut term = signal(SignalKind::terminate()).map_err(RunError::Signals)?;
    let mut int = signal(SignalKind::interrupt()).map_err(RunError::Signals)?;
    let metrics = Arc::new(Metrics::new());
    let shared = Arc::new(Shared::new(metrics.clone()));
    let mut drain_timeout = prepared.config.drain_timeout;
    if let Some(addr) = &prepared.config.status {
        let listener = match addr {
            Addr::Tcp(a) => crate::addr::bind_tcp(a).await,
            Addr::Unix(_) => Err(std::io::Error::other("the status listener needs HOST:PORT")),
        }
        .map_err(|source| RunError::Bind {
            what: "status".into(),
            addr: addr.to_string(),
            source,
        })?;
        let local = listener
            .local_addr()
            .map_or_else(|_| addr.to_string(), |a| a.to_string());
        if !addr.is_local() {
            tracing::warn!(addr = %local, "status listener on a non-loopback address");
        }
        tracing::info!(addr = %local, "status listener: /healthz /metrics");
        announce(&format!("status addr={local}"));
        tokio::spawn(crate::status::serve(
            listener,
            metrics.clone(),
            prepared.fleet.clone(),
        ));
    }
    tokio::spawn(crate::fleet::watch(prepared.fleet.clone()));
    let mut sup = Supervisor {
        shared,
        services: HashMap::new(),
    };
    for rt in prepared.runtimes {
        sup.bind(rt).await?;
    }
    loop {
        tokio::select! {
            _ = hup.recv() => {
                tracing::info!("SIGHUP: reloading the configuration");
                if let Some(d) = sup.reload(&loader).await {
                    drain_timeout = d;
                }
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    sup.drain(drain_timeout, &mut term, &mut int).await;
    Ok(())
}
