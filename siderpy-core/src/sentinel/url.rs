//! The `redis+sentinel://` URL: several sentinels, a master name, and the
//! master's own settings.

use crate::error::UrlError;
use crate::info::{parse_url, Addr, ConnectionInfo, Password};

/// The port a sentinel listens on when a URL names none.
pub const DEFAULT_SENTINEL_PORT: u16 = 26379;

/// What a Sentinel URL says.
#[derive(Debug)]
pub(crate) struct SentinelUrl {
    pub(crate) sentinels: Vec<Addr>,
    pub(crate) master_name: String,
    /// The master's settings (its address is a placeholder: the sentinels
    /// give the real one).
    pub(crate) master: ConnectionInfo,
    /// The sentinels' settings (TLS as the master; credentials from
    /// `sentinel_username` / `sentinel_password`).
    pub(crate) sentinel: ConnectionInfo,
}

/// Parses `redis+sentinel://[user:password@]host1[:port1][,host2[:port2]...]/master-name[/db][?params]`
/// (`rediss+sentinel://` for TLS to sentinels and master; `valkey+sentinel`
/// and `valkeys+sentinel` alike).
pub(crate) fn parse_sentinel_url(url: &str) -> Result<SentinelUrl, UrlError> {
    let Some((scheme, rest)) = url.split_once("://") else { return Err(UrlError::MissingScheme) };
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "redis+sentinel" | "valkey+sentinel" => false,
        "rediss+sentinel" | "valkeys+sentinel" => true,
        other => return Err(UrlError::UnsupportedScheme(other.to_owned())),
    };
    let (rest, query) = match rest.split_once('?') {
        Some((rest, query)) => (rest, Some(query)),
        None => (rest, None),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (userinfo, hosts) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    let mut sentinels = Vec::new();
    for host in hosts.split(',') {
        if host.is_empty() {
            return Err(UrlError::Sentinel(format!("an empty sentinel address in {hosts:?}")));
        }
        sentinels.push(sentinel_addr(host)?);
    }
    let mut segments = path.trim_start_matches('/').split('/');
    let master_name = segments.next().unwrap_or("");
    if master_name.is_empty() {
        return Err(UrlError::Sentinel("the master's name is missing".into()));
    }
    let master_name = percent_decode(master_name)?;
    let db = segments.next().filter(|d| !d.is_empty());
    if let Some(extra) = segments.next() {
        return Err(UrlError::Sentinel(format!("unexpected {extra:?} after the db")));
    }
    // The master's settings, read by the ordinary parser from an ordinary
    // URL; the sentinel-only parameters are taken out first.
    let (mut sentinel_user, mut sentinel_password, mut params) = (None, None, Vec::new());
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=').unwrap_or((pair, "")) {
            ("sentinel_username", v) => sentinel_user = Some(percent_decode(v)?),
            ("sentinel_password", v) => sentinel_password = Some(Password::new(percent_decode(v)?)),
            _ => params.push(pair),
        }
    }
    let mut plain = format!("{}://", if tls { "rediss" } else { "redis" });
    if let Some(userinfo) = userinfo {
        plain.push_str(userinfo);
        plain.push('@');
    }
    plain.push_str("sentinel-master/");
    plain.push_str(db.unwrap_or("0"));
    if !params.is_empty() {
        plain.push('?');
        plain.push_str(&params.join("&"));
    }
    let mut master = parse_url(&plain)?;
    master.addr = Addr::Tcp { host: master_name.clone(), port: 0 };
    let mut sentinel = master.clone();
    sentinel.addr = sentinels[0].clone();
    (sentinel.db, sentinel.client_name, sentinel.protocol) = (0, None, crate::info::Protocol::Resp2);
    sentinel.tls = tls;
    sentinel.username = sentinel_user;
    sentinel.password = sentinel_password;
    Ok(SentinelUrl { sentinels, master_name, master, sentinel })
}

/// `host`, `host:port`, `[v6]` or `[v6]:port`; the port defaults to
/// [`DEFAULT_SENTINEL_PORT`].
pub(crate) fn sentinel_addr(text: &str) -> Result<Addr, UrlError> {
    let (host, port) = match text.strip_prefix('[') {
        Some(v6) => {
            let (host, after) =
                v6.split_once(']').ok_or_else(|| UrlError::Malformed(format!("unclosed '[' in {text:?}")))?;
            (host, after.strip_prefix(':'))
        }
        None => match text.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (text, None),
        },
    };
    if host.is_empty() {
        return Err(UrlError::MissingHost);
    }
    let port = match port {
        None => DEFAULT_SENTINEL_PORT,
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| UrlError::InvalidPort(p.to_owned()))?,
    };
    // The URL parser checks the host (and lower-cases a name).
    let bracketed = if host.contains(':') { format!("[{host}]") } else { host.to_owned() };
    match parse_url(&format!("redis://{bracketed}:{port}"))?.addr {
        Addr::Tcp { host, .. } => Ok(Addr::Tcp { host, port }),
        Addr::Unix(_) => Err(UrlError::MissingHost),
    }
}

/// Whether a `redis://` URL names its port (a sentinel's defaults to
/// [`DEFAULT_SENTINEL_PORT`], not 6379).
pub(crate) fn names_port(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match host.rfind(']') {
        Some(end) => host[end..].contains(':'),
        None => host.contains(':'),
    }
}

fn percent_decode(s: &str) -> Result<String, UrlError> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| UrlError::InvalidCredentials)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(host: &str, port: u16) -> Addr {
        Addr::Tcp { host: host.into(), port }
    }

    #[test]
    fn reads_sentinels_name_db_and_both_credentials() {
        let u = parse_sentinel_url(
            "redis+sentinel://app:s3cret@10.0.0.1:26380,sentinel-b,[::1]:5000/mymaster/2?protocol=3&sentinel_password=sp",
        )
        .unwrap();
        assert_eq!(u.sentinels, [tcp("10.0.0.1", 26380), tcp("sentinel-b", 26379), tcp("::1", 5000)]);
        assert_eq!(u.master_name, "mymaster");
        assert_eq!(u.master.db, 2);
        assert_eq!(u.master.username.as_deref(), Some("app"));
        assert_eq!(u.master.password.as_ref().map(Password::expose), Some("s3cret"));
        assert_eq!(u.master.protocol, crate::info::Protocol::Resp3);
        assert!(!u.master.tls && !u.sentinel.tls);
        assert_eq!(u.sentinel.password.as_ref().map(Password::expose), Some("sp"));
        assert_eq!(u.sentinel.username, None);
    }

    #[test]
    fn tls_scheme_covers_sentinels_and_master() {
        let u = parse_sentinel_url("rediss+sentinel://s1:1,s2:2/m").unwrap();
        assert!(u.master.tls && u.sentinel.tls);
        assert_eq!(u.master.db, 0);
    }

    #[test]
    fn bad_urls_are_typed_errors() {
        let err = |url: &str| parse_sentinel_url(url).unwrap_err();
        assert!(matches!(err("redis+sentinel://s1:26379"), UrlError::Sentinel(m) if m.contains("name")));
        assert!(matches!(err("redis+sentinel://s1:26379/"), UrlError::Sentinel(_)));
        assert!(matches!(err("redis+sentinel://s1,,s2/m"), UrlError::Sentinel(m) if m.contains("empty")));
        assert!(matches!(err("redis+sentinel:///m"), UrlError::Sentinel(_)));
        assert_eq!(err("redis+sentinel://s1:99999/m"), UrlError::InvalidPort("99999".into()));
        assert_eq!(err("redis+sentinel://s1:0/m"), UrlError::InvalidPort("0".into()));
        assert!(matches!(err("redis+sentinel://s1/m/x"), UrlError::InvalidDb(_)));
        assert!(matches!(err("redis+sentinel://s1/m/1/2"), UrlError::Sentinel(_)));
        assert!(matches!(err("redis+sentinel://s1/m?nope=1"), UrlError::UnknownParameter(p) if p == "nope"));
        assert!(matches!(err("redis://s1/m"), UrlError::UnsupportedScheme(_)));
        assert!(matches!(err("s1/m"), UrlError::MissingScheme));
        assert!(matches!(err("redis+sentinel://[::1/m"), UrlError::Malformed(_)));
    }

    #[test]
    fn the_password_never_shows() {
        let u = parse_sentinel_url("redis+sentinel://:hunter2@s1/m?sentinel_password=other").unwrap();
        let shown = format!("{u:?} {}", u.master);
        assert!(!shown.contains("hunter2") && !shown.contains("other"), "{shown}");
    }

    #[test]
    fn a_sentinel_url_names_its_port_or_gets_26379() {
        assert!(names_port("redis://h:1") && names_port("redis://u:p@h:1/0") && names_port("redis://[::1]:5"));
        assert!(!names_port("redis://h") && !names_port("redis://u:p@h/0") && !names_port("redis://[::1]"));
    }
}
