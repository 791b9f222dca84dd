//! TLS 1.3 PSK echo server.
//!
//! `psk_server --listen 127.0.0.1:PORT --psk-secrets FILE [--suite NAME] [--group NAME]`
//!
//! Prints `listening on ADDR` on stdout, then one line per connection on
//! stderr, and echoes every byte back until the peer closes.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use milagro_tls::{Acceptor, ServerConfig};
use tokio::io::{AsyncWriteExt, BufReader};

/// TLS 1.3 external-PSK echo server.
#[derive(Parser)]
struct Args {
    /// Address to listen on, e.g. 127.0.0.1:4433.
    #[arg(long)]
    listen: String,
    #[command(flatten)]
    psk: examples::cli::PskArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    examples::cli::exit_code("psk_server", run(Args::parse()).await)
}

async fn run(args: Args) -> Result<(), String> {
    let suites = args.psk.suites()?;
    let groups = args.psk.groups()?;
    let store =
        milagro_tls::psk_file::load_store(&args.psk.psk_secrets, examples::psk_hash(&suites))
            .map_err(|e| e.to_string())?;
    let mut config = ServerConfig::new(Arc::new(store));
    config.options.cipher_suites = suites;
    config.options.groups = groups;
    let acceptor =
        Acceptor::new(Arc::new(config)).with_handshake_timeout(args.psk.handshake_timeout());
    examples::cli::serve(&args.listen, move |sock, peer| {
        let acceptor = acceptor.clone();
        async move {
            let tls = match acceptor.accept(sock).await {
                Ok(t) => t,
                Err(e) => {
                    eprintln!("{peer}: handshake failed: {e}");
                    return;
                }
            };
            if let Some(n) = tls.negotiated() {
                eprintln!(
                    "{peer}: connected identity={} suite={} group={} hrr={}",
                    String::from_utf8_lossy(&n.psk_identity),
                    n.suite,
                    n.group,
                    n.hello_retry
                );
            }
            let (r, mut w) = tls.split();
            let mut r = BufReader::with_capacity(64 * 1024, r);
            match tokio::io::copy_buf(&mut r, &mut w).await {
                Ok(n) => {
                    let _ = w.shutdown().await;
                    eprintln!("{peer}: closed after echoing {n} bytes");
                }
                Err(e) => eprintln!("{peer}: connection error: {e}"),
            }
        }
    })
    .await
}
