//! Opening the socket: TCP, unix domain socket, or TLS over TCP.
//!
//! A host name may resolve to several addresses (IPv6 and IPv4, several
//! replicas behind one name). Each is tried in turn, in the spirit of Happy
//! Eyeballs (RFC 8305): families interleaved, each attempt given its share
//! of what is left of the connect timeout before the next one starts
//! alongside it, the first to connect winning. A dead first address then
//! costs its share, not the whole budget, and the error of a failed connect
//! names every address tried and why it failed.

use std::fmt::Write as _;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;
use tokio::time::Instant;
#[cfg(feature = "tls")]
use tokio_rustls::client::TlsStream;
#[cfg(feature = "tls")]
use tokio_rustls::TlsConnector;

use crate::error::{Error, Result, Timeout};
use crate::info::{Addr, ConnectionInfo};

/// A connected byte stream of any of the supported kinds.
#[derive(Debug)]
pub(crate) enum Transport {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
    #[cfg(feature = "tls")]
    Tls(Box<TlsStream<TcpStream>>),
}

/// Finds the socket addresses of a host: the system's resolver by default,
/// or one given to
/// [`RedisBuilder::resolver`](crate::RedisBuilder::resolver) (service
/// discovery, a fixed list, tests).
///
/// Implementations return every address the host has, in the order they
/// should be tried; the client interleaves IPv6 and IPv4 as RFC 8305 says.
/// An empty list is an error.
pub trait Resolve: Send + Sync + 'static {
    /// The addresses of `host` on `port`.
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>>;
}

/// The resolver the settings name; `None` is the system's.
#[derive(Clone, Default)]
pub(crate) struct Resolver(pub(crate) Option<Arc<dyn Resolve>>);

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Resolver(custom)" } else { "Resolver(system)" })
    }
}

impl Resolver {
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        let addrs: Vec<SocketAddr> = match &self.0 {
            Some(custom) => custom.resolve(host, port).await?,
            None => tokio::net::lookup_host((host, port)).await?.collect(),
        };
        if addrs.is_empty() {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("{host}:{port} resolved to no address")));
        }
        Ok(addrs)
    }
}

/// What a TCP socket is set up with, besides `TCP_NODELAY`.
#[derive(Debug, Clone, Default)]
pub(crate) struct TcpSettings {
    /// Idle time before TCP keepalive probes; `None` turns keepalive off.
    pub(crate) keepalive: Option<Duration>,
    /// `TCP_USER_TIMEOUT`, where the OS has it: how long written data may
    /// stay unacknowledged before the kernel drops the connection.
    pub(crate) user_timeout: Option<Duration>,
    pub(crate) resolver: Resolver,
}

/// How long a connection attempt runs alone before the next address is
/// tried alongside it, at least (RFC 8305's "Connection Attempt Delay"),
/// unless the budget is shorter.
const MIN_ATTEMPT_SHARE: Duration = Duration::from_millis(100);

/// Connects to `info.addr`, with TLS when `info.tls` is set, by `deadline`.
///
/// `tls` is the rustls configuration to use; `None` with `info.tls` means the
/// default verifying configuration (webpki roots).
///
/// # Errors
/// [`Error::Io`] naming every address tried when none connected (of kind
/// `TimedOut` when the deadline cut the attempts short);
/// [`Timeout::Connect`] when the TLS handshake did not finish in time.
pub(crate) async fn connect(
    info: &ConnectionInfo,
    tls: Option<&crate::tls::TlsConfig>,
    tcp: &TcpSettings,
    deadline: Instant,
) -> Result<Transport> {
    match &info.addr {
        Addr::Tcp { host, port } => {
            let addrs = match tokio::time::timeout_at(deadline, tcp.resolver.resolve(host, *port)).await {
                Ok(addrs) => addrs?,
                Err(_) => return Err(Error::Timeout(Timeout::Connect)),
            };
            let stream = connect_any(host, *port, &addrs, deadline).await?;
            configure(&stream, tcp)?;
            if !info.tls {
                return Ok(Transport::Tcp(stream));
            }
            tls_handshake(stream, host, tls, deadline).await
        }
        #[cfg(unix)]
        Addr::Unix(path) => {
            if info.tls {
                return Err(Error::Usage("TLS over a unix socket is not supported".into()));
            }
            match tokio::time::timeout_at(deadline, UnixStream::connect(path)).await {
                Ok(stream) => Ok(Transport::Unix(stream?)),
                Err(_) => Err(Error::Timeout(Timeout::Connect)),
            }
        }
        #[cfg(not(unix))]
        Addr::Unix(_) => Err(Error::Usage("unix sockets are not available on this platform".into())),
    }
}

/// TLS over `tcp`, verifying the certificate is for `host`.
#[cfg(feature = "tls")]
async fn tls_handshake(
    tcp: TcpStream,
    host: &str,
    tls: Option<&crate::tls::TlsConfig>,
    deadline: Instant,
) -> Result<Transport> {
    let config = crate::tls::client_config(tls)?;
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| Error::Tls(Arc::new(io::Error::new(io::ErrorKind::InvalidInput, e))))?;
    let handshake = TlsConnector::from(config).connect(name, tcp);
    let stream = tokio::time::timeout_at(deadline, handshake)
        .await
        .map_err(|_| Error::Timeout(Timeout::Connect))?
        .map_err(|e| Error::Tls(Arc::new(e)))?;
    Ok(Transport::Tls(Box::new(stream)))
}

#[cfg(not(feature = "tls"))]
async fn tls_handshake(_: TcpStream, host: &str, _: Option<&crate::tls::TlsConfig>, _: Instant) -> Result<Transport> {
    Err(Error::Usage(format!(
        "TLS to {host} is not compiled in: enable siderpy's `tls-ring` (a default) or `tls-aws-lc-rs` feature"
    )))
}

/// Sets the socket options every connection gets.
fn configure(stream: &TcpStream, settings: &TcpSettings) -> Result<()> {
    // Commands are small and latency-bound; never wait to fill a segment.
    stream.set_nodelay(true)?;
    let socket = socket2::SockRef::from(stream);
    if let Some(idle) = settings.keepalive {
        let keepalive = socket2::TcpKeepalive::new().with_time(idle);
        // Probes a third of the idle time apart, three of them: a peer gone
        // without a word is noticed about twice the idle time after the
        // last byte, instead of the system's two hours and more.
        #[cfg(any(target_os = "linux", target_os = "android", target_os = "macos", target_os = "windows"))]
        let keepalive = keepalive.with_interval(idle / 3);
        #[cfg(any(target_os = "linux", target_os = "android", target_os = "macos", target_os = "windows"))]
        let keepalive = keepalive.with_retries(3);
        socket.set_tcp_keepalive(&keepalive)?;
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if let Some(limit) = settings.user_timeout {
        socket.set_tcp_user_timeout(Some(limit))?;
    }
    Ok(())
}

/// The order to try `addrs` in: IPv6 and IPv4 alternating, starting with
/// the family of the first address (RFC 8305, section 4).
fn interleave(addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    let Some(first) = addrs.first() else { return Vec::new() };
    let (same, other): (Vec<SocketAddr>, Vec<SocketAddr>) = addrs.iter().partition(|a| a.is_ipv6() == first.is_ipv6());
    let (mut same, mut other) = (same.into_iter(), other.into_iter());
    let mut out = Vec::with_capacity(addrs.len());
    loop {
        match (same.next(), other.next()) {
            (None, None) => return out,
            (a, b) => out.extend(a.into_iter().chain(b)),
        }
    }
}

/// Connects to the first of `addrs` that answers by `deadline`. Each
/// attempt runs alone for its share of the time left (that time divided by
/// the addresses not tried yet, counting it), or until it fails; then the
/// next starts beside it.
async fn connect_any(host: &str, port: u16, addrs: &[SocketAddr], deadline: Instant) -> Result<TcpStream> {
    let order = interleave(addrs);
    let mut attempts = tokio::task::JoinSet::new();
    let mut failures: Vec<(SocketAddr, io::Error)> = Vec::new();
    let mut next = order.iter().copied();
    let mut left = order.len();
    let mut started: Vec<SocketAddr> = Vec::new();
    loop {
        if let Some(addr) = next.next() {
            left -= 1;
            started.push(addr);
            attempts.spawn(async move { (addr, TcpStream::connect(addr).await) });
        }
        let now = Instant::now();
        let share = deadline.saturating_duration_since(now) / (left as u32 + 1);
        let until = if left == 0 { deadline } else { (now + share.max(MIN_ATTEMPT_SHARE)).min(deadline) };
        // Wait for a result, or for the next address's turn.
        loop {
            match tokio::time::timeout_at(until, attempts.join_next()).await {
                Ok(Some(Ok((_, Ok(stream))))) => return Ok(stream),
                Ok(Some(Ok((addr, Err(e))))) => {
                    failures.push((addr, e));
                    if left > 0 {
                        break;
                    }
                }
                Ok(Some(Err(join))) => return Err(Error::io(io::Error::other(join))),
                // Every attempt so far failed.
                Ok(None) if left > 0 => break,
                Ok(None) => return Err(connect_error(host, port, failures, &[])),
                Err(_) if Instant::now() >= deadline => {
                    let cut: Vec<SocketAddr> =
                        started.into_iter().filter(|a| !failures.iter().any(|(f, _)| f == a)).collect();
                    return Err(connect_error(host, port, failures, &cut));
                }
                Err(_) => break,
            }
        }
    }
}

/// One error naming every address tried and why it failed; `cut` are
/// those the deadline stopped.
fn connect_error(host: &str, port: u16, failures: Vec<(SocketAddr, io::Error)>, cut: &[SocketAddr]) -> Error {
    let kind = if !cut.is_empty() {
        io::ErrorKind::TimedOut
    } else {
        failures.last().map_or(io::ErrorKind::Other, |(_, e)| e.kind())
    };
    let mut msg = format!("cannot connect to {host}:{port}: ");
    let mut sep = "";
    for (addr, e) in &failures {
        let _ = write!(msg, "{sep}{addr}: {e}");
        sep = "; ";
    }
    for addr in cut {
        let _ = write!(msg, "{sep}{addr}: no answer within the connect timeout");
        sep = "; ";
    }
    Error::io(io::Error::new(kind, msg))
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Transport::Tcp($s) => $e,
            #[cfg(unix)]
            Transport::Unix($s) => $e,
            #[cfg(feature = "tls")]
            Transport::Tls($s) => $e,
        }
    };
}

impl AsyncRead for Transport {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Transport {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        each!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        each!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn families_alternate_from_the_first_address() {
        let addrs = [addr("[::1]:1"), addr("[::2]:1"), addr("10.0.0.1:1"), addr("[::3]:1"), addr("10.0.0.2:1")];
        let order = interleave(&addrs);
        let expected = [addr("[::1]:1"), addr("10.0.0.1:1"), addr("[::2]:1"), addr("10.0.0.2:1"), addr("[::3]:1")];
        assert_eq!(order, expected);
        let v4_first = [addr("10.0.0.1:1"), addr("[::1]:1"), addr("[::2]:1")];
        assert_eq!(interleave(&v4_first), [addr("10.0.0.1:1"), addr("[::1]:1"), addr("[::2]:1")]);
        assert!(interleave(&[]).is_empty());
    }

    #[tokio::test]
    async fn a_failed_connect_names_every_address_and_why() {
        let refused = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let deadline = Instant::now() + Duration::from_secs(2);
        let err = connect_any("db.example", 6379, &[refused, refused], deadline).await.unwrap_err();
        let text = err.to_string();
        assert!(text.contains("db.example:6379") && text.matches(&refused.to_string()).count() == 2, "{text}");
        assert!(matches!(&err, Error::Io(e) if e.kind() == io::ErrorKind::ConnectionRefused), "{err:?}");
    }
}
