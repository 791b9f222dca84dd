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
    #[command(flatten)]
    server: examples::cli::MpinServerArgs,
}

/// What the handler knows of the client: the peer the M-Pin handshake authenticated.
#[derive(Clone)]
struct Authenticated(Peer);

#[tokio::main]
async fn main() -> ExitCode {
    examples::cli::exit_code("mpin_http_server", run(Args::parse()).await)
}

async fn run(args: Args) -> Result<(), String> {
    // M-Pin first: nothing in the handler runs for a client that does not authenticate.
    args.server
        .serve(|tls, peer, source| async move {
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
        })
        .await
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
