//! An HTTP/1.1 service (hyper) over the M-Pin channel: every request handler sees the
//! M-Pin identity the connection authenticated, as a request extension.
//!
//! `mpin_http_server --listen 127.0.0.1:PORT --server-secret FILE [--require-permits]`
//!
//! Prints `listening on ADDR` on stdout, then on stderr one line per refused connection and
//! one per handled request (`ADDR: handled GET / for IDENTITY`). `GET` any path answers
//! `hello, IDENTITY`. A client that fails M-Pin never reaches HTTP: the handshake is refused
//! before a single request byte is read.
#![forbid(unsafe_code)]

use std::convert::Infallible;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use milagro_tls::mpin::Peer;

/// HTTP service over M-Pin.
#[derive(Parser)]
struct Args {
    /// Address to listen on, e.g. 127.0.0.1:8443.
    #[arg(long)]
    listen: String,
    /// The server-secret file written by `milagro-tunnel server-secret` (mode 0600).
    #[arg(long)]
    server_secret: PathBuf,
    /// Refuse clients without a time permit for today.
    #[arg(long)]
    require_permits: bool,
}

/// What the handler knows of the client: the peer the M-Pin handshake authenticated.
#[derive(Clone)]
struct Authenticated(Peer);

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mpin_http_server: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let acceptor = examples::mpin_acceptor(&args.server_secret, args.require_permits)?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on {addr}");
    loop {
        let (sock, source) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                eprintln!("accept failed: {e}");
                continue;
            }
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            // M-Pin first: nothing below runs for a client that does not authenticate.
            let (tls, peer) = match acceptor.accept(sock).await {
                Ok(x) => x,
                Err(e) => {
                    eprintln!("{source}: refused: {e}");
                    return;
                }
            };
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(Authenticated(peer.clone()));
                handle(source, req)
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(TokioIo::new(tls), service)
                .await;
            if let Err(e) = served {
                eprintln!("{source}: HTTP error: {e}");
            }
        });
    }
}

/// The application: greets the authenticated identity.
async fn handle(
    source: std::net::SocketAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some(Authenticated(peer)) = req.extensions().get::<Authenticated>() else {
        // Unreachable with the service above; answer rather than panic.
        return Ok(reply(StatusCode::FORBIDDEN, "not authenticated\n".into()));
    };
    let identity = String::from_utf8_lossy(peer.identity()).into_owned();
    eprintln!(
        "{source}: handled {} {} for {identity}",
        req.method(),
        req.uri().path()
    );
    if req.method() != hyper::Method::GET {
        return Ok(reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET is served\n".into(),
        ));
    }
    Ok(reply(StatusCode::OK, format!("hello, {identity}\n")))
}

fn reply(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r
}
