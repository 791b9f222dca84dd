//! `milagro-tunnel`: certificate-less TLS tunnels (see the library docs).
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use milagro_tunnel::cli::{Cli, Command};
use milagro_tunnel::config::{Config, Mode};
use milagro_tunnel::logging;
use milagro_tunnel::run::{prepare, run, Loader};

/// Exit status for usage and configuration errors.
const USAGE: u8 = 2;
/// Exit status for runtime failures.
const RUNTIME: u8 = 1;

fn fail(code: u8, msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("milagro-tunnel: {msg}");
    ExitCode::from(code)
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
            Box::new(move || args.to_config(Mode::Client))
        }
        Command::Server(args) => {
            let args = Arc::new(args);
            Box::new(move || args.to_config(Mode::Server))
        }
        Command::Demo(_) | Command::Enroll(_) | Command::ServerSecret(_) | Command::Permit(_) => {
            return fail(
                USAGE,
                "this subcommand is not available yet in this build (it arrives with the M-Pin channel and dta-lite)",
            );
        }
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
