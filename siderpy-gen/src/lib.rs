//! `siderpy-gen` regenerates siderpy's `commands.json` from a live Redis 7+
//! or Valkey server, in the format of Redis's own
//! `utils/generate-commands-json.py`, and records which server it came from.
//!
//! The command-line tool is the usual entry point (see the crate's README);
//! this library part is what it and its tests are made of:
//! - [`spec::build`] turns the `COMMAND` and `COMMAND DOCS` replies into the
//!   spec document,
//! - [`pyjson::to_string`] renders it byte for byte as Python's
//!   `json.dump(..., indent=4, sort_keys=True)` does,
//! - [`connect`] and [`fetch`] talk to the server,
//! - [`schema::load`] and [`schema::merge`] add the reply schemas of a
//!   server's source (`src/commands/*.json`), which `COMMAND DOCS` lacks,
//! - [`check::diff`] compares a regenerated spec with the one on disk,
//! - [`merge::merge`] completes a module's published spec with what the
//!   server reports (key specs, flags) for `--merge`.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

pub mod check;
pub mod merge;
pub mod pyjson;
pub mod schema;
pub mod spec;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value as Json};
use siderpy_core::prelude::*;
use siderpy_core::{rustls, Protocol, Redis, Value};

/// The generator's name and version, as recorded in the source file.
pub const GENERATOR: &str = concat!("siderpy-gen ", env!("CARGO_PKG_VERSION"));

/// Everything that can go wrong while generating.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The client failed: connecting, authenticating, or a command's error reply.
    Redis(siderpy_core::Error),
    /// A reply was not shaped as Redis 7+ sends it.
    Shape(String),
    /// Reading or writing a file.
    Io(PathBuf, std::io::Error),
    /// Setting up TLS with the given CA file.
    Tls(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Redis(e) => write!(f, "{e}"),
            Error::Shape(msg) => write!(f, "unexpected reply: {msg}"),
            Error::Io(path, e) => write!(f, "{}: {e}", path.display()),
            Error::Tls(msg) => write!(f, "TLS: {msg}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Redis(e) => Some(e),
            Error::Io(_, e) => Some(e),
            _ => None,
        }
    }
}

impl From<siderpy_core::Error> for Error {
    fn from(e: siderpy_core::Error) -> Self {
        Error::Redis(e)
    }
}

/// Which server a spec was generated from: the content of the source file
/// written beside `commands.json` (`commands.source.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// `redis` or `valkey` (the `server_name` of `INFO server`, `redis` when
    /// the server does not say).
    pub server: String,
    /// The server's version, such as `7.0.15`.
    pub version: String,
    /// The tool that wrote the spec, such as `siderpy-gen 0.1.0`.
    pub generator: String,
}

impl Source {
    /// The server's name and version from the text of `INFO server`.
    ///
    /// Valkey reports `server_name:valkey` and `valkey_version:8.0.1` (its
    /// `redis_version` is a compatibility value); Redis reports
    /// `redis_version` only.
    ///
    /// ```
    /// let s = siderpy_gen::Source::from_info("# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.0.1\r\n");
    /// assert_eq!((s.server.as_str(), s.version.as_str()), ("valkey", "8.0.1"));
    /// ```
    pub fn from_info(info: &str) -> Source {
        let field = |name: &str| {
            info.lines().find_map(|line| line.strip_prefix(name)?.strip_prefix(':').map(|v| v.trim().to_owned()))
        };
        let server = field("server_name").filter(|s| !s.is_empty()).unwrap_or_else(|| "redis".to_owned());
        let version = field(&format!("{server}_version")).or_else(|| field("redis_version")).unwrap_or_default();
        Source { server, version, generator: GENERATOR.to_owned() }
    }

    /// The source file's text: sorted keys, four-space indent, final newline.
    pub fn to_text(&self) -> String {
        pyjson::to_string(&json!({
            "generator": self.generator,
            "server": self.server,
            "version": self.version,
        }))
    }

    /// Reads a source file's text back; `None` when it is not one.
    pub fn parse(text: &str) -> Option<Source> {
        let v: Json = serde_json::from_str(text).ok()?;
        let field = |k: &str| v.get(k)?.as_str().map(str::to_owned);
        Some(Source {
            server: field("server")?,
            version: field("version")?,
            generator: field("generator").unwrap_or_default(),
        })
    }

    /// The source file that belongs beside `spec`: `commands.json` →
    /// `commands.source.json`.
    pub fn path_for(spec: &Path) -> PathBuf {
        let name = spec.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let stem = name.strip_suffix(".json").unwrap_or(&name);
        spec.with_file_name(format!("{stem}.source.json"))
    }
}

/// A regenerated spec.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The spec document.
    pub spec: Json,
    /// The spec as the bytes of `commands.json`.
    pub text: String,
    /// The server it came from.
    pub source: Source,
}

impl Generated {
    /// Builds the spec from the three replies the tool asks for.
    ///
    /// # Errors
    /// [`Error::Shape`] when a reply is not shaped as Redis 7+ sends it.
    pub fn from_replies(commands: &Value, docs: &Value, info: &Value) -> Result<Generated, Error> {
        let info =
            info.as_bytes().ok_or_else(|| Error::Shape(format!("INFO server replied with a {}", info.kind())))?;
        let source = Source::from_info(&String::from_utf8_lossy(info));
        let spec = spec::build(commands, docs)?;
        let text = pyjson::to_string(&spec);
        Ok(Generated { spec, text, source })
    }

    /// Adds `schemas` ([`schema::load`]) to the spec; returns how many
    /// commands got one.
    pub fn merge_reply_schemas(&mut self, schemas: &std::collections::BTreeMap<String, Json>) -> usize {
        let n = schema::merge(&mut self.spec, schemas);
        self.text = pyjson::to_string(&self.spec);
        n
    }
}

/// How to reach the server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Any URL the siderpy client accepts (`redis://`, `rediss://`,
    /// `redis+unix://`, with user, password and `?protocol=`).
    pub url: String,
    /// A PEM file of CA certificates to verify the server with; implies TLS.
    pub tls_ca: Option<PathBuf>,
    /// Bounds connecting and each reply.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options { url: siderpy_core::DEFAULT_URL.to_owned(), tls_ca: None, timeout: Duration::from_secs(30) }
    }
}

/// A client for the server in `options`. No I/O happens here.
///
/// It speaks RESP3 unless the URL asks for a protocol (`?protocol=2`):
/// RESP3 keeps the maps of fields unknown to the generator (such as
/// `reply_schema`) as maps, as `redis-cli --json` does for Redis's script.
///
/// # Errors
/// [`Error::Redis`] for an invalid URL, [`Error::Io`] or [`Error::Tls`]
/// for an unusable CA file.
pub fn connect(options: &Options) -> Result<Redis, Error> {
    let mut builder = Redis::builder(&options.url)?
        .connect_timeout(options.timeout)
        .read_timeout(Some(options.timeout))
        .write_timeout(Some(options.timeout));
    if !url_sets_protocol(&options.url) {
        builder = builder.protocol(Protocol::Resp3);
    }
    if let Some(ca) = &options.tls_ca {
        builder = builder.tls(tls_config(ca)?);
    }
    Ok(builder.build())
}

fn url_sets_protocol(url: &str) -> bool {
    url.split_once('?').is_some_and(|(_, query)| query.split('&').any(|p| p.split('=').next() == Some("protocol")))
}

/// A rustls configuration trusting the CA certificates of a PEM file.
fn tls_config(ca: &Path) -> Result<Arc<rustls::ClientConfig>, Error> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

    let certs = CertificateDer::pem_file_iter(ca)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| Error::Tls(format!("{}: {e}", ca.display())))?;
    if certs.is_empty() {
        return Err(Error::Tls(format!("{}: no certificate found", ca.display())));
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots.add(cert).map_err(|e| Error::Tls(format!("{}: {e}", ca.display())))?;
    }
    let provider = siderpy_core::crypto_provider().map_err(|e| Error::Tls(e.to_string()))?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Asks the server for `INFO server`, `COMMAND` and `COMMAND DOCS` and
/// builds the spec.
///
/// # Errors
/// [`Error::Redis`] when the server cannot be reached or refuses a command,
/// [`Error::Shape`] when a reply is not shaped as Redis 7+ sends it.
pub async fn fetch(redis: &Redis) -> Result<Generated, Error> {
    let info = redis.execute_cmd("INFO", ["server"]).await?;
    let commands = redis.execute_cmd("COMMAND", ()).await?;
    let docs = redis.execute_cmd("COMMAND DOCS", ()).await?;
    Generated::from_replies(&commands, &docs, &info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_round_trip_and_paths() {
        let s = Source::from_info("# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n");
        assert_eq!((s.server.as_str(), s.version.as_str()), ("redis", "7.0.15"));
        assert_eq!(s.to_text(), format!("{{\n    \"generator\": \"{GENERATOR}\",\n    \"server\": \"redis\",\n    \"version\": \"7.0.15\"\n}}\n"));
        assert_eq!(Source::parse(&s.to_text()), Some(s));
        assert_eq!(Source::path_for(Path::new("commands.json")), Path::new("commands.source.json"));
        assert_eq!(Source::path_for(Path::new("a/spec")), Path::new("a/spec.source.json"));
    }

    #[test]
    fn protocol_in_url() {
        assert!(url_sets_protocol("redis://h:1/0?protocol=2"));
        assert!(url_sets_protocol("redis://h?db=1&protocol=resp3"));
        assert!(!url_sets_protocol("redis://h:1/0"));
        assert!(!url_sets_protocol("redis://h?client_name=protocol"));
    }
}
