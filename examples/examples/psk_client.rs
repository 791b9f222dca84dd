//! TLS 1.3 PSK client: stdin → connection, connection → stdout.
//!
//! `psk_client --connect 127.0.0.1:PORT --psk-secrets FILE [--psk-identity ID] [--suite NAME] [--group NAME]`
//!
//! Exits 0 after the peer's close_notify; otherwise prints a one-line reason
//! on stderr and exits 1.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use milagro_tls::{ClientConfig, Connector};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// TLS 1.3 external-PSK client.
#[derive(Parser)]
struct Args {
    /// Server address, e.g. 127.0.0.1:4433.
    #[arg(long)]
    connect: String,
    /// Identity to use (default: the first in the file).
    #[arg(long)]
    psk_identity: Option<String>,
    #[command(flatten)]
    psk: examples::cli::PskArgs,
}

#[tokio::main]
async fn main() -> ExitCode {
    examples::cli::exit_code("psk_client", run(Args::parse()).await)
}

async fn run(args: Args) -> Result<(), String> {
    let suites = args.psk.suites()?;
    let groups = args.psk.groups()?;
    let psks =
        milagro_tls::psk_file::load_psk_secrets(&args.psk.psk_secrets, examples::psk_hash(&suites))
            .map_err(|e| e.to_string())?;
    let psk = match &args.psk_identity {
        Some(id) => psks
            .into_iter()
            .find(|p| p.identity() == id.as_bytes())
            .ok_or_else(|| {
                format!(
                    "identity {id:?} not found in {}",
                    args.psk.psk_secrets.display()
                )
            })?,
        None => psks
            .into_iter()
            .next()
            .ok_or("no PSK in the secrets file")?,
    };
    let mut config = ClientConfig::new(psk);
    config.options.cipher_suites = suites;
    config.options.groups = groups;
    let connector =
        Connector::new(Arc::new(config)).with_handshake_timeout(args.psk.handshake_timeout());
    let sock = tokio::net::TcpStream::connect(&args.connect)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", args.connect))?;
    let _ = sock.set_nodelay(true);
    let tls = connector
        .connect(sock)
        .await
        .map_err(|e| format!("handshake with {} failed: {e}", args.connect))?;
    if let Some(n) = tls.negotiated() {
        eprintln!(
            "connected suite={} group={} hrr={}",
            n.suite, n.group, n.hello_retry
        );
    }
    let (mut r, mut w) = tls.split();
    let upload = tokio::spawn(async move {
        let mut stdin = tokio::io::stdin();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = stdin
                .read(&mut buf)
                .await
                .map_err(|e| format!("stdin: {e}"))?;
            if n == 0 {
                break;
            }
            w.write_all(&buf[..n])
                .await
                .map_err(|e| format!("send failed: {e}"))?;
        }
        w.shutdown()
            .await
            .map_err(|e| format!("close failed: {e}"))?;
        Ok::<(), String>(())
    });
    let mut stdout = tokio::io::stdout();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r
            .read(&mut buf)
            .await
            .map_err(|e| format!("connection failed: {e}"))?;
        if n == 0 {
            break;
        }
        stdout
            .write_all(&buf[..n])
            .await
            .map_err(|e| format!("stdout: {e}"))?;
    }
    stdout.flush().await.map_err(|e| format!("stdout: {e}"))?;
    // the peer closed cleanly; stop reading stdin
    if upload.is_finished() {
        upload.await.map_err(|e| e.to_string())??;
    } else {
        upload.abort();
    }
    Ok(())
}
