//! Where and how to connect: [`ConnectionInfo`], parsed from a URL by
//! [`parse_url`].

use std::fmt;
use std::path::PathBuf;

use percent_encoding::percent_decode_str;
use url::Url;

use crate::error::UrlError;

/// The URL used when none is given, as in siderpy.
pub const DEFAULT_URL: &str = "redis://localhost:6379/0";

/// The RESP protocol version a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2, understood by every Redis server. The default.
    #[default]
    Resp2,
    /// RESP3 (Redis 6+), negotiated with `HELLO 3`: typed replies (maps,
    /// doubles, booleans) and pub/sub pushes on a connection that keeps
    /// serving ordinary commands.
    Resp3,
}

/// Where the server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    /// A TCP host (name or IP address, IPv6 without brackets) and port.
    Tcp {
        /// Host name or IP address.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// A unix domain socket.
    Unix(PathBuf),
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
            Addr::Tcp { host, port } => write!(f, "{host}:{port}"),
            Addr::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// A password that never shows itself in `Debug` or `Display` output.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// Wraps a password.
    pub fn new(password: impl Into<String>) -> Self {
        Password(password.into())
    }

    /// The password itself, for sending it to the server.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"<redacted>\"")
    }
}

impl fmt::Display for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Everything a connection URL says.
///
/// URL forms (as in siderpy, plus TLS and RESP3):
/// - `redis://[user][:password@]host[:port][/db]`; `rediss://` is the same
///   over TLS. The port defaults to 6379; IPv6 hosts go in brackets
///   (`redis://[::1]:6379`).
/// - `redis+unix://[user][:password@]/path/to.sock`, and the same with
///   `redis-socket://` or `unix://`.
///
/// Query parameters: `db=N` (overrides the path's db), `password=`,
/// `protocol=2|3` (also `resp2|resp3`), `client_name=` (sent with
/// `CLIENT SETNAME`). User name and password are percent-decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// Where to connect.
    pub addr: Addr,
    /// Whether to use TLS (`rediss://`).
    pub tls: bool,
    /// ACL user name, sent with the password.
    pub username: Option<String>,
    /// Password, sent with `AUTH` (or `HELLO 3 AUTH`).
    pub password: Option<Password>,
    /// Database selected with `SELECT` after connecting (when not 0).
    pub db: i64,
    /// RESP version.
    pub protocol: Protocol,
    /// Connection name set with `CLIENT SETNAME`.
    pub client_name: Option<String>,
}

impl ConnectionInfo {
    /// A TCP connection to `host:port` with every other setting at its default.
    pub fn tcp(host: impl Into<String>, port: u16) -> Self {
        ConnectionInfo::new(Addr::Tcp { host: host.into(), port })
    }

    /// A unix-socket connection with every other setting at its default.
    pub fn unix(path: impl Into<PathBuf>) -> Self {
        ConnectionInfo::new(Addr::Unix(path.into()))
    }

    fn new(addr: Addr) -> Self {
        ConnectionInfo {
            addr,
            tls: false,
            username: None,
            password: None,
            db: 0,
            protocol: Protocol::Resp2,
            client_name: None,
        }
    }
}

/// A URL without its password, for logs and errors.
impl fmt::Display for ConnectionInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match (&self.addr, self.tls) {
            (Addr::Unix(_), _) => "redis+unix",
            (_, true) => "rediss",
            _ => "redis",
        };
        write!(f, "{scheme}://")?;
        if let Some(user) = &self.username {
            write!(f, "{user}@")?;
        } else if self.password.is_some() {
            f.write_str(":<redacted>@")?;
        }
        match &self.addr {
            Addr::Unix(path) => write!(f, "{}?db={}", path.display(), self.db),
            addr => write!(f, "{addr}/{}", self.db),
        }
    }
}

/// Parses a connection URL into its settings.
///
/// Schemes: `redis://` and `valkey://` (TCP), `rediss://` and `valkeys://`
/// (TLS), `redis+unix://`, `valkey+unix://`, `redis-socket://` and
/// `unix://` (a socket path).
///
/// # Errors
/// [`UrlError`] naming what is wrong: no scheme, an unsupported scheme, no
/// host, no socket path, a port out of range, a db that is not a
/// non-negative integer, an unknown protocol or query parameter.
///
/// # Examples
/// ```
/// # extern crate siderpy_core as siderpy;
/// let info = siderpy::parse_url("redis://app:s3cret@cache.internal:6380/2").unwrap();
/// assert_eq!(info.db, 2);
/// assert_eq!(info.username.as_deref(), Some("app"));
/// assert!(!format!("{info:?}").contains("s3cret"));
/// ```
pub fn parse_url(url: &str) -> Result<ConnectionInfo, UrlError> {
    let Some((scheme, _)) = url.split_once("://") else {
        return Err(UrlError::MissingScheme);
    };
    if scheme.is_empty() {
        return Err(UrlError::MissingScheme);
    }
    let scheme = scheme.to_ascii_lowercase();
    // Valkey's own schemes mean the same as Redis's, as in other clients.
    let unix = match scheme.as_str() {
        "redis" | "rediss" | "valkey" | "valkeys" => false,
        "redis+unix" | "valkey+unix" | "redis-socket" | "unix" => true,
        _ => return Err(UrlError::UnsupportedScheme(scheme)),
    };
    // `redis+unix://user:pw@/path` has credentials but no host, which the
    // URL parser rejects; a placeholder host lets it read them (a unix URL's
    // host is ignored).
    let with_host;
    let url = match url.split_once("://") {
        Some((s, rest)) if unix && rest.split('/').next().is_some_and(|a| a.ends_with('@')) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            with_host = format!("{s}://{authority}localhost{path}");
            &with_host
        }
        _ => url,
    };
    let parsed = Url::parse(url).map_err(|e| match e {
        url::ParseError::InvalidPort => UrlError::InvalidPort(port_text(url)),
        url::ParseError::EmptyHost if !unix => UrlError::MissingHost,
        e => UrlError::Malformed(e.to_string()),
    })?;

    let mut info = if unix {
        let path = decode(parsed.path())?;
        if path.is_empty() || path == "/" {
            return Err(UrlError::MissingSocketPath);
        }
        ConnectionInfo::unix(path)
    } else {
        let host = match parsed.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => decode(d)?,
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(UrlError::MissingHost),
        };
        let mut info = ConnectionInfo::tcp(host, parsed.port().unwrap_or(6379));
        if parsed.port() == Some(0) {
            return Err(UrlError::InvalidPort("0".into()));
        }
        info.tls = matches!(scheme.as_str(), "rediss" | "valkeys");
        info.db = match parsed.path().trim_start_matches('/') {
            "" => 0,
            db => parse_db(db)?,
        };
        info
    };

    if !parsed.username().is_empty() {
        info.username = Some(decode(parsed.username())?);
    }
    if let Some(p) = parsed.password() {
        info.password = Some(Password(decode(p)?));
    }
    for (key, value) in parsed.query_pairs() {
        match &*key {
            "db" => info.db = parse_db(&value)?,
            "password" => info.password = Some(Password(value.into_owned())),
            "protocol" => {
                info.protocol = match &*value.to_ascii_lowercase() {
                    "2" | "resp2" => Protocol::Resp2,
                    "3" | "resp3" => Protocol::Resp3,
                    _ => return Err(UrlError::InvalidProtocol(value.into_owned())),
                }
            }
            "client_name" => info.client_name = Some(value.into_owned()),
            other => return Err(UrlError::UnknownParameter(other.to_owned())),
        }
    }
    Ok(info)
}

fn decode(s: &str) -> Result<String, UrlError> {
    percent_decode_str(s).decode_utf8().map(|c| c.into_owned()).map_err(|_| UrlError::InvalidCredentials)
}

fn parse_db(s: &str) -> Result<i64, UrlError> {
    s.parse::<i64>().ok().filter(|d| *d >= 0).ok_or_else(|| UrlError::InvalidDb(s.to_owned()))
}

/// The port as written, for the error message (the URL parser drops it).
///
/// Only a number is echoed: in `redis://user:secret` (host forgotten) the
/// URL parser reads the password as the port, and errors must not show it.
fn port_text(url: &str) -> String {
    let after = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = after.split(['/', '?']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let port = host_port.rsplit_once(':').map_or("", |(_, p)| p);
    let digits = port.strip_prefix(['-', '+']).unwrap_or(port);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        port.to_owned()
    } else {
        "<not a number>".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_tcp_url() {
        let info = parse_url("rediss://us%40er:p%3Ass@example.com:6390/3?protocol=resp3&client_name=app").unwrap();
        assert_eq!(info.addr, Addr::Tcp { host: "example.com".into(), port: 6390 });
        assert!(info.tls);
        assert_eq!(info.username.as_deref(), Some("us@er"));
        assert_eq!(info.password.as_ref().map(Password::expose), Some("p:ss"));
        assert_eq!(info.db, 3);
        assert_eq!(info.protocol, Protocol::Resp3);
        assert_eq!(info.client_name.as_deref(), Some("app"));
        let shown = format!("{info} {info:?}");
        assert!(!shown.contains("p:ss") && !shown.contains("p%3Ass"), "{shown}");
    }

    #[test]
    fn valkey_schemes_mean_the_same_as_redis_ones() {
        for (valkey, redis) in [("valkey", "redis"), ("valkeys", "rediss"), ("VALKEY", "redis")] {
            let url = |scheme: &str| format!("{scheme}://u:pw@example.com:6390/3?protocol=3");
            assert_eq!(parse_url(&url(valkey)).unwrap(), parse_url(&url(redis)).unwrap(), "{valkey}");
        }
        assert!(parse_url("valkeys://h").unwrap().tls);
        assert!(!parse_url("valkey://h").unwrap().tls);
        assert_eq!(parse_url("valkey+tls://h"), Err(UrlError::UnsupportedScheme("valkey+tls".into())));
    }

    #[test]
    fn defaults_and_overrides() {
        let info = parse_url(DEFAULT_URL).unwrap();
        assert_eq!(info.addr, Addr::Tcp { host: "localhost".into(), port: 6379 });
        assert_eq!(info.db, 0);
        assert_eq!(parse_url("redis://h/1?db=5").unwrap().db, 5);
        assert_eq!(parse_url("redis://:pw@h").unwrap().password, Some(Password::new("pw")));
        assert_eq!(parse_url("redis://[::1]:7000").unwrap().addr, Addr::Tcp { host: "::1".into(), port: 7000 });
    }

    #[test]
    fn unix_forms() {
        for scheme in ["redis+unix", "valkey+unix", "redis-socket", "unix"] {
            let info = parse_url(&format!("{scheme}:///tmp/r.sock?db=2&password=pw")).unwrap();
            assert_eq!(info.addr, Addr::Unix("/tmp/r.sock".into()));
            assert_eq!(info.db, 2);
            assert_eq!(info.password, Some(Password::new("pw")));
            let info = parse_url(&format!("{scheme}://al%40ce:p%2Fw@/tmp/r.sock?db=1")).unwrap();
            assert_eq!(info.addr, Addr::Unix("/tmp/r.sock".into()));
            assert_eq!(info.username.as_deref(), Some("al@ce"));
            assert_eq!(info.password, Some(Password::new("p/w")));
            assert_eq!(info.db, 1);
            let info = parse_url(&format!("{scheme}://:pw@/tmp/r.sock")).unwrap();
            assert_eq!((info.username, info.password), (None, Some(Password::new("pw"))));
        }
    }

    #[test]
    fn bad_urls() {
        let cases: &[(&str, UrlError)] = &[
            ("localhost:6379", UrlError::MissingScheme),
            ("://localhost", UrlError::MissingScheme),
            ("http://localhost", UrlError::UnsupportedScheme("http".into())),
            ("redis://", UrlError::MissingHost),
            ("redis://:6379", UrlError::MissingHost),
            ("redis+unix://", UrlError::MissingSocketPath),
            ("unix:///", UrlError::MissingSocketPath),
            ("redis://h:99999", UrlError::InvalidPort("99999".into())),
            ("redis://h:0", UrlError::InvalidPort("0".into())),
            ("redis://h/abc", UrlError::InvalidDb("abc".into())),
            ("redis://h/-1", UrlError::InvalidDb("-1".into())),
            ("redis://h?db=x", UrlError::InvalidDb("x".into())),
            ("redis://h?protocol=4", UrlError::InvalidProtocol("4".into())),
            ("redis://h?colour=red", UrlError::UnknownParameter("colour".into())),
            ("redis://%ff@h", UrlError::InvalidCredentials),
            ("redis://user:secret", UrlError::InvalidPort("<not a number>".into())),
        ];
        for (url, want) in cases {
            assert_eq!(parse_url(url).as_ref(), Err(want), "{url}");
        }
    }
}
