//! The accept loop: the limits checked right after `accept`, before any cryptography, then
//! one task per connection.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tracing::Instrument;

use super::conn::Conn;
use super::state::{ConnGuard, ServiceState};
use super::{Runtime, Shared};
use crate::addr::Listener;
use crate::metrics::Metrics;
use crate::ratelimit::SourceKey;
use crate::refusals::{Refusal, RefusalLog, SUMMARY_EVERY};
use crate::slots::{HandshakeSlots, SlotRefusal};

pub(super) async fn accept_loop(
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
