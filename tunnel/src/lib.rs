//! `milagro-tunnel`: stunnel/ghostunnel-like TCP tunnels over TLS 1.3 with
//! external PSKs (`milagro-tls`), certificate-less.
//!
//! A *service* listens on one address and forwards to another: in `client`
//! mode it accepts plaintext and connects with TLS-PSK, in `server` mode it
//! accepts TLS-PSK and forwards plaintext. Services come from the command
//! line (`milagro-tunnel client|server …`) or a TOML file (`milagro-tunnel
//! run --config FILE`):
//!
//! ```
//! use milagro_tunnel::config::{Config, Role};
//!
//! let config = Config::from_toml_str(
//!     r#"
//!     status = "127.0.0.1:9100"
//!
//!     [[service]]
//!     name = "db"
//!     mode = "server"
//!     accept = "127.0.0.1:5433"
//!     connect = "127.0.0.1:5432"
//!     psk_secrets = "/etc/milagro/psk.txt"
//!     "#,
//!     "tunnel.toml",
//! )?;
//! assert_eq!(config.services[0].role(), Role::Server);
//!
//! let typo = Config::from_toml_str("[[service]]\nname = \"db\"\nconect = \"x:1\"\n", "tunnel.toml");
//! assert!(typo.unwrap_err().to_string().starts_with(
//!     "tunnel.toml line 3: service \"db\": unknown field `conect`"
//! ));
//! # Ok::<(), milagro_tunnel::config::ConfigError>(())
//! ```
//!
//! Operations: per-connection `tracing` spans (id, service, peer) and the
//! authenticated identity; `/healthz` and Prometheus `/metrics`
//! ([`metrics`]); SIGHUP reload and SIGTERM drain ([`run`]); connection
//! limits, handshake and idle timeouts; before authentication, a per-source
//! handshake rate limit and handshake slots (global and per source), both on
//! by default.
#![forbid(unsafe_code)]

pub mod addr;
pub mod auth;
pub mod bufpool;
pub mod cli;
pub mod config;
pub mod copy;
#[cfg(feature = "demo")]
pub mod demo;
pub mod device_auth;
pub mod fleet;
pub mod lockout;
pub mod logging;
pub mod metrics;
pub mod mpin_auth;
pub mod plain;
pub mod provision;
pub mod ratelimit;
pub mod refusals;
pub mod run;
pub mod service;
pub mod slots;
pub mod status;
