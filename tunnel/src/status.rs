//! The status listener: `GET /healthz` and Prometheus `GET /metrics`.
//!
//! `/healthz` answers `200 ok` while the shared state store answers, and `503` with the
//! reason while it does not (M-Pin logins are refused then: fail closed).

use std::sync::Arc;

use axum::http::header::CONTENT_TYPE;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use tokio::net::TcpListener;

use crate::fleet::Fleet;
use crate::metrics::Metrics;

/// OpenMetrics text content type.
const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The health answer: `ok`, or `degraded` and why.
async fn healthz(fleet: Arc<Fleet>) -> (StatusCode, String) {
    if fleet.degraded().is_some() {
        // an outage is noticed at once; its end only when the store answers again
        let f = fleet.clone();
        let _ = tokio::task::spawn_blocking(move || f.check()).await;
    }
    match fleet.degraded() {
        None => (StatusCode::OK, "ok\n".to_owned()),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("degraded: {reason}\n"),
        ),
    }
}

/// The router serving `/healthz` and `/metrics`.
pub fn router(metrics: Arc<Metrics>, fleet: Arc<Fleet>) -> Router {
    let f = fleet.clone();
    Router::new()
        .route("/healthz", get(move || healthz(f.clone())))
        .route(
            "/metrics",
            get(move || {
                let (m, f) = (metrics.clone(), fleet.clone());
                async move {
                    m.observe_state(&f);
                    ([(CONTENT_TYPE, METRICS_CONTENT_TYPE)], m.encode())
                }
            }),
        )
}

/// Serves the status endpoints on `listener` until the process ends.
pub async fn serve(listener: TcpListener, metrics: Arc<Metrics>, fleet: Arc<Fleet>) {
    if let Err(e) = axum::serve(listener, router(metrics, fleet)).await {
        tracing::error!(error = %e, "status listener failed");
    }
}
