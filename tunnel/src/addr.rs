//! Endpoint addresses for `--accept` / `--connect`: `HOST:PORT` or
//! `unix:PATH`, and the listeners and streams they produce.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::pin::Pin;
use std::str::FromStr;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpSocket, TcpStream, UnixListener, UnixStream};

pub use crate::plain::PlainStream;

/// A bidirectional byte stream: TCP, Unix socket or TLS over either.
pub trait AsyncStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> AsyncStream for T {}

/// A boxed [`AsyncStream`].
pub type BoxStream = Pin<Box<dyn AsyncStream>>;

/// Where to listen or connect.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Addr {
    /// `HOST:PORT` (host name, IPv4 or `[IPv6]`).
    Tcp(String),
    /// `unix:PATH`.
    Unix(PathBuf),
}

/// A malformed address.
#[derive(Debug, thiserror::Error)]
#[error("invalid address {0:?}: expected HOST:PORT or unix:PATH")]
pub struct AddrError(pub String);

impl FromStr for Addr {
    type Err = AddrError;
    fn from_str(s: &str) -> Result<Self, AddrError> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(AddrError(s.into()));
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        let Some((host, port)) = s.rsplit_once(':') else {
            return Err(AddrError(s.into()));
        };
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Err(AddrError(s.into()));
        }
        if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
            return Err(AddrError(s.into()));
        }
        Ok(Self::Tcp(s.into()))
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp(s) => f.write_str(s),
            Self::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

impl Addr {
    /// True for Unix sockets, `localhost` and loopback IPs: addresses other
    /// machines cannot reach.
    pub fn is_local(&self) -> bool {
        match self {
            Self::Unix(_) => true,
            Self::Tcp(s) => {
                let host = s.rsplit_once(':').map_or(s.as_str(), |(h, _)| h);
                let host = host.trim_start_matches('[').trim_end_matches(']');
                host.eq_ignore_ascii_case("localhost")
                    || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
            }
        }
    }

    /// Binds a listener.
    pub async fn bind(&self) -> io::Result<Listener> {
        match self {
            Self::Tcp(s) => Ok(Listener::Tcp(bind_tcp(s).await?)),
            Self::Unix(p) => {
                // a stale socket file from an earlier run would make bind fail
                if std::fs::symlink_metadata(p).is_ok_and(|m| {
                    use std::os::unix::fs::FileTypeExt;
                    m.file_type().is_socket()
                }) {
                    let _ = std::fs::remove_file(p);
                }
                Ok(Listener::Unix(UnixListener::bind(p)?, p.clone()))
            }
        }
    }

    /// Opens a connection.
    pub async fn connect(&self) -> io::Result<PlainStream> {
        match self {
            Self::Tcp(s) => {
                let stream = TcpStream::connect(s.as_str()).await?;
                let _ = stream.set_nodelay(true);
                Ok(PlainStream::Tcp(stream))
            }
            Self::Unix(p) => Ok(PlainStream::Unix(UnixStream::connect(p).await?)),
        }
    }
}

/// Binds with `SO_REUSEADDR` (as stunnel does), so a restart is not refused
/// while old connections sit in TIME_WAIT.
pub async fn bind_tcp(addr: &str) -> io::Result<TcpListener> {
    let mut last = None;
    for a in tokio::net::lookup_host(addr).await? {
        let socket = if a.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket.bind(a).and_then(|()| socket.listen(1024)) {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address found")))
}

/// A bound listener.
#[derive(Debug)]
pub enum Listener {
    /// TCP.
    Tcp(TcpListener),
    /// Unix socket and its path (removed on drop).
    Unix(UnixListener, PathBuf),
}

/// Who connected.
#[derive(Clone, Debug)]
pub struct PeerAddr {
    /// Printable address.
    pub display: String,
    /// Source IP for TCP peers (rate-limit key).
    pub ip: Option<IpAddr>,
}

impl Listener {
    /// The bound address as text (`127.0.0.1:43211`, `unix:/run/x.sock`).
    pub fn local_display(&self) -> String {
        match self {
            Self::Tcp(l) => l
                .local_addr()
                .map_or_else(|_| "?".into(), |a: SocketAddr| a.to_string()),
            Self::Unix(_, p) => format!("unix:{}", p.display()),
        }
    }

    /// Accepts one connection.
    pub async fn accept(&self) -> io::Result<(PlainStream, PeerAddr)> {
        match self {
            Self::Tcp(l) => {
                let (s, a) = l.accept().await?;
                let _ = s.set_nodelay(true);
                let peer = PeerAddr {
                    display: a.to_string(),
                    ip: Some(a.ip()),
                };
                Ok((PlainStream::Tcp(s), peer))
            }
            Self::Unix(l, p) => {
                let (s, _) = l.accept().await?;
                let peer = PeerAddr {
                    display: format!("unix:{}", p.display()),
                    ip: None,
                };
                Ok((PlainStream::Unix(s), peer))
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Self::Unix(_, p) = self {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_addresses() {
        assert_eq!(
            "127.0.0.1:80".parse::<Addr>().unwrap(),
            Addr::Tcp("127.0.0.1:80".into())
        );
        assert!("[::1]:443".parse::<Addr>().unwrap().is_local());
        assert!("localhost:1".parse::<Addr>().unwrap().is_local());
        assert!(!"0.0.0.0:1".parse::<Addr>().unwrap().is_local());
        assert!(!"example.com:1".parse::<Addr>().unwrap().is_local());
        assert_eq!(
            "unix:/tmp/x.sock".parse::<Addr>().unwrap(),
            Addr::Unix("/tmp/x.sock".into())
        );
        for bad in ["", "noport", "host:", ":80", "h:99999", "unix:", "::1:80"] {
            assert!(bad.parse::<Addr>().is_err(), "{bad}");
        }
    }
}
