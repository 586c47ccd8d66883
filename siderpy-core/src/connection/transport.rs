//! Opening the socket: TCP, unix domain socket, or TLS over TCP.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

use crate::error::{Error, Result};
use crate::info::{Addr, ConnectionInfo};

/// A connected byte stream of any of the supported kinds.
#[derive(Debug)]
pub(crate) enum Transport {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// Connects to `info.addr`, with TLS when `info.tls` is set.
///
/// `tls` is the rustls configuration to use; `None` with `info.tls` means the
/// default verifying configuration (webpki roots).
pub(crate) async fn connect(info: &ConnectionInfo, tls: Option<&Arc<rustls::ClientConfig>>) -> Result<Transport> {
    match &info.addr {
        Addr::Tcp { host, port } => {
            let tcp = TcpStream::connect((host.as_str(), *port)).await?;
            // Commands are small and latency-bound; never wait to fill a segment.
            tcp.set_nodelay(true)?;
            if !info.tls {
                return Ok(Transport::Tcp(tcp));
            }
            let config = match tls {
                Some(c) => Arc::clone(c),
                None => default_tls_config()?,
            };
            let name = rustls::pki_types::ServerName::try_from(host.clone())
                .map_err(|e| Error::Tls(Arc::new(io::Error::new(io::ErrorKind::InvalidInput, e))))?;
            let stream = TlsConnector::from(config).connect(name, tcp).await.map_err(|e| Error::Tls(Arc::new(e)))?;
            Ok(Transport::Tls(Box::new(stream)))
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

/// A configuration that verifies the server's certificate against the
/// webpki root store, as `rediss://` URLs get by default.
pub fn default_tls_config() -> Result<Arc<rustls::ClientConfig>> {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(Arc::new(io::Error::other(e))))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

macro_rules! each {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Transport::Tcp($s) => $e,
            #[cfg(unix)]
            Transport::Unix($s) => $e,
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
