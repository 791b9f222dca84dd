//! `milagro-tunnel`: certificate-less TLS tunnels (see the library docs).
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use dta_client::client::DtaEndpoint;
use milagro_tunnel::cli::{Cli, Command};
use milagro_tunnel::config::{Config, Role};
#[cfg(feature = "demo")]
use milagro_tunnel::demo;
use milagro_tunnel::fleet::admin::{self, Action};
use milagro_tunnel::run::{prepare, run, Loader};
use milagro_tunnel::{logging, provision};

/// jemalloc as the process's allocator: unlike glibc's, it gives the memory freed after a burst of
/// connections back to the system on its own (dirty pages decay over `dirty_decay_ms`, 10 s by
/// default, purged by a background thread even while the process is idle).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Exit status for usage and configuration errors.
const USAGE: u8 = 2;
/// Exit status for runtime failures.
const RUNTIME: u8 = 1;

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("milagro-tunnel: {msg}");
    ExitCode::from(code)
}

/// Runs `demo`, `enroll`, `server-secret`, `permit`, `revoke` or `unlock` to completion.
fn one_shot(command: Command, log_level: &str) -> ExitCode {
    if let Err(e) = logging::init(Default::default(), log_level) {
        return fail(USAGE, e);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(RUNTIME, format!("cannot start the runtime: {e}")),
    };
    let dtas = |list: &[String]| -> Result<Vec<DtaEndpoint>, String> {
        list.iter()
            .map(|s| {
                s.parse::<DtaEndpoint>()
                    .map_err(|e| format!("--dta {s}: {e}"))
            })
            .collect()
    };
    let is_revoke = matches!(command, Command::Revoke(_));
    let result: Result<(), String> = rt.block_on(async {
        match command {
            #[cfg(feature = "demo")]
            Command::Demo => {
                let report = demo::run().await.map_err(|e| e.to_string())?;
                print!("{report}");
                Ok(())
            }
            Command::Enroll(a) if a.device => {
                provision::enroll_device(&a.identity, &dtas(&a.dtas)?, &a.grant, &a.out, a.days)
                    .await
                    .map_err(|e| e.to_string())
            }
            Command::Enroll(a) => provision::enroll(
                &a.identity,
                &dtas(&a.dtas)?,
                &a.grant,
                &a.out,
                a.pin_file.as_deref(),
                a.days,
            )
            .await
            .map_err(|e| e.to_string()),
            Command::ServerSecret(a) => provision::server_secret(&dtas(&a.dtas)?, &a.grant, &a.out)
                .await
                .map_err(|e| e.to_string()),
            Command::Permit(a) => provision::permit(&a.credential, a.days)
                .await
                .map_err(|e| e.to_string()),
            Command::Revoke(a) | Command::Unlock(a) => {
                let action = if is_revoke {
                    Action::Revoke
                } else {
                    Action::Unlock
                };
                // the store's calls block (bounded): off the async threads
                let line = tokio::task::spawn_blocking(move || {
                    admin::apply(
                        action,
                        &a.state,
                        a.state_password_file.as_deref(),
                        &a.identity,
                    )
                })
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
                println!("{line}");
                Ok(())
            }
            Command::Run(_) | Command::Client(_) | Command::Server(_) => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(RUNTIME, e),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let loader: Loader = match cli.command {
        Command::Run(args) => {
            let path = args.config.clone();
            let loader: Loader = Box::new(move || Config::load(&path));
            if args.check {
                return match prepare(&loader) {
                    Ok(p) => {
                        println!(
                            "{}: ok ({} services)",
                            args.config.display(),
                            p.runtimes.len()
                        );
                        ExitCode::SUCCESS
                    }
                    Err(e) => fail(USAGE, e),
                };
            }
            loader
        }
        Command::Client(args) => {
            let args = Arc::new(args);
            Box::new(move || args.to_config(Role::Client))
        }
        Command::Server(args) => {
            let args = Arc::new(args);
            Box::new(move || args.to_config(Role::Server))
        }
        other => return one_shot(other, &cli.log_level),
    };
    let prepared = match prepare(&loader) {
        Ok(p) => p,
        Err(e) => return fail(USAGE, e),
    };
    let format = cli
        .log_format
        .or(prepared.config.log_format)
        .unwrap_or_default();
    if let Err(e) = logging::init(format, &cli.log_level) {
        return fail(USAGE, e);
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(RUNTIME, format!("cannot start the runtime: {e}")),
    };
    let result = rt.block_on(run(prepared, loader));
    // live connections past the drain deadline are dropped here
    rt.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(RUNTIME, e),
    }
}
