//! The metrics: what `GET /metrics` answers, counts only.

use std::sync::atomic::Ordering;

use super::{Dta, Refusal};
use crate::db::counter;

impl Dta {
    pub(super) fn metrics(&self) -> Result<String, Refusal> {
        use std::fmt::Write;
        let counters = self.db.counters()?;
        let get = |n: &str| {
            counters
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| *v)
                .unwrap_or(0)
        };
        let mut s = String::new();
        let mut line = |name: &str, kind: &str, help: &str, v: u64| {
            let _ = write!(
                s,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
            );
        };
        line(
            "dta_client_secrets_issued_total",
            "counter",
            "Client-secret shares issued.",
            get(counter::CLIENT_SECRETS),
        );
        line(
            "dta_time_permits_issued_total",
            "counter",
            "Time-permit shares issued (one per day).",
            get(counter::TIME_PERMITS),
        );
        line(
            "dta_server_secrets_issued_total",
            "counter",
            "Server-secret shares issued.",
            get(counter::SERVER_SECRETS),
        );
        line(
            "dta_device_keys_issued_total",
            "counter",
            "Device key-share issuances (one per device grant).",
            get(counter::DEVICE_KEYS),
        );
        line(
            "dta_device_permits_issued_total",
            "counter",
            "Device permit-share issuances (one per day).",
            get(counter::DEVICE_PERMITS),
        );
        line(
            "dta_revocations_total",
            "counter",
            "Identities revoked.",
            get(counter::REVOCATIONS),
        );
        line(
            "dta_revoked_identities",
            "gauge",
            "Identities currently revoked.",
            self.db.revoked_count()?,
        );
        line(
            "dta_requests_total",
            "counter",
            "Requests handled since start.",
            self.requests.load(Ordering::Relaxed),
        );
        line(
            "dta_requests_refused_total",
            "counter",
            "Requests refused since start.",
            self.refused.load(Ordering::Relaxed),
        );
        Ok(s)
    }
}
