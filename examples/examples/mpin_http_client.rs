//! An HTTP/1.1 client (hyper) over the M-Pin channel: one `GET`, the body on stdout.
//!
//! `mpin_http_client --connect 127.0.0.1:PORT --credential FILE --pin-file FILE [--path /]`
//!
//! Exits 0 on a 2xx answer; otherwise prints a one-line reason on stderr (the status, or
//! why the M-Pin handshake failed, e.g. the server refused a wrong PIN) and exits 1.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::Request;
use hyper_util::rt::TokioIo;

/// HTTP client over M-Pin.
#[derive(Parser)]
struct Args {
    /// Server address, e.g. 127.0.0.1:8443.
    #[arg(long)]
    connect: String,
    /// The credential file written by `milagro-tunnel enroll` (mode 0600).
    #[arg(long)]
    credential: PathBuf,
    /// File holding the PIN (mode 0600).
    #[arg(long)]
    pin_file: PathBuf,
    /// The path to request.
    #[arg(long, default_value = "/")]
    path: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    examples::cli::exit_code("mpin_http_client", run(Args::parse()).await)
}

async fn run(args: Args) -> Result<(), String> {
    let connector = examples::mpin_connector(&args.credential, &args.pin_file)?;
    let sock = tokio::net::TcpStream::connect(&args.connect)
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", args.connect))?;
    let tls = connector
        .connect(sock)
        .await
        .map_err(|e| format!("M-Pin handshake with {} failed: {e}", args.connect))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| format!("HTTP: {e}"))?;
    let driver = tokio::spawn(conn);
    let req = Request::get(args.path.as_str())
        .header(hyper::header::HOST, args.connect.as_str())
        .body(Empty::<Bytes>::new())
        .map_err(|e| format!("bad request: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("HTTP request failed: {e}"))?;
    let status = resp.status();
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading the answer failed: {e}"))?
        .to_bytes();
    // No more requests: hyper ends the connection (TLS close_notify) and the driver returns.
    drop(sender);
    let _ = driver.await;
    if !status.is_success() {
        return Err(format!(
            "the server answered {status}: {}",
            String::from_utf8_lossy(&body).trim()
        ));
    }
    print!("{}", String::from_utf8_lossy(&body));
    Ok(())
}
