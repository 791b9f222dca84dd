//! A line server over the M-Pin channel, for `mpin_client`: answers each line with the
//! server's view of the client (`IDENTITY (M-Pin MODE, permit day D) said: LINE`).
//!
//! `mpin_echo_server --listen 127.0.0.1:PORT --server-secret FILE [--require-permits]`
//!
//! Prints `listening on ADDR` on stdout, one line per connection on stderr.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;
use milagro_tls::mpin::Peer;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// Line server over M-Pin.
#[derive(Parser)]
struct Args {
    #[command(flatten)]
    server: examples::cli::MpinServerArgs,
}

/// Longest line answered; a longer one ends the connection.
const MAX_LINE: u64 = 4096;

#[tokio::main]
async fn main() -> ExitCode {
    examples::cli::exit_code("mpin_echo_server", run(Args::parse()).await)
}

/// How this server sees the peer.
fn describe(peer: &Peer) -> String {
    let id = String::from_utf8_lossy(peer.identity());
    match peer {
        Peer::Mpin {
            mode, day, resumed, ..
        } => format!("{id} (M-Pin {mode:?}, permit day {day}, resumed {resumed})"),
        Peer::Psk { .. } => format!("{id} (static PSK)"),
        Peer::P2p { day, .. } => format!("{id} (P2P device, permit day {day})"),
    }
}

async fn run(args: Args) -> Result<(), String> {
    // M-Pin first: nothing in the handler runs for a client that does not authenticate.
    args.server
        .serve(|tls, peer, source| async move {
            let who = describe(&peer);
            eprintln!("{source}: connected {who}");
            let (r, mut w) = tokio::io::split(tls);
            let mut r = BufReader::new(r);
            loop {
                let mut line = String::new();
                match (&mut r).take(MAX_LINE).read_line(&mut line).await {
                    Ok(0) => break,
                    Ok(_) if line.ends_with('\n') => {
                        let answer = format!("{who} said: {line}");
                        if w.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {
                        eprintln!("{source}: line too long or unterminated; closing");
                        break;
                    }
                    Err(e) => {
                        eprintln!("{source}: {e}");
                        return;
                    }
                }
            }
            let _ = w.shutdown().await;
        })
        .await
}
