//! The command line: `milagro_tunnel::cli::Cli::try_parse_from` and, for `client` /
//! `server`, `TunnelArgs::to_config`.
//!
//! The input is split on NUL bytes into arguments (lossily UTF-8 decoded) after the program
//! name. Parse errors (including `--help` / `--version`) must render; a one-service
//! configuration built from flags must hold exactly one service in the requested mode with
//! addresses that round-trip through `Display`.
#![no_main]

use clap::Parser;
use libfuzzer_sys::fuzz_target;
use milagro_tunnel::addr::Addr;
use milagro_tunnel::cli::{Cli, Command};
use milagro_tunnel::config::Role;

fn round_trips(a: &Addr) {
    assert_eq!(a.to_string().parse::<Addr>().ok().as_ref(), Some(a));
}

fuzz_target!(|data: &[u8]| {
    let args = std::iter::once("milagro-tunnel".to_owned()).chain(
        data.split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned()),
    );
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.render().to_string();
            return;
        }
    };
    let (args, role) = match &cli.command {
        Command::Client(a) => (a, Role::Client),
        Command::Server(a) => (a, Role::Server),
        _ => return,
    };
    match args.to_config(role) {
        Ok(c) => {
            assert_eq!(c.services.len(), 1);
            let s = &c.services[0];
            assert_eq!(s.role(), role);
            assert!(s.max_connections >= 1);
            round_trips(&s.accept);
            round_trips(&s.connect);
            if let Some(st) = &c.status {
                round_trips(st);
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("command line: --"), "{msg:?}");
        }
    }
});
