//! Regenerates the spec from a throwaway `redis-server` and compares it with
//! the committed `commands.json`, byte for byte.
//!
//! The committed spec records the server it came from in
//! `commands.source.json`; when the installed `redis-server` is another
//! version the comparison cannot hold, and the tests say so and skip.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use siderpy_gen::{check, connect, fetch, Options, Source};

/// The server the committed spec comes from.
const REDIS: &str = "redis-server";

/// The workspace root, where the committed spec lives.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn committed_spec() -> String {
    std::fs::read_to_string(root().join("commands.json")).expect("the committed commands.json")
}

fn recorded_source() -> Source {
    let text =
        std::fs::read_to_string(root().join("commands.source.json")).expect("the committed commands.source.json");
    Source::parse(&text).expect("commands.source.json holds server and version")
}

/// A `redis-server` of its own on a free loopback port, without
/// persistence, killed (and its directory removed) on drop.
struct Server {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Server {
    /// The installed `redis-server`'s version (`7.0.15`).
    fn installed_version() -> String {
        Self::version_of(REDIS).unwrap_or_else(|e| {
            panic!("cannot run {REDIS} ({e}): these tests need it installed (Debian package redis-server)")
        })
    }

    /// The version a server binary reports (`v=7.0.15` in `--version`).
    fn version_of(binary: &str) -> std::io::Result<String> {
        let out = Command::new(binary).arg("--version").output()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text
            .split_whitespace()
            .find_map(|w| w.strip_prefix("v="))
            .unwrap_or_else(|| panic!("no version in `{binary} --version`: {text}"))
            .to_owned();
        Ok(version)
    }

    /// Starts a server when the installed one is the version the committed
    /// spec was generated from; otherwise prints why and returns `None`.
    fn start_if_recorded_version(test: &str) -> Option<Server> {
        let recorded = recorded_source();
        let installed = Self::installed_version();
        if recorded.server != "redis" || recorded.version != installed {
            eprintln!(
                "SKIPPED {test}: commands.json was generated from {} {}, but the installed redis-server is {installed}; \
                 regenerate it (see siderpy-gen/README.md) or install that version to run this test",
                recorded.server, recorded.version
            );
            return None;
        }
        Some(Self::start(REDIS, false))
    }

    /// Starts the server; with `tls` it listens for TLS only, with a
    /// certificate for `localhost` signed by `ca.crt` in its directory.
    fn start(binary: &str, tls: bool) -> Server {
        Self::start_with(binary, tls, &[])
    }

    /// Starts the server with more command-line arguments (`--loadmodule x.so`).
    fn start_with(binary: &str, tls: bool, extra: &[&str]) -> Server {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("siderpy-gen-test-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a scratch directory");
        if tls {
            write_certificates(&dir);
        }
        let mut last_error = String::new();
        // A port found free may be taken before the server binds it: retry.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port();
            let mut cmd = Command::new(binary);
            if tls {
                cmd.args(["--port", "0", "--tls-port", &port.to_string(), "--tls-auth-clients", "no"]);
                cmd.arg("--tls-cert-file").arg(dir.join("server.crt"));
                cmd.arg("--tls-key-file").arg(dir.join("server.key"));
                cmd.arg("--tls-ca-cert-file").arg(dir.join("ca.crt"));
            } else {
                cmd.args(["--port", &port.to_string()]);
            }
            let mut child = cmd
                .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(["--daemonize", "no", "--loglevel", "warning"])
                .args(extra)
                .arg("--dir")
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("{binary} does not start: {e}"));
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(status)) = child.try_wait() {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    last_error = format!("{binary} exited with {status}: {err}");
                    break;
                }
                // A TLS port takes connections once it is up; a plain one
                // must answer PING.
                let ready = if tls { TcpStream::connect(("127.0.0.1", port)).is_ok() } else { ping(port) };
                if ready {
                    return Server { child, port, dir };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&dir);
        panic!("could not start {binary}: {last_error}");
    }

    fn url(&self, query: &str) -> String {
        format!("redis://127.0.0.1:{}/0{query}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A private CA (`ca.crt`) and a certificate for `localhost` it signed
/// (`server.crt`, `server.key`).
fn write_certificates(dir: &Path) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.distinguished_name.push(DnType::CommonName, "siderpy-gen test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server = CertificateParams::new(vec!["localhost".to_owned()]).unwrap().signed_by(&server_key, &issuer).unwrap();
    std::fs::write(dir.join("ca.crt"), ca.pem()).unwrap();
    std::fs::write(dir.join("server.crt"), server.pem()).unwrap();
    std::fs::write(dir.join("server.key"), server_key.serialize_pem()).unwrap();
}

/// True once the server on `port` answers `PING`.
fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

#[tokio::test]
async fn regenerated_spec_is_byte_identical_to_the_committed_one() {
    let Some(server) = Server::start_if_recorded_version("regenerated_spec_is_byte_identical_to_the_committed_one")
    else {
        return;
    };
    let committed = committed_spec();
    let recorded = recorded_source();
    // RESP3 is the tool's default; RESP2 replies are flat arrays and must
    // give the same bytes.
    for query in ["", "?protocol=2"] {
        let options = Options { url: server.url(query), ..Options::default() };
        let redis = connect(&options).unwrap();
        let generated = fetch(&redis).await.unwrap();
        if let Some(diff) = check::diff(&committed, &generated.spec, &generated.text) {
            panic!("with {query:?} the regenerated spec differs from the committed commands.json: {diff}");
        }
        assert_eq!((&generated.source.server, &generated.source.version), (&recorded.server, &recorded.version));
    }
}

#[test]
fn command_line_checks_and_writes() {
    let Some(server) = Server::start_if_recorded_version("command_line_checks_and_writes") else {
        return;
    };
    let bin = env!("CARGO_BIN_EXE_siderpy-gen");
    let run = |args: &[&str]| {
        let out = Command::new(bin).args(args).output().expect("siderpy-gen runs");
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let url = server.url("");
    let spec = root().join("commands.json");

    let (code, err) = run(&["--url", &url, "--output", spec.to_str().unwrap(), "--check"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("up to date"), "{err}");

    // Writing: the spec and its source record, in a scratch directory.
    let out_dir = server.dir.join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let out = out_dir.join("commands.json");
    let (code, err) = run(&["--url", &url, "--output", out.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), committed_spec());
    let written = Source::parse(&std::fs::read_to_string(out_dir.join("commands.source.json")).unwrap()).unwrap();
    assert_eq!(written.generator, siderpy_gen::GENERATOR);
    assert_eq!((written.server, written.version), (recorded_source().server, recorded_source().version));

    // A stale spec: one command changed, one dropped, one invented.
    let mut stale: serde_json::Value = serde_json::from_str(&committed_spec()).unwrap();
    let map = stale.as_object_mut().unwrap();
    map["GET"]["arity"] = 3.into();
    map.remove("SET");
    map.insert("NOT A COMMAND".into(), serde_json::json!({}));
    std::fs::write(&out, siderpy_gen::pyjson::to_string(&stale)).unwrap();
    let (code, err) = run(&["--url", &url, "--output", out.to_str().unwrap(), "--check"]);
    assert_eq!(code, Some(1), "{err}");
    for want in ["1 added, 1 removed, 1 changed, 0 with docs-only changes", "+ SET", "- NOT A COMMAND", "~ GET (arity)"]
    {
        assert!(err.contains(want), "{want:?} missing from: {err}");
    }

    // No server there: a clear failure, not a hang.
    let (code, err) = run(&["--url", "redis://127.0.0.1:1", "--check", "--timeout", "5"]);
    assert_eq!(code, Some(2), "{err}");
}

#[tokio::test]
async fn private_ca_over_tls() {
    let Some(version) = Some(Server::installed_version()).filter(|v| *v == recorded_source().version) else {
        eprintln!("SKIPPED private_ca_over_tls: the installed redis-server is not the version commands.json records");
        return;
    };
    let server = Server::start(REDIS, true);
    let url = format!("rediss://localhost:{}", server.port);
    let with_ca = Options { url: url.clone(), tls_ca: Some(server.dir.join("ca.crt")), ..Options::default() };
    let generated = fetch(&connect(&with_ca).unwrap()).await.unwrap();
    assert_eq!(generated.source.version, version);
    assert!(generated.text == committed_spec(), "the spec read over TLS differs from the committed one");

    // Without the private CA the server's certificate is not trusted.
    let without = Options { url, timeout: Duration::from_secs(5), ..Options::default() };
    let err = fetch(&connect(&without).unwrap()).await.unwrap_err();
    assert!(err.to_string().contains("certificate"), "{err}");

    let missing = Options { tls_ca: Some(server.dir.join("nope.pem")), ..with_ca };
    assert!(matches!(connect(&missing), Err(siderpy_gen::Error::Tls(_))));
}

/// Valkey is not the source of the committed spec, but the generator must
/// read it all the same, identically under both protocols. Runs only where
/// a `valkey-server` is on the PATH.
#[tokio::test]
async fn valkey_when_installed() {
    let Ok(version) = Server::version_of("valkey-server") else {
        eprintln!("SKIPPED valkey_when_installed: no valkey-server on the PATH");
        return;
    };
    let server = Server::start("valkey-server", false);
    let mut texts = Vec::new();
    for query in ["", "?protocol=2"] {
        let options = Options { url: server.url(query), ..Options::default() };
        let generated = fetch(&connect(&options).unwrap()).await.unwrap();
        assert_eq!((generated.source.server.as_str(), generated.source.version.as_str()), ("valkey", version.as_str()));
        let get = &generated.spec["GET"];
        assert_eq!((&get["arity"], &get["group"]), (&serde_json::json!(2), &serde_json::json!("string")));
        assert_eq!(get["key_specs"][0]["RO"], true);
        texts.push(generated.text);
    }
    assert!(texts[0] == texts[1], "RESP3 and RESP2 give different specs for Valkey {version}");
}

/// A module's published spec (RedisJSON's, the fixture of tests/user-crate)
/// merged with what a server with the module loaded reports: the published
/// arguments stay, the server's key specs and flags are added. Needs
/// `SIDERPY_MODULES_DIR` (the directory of `rejson.so`; scripts/test.sh
/// sets it).
#[tokio::test]
async fn merge_completes_a_module_spec_with_what_the_server_reports() {
    let dir = std::env::var("SIDERPY_MODULES_DIR")
        .expect("SIDERPY_MODULES_DIR names the directory of rejson.so (scripts/test.sh sets it)");
    let module = format!("{dir}/rejson.so");
    let server = Server::start_with(REDIS, false, &["--loadmodule", &module]);
    let redis = connect(&Options { url: server.url(""), ..Options::default() }).unwrap();
    let live = fetch(&redis).await.unwrap();
    let text = std::fs::read_to_string(root().join("tests/user-crate/specs/json.json")).unwrap();
    let published: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(published["JSON.GET"].get("key_specs").is_none(), "the published spec has no key specs");
    let merged = siderpy_gen::merge::merge(&published, &live.spec).unwrap();
    let get = &merged["JSON.GET"];
    assert_eq!(get["arguments"], published["JSON.GET"]["arguments"]);
    assert_eq!(get["key_specs"][0]["begin_search"]["spec"]["index"], 1, "{get}");
    assert!(get["command_flags"].as_array().unwrap().contains(&serde_json::json!("readonly")), "{get}");
    assert_eq!(merged["JSON.SET"]["summary"], published["JSON.SET"]["summary"]);
    // What the module does not have loaded stays as published; nothing of
    // other modules or the server's own commands comes in.
    let names = merged.as_object().unwrap();
    assert!(names.keys().all(|n| n.starts_with("JSON.")), "{:?}", names.keys().collect::<Vec<_>>());
    assert!(names.len() >= published.as_object().unwrap().len());
}
