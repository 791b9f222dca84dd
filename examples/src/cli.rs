//! What the example programs share around their protocol code: the command-line options
//! they have in common, the exit-code wrapper around `run`, and the accept loop.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use milagro_tls::{CipherSuite, NamedGroup};
use tokio::net::TcpStream;

/// The options of the M-Pin servers (`mpin_echo_server`, `mpin_http_server`).
#[derive(clap::Args)]
pub struct MpinServerArgs {
    /// Address to listen on, e.g. 127.0.0.1:8443.
    #[arg(long)]
    pub listen: String,
    /// The server-secret file written by `milagro-tunnel server-secret` (mode 0600).
    #[arg(long)]
    pub server_secret: PathBuf,
    /// Refuse clients without a time permit for today.
    #[arg(long)]
    pub require_permits: bool,
}

/// The TLS options of the PSK examples (`psk_server`, `psk_client`).
#[derive(clap::Args)]
pub struct PskArgs {
    /// stunnel-format PSKsecrets file (IDENTITY:KEY lines).
    #[arg(long)]
    pub psk_secrets: PathBuf,
    /// Cipher suite(s) by IANA name; repeat or comma-separate.
    #[arg(long)]
    pub suite: Vec<String>,
    /// Group(s) by IANA name; repeat or comma-separate. A client sends a key share
    /// for the first (plus X25519 after X25519MLKEM768).
    #[arg(long)]
    pub group: Vec<String>,
    /// Handshake timeout in seconds.
    #[arg(long, default_value_t = 10)]
    pub handshake_timeout: u64,
}

impl PskArgs {
    /// The `--suite` values parsed (every suite when none is given).
    pub fn suites(&self) -> Result<Vec<CipherSuite>, String> {
        crate::parse_suites(&self.suite).map_err(|e| e.to_string())
    }

    /// The `--group` values parsed (the defaults when none is given).
    pub fn groups(&self) -> Result<Vec<NamedGroup>, String> {
        crate::parse_groups(&self.group).map_err(|e| e.to_string())
    }

    /// The handshake timeout.
    pub fn handshake_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.handshake_timeout)
    }
}

/// The exit code for what `run` returned: success, or `program: reason` on stderr and failure.
pub fn exit_code(program: &str, result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{program}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Listens on `listen`, prints `listening on ADDR` on stdout, and hands each accepted
/// connection with its source address to `handle` on a task of its own. A failed accept is
/// reported on stderr and the loop goes on; only a failed bind ends it.
pub async fn serve<F, Fut>(listen: &str, handle: F) -> Result<(), String>
where
    F: Fn(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on {addr}");
    loop {
        match listener.accept().await {
            Ok((sock, source)) => {
                tokio::spawn(handle(sock, source));
            }
            Err(e) => eprintln!("accept failed: {e}"),
        }
    }
}

impl MpinServerArgs {
    /// Serves M-Pin on `--listen` (see [`serve`]): each connection must pass the M-Pin
    /// handshake first (a refusal is one line on stderr); `handle` then gets the channel,
    /// the authenticated peer and the source address.
    pub async fn serve<F, Fut>(&self, handle: F) -> Result<(), String>
    where
        F: Fn(milagro_tls::TlsStream<TcpStream>, milagro_tls::mpin::Peer, SocketAddr) -> Fut
            + Send
            + Sync
            + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let acceptor = crate::mpin_acceptor(&self.server_secret, self.require_permits)?;
        let handle = std::sync::Arc::new(handle);
        serve(&self.listen, move |sock, source| {
            let acceptor = acceptor.clone();
            let handle = handle.clone();
            async move {
                match acceptor.accept(sock).await {
                    Ok((tls, peer)) => handle(tls, peer, source).await,
                    Err(e) => eprintln!("{source}: refused: {e}"),
                }
            }
        })
        .await
    }
}
