//! `milagro-tunnel`: certificate-less TLS tunnels (not implemented yet; see issue 4).
#![forbid(unsafe_code)]

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("milagro-tunnel: not implemented yet (tunnels arrive with the M-Pin channel)");
    ExitCode::from(2)
}
