//! tokio adapter.
