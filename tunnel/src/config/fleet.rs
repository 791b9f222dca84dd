//! The fleet settings, global to a process (TOML `state`, `state_password_file`,
//! `ticket_key_file`; flags `--state`, `--state-password-file`, `--ticket-key-file` of
//! `server`): where lockouts, the one-pass replay cache, used tickets and revocations live, and
//! the key tickets are sealed under. The store itself is opened by [`crate::fleet`].

use std::path::PathBuf;

use super::origin::{ConfigError, Ctx};

/// `state` when none is written: this process only.
pub const DEFAULT_STATE: &str = "memory";

/// Validated fleet settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FleetSpec {
    /// `memory` or a `redis://` / `rediss://` URL (shown only redacted).
    pub state: String,
    /// File holding the Redis password (else `MILAGRO_STATE_PASSWORD`, else the URL's).
    pub password_file: Option<PathBuf>,
    /// `ticket_key_file` (mode 0600): the ticket keys every replica shares. Else, on Redis, the
    /// fleet's keys kept in Redis; with `memory`, a random key of this process (its tickets do
    /// not survive a restart).
    pub ticket_key_file: Option<PathBuf>,
}

impl Default for FleetSpec {
    fn default() -> Self {
        Self {
            state: DEFAULT_STATE.to_owned(),
            password_file: None,
            ticket_key_file: None,
        }
    }
}

impl FleetSpec {
    /// True when the state is shared through Redis.
    pub fn is_shared(&self) -> bool {
        self.state != DEFAULT_STATE
    }
}

/// True when the URL carries a password (`scheme://[user]:PASSWORD@host…`).
pub fn url_has_password(url: &str) -> bool {
    url.split_once("://")
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|authority| authority.rsplit_once('@'))
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

/// The error for a password written in a state URL.
pub const PASSWORD_IN_URL: &str = "the URL holds a password: put it in state_password_file (mode 0600) or MILAGRO_STATE_PASSWORD instead, so it appears in no command line, process list or config";

/// Validates the fleet settings as written (`None`: not written).
pub(super) fn spec(
    ctx: &Ctx<'_>,
    state: Option<&str>,
    password_file: Option<PathBuf>,
    ticket_key_file: Option<PathBuf>,
) -> Result<FleetSpec, ConfigError> {
    let state = state.unwrap_or(DEFAULT_STATE);
    let shared = state.starts_with("redis://") || state.starts_with("rediss://");
    if state != DEFAULT_STATE && !shared {
        return Err(ctx.err(
            "state",
            "expected \"memory\", \"redis://HOST:PORT/DB\" or \"rediss://HOST:PORT/DB\"",
        ));
    }
    if shared && url_has_password(state) {
        return Err(ctx.err("state", PASSWORD_IN_URL));
    }
    if !shared && password_file.is_some() {
        return Err(ctx.err(
            "state_password_file",
            "only applies with a redis:// or rediss:// state",
        ));
    }
    Ok(FleetSpec {
        state: state.to_owned(),
        password_file,
        ticket_key_file,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{Config, RawService, Role};

    const SERVICE: &str = "[[service]]\nmode = \"server\"\naccept = \"127.0.0.1:1\"\nconnect = \"127.0.0.1:2\"\nserver_secret = \"/s\"\n";

    fn parse(globals: &str) -> Result<Config, String> {
        Config::from_toml_str(&format!("{globals}{SERVICE}"), "t.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn state_defaults_to_memory_and_takes_redis_urls() {
        let c = parse("").unwrap();
        assert_eq!(c.fleet.state, "memory");
        assert!(!c.fleet.is_shared());
        let c = parse("state = \"rediss://r.example:6380/2\"\nstate_password_file = \"/p\"\nticket_key_file = \"/k\"\n").unwrap();
        assert!(c.fleet.is_shared());
        assert_eq!(
            c.fleet.password_file.as_deref(),
            Some(std::path::Path::new("/p"))
        );
        assert_eq!(
            c.fleet.ticket_key_file.as_deref(),
            Some(std::path::Path::new("/k"))
        );
    }

    #[test]
    fn bad_state_settings_name_the_line_and_field_without_the_value() {
        let e = parse("\nstate = \"mysql://root:hunter2@db/0\"\n").unwrap_err();
        assert!(
            e.starts_with("t.toml line 2: state: expected \"memory\""),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
        let e = parse("state_password_file = \"/p\"\n").unwrap_err();
        assert!(
            e.contains("state_password_file: only applies with a redis://"),
            "{e}"
        );
        assert!(parse("stat = \"memory\"\n").is_err());
        let e = parse("state = \"redis://:hunter2@r.example:6379/0\"\n").unwrap_err();
        assert!(
            e.contains("holds a password: put it in state_password_file"),
            "{e}"
        );
        assert!(!e.contains("hunter2"), "{e}");
        assert!(super::url_has_password("rediss://user:pw@h:1/0"));
        assert!(!super::url_has_password("redis://h:1/0"));
        assert!(!super::url_has_password("redis://user@h:1/0"));
    }

    #[test]
    fn state_flags_only_apply_to_an_m_pin_server() {
        let client = RawService {
            mode: Some(Role::Client),
            accept: Some("127.0.0.1:1".into()),
            connect: Some("127.0.0.1:2".into()),
            credential: Some("/c".into()),
            ..RawService::default()
        };
        let e = Config::from_flags(client, None, None)
            .unwrap()
            .with_fleet_flags(Some("redis://127.0.0.1/0"), None, None)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("command line: --state: only applies to an M-Pin server"),
            "{e}"
        );
        let server = RawService {
            mode: Some(Role::Server),
            accept: Some("127.0.0.1:1".into()),
            connect: Some("127.0.0.1:2".into()),
            server_secret: Some("/s".into()),
            ..RawService::default()
        };
        let c = Config::from_flags(server, None, None)
            .unwrap()
            .with_fleet_flags(Some("redis://127.0.0.1/0"), None, Some("/k".into()))
            .unwrap();
        assert!(c.fleet.is_shared());
    }
}
