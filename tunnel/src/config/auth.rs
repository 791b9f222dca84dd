//! A service's authentication, and with it its role: [`AuthSpec`] can only hold the
//! combinations that make sense (a client offers a static PSK or an M-Pin credential; a server
//! accepts static PSKs, or M-Pin with optional static PSKs on the same port; a device client
//! dials one `peer` with its `device_credential`, a device server accepts devices and, when
//! `server_secret` / `psk_secrets` are set too, M-Pin clients / static-PSK peers), and every
//! "only applies to…" rule about the raw fields is stated once, here.

use std::path::PathBuf;

use serde::Deserialize;

use super::origin::{ConfigError, Ctx};
use super::raw::RawService;
use crate::lockout::LockoutSpec;

/// Which end of the tunnel a service is: derived from its [`AuthSpec`] (written `mode` in
/// the file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Accept plaintext, connect with TLS.
    Client,
    /// Accept TLS, connect plaintext.
    Server,
}

impl Role {
    /// `client` or `server`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Server => "server",
        }
    }
}

/// Validated authentication settings of a service, by role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthSpec {
    /// Accept plaintext, connect with TLS, authenticated as `ClientAuth` says.
    Client(ClientAuth),
    /// Accept TLS authenticated as `ServerAuth` says, connect plaintext.
    Server(ServerAuth),
}

/// How a client service authenticates to its server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// A static external PSK from a stunnel `PSKsecrets` file.
    Psk {
        /// The PSKsecrets file.
        secrets: PathBuf,
        /// The identity to offer (default: the file's first line).
        identity: Option<String>,
    },
    /// An M-Pin credential.
    Mpin {
        /// Credential file.
        credential: PathBuf,
        /// File holding the PIN (default: `MILAGRO_PIN` or a prompt).
        pin_file: Option<PathBuf>,
        /// One-pass instead of multi-pass.
        one_pass: bool,
        /// Resume with session tickets.
        resume: bool,
    },
    /// A device link (P2P, WCC identity keys): dial the device `peer` and no other.
    Device {
        /// Device credential file (its sender key, G1).
        credential: PathBuf,
        /// The one device identity this service reaches.
        peer: String,
    },
}

/// How a server service authenticates its clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerAuth {
    /// Every identity of a stunnel `PSKsecrets` file.
    Psk {
        /// The PSKsecrets file.
        secrets: PathBuf,
    },
    /// M-Pin clients; also static-PSK peers on the same port when `psk_secrets` is set.
    Mpin {
        /// Server secret file.
        server_secret: PathBuf,
        /// Demand time permits.
        require_permits: bool,
        /// Identity globs allowed in (empty: everyone with a valid credential).
        allow: Vec<String>,
        /// Optional static PSKs accepted on the same port.
        psk_secrets: Option<PathBuf>,
        /// Lockout after wrong PINs.
        lockout: LockoutSpec,
    },
    /// Device links (P2P initiators) on one listener, with M-Pin clients and/or static-PSK
    /// peers there too when `also` says so.
    Device {
        /// Device credential file (its receiver key, G2).
        credential: PathBuf,
        /// Device identity globs allowed to link (empty: every device with a valid key).
        allow: Vec<String>,
        /// The M-Pin or static-PSK settings served on the same listener.
        also: Option<Box<ServerAuth>>,
    },
}

impl ServerAuth {
    /// True when M-Pin clients are served (alone or beside devices): what the fleet
    /// settings (`state`, `ticket_key_file`) apply to.
    pub fn serves_mpin(&self) -> bool {
        match self {
            Self::Mpin { .. } => true,
            Self::Device { also, .. } => also.as_deref().is_some_and(Self::serves_mpin),
            Self::Psk { .. } => false,
        }
    }
}

impl AuthSpec {
    /// The service's role.
    pub fn role(&self) -> Role {
        match self {
            Self::Client(_) => Role::Client,
            Self::Server(_) => Role::Server,
        }
    }

    /// The field naming the file the settings come from (errors found when it is read are
    /// reported there).
    pub fn origin_field(&self) -> &'static str {
        match self {
            Self::Client(ClientAuth::Psk { .. }) | Self::Server(ServerAuth::Psk { .. }) => {
                "psk_secrets"
            }
            Self::Client(ClientAuth::Mpin { .. }) => "credential",
            Self::Server(ServerAuth::Mpin { .. }) => "server_secret",
            Self::Client(ClientAuth::Device { .. }) | Self::Server(ServerAuth::Device { .. }) => {
                "device_credential"
            }
        }
    }
}

/// The raw fields only an M-Pin client reads besides `credential`, in check order.
fn mpin_client_fields(raw: &RawService) -> [(&'static str, bool); 3] {
    [
        ("pin_file", raw.pin_file.is_some()),
        ("one_pass", raw.one_pass.is_some()),
        ("resume", raw.resume.is_some()),
    ]
}

/// The raw fields only an M-Pin server reads besides `server_secret`, in check order.
fn mpin_server_fields(raw: &RawService) -> [(&'static str, bool); 6] {
    let [a, b, c, d] = super::lockout::fields(raw);
    [
        ("require_permits", raw.require_permits.is_some()),
        ("allow", raw.allow.is_some()),
        a,
        b,
        c,
        d,
    ]
}

/// Validates the authentication settings of a service in `role`.
pub(super) fn spec(ctx: &Ctx<'_>, raw: &RawService, role: Role) -> Result<AuthSpec, ConfigError> {
    match role {
        Role::Client => client(ctx, raw).map(AuthSpec::Client),
        Role::Server => server(ctx, raw).map(AuthSpec::Server),
    }
}

fn client(ctx: &Ctx<'_>, raw: &RawService) -> Result<ClientAuth, ConfigError> {
    const SERVER_ONLY: &str = "only applies to server mode";
    ctx.refuse(
        &[("server_secret", raw.server_secret.is_some())],
        SERVER_ONLY,
    )?;
    ctx.refuse(&mpin_server_fields(raw), SERVER_ONLY)?;
    if let Some(device) = &raw.device_credential {
        return device_client(ctx, raw, device);
    }
    ctx.refuse(
        &[("peer", raw.peer.is_some())],
        "only applies with device_credential (device link)",
    )?;
    match (&raw.psk_secrets, &raw.credential) {
        (Some(_), Some(_)) => Err(ctx.err(
            "credential",
            "give either psk_secrets or credential, not both",
        )),
        (None, None) => Err(ctx.err(
            "psk_secrets",
            "missing: client mode needs psk_secrets (static PSK) or credential (M-Pin)",
        )),
        (Some(secrets), None) => {
            ctx.refuse(
                &mpin_client_fields(raw),
                "only applies with credential (M-Pin)",
            )?;
            Ok(ClientAuth::Psk {
                secrets: secrets.clone(),
                identity: raw.psk_identity.clone(),
            })
        }
        (None, Some(credential)) => {
            ctx.refuse(
                &[("psk_identity", raw.psk_identity.is_some())],
                "only applies with psk_secrets",
            )?;
            Ok(ClientAuth::Mpin {
                credential: credential.clone(),
                pin_file: raw.pin_file.clone(),
                one_pass: raw.one_pass.unwrap_or(false),
                resume: raw.resume.unwrap_or(true),
            })
        }
    }
}

/// A device-link client: `device_credential` and `peer`, nothing of PSK or M-Pin.
fn device_client(
    ctx: &Ctx<'_>,
    raw: &RawService,
    credential: &std::path::Path,
) -> Result<ClientAuth, ConfigError> {
    const NOT_WITH: &str = "does not apply with device_credential (a device link)";
    ctx.refuse(
        &[
            ("psk_secrets", raw.psk_secrets.is_some()),
            ("psk_identity", raw.psk_identity.is_some()),
            ("credential", raw.credential.is_some()),
        ],
        NOT_WITH,
    )?;
    ctx.refuse(&mpin_client_fields(raw), NOT_WITH)?;
    let peer = raw.peer.clone().ok_or_else(|| {
        ctx.err(
            "peer",
            "missing: a device link client names the one device identity it dials",
        )
    })?;
    Ok(ClientAuth::Device {
        credential: credential.to_path_buf(),
        peer,
    })
}

fn server(ctx: &Ctx<'_>, raw: &RawService) -> Result<ServerAuth, ConfigError> {
    ctx.refuse(
        &[("peer", raw.peer.is_some())],
        "only applies to client mode (a device server accepts the devices --allow lets in)",
    )?;
    let Some(credential) = &raw.device_credential else {
        return mpin_or_psk_server(ctx, raw);
    };
    let allow = globs(ctx, raw)?;
    // M-Pin or static PSKs on the same listener, when configured too.
    let also = if raw.server_secret.is_some() || raw.psk_secrets.is_some() {
        Some(Box::new(mpin_or_psk_server(ctx, raw)?))
    } else {
        ctx.refuse(
            &mpin_server_fields(raw)[2..],
            "only applies with server_secret (M-Pin)",
        )?;
        ctx.refuse(
            &[("require_permits", raw.require_permits.is_some())],
            "only applies with server_secret (M-Pin; device permits are always required)",
        )?;
        None
    };
    Ok(ServerAuth::Device {
        credential: credential.clone(),
        allow,
        also,
    })
}

/// `allow`, each pattern checked.
fn globs(ctx: &Ctx<'_>, raw: &RawService) -> Result<Vec<String>, ConfigError> {
    let allow = raw.allow.clone().unwrap_or_default();
    for g in &allow {
        if let Err(e) = globset::Glob::new(g) {
            return Err(ctx.err("allow", format!("bad pattern {g:?}: {e}")));
        }
    }
    Ok(allow)
}

fn mpin_or_psk_server(ctx: &Ctx<'_>, raw: &RawService) -> Result<ServerAuth, ConfigError> {
    const CLIENT_ONLY: &str = "only applies to client mode";
    ctx.refuse(&[("credential", raw.credential.is_some())], CLIENT_ONLY)?;
    ctx.refuse(&mpin_client_fields(raw), CLIENT_ONLY)?;
    ctx.refuse(
        &[("psk_identity", raw.psk_identity.is_some())],
        "only applies to client mode (a server accepts every identity of its psk_secrets file)",
    )?;
    let Some(server_secret) = &raw.server_secret else {
        let fields = mpin_server_fields(raw);
        // with device_credential, `allow` is the devices' allow-list
        let fields = if raw.device_credential.is_some() {
            &fields[2..]
        } else {
            &fields[..]
        };
        ctx.refuse(fields, "only applies with server_secret (M-Pin)")?;
        let secrets = raw.psk_secrets.clone().ok_or_else(|| {
            ctx.err(
                "psk_secrets",
                "missing: server mode needs psk_secrets (static PSK) or server_secret (M-Pin)",
            )
        })?;
        return Ok(ServerAuth::Psk { secrets });
    };
    let allow = globs(ctx, raw)?;
    Ok(ServerAuth::Mpin {
        server_secret: server_secret.clone(),
        require_permits: raw.require_permits.unwrap_or(false),
        allow,
        psk_secrets: raw.psk_secrets.clone(),
        lockout: super::lockout::spec(ctx, raw)?,
    })
}
