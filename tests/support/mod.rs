//! Test harness: throwaway `redis-server` processes, one set per test.
//!
//! Every test starts its own servers on free ports (and in its own
//! temporary directory), so tests run in parallel and never touch a Redis
//! that happens to run on the machine. The binary is `redis-server` from
//! `PATH`, or the one named by `REDIS_SERVER_BIN`.
//!
//! ```ignore
//! let server = RedisServer::builder().password("pw").unix_socket().tls().start();
//! let redis = Redis::new(&format!("{}/0", server.url()))?;
//! ```

// Each test file includes this module and uses only part of it.
#![allow(dead_code, unused_macros)]

pub mod cluster;
pub mod sentinel;

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use siderpy::{Protocol, Redis, RedisBuilder};
use tempfile::TempDir;

/// How long a server may take to say it is ready.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Fresh ports to try when the one picked was taken in the meantime.
const START_ATTEMPTS: usize = 5;
/// What redis-server logs once every listener is open.
const READY_LINE: &str = "Ready to accept connections";
/// What `redis-server --sentinel` logs instead, once it listens.
const SENTINEL_READY_LINE: &str = "Sentinel ID is";
/// How often to look at a starting server.
const POLL_INTERVAL: Duration = Duration::from_millis(5);

/// The `redis-server` binary the tests run.
pub fn redis_server_bin() -> String {
    std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".to_owned())
}

/// The major version of that binary (`redis-server --version`), once per process.
fn redis_major_version() -> u32 {
    static VERSION: OnceLock<u32> = OnceLock::new();
    *VERSION.get_or_init(|| {
        let out = Command::new(redis_server_bin())
            .arg("--version")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {} (set REDIS_SERVER_BIN): {e}", redis_server_bin()));
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace()
            .find_map(|w| w.strip_prefix("v="))
            .and_then(|v| v.split('.').next()?.parse().ok())
            .unwrap_or_else(|| panic!("cannot read the version of {}: {text}", redis_server_bin()))
    })
}

/// A TCP port that was free a moment ago. Another process may take it before
/// the server binds it; [`RedisServerBuilder::start`] then retries.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// `s` with every byte but ASCII letters and digits percent-encoded, for
/// putting credentials in a URL.
pub fn percent_encode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// A string as a quoted argument of redis.conf.
fn conf_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for b in s.bytes() {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            0x20..=0x7e => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A certificate authority made at test time, with a server certificate for
/// `localhost` and `127.0.0.1` and a client certificate, both signed by it.
pub struct Pki {
    ca_der: CertificateDer<'static>,
    ca_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
    client_cert_der: CertificateDer<'static>,
    client_key_der: Vec<u8>,
    client_cert_pem: String,
    client_key_pem: String,
}

impl Pki {
    /// A new CA and the certificates it signed.
    pub fn generate() -> Pki {
        Pki::generate_for(&["localhost", "127.0.0.1"])
    }

    /// A new CA and the certificates it signed, the server's for `names`
    /// (host names or IP addresses) only.
    pub fn generate_for(names: &[&str]) -> Pki {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.distinguished_name.push(DnType::CommonName, "siderpy test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_key = KeyPair::generate().expect("CA key");
        let ca = ca_params.self_signed(&ca_key).expect("self-sign the CA");
        let issuer = Issuer::new(ca_params, ca_key);

        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut server_params = CertificateParams::new(names.clone()).expect("server params");
        server_params.distinguished_name.push(DnType::CommonName, names.first().map_or("server", String::as_str));
        server_params.use_authority_key_identifier_extension = true;
        server_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_key = KeyPair::generate().expect("server key");
        let server = server_params.signed_by(&server_key, &issuer).expect("sign the server certificate");

        let mut client_params = CertificateParams::new(Vec::<String>::new()).expect("client params");
        client_params.distinguished_name.push(DnType::CommonName, "siderpy test client");
        client_params.use_authority_key_identifier_extension = true;
        client_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_key = KeyPair::generate().expect("client key");
        let client = client_params.signed_by(&client_key, &issuer).expect("sign the client certificate");

        Pki {
            ca_der: ca.der().clone(),
            ca_pem: ca.pem(),
            server_cert_pem: server.pem(),
            server_key_pem: server_key.serialize_pem(),
            client_cert_der: client.der().clone(),
            client_key_der: client_key.serialize_der(),
            client_cert_pem: client.pem(),
            client_key_pem: client_key.serialize_pem(),
        }
    }

    fn roots(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca_der.clone()).expect("add the test CA");
        roots
    }

    /// A client configuration trusting this CA, without a client certificate.
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        let config = rustls::ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(self.roots())
            .with_no_client_auth();
        Arc::new(config)
    }

    /// A client configuration trusting this CA and presenting the client
    /// certificate it signed (for `tls-auth-clients yes`).
    pub fn client_config_with_cert(&self) -> Arc<rustls::ClientConfig> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.client_key_der.clone()));
        let config = rustls::ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .expect("protocol versions")
            .with_root_certificates(self.roots())
            .with_client_auth_cert(vec![self.client_cert_der.clone()], key)
            .expect("client certificate");
        Arc::new(config)
    }

    /// The CA certificate, the server's certificate and key, and the
    /// client's certificate and key, as PEM files in `dir`.
    fn write_files(&self, dir: &Path) -> [PathBuf; 5] {
        let names = ["ca.crt", "server.crt", "server.key", "client.crt", "client.key"];
        let files = names.map(|n| dir.join(n));
        let pems =
            [&self.ca_pem, &self.server_cert_pem, &self.server_key_pem, &self.client_cert_pem, &self.client_key_pem];
        for (path, pem) in files.iter().zip(pems) {
            fs::write(path, pem).expect("write a TLS file");
        }
        files
    }
}

/// A client configuration trusting a freshly made CA that signed nothing the
/// server has: every test server's certificate is untrusted by it.
pub fn untrusted_tls_config() -> Arc<rustls::ClientConfig> {
    Pki::generate().client_config()
}

/// Settings of a [`RedisServer`]; [`start`](Self::start) runs it.
#[derive(Debug, Clone, Default)]
#[must_use = "call .start() to run the server"]
pub struct RedisServerBuilder {
    password: Option<String>,
    acl: Vec<String>,
    unix_socket: bool,
    tls: bool,
    tls_auth_clients: bool,
    /// The names the server's certificate is for, when not the default.
    tls_names: Option<Vec<String>>,
    /// A CA (and certificates) shared with other servers, instead of one of its own.
    pki: Option<Arc<Pki>>,
    /// TLS is the only listener: `port 0`.
    tls_only: bool,
    cluster_bus: bool,
    /// Runs `redis-server --sentinel`.
    sentinel: bool,
    extra: Vec<String>,
}

impl RedisServerBuilder {
    /// `requirepass`: the default user's password.
    pub fn password(mut self, password: &str) -> Self {
        self.password = Some(password.to_owned());
        self
    }

    /// An ACL user allowed everything: `user NAME on >PASSWORD ~* &* +@all`.
    pub fn user(mut self, name: &str, password: &str) -> Self {
        self.acl.push(format!("user {name} on {} ~* &* +@all", conf_quote(&format!(">{password}"))));
        self
    }

    /// Also listen on a unix socket in the server's directory.
    pub fn unix_socket(mut self) -> Self {
        self.unix_socket = true;
        self
    }

    /// Also listen for TLS, with certificates of a CA made for this server.
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Require TLS clients to present a certificate signed by the server's CA
    /// (`tls-auth-clients yes`). Implies [`tls`](Self::tls).
    pub fn tls_auth_clients(mut self) -> Self {
        self.tls = true;
        self.tls_auth_clients = true;
        self
    }

    /// Make the server's certificate for these names only (host names or IP
    /// addresses) instead of `localhost` and `127.0.0.1`. Implies [`tls`](Self::tls).
    pub fn tls_cert_names(mut self, names: &[&str]) -> Self {
        self.tls = true;
        self.tls_names = Some(names.iter().map(|n| n.to_string()).collect());
        self
    }

    /// Use `pki`'s CA and certificates, which other servers may share (so
    /// that they trust each other, as cluster nodes must), instead of a CA
    /// made for this server. Implies [`tls`](Self::tls).
    pub fn tls_pki(mut self, pki: Arc<Pki>) -> Self {
        self.tls = true;
        self.pki = Some(pki);
        self
    }

    /// Listen for TLS only (`port 0`): [`port`](RedisServer::port) and
    /// [`url`](RedisServer::url) are then the TLS ones. Implies [`tls`](Self::tls).
    pub fn tls_only(mut self) -> Self {
        self.tls = true;
        self.tls_only = true;
        self
    }

    /// Give the server a cluster bus port (`cluster-port`) of its own, a free
    /// port picked again with the TCP port on each attempt: the default, TCP
    /// port + 10000, can be taken or above 65535. Add `cluster-enabled yes`
    /// with [`config`](Self::config) (or use [`cluster::node_builder`]).
    pub fn cluster_bus(mut self) -> Self {
        self.cluster_bus = true;
        self
    }

    /// Run as a Sentinel (`redis-server --sentinel`); give it its
    /// `sentinel monitor ...` lines with [`config`](Self::config).
    pub fn sentinel(mut self) -> Self {
        self.sentinel = true;
        self
    }

    /// A raw line of redis.conf.
    pub fn config(mut self, line: &str) -> Self {
        self.extra.push(line.to_owned());
        self
    }

    /// Starts the server and waits until it accepts connections.
    ///
    /// # Panics
    /// When the server cannot start, with its log.
    pub fn start(self) -> RedisServer {
        let dir = tempfile::Builder::new().prefix("siderpy-redis").tempdir().expect("temporary directory");
        let pki = self.tls.then(|| match (&self.pki, &self.tls_names) {
            (Some(shared), _) => Arc::clone(shared),
            (None, Some(names)) => Arc::new(Pki::generate_for(&names.iter().map(String::as_str).collect::<Vec<_>>())),
            (None, None) => Arc::new(Pki::generate()),
        });
        let tls_files = pki.as_ref().map(|p| p.write_files(dir.path()));
        let mut server = RedisServer {
            child: None,
            conf: dir.path().join("redis.conf"),
            socket: self.unix_socket.then(|| dir.path().join("redis.sock")),
            dir,
            port: 0,
            tls_port: None,
            cluster_port: None,
            pki,
            password: self.password.clone(),
            tls_only: self.tls_only,
            sentinel: self.sentinel,
            started: Instant::now(),
        };
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            server.port = free_port();
            let mut taken = vec![server.port];
            let mut another_port = |wanted: bool| {
                wanted.then(|| loop {
                    let p = free_port();
                    if !taken.contains(&p) {
                        taken.push(p);
                        break p;
                    }
                })
            };
            server.tls_port = if self.tls_only { Some(server.port) } else { another_port(self.tls) };
            server.cluster_port = another_port(self.cluster_bus);
            let text = self.conf_text(
                server.dir.path(),
                server.port,
                server.tls_port,
                server.cluster_port,
                server.socket.as_deref(),
                tls_files.as_ref(),
            );
            fs::write(&server.conf, text).expect("write redis.conf");
            match server.spawn() {
                Ok(()) => return server,
                Err(Failure::PortTaken(log)) => last_log = log,
                Err(Failure::Other(log)) => panic!("redis-server did not start:\n{log}"),
            }
        }
        panic!("redis-server found no free port in {START_ATTEMPTS} attempts:\n{last_log}")
    }

    fn conf_text(
        &self,
        dir: &Path,
        port: u16,
        tls_port: Option<u16>,
        cluster_port: Option<u16>,
        socket: Option<&Path>,
        tls: Option<&[PathBuf; 5]>,
    ) -> String {
        let path = |p: &Path| conf_quote(&p.display().to_string());
        let mut lines = vec![
            "bind 127.0.0.1".to_owned(),
            format!("port {}", if self.tls_only { 0 } else { port }),
            "save \"\"".to_owned(),
            "appendonly no".to_owned(),
            "daemonize no".to_owned(),
            format!("dir {}", path(dir)),
            format!("logfile {}", path(&dir.join("redis.log"))),
        ];
        if redis_major_version() >= 7 {
            lines.push("enable-debug-command yes".to_owned());
        }
        if let Some(socket) = socket {
            lines.push(format!("unixsocket {}", path(socket)));
            lines.push("unixsocketperm 700".to_owned());
        }
        if let Some(pw) = &self.password {
            lines.push(format!("requirepass {}", conf_quote(pw)));
        }
        lines.extend(self.acl.iter().cloned());
        if let (Some(tls_port), Some([ca, cert, key, client_cert, client_key])) = (tls_port, tls) {
            lines.push(format!("tls-port {tls_port}"));
            lines.push(format!("tls-ca-cert-file {}", path(ca)));
            lines.push(format!("tls-cert-file {}", path(cert)));
            lines.push(format!("tls-key-file {}", path(key)));
            // What the server presents when it connects out over TLS (to its
            // primary, or on a cluster bus, which always asks for a client
            // certificate): the server certificate is for server auth only.
            lines.push(format!("tls-client-cert-file {}", path(client_cert)));
            lines.push(format!("tls-client-key-file {}", path(client_key)));
            lines.push(format!("tls-auth-clients {}", if self.tls_auth_clients { "yes" } else { "no" }));
        }
        if let Some(cluster_port) = cluster_port {
            lines.push(format!("cluster-port {cluster_port}"));
        }
        lines.extend(self.extra.iter().cloned());
        lines.join("\n") + "\n"
    }
}

/// Why a server did not start.
enum Failure {
    /// Another process bound the port first; try another (or wait).
    PortTaken(String),
    /// Anything else, with the server's output.
    Other(String),
}

/// A running `redis-server`, killed (and reaped) on drop.
///
/// It listens on `127.0.0.1` on a free port, and optionally on a unix socket
/// and a TLS port; it keeps no data on disk.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    dir: TempDir,
    conf: PathBuf,
    port: u16,
    tls_port: Option<u16>,
    cluster_port: Option<u16>,
    socket: Option<PathBuf>,
    pki: Option<Arc<Pki>>,
    password: Option<String>,
    tls_only: bool,
    sentinel: bool,
    /// When the current process was spawned.
    started: Instant,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pki")
    }
}

impl RedisServer {
    /// Settings for a server.
    pub fn builder() -> RedisServerBuilder {
        RedisServerBuilder::default()
    }

    /// A server with default settings (TCP only, no password).
    pub fn start() -> RedisServer {
        RedisServer::builder().start()
    }

    /// The TCP port (the TLS port of a [TLS-only](RedisServerBuilder::tls_only) server).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The TLS port.
    ///
    /// # Panics
    /// If the server was not started with [`tls`](RedisServerBuilder::tls).
    pub fn tls_port(&self) -> u16 {
        self.tls_port.expect("the server was started without .tls()")
    }

    /// The cluster bus port.
    ///
    /// # Panics
    /// If the server was not started with [`cluster_bus`](RedisServerBuilder::cluster_bus).
    pub fn cluster_port(&self) -> u16 {
        self.cluster_port.expect("the server was started without .cluster_bus()")
    }

    /// The unix socket.
    ///
    /// # Panics
    /// If the server was not started with [`unix_socket`](RedisServerBuilder::unix_socket).
    pub fn socket_path(&self) -> &Path {
        self.socket.as_deref().expect("the server was started without .unix_socket()")
    }

    /// `redis://127.0.0.1:PORT` (`rediss://` for a [TLS-only](RedisServerBuilder::tls_only)
    /// server), with no credentials, db or query: append them.
    pub fn url(&self) -> String {
        let scheme = if self.tls_only { "rediss" } else { "redis" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// `redis+unix:///path/to/redis.sock`.
    pub fn unix_url(&self) -> String {
        format!("redis+unix://{}", self.socket_path().display())
    }

    /// `rediss://127.0.0.1:TLS_PORT`; connect with [`tls_client_config`](Self::tls_client_config).
    pub fn tls_url(&self) -> String {
        format!("rediss://127.0.0.1:{}", self.tls_port())
    }

    /// The CA that signed the server's certificate.
    ///
    /// # Panics
    /// If the server was started without TLS.
    pub fn pki(&self) -> &Pki {
        self.pki.as_deref().expect("the server was started without .tls()")
    }

    /// The file of the CA certificate, for `redis-cli --cacert`.
    pub fn ca_cert_path(&self) -> PathBuf {
        assert!(self.pki.is_some(), "the server was started without .tls()");
        self.dir.path().join("ca.crt")
    }

    /// A rustls configuration trusting the server's CA.
    pub fn tls_client_config(&self) -> Arc<rustls::ClientConfig> {
        self.pki().client_config()
    }

    /// A rustls configuration trusting the server's CA and presenting a
    /// client certificate it signed.
    pub fn tls_client_config_with_cert(&self) -> Arc<rustls::ClientConfig> {
        self.pki().client_config_with_cert()
    }

    /// A URL that authenticates as the default user when the server has a password.
    pub fn admin_url(&self) -> String {
        match &self.password {
            Some(pw) => self.url().replacen("://", &format!("://:{}@", percent_encode(pw)), 1) + "/0",
            None => format!("{}/0", self.url()),
        }
    }

    /// The settings of [`admin`](Self::admin): [`admin_url`](Self::admin_url),
    /// trusting the server's CA when it listens for TLS only.
    pub fn admin_builder(&self) -> RedisBuilder {
        let builder = Redis::builder(&self.admin_url()).expect("the admin URL is valid");
        if self.tls_only {
            builder.tls(self.tls_client_config())
        } else {
            builder
        }
    }

    /// A client for checking and changing the server's state from a test.
    pub fn admin(&self) -> Redis {
        self.admin_builder().build()
    }

    /// Whether the server's process runs (it may be [paused](Self::pause)).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Kills the server (SIGKILL) and waits for it to exit. Its listeners
    /// close at once, as in a crash.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server if it runs, then starts it again with the same
    /// settings on the same ports (the data is gone).
    ///
    /// Async so that the test's runtime keeps running meanwhile: clients
    /// see their connections drop as they would in production.
    ///
    /// # Panics
    /// When it cannot start again within a few seconds.
    pub async fn restart(&mut self) {
        self.kill();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let offset = self.spawn_child();
            let outcome = loop {
                match self.poll_ready(offset) {
                    Some(outcome) => break outcome,
                    None => tokio::time::sleep(POLL_INTERVAL).await,
                }
            };
            match outcome {
                Ok(()) => return,
                // The old process's port may be taken for a moment: retry it.
                Err(Failure::PortTaken(_)) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(Failure::PortTaken(log) | Failure::Other(log)) => {
                    panic!("redis-server did not restart:\n{log}")
                }
            }
        }
    }

    /// Stops the server (SIGSTOP): connections stay open but nothing is
    /// answered until [`resume`](Self::resume).
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Continues a [paused](Self::pause) server (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, sig: &str) {
        let pid = self.pid().expect("the server is not running");
        let status = Command::new("kill").arg(sig).arg(pid.to_string()).status().expect("run kill");
        assert!(status.success(), "kill {sig} {pid} failed");
    }

    /// Runs redis-server on the config file and waits for it to be ready,
    /// blocking the thread.
    fn spawn(&mut self) -> Result<(), Failure> {
        let offset = self.spawn_child();
        loop {
            if let Some(outcome) = self.poll_ready(offset) {
                return outcome;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
    }

    /// Starts the process; returns where its lines start in the log.
    fn spawn_child(&mut self) -> u64 {
        let offset = fs::metadata(self.log_path()).map_or(0, |m| m.len());
        let stderr = File::create(self.dir.path().join("stderr.log")).expect("create stderr.log");
        let child = Command::new(redis_server_bin())
            .arg(&self.conf)
            .args(self.sentinel.then_some("--sentinel"))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {} (set REDIS_SERVER_BIN): {e}", redis_server_bin()));
        self.child = Some(child);
        self.started = Instant::now();
        offset
    }

    /// `None` while the process is starting; then whether it is ready.
    fn poll_ready(&mut self, offset: u64) -> Option<Result<(), Failure>> {
        let log = read_from(&self.log_path(), offset);
        // Belt and braces: the TCP listener answers too.
        let ready = if self.sentinel { SENTINEL_READY_LINE } else { READY_LINE };
        if log.contains(ready) && TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            return Some(Ok(()));
        }
        let child = self.child.as_mut().expect("spawned");
        if let Some(status) = child.try_wait().expect("poll redis-server") {
            self.child = None;
            let stderr = fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default();
            let report = format!("{status}\n--- log ---\n{log}--- stderr ---\n{stderr}");
            return Some(Err(if report.contains("Address already in use") {
                Failure::PortTaken(report)
            } else {
                Failure::Other(report)
            }));
        }
        if self.started.elapsed() > START_TIMEOUT {
            self.kill();
            return Some(Err(Failure::Other(format!("not ready after {START_TIMEOUT:?}\n--- log ---\n{log}"))));
        }
        None
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The text of `path` from byte `offset` on (empty if it does not exist yet).
fn read_from(path: &Path, offset: u64) -> String {
    let mut text = String::new();
    if let Ok(mut file) = File::open(path) {
        if file.seek(SeekFrom::Start(offset)).is_ok() {
            let _ = file.read_to_string(&mut text);
        }
    }
    text
}

/// Polls `check` every 10 ms until it returns true.
///
/// # Panics
/// After `timeout`, naming `what`.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits out the client's reconnect backoff after its server came back:
/// sends `PING` until it no longer fails with `Error::Unavailable` (the
/// next attempt to connect was not due yet), for at most 10 s; returns the
/// last outcome.
pub async fn ping_once_reconnected(redis: &Redis) -> siderpy::Result<()> {
    use siderpy::prelude::*;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match redis.execute_cmd("PING", ()).await {
            Err(siderpy::Error::Unavailable { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await
            }
            outcome => return outcome.map(drop),
        }
    }
}

/// A loopback listener that accepts connections and never sends a byte.
pub async fn silent_listener() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (port, task)
}

/// A loopback address whose connection attempts get no answer at all, as
/// a host that is down behind a firewall: a listener that never accepts,
/// its (tiny) accept queue filled, so the kernel drops further SYNs. Keep
/// the returned guard alive while it is used.
pub fn blackholed_addr() -> (std::net::SocketAddr, Held) {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into()).unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let mut held: Vec<Box<dyn std::any::Any>> = vec![Box::new(socket)];
    // Fill the queue until a connect hangs.
    for _ in 0..16 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            Ok(s) => held.push(Box::new(s)),
            Err(_) => return (addr, Held(held)),
        }
    }
    panic!("the accept queue of {addr} never filled");
}

/// Keeps sockets open until dropped.
pub struct Held(Vec<Box<dyn std::any::Any>>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.clear();
    }
}

/// A TCP proxy on loopback to `target` that can cut the connections it
/// carries without a word to either side ([`blackhole`](Self::blackhole)):
/// a half-open connection, as when a NAT entry or a host vanishes. New
/// connections are carried as before.
pub struct Proxy {
    pub port: u16,
    /// Bumped by `blackhole`: connections from before stop carrying bytes.
    generation: Arc<std::sync::atomic::AtomicU64>,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: u16) -> Proxy {
        use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let generation = Arc::new(AtomicU64::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (gen, count) = (Arc::clone(&generation), Arc::clone(&accepted));
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", target)).await else { continue };
                let (born, gen) = (gen.load(Ordering::SeqCst), Arc::clone(&gen));
                tokio::spawn(async move {
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let alive = move || gen.load(Ordering::SeqCst) == born;
                    tokio::join!(pump(&mut cr, &mut sw, alive.clone()), pump(&mut sr, &mut cw, alive));
                    // Blackholed (or one side gone): hold every socket open,
                    // silent, so that neither side sees a close.
                    std::future::pending::<()>().await;
                    drop((cr, cw, sr, sw));
                });
            }
        });
        Proxy { port, generation, accepted, task }
    }

    /// From now on, the connections open so far carry nothing either way
    /// and never close.
    pub fn blackhole(&self) {
        self.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// How many connections the proxy accepted.
    pub fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies bytes from `from` to `to` while `alive()`; stops silently
/// (keeping both open) when it is not.
async fn pump(
    from: &mut tokio::net::tcp::OwnedReadHalf,
    to: &mut tokio::net::tcp::OwnedWriteHalf,
    alive: impl Fn() -> bool,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if !alive() || to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// `CLIENT INFO` of the client's connection, as `key=value` fields.
pub async fn client_info(redis: &Redis) -> std::collections::HashMap<String, String> {
    use siderpy::prelude::*;
    let line: String = redis.execute_cmd("CLIENT", ["INFO"]).returning().await.expect("CLIENT INFO");
    line.split_whitespace().filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}

/// `url` asking for protocol `p` in its query (`protocol=2` or `protocol=3`).
/// The URL of `server`'s db 0, speaking `p`.
pub fn url(server: &RedisServer, p: Protocol) -> String {
    with_protocol(&format!("{}/0", server.url()), p)
}

/// A client of `server`'s db 0 speaking `p`, with default settings.
pub fn client(server: &RedisServer, p: Protocol) -> Redis {
    Redis::new(&url(server, p)).unwrap()
}

/// The server's id for the connection `redis` sends ordinary commands on.
pub async fn client_id(redis: &Redis) -> i64 {
    use siderpy::prelude::*;
    redis.execute_cmd("CLIENT", ["ID"]).returning().await.expect("CLIENT ID")
}

pub fn with_protocol(url: &str, p: Protocol) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    let n = match p {
        Protocol::Resp2 => 2,
        Protocol::Resp3 => 3,
    };
    format!("{url}{sep}protocol={n}")
}

/// Runs each `async fn name(p: Protocol)` listed as two tests,
/// `resp2::name` and `resp3::name`, so one suite covers both protocols.
macro_rules! protocol_tests {
    ($($name:ident),* $(,)?) => {
        mod resp2 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(siderpy::Protocol::Resp2).await
                }
            )*
        }
        mod resp3 {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(siderpy::Protocol::Resp3).await
                }
            )*
        }
    };
}
