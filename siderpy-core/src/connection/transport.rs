//! Opening the socket: TCP, unix domain socket, or TLS over TCP.

use std::io;
use std::pin::Pin;
#[cfg(feature = "tls")]
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;
#[cfg(feature = "tls")]
use tokio_rustls::client::TlsStream;
#[cfg(feature = "tls")]
use tokio_rustls::TlsConnector;

use crate::error::{Error, Result};
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

/// Connects to `info.addr`, with TLS when `info.tls` is set.
///
/// `tls` is the rustls configuration to use; `None` with `info.tls` means the
/// default verifying configuration (webpki roots).
pub(crate) async fn connect(info: &ConnectionInfo, tls: Option<&crate::tls::TlsConfig>) -> Result<Transport> {
    match &info.addr {
        Addr::Tcp { host, port } => {
            let tcp = TcpStream::connect((host.as_str(), *port)).await?;
            // Commands are small and latency-bound; never wait to fill a segment.
            tcp.set_nodelay(true)?;
            if !info.tls {
                return Ok(Transport::Tcp(tcp));
            }
            tls_handshake(tcp, host, tls).await
        }
        #[cfg(unix)]
        Addr::Unix(path) => {
            if info.tls {
                return Err(Error::Usage("TLS over a unix socket is not supported".into()));
            }
            Ok(Transport::Unix(UnixStream::connect(path).await?))
        }
        #[cfg(not(unix))]
        Addr::Unix(_) => Err(Error::Usage("unix sockets are not available on this platform".into())),
    }
}

/// TLS over `tcp`, verifying the certificate is for `host`.
#[cfg(feature = "tls")]
async fn tls_handshake(tcp: TcpStream, host: &str, tls: Option<&crate::tls::TlsConfig>) -> Result<Transport> {
    let config = crate::tls::client_config(tls)?;
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| Error::Tls(Arc::new(io::Error::new(io::ErrorKind::InvalidInput, e))))?;
    let stream = TlsConnector::from(config).connect(name, tcp).await.map_err(|e| Error::Tls(Arc::new(e)))?;
    Ok(Transport::Tls(Box::new(stream)))
}

#[cfg(not(feature = "tls"))]
async fn tls_handshake(_: TcpStream, host: &str, _: Option<&crate::tls::TlsConfig>) -> Result<Transport> {
    Err(Error::Usage(format!(
        "TLS to {host} is not compiled in: enable siderpy's `tls-ring` (a default) or `tls-aws-lc-rs` feature"
    )))
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
