//! Where and how to connect: [`ConnectionInfo`], parsed from a URL by
//! [`parse_url`].

use std::fmt;
use std::path::PathBuf;

use percent_encoding::percent_decode_str;

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
    let Some((scheme, rest)) = url.split_once("://") else {
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
    // A fragment means nothing to a connection; the query ends the rest.
    let rest = rest.split_once('#').map_or(rest, |(r, _)| r);
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    // The last `@` ends the credentials (a password may hold an unencoded one).
    let (userinfo, host_port) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };

    let mut info = if unix {
        // Any host is ignored: the socket is the path.
        let path = decode(path)?;
        if path.is_empty() || path == "/" {
            return Err(UrlError::MissingSocketPath);
        }
        ConnectionInfo::unix(path)
    } else {
        let (host, port) = host_and_port(host_port, url)?;
        let mut info = ConnectionInfo::tcp(host, port);
        info.tls = matches!(scheme.as_str(), "rediss" | "valkeys");
        info.db = match path.trim_start_matches('/') {
            "" => 0,
            db => parse_db(db)?,
        };
        info
    };

    if let Some(userinfo) = userinfo {
        let (user, password) = match userinfo.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (userinfo, None),
        };
        if !user.is_empty() {
            info.username = Some(decode(user)?);
        }
        if let Some(p) = password.filter(|p| !p.is_empty()) {
            info.password = Some(Password(decode(p)?));
        }
    }
    for (key, value) in query_pairs(query) {
        match &*key {
            "db" => info.db = parse_db(&value)?,
            "password" => info.password = Some(Password(value)),
            "protocol" => {
                info.protocol = match &*value.to_ascii_lowercase() {
                    "2" | "resp2" => Protocol::Resp2,
                    "3" | "resp3" => Protocol::Resp3,
                    _ => return Err(UrlError::InvalidProtocol(value)),
                }
            }
            "client_name" => info.client_name = Some(value),
            other => return Err(UrlError::UnknownParameter(other.to_owned())),
        }
    }
    Ok(info)
}

/// The host (lowercased, percent-decoded; an IPv6 address without its
/// brackets) and port (6379 when not given) of `host:port` or `[v6]:port`.
fn host_and_port(text: &str, url: &str) -> Result<(String, u16), UrlError> {
    let (host, port) = if let Some(v6) = text.strip_prefix('[') {
        let (addr, after) = v6.split_once(']').ok_or_else(|| UrlError::Malformed("invalid IPv6 address".into()))?;
        let addr: std::net::Ipv6Addr = addr.parse().map_err(|_| UrlError::Malformed("invalid IPv6 address".into()))?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(|| UrlError::Malformed("invalid IPv6 address".into()))?),
        };
        (addr.to_string(), port)
    } else {
        let (host, port) = match text.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        };
        let host = decode(host).map_err(|_| UrlError::Malformed("invalid host".into()))?.to_ascii_lowercase();
        // What no host name, IPv4 address or URL host may contain.
        const FORBIDDEN: &[char] = &[' ', '#', '%', '/', ':', '<', '>', '?', '@', '[', '\\', ']', '^', '|'];
        if host.contains(FORBIDDEN) || host.chars().any(char::is_control) {
            return Err(UrlError::Malformed("invalid host".into()));
        }
        (host, port)
    };
    if host.is_empty() {
        return Err(UrlError::MissingHost);
    }
    let port = match port.filter(|p| !p.is_empty()) {
        None => 6379,
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => match p.parse::<u16>() {
            Ok(0) | Err(_) => return Err(UrlError::InvalidPort(port_text(url))),
            Ok(port) => port,
        },
        Some(_) => return Err(UrlError::InvalidPort(port_text(url))),
    };
    Ok((host, port))
}

/// `a=1&b=two+words` as `(key, value)` pairs, `+` as a space and
/// percent-decoded (invalid UTF-8 replaced), as HTML forms encode them.
fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    let form = |s: &str| percent_decode_str(&s.replace('+', " ")).decode_utf8_lossy().into_owned();
    query.split('&').filter(|p| !p.is_empty()).map(move |pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (form(k), form(v))
    })
}

fn decode(s: &str) -> Result<String, UrlError> {
    percent_decode_str(s).decode_utf8().map(|c| c.into_owned()).map_err(|_| UrlError::InvalidCredentials)
}

fn parse_db(s: &str) -> Result<i64, UrlError> {
    s.parse::<i64>().ok().filter(|d| *d >= 0).ok_or_else(|| UrlError::InvalidDb(s.to_owned()))
}

/// The port as written, for the error message.
///
/// Only a number is echoed: in `redis://user:secret` (host forgotten) the
/// password reads as the port, and errors must not show it.
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
    fn hosts_queries_and_credentials() {
        let info = parse_url("redis://Cache.Example.COM:7000/1#ignored").unwrap();
        assert_eq!((info.addr, info.db), (Addr::Tcp { host: "cache.example.com".into(), port: 7000 }, 1));
        let info = parse_url("redis://[2001:DB8:0:0::1]/0").unwrap();
        assert_eq!(info.addr, Addr::Tcp { host: "2001:db8::1".into(), port: 6379 });
        assert_eq!(parse_url("redis://h:/0").unwrap().addr, Addr::Tcp { host: "h".into(), port: 6379 });
        let info = parse_url("redis://u:p@ss@h?client_name=my+app%21&&password=a%26b").unwrap();
        assert_eq!(info.username.as_deref(), Some("u"));
        assert_eq!(info.password, Some(Password::new("a&b")), "the query's password wins");
        assert_eq!(info.client_name.as_deref(), Some("my app!"));
        assert_eq!(parse_url("redis://u:p@ss@h").unwrap().password, Some(Password::new("p@ss")));
        assert_eq!(parse_url("redis://u:@h").unwrap().password, None);
        for bad in ["redis://a b", "redis://h%2Fx", "redis://[::1]x", "redis://[zz]", "redis://h|x:1"] {
            assert!(matches!(parse_url(bad), Err(UrlError::Malformed(_))), "{bad}");
        }
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
