//! Prometheus metrics, shared by every service and kept across reloads.
//!
//! | metric | labels |
//! |---|---|
//! | `milagro_tunnel_connections_total` | service |
//! | `milagro_tunnel_connections_active` | service |
//! | `milagro_tunnel_connections_rejected_total` | service, reason (`rate_limited`, `handshake_cap`, `evicted`, `limit`) |
//! | `milagro_tunnel_handshakes_total` | service, result (`ok`, `failed`, `timeout`, `rate_limited`, `evicted`) |
//! | `milagro_tunnel_authenticated_total` | service, method (`psk`, `mpin`, `mpin-resumed`, `p2p`); identities are in the logs only (unbounded label values) |
//! | `milagro_tunnel_handshakes_in_progress` | service (unauthenticated connections holding a slot) |
//! | `milagro_tunnel_truncations_total` | service (TLS peer closed TCP without close_notify) |
//! | `milagro_tunnel_handshake_duration_seconds` | service |
//! | `milagro_tunnel_connect_errors_total` | service (forward target unreachable) |
//! | `milagro_tunnel_bytes_total` | service, direction (`in`: from the accepted side, `out`: to it) |
//! | `milagro_tunnel_reloads_total` | result (`ok`, `failed`) |
//! | `milagro_tunnel_state_up` | — (1 while the shared state store answers, else 0) |
//! | `milagro_tunnel_state_errors_total` | — (state calls that failed closed: no answer) |

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// `service` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ServiceLabel {
    /// Service name.
    pub service: String,
}

/// `service` + `result` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    /// Service name.
    pub service: String,
    /// Outcome.
    pub result: String,
}

/// `service` + `direction` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DirectionLabel {
    /// Service name.
    pub service: String,
    /// `in` or `out`.
    pub direction: String,
}

/// `service` + `reason` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// Service name.
    pub service: String,
    /// Why.
    pub reason: String,
}

/// `service` + `method` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabel {
    /// Service name.
    pub service: String,
    /// How the peer authenticated.
    pub method: String,
}

/// `result` label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    /// `ok` or `failed`.
    pub result: String,
}

type HistogramFamily = Family<ServiceLabel, Histogram, fn() -> Histogram>;

fn handshake_histogram() -> Histogram {
    // 0.5 ms … ~8 s
    Histogram::new(exponential_buckets(0.0005, 2.0, 15))
}

/// All metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Accepted connections.
    pub connections: Family<ServiceLabel, Counter>,
    /// Live connections.
    pub active: Family<ServiceLabel, Gauge>,
    /// Connections closed at once.
    pub rejected: Family<ReasonLabel, Counter>,
    /// Handshakes by result.
    pub handshakes: Family<ResultLabel, Counter>,
    /// Successful handshakes by authentication method.
    pub authenticated: Family<MethodLabel, Counter>,
    /// Handshake latency.
    pub handshake_seconds: HistogramFamily,
    /// Forward target unreachable.
    pub connect_errors: Family<ServiceLabel, Counter>,
    /// Bytes copied.
    pub bytes: Family<DirectionLabel, Counter>,
    /// Reloads.
    pub reloads: Family<OutcomeLabel, Counter>,
    /// Handshakes in progress (holding a slot).
    pub handshaking: Family<ServiceLabel, Gauge>,
    /// Truncated TLS streams (EOF without close_notify).
    pub truncations: Family<ServiceLabel, Counter>,
    /// 1 while the shared state store answers.
    pub state_up: Gauge,
    /// State calls that failed closed.
    pub state_errors: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("milagro_tunnel");
        let connections = Family::<ServiceLabel, Counter>::default();
        let active = Family::<ServiceLabel, Gauge>::default();
        let rejected = Family::<ReasonLabel, Counter>::default();
        let handshakes = Family::<ResultLabel, Counter>::default();
        let authenticated = Family::<MethodLabel, Counter>::default();
        let handshake_seconds: HistogramFamily =
            Family::new_with_constructor(handshake_histogram as fn() -> Histogram);
        let connect_errors = Family::<ServiceLabel, Counter>::default();
        let bytes = Family::<DirectionLabel, Counter>::default();
        let reloads = Family::<OutcomeLabel, Counter>::default();
        let handshaking = Family::<ServiceLabel, Gauge>::default();
        let truncations = Family::<ServiceLabel, Counter>::default();
        registry.register("connections", "Accepted connections", connections.clone());
        registry.register("connections_active", "Live connections", active.clone());
        registry.register(
            "connections_rejected",
            "Connections closed before their handshake, by reason",
            rejected.clone(),
        );
        registry.register("handshakes", "Handshakes by result", handshakes.clone());
        registry.register(
            "authenticated",
            "Successful handshakes by authentication method",
            authenticated.clone(),
        );
        registry.register(
            "handshake_duration_seconds",
            "Handshake latency of successful handshakes",
            handshake_seconds.clone(),
        );
        registry.register(
            "connect_errors",
            "Failed connections to the forward target",
            connect_errors.clone(),
        );
        registry.register("bytes", "Bytes copied", bytes.clone());
        registry.register("reloads", "Configuration reloads", reloads.clone());
        registry.register(
            "handshakes_in_progress",
            "Unauthenticated connections holding a handshake slot",
            handshaking.clone(),
        );
        registry.register(
            "truncations",
            "TLS streams the peer ended without close_notify (the plaintext side was reset)",
            truncations.clone(),
        );
        let state_up = Gauge::default();
        let state_errors = Counter::default();
        registry.register(
            "state_up",
            "1 while the shared state store (memory or Redis) answers; 0: M-Pin logins are refused",
            state_up.clone(),
        );
        registry.register(
            "state_errors",
            "Calls to the shared state store that got no answer and failed closed",
            state_errors.clone(),
        );
        Self {
            state_up,
            state_errors,
            registry,
            connections,
            active,
            rejected,
            handshakes,
            authenticated,
            handshake_seconds,
            connect_errors,
            bytes,
            reloads,
            handshaking,
            truncations,
        }
    }

    /// Prometheus/OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// Brings the state metrics up to date with `fleet`'s store.
    pub fn observe_state(&self, fleet: &crate::fleet::Fleet) {
        self.state_up.set(i64::from(fleet.state.health().is_ok()));
        let failed = fleet.state.failed_calls();
        self.state_errors
            .inc_by(failed.saturating_sub(self.state_errors.get()));
    }

    /// Counts a handshake result.
    pub fn handshake(&self, service: &str, result: &str) {
        self.handshakes
            .get_or_create(&ResultLabel {
                service: service.into(),
                result: result.into(),
            })
            .inc();
    }

    /// Counts a successful handshake by method.
    pub fn authenticated(&self, service: &str, method: &str) {
        self.authenticated
            .get_or_create(&MethodLabel {
                service: service.into(),
                method: method.into(),
            })
            .inc();
    }

    /// Counts a connection closed before its handshake.
    pub fn reject(&self, service: &str, reason: &str) {
        self.rejected
            .get_or_create(&ReasonLabel {
                service: service.into(),
                reason: reason.into(),
            })
            .inc();
    }

    /// Label for a service.
    pub fn svc(service: &str) -> ServiceLabel {
        ServiceLabel {
            service: service.into(),
        }
    }

    /// Adds copied bytes.
    pub fn add_bytes(&self, service: &str, direction: &str, n: u64) {
        self.bytes
            .get_or_create(&DirectionLabel {
                service: service.into(),
                direction: direction.into(),
            })
            .inc_by(n);
    }

    /// Counts a reload.
    pub fn reload(&self, ok: bool) {
        self.reloads
            .get_or_create(&OutcomeLabel {
                result: if ok { "ok" } else { "failed" }.into(),
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_counters() {
        let m = Metrics::new();
        m.handshake("db", "ok");
        m.connections.get_or_create(&Metrics::svc("db")).inc();
        m.handshake_seconds
            .get_or_create(&Metrics::svc("db"))
            .observe(0.01);
        let text = m.encode();
        assert!(
            text.contains("milagro_tunnel_handshakes_total{service=\"db\",result=\"ok\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("milagro_tunnel_connections_total{service=\"db\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("milagro_tunnel_handshake_duration_seconds_count{service=\"db\"} 1"),
            "{text}"
        );
    }
}
