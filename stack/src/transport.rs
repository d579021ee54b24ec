//! Where a relay listens and its clients connect: a Unix socket path (the
//! single-host default, on the stack's shared volume) or `tcp://host:port`
//! (services on different hosts, e.g. a Swarm overlay). Both carry the same
//! frames; this module hides which one a stream is, handing out owned read
//! and write halves.

use std::path::PathBuf;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};

/// A relay address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A Unix-domain socket.
    Unix(PathBuf),
    /// A TCP `host:port`.
    Tcp(String),
}

impl std::str::FromStr for Endpoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(authority) = s.strip_prefix("tcp://") {
            let authority = authority.trim_end_matches('/');
            let valid = authority
                .rsplit_once(':')
                .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
            return match valid {
                true => Ok(Endpoint::Tcp(authority.to_string())),
                false => Err(format!("`{s}` needs a host and a port (tcp://HOST:PORT)")),
            };
        }
        let path = s.strip_prefix("unix://").unwrap_or(s);
        if path.is_empty() || path.contains("://") {
            return Err(format!(
                "`{s}` is neither a socket path nor tcp://HOST:PORT"
            ));
        }
        Ok(Endpoint::Unix(PathBuf::from(path)))
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(path) => write!(f, "{}", path.display()),
            Endpoint::Tcp(authority) => write!(f, "tcp://{authority}"),
        }
    }
}

/// The read half of a connection.
pub type ReadHalf = Box<dyn AsyncRead + Send + Unpin>;
/// The write half of a connection.
pub type WriteHalf = Box<dyn AsyncWrite + Send + Unpin>;

/// Splits a Unix stream into boxed halves.
pub fn split_unix(stream: UnixStream) -> (ReadHalf, WriteHalf) {
    let (read, write) = stream.into_split();
    (Box::new(read), Box::new(write))
}

/// Splits a TCP stream into boxed halves (Nagle off: frames go out at once).
pub fn split_tcp(stream: TcpStream) -> (ReadHalf, WriteHalf) {
    let _ = stream.set_nodelay(true);
    let (read, write) = stream.into_split();
    (Box::new(read), Box::new(write))
}

impl Endpoint {
    /// Connects to the relay at this address.
    pub async fn connect(&self) -> std::io::Result<(ReadHalf, WriteHalf)> {
        match self {
            Endpoint::Unix(path) => UnixStream::connect(path).await.map(split_unix),
            Endpoint::Tcp(authority) => TcpStream::connect(authority.as_str()).await.map(split_tcp),
        }
    }

    /// Connects and drops the connection at once (the health probe), blocking.
    pub fn probe(&self, timeout: std::time::Duration) -> std::io::Result<()> {
        match self {
            Endpoint::Unix(path) => std::os::unix::net::UnixStream::connect(path).map(drop),
            Endpoint::Tcp(authority) => {
                let addr = std::net::ToSocketAddrs::to_socket_addrs(authority.as_str())?
                    .next()
                    .ok_or_else(|| std::io::Error::other(format!("no address for {authority}")))?;
                std::net::TcpStream::connect_timeout(&addr, timeout).map(drop)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_select_the_transport() {
        assert_eq!(
            "/run/torq/signal.sock".parse(),
            Ok(Endpoint::Unix("/run/torq/signal.sock".into()))
        );
        assert_eq!(
            "unix:///tmp/x.sock".parse(),
            Ok(Endpoint::Unix("/tmp/x.sock".into()))
        );
        assert_eq!(
            "tcp://market_data_relay:7001".parse(),
            Ok(Endpoint::Tcp("market_data_relay:7001".into()))
        );
        assert_eq!(
            "tcp://[::1]:7001".parse(),
            Ok(Endpoint::Tcp("[::1]:7001".into()))
        );
        for bad in ["tcp://nohost", "tcp://:7001", "tcp://h:port"] {
            let err = bad.parse::<Endpoint>().unwrap_err();
            assert!(err.contains("needs a host and a port"), "{err}");
        }
        let err = "http://x:1".parse::<Endpoint>().unwrap_err();
        assert!(err.contains("neither a socket path nor tcp://"), "{err}");
        assert_eq!(
            Endpoint::Tcp("h:1".into()).to_string(),
            "tcp://h:1".to_string()
        );
    }
}
