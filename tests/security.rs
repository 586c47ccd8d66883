//! Security: TLS verifies certificates by default (issuer and name), with a
//! loudly named opt-out; passwords never reach `Debug`, `Display`, errors or
//! `tracing` output, whatever happens to the connection; every crate
//! forbids unsafe code.

#![forbid(unsafe_code)]

#[macro_use]
mod support;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use siderpy::prelude::*;
use siderpy::{Error, Protocol, Redis};
use support::{with_protocol, RedisServer};

/// What the global `tracing` subscriber of this test binary has written:
/// everything, at TRACE level, `log` records (rustls's) included.
fn captured_logs() -> &'static Arc<Mutex<Vec<u8>>> {
    static CAPTURE: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        use tracing_subscriber::util::SubscriberInitExt;
        struct Capture(Arc<Mutex<Vec<u8>>>);
        impl Write for Capture {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buf = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&buf);
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Capture(Arc::clone(&sink)))
            .finish()
            .try_init()
            .expect("the only subscriber of this test binary");
        buf
    })
}

async fn ping(redis: &Redis) -> Result<(), Error> {
    tokio::time::timeout(Duration::from_secs(10), redis.execute_cmd("PING", ())).await.expect("no hang").map(drop)
}

fn assert_tls_refused(err: &Error, what: &str) {
    assert!(matches!(err, Error::Tls(_)), "{what}: {err:?}");
    assert!(err.is_connection_error(), "{what}");
    assert!(err.to_string().contains("certificate"), "{what}: {err}");
}

#[tokio::test]
async fn certificate_for_another_name_is_refused() {
    // Trusted issuer, wrong name: a certificate for `localhost` only,
    // reached by its IP address; one for another host, reached as localhost.
    let server = RedisServer::builder().tls_cert_names(&["localhost"]).start();
    let trusting = |url: &str| Redis::builder(url).unwrap().tls(server.tls_client_config()).build();
    let by_ip = format!("rediss://127.0.0.1:{}", server.tls_port());
    assert_tls_refused(&ping(&trusting(&by_ip)).await.unwrap_err(), "127.0.0.1 not in the certificate");
    ping(&trusting(&format!("rediss://localhost:{}", server.tls_port()))).await.expect("the name it is for");

    let server = RedisServer::builder().tls_cert_names(&["redis.example.com"]).start();
    let redis = Redis::builder(&format!("rediss://localhost:{}", server.tls_port()))
        .unwrap()
        .tls(server.tls_client_config())
        .build();
    assert_tls_refused(&ping(&redis).await.unwrap_err(), "localhost not in the certificate");
}

#[tokio::test]
async fn danger_accept_invalid_certs_is_an_explicit_opt_in() {
    // An issuer nobody trusts, and a name that does not match.
    let server = RedisServer::builder().tls_cert_names(&["redis.example.com"]).password("pw").start();
    let url = format!("rediss://:pw@127.0.0.1:{}/2", server.tls_port());
    for p in [Protocol::Resp2, Protocol::Resp3] {
        let url = with_protocol(&url, p);
        assert_tls_refused(&ping(&Redis::new(&url).unwrap()).await.unwrap_err(), "the default verifies");
        let untrusted = Redis::builder(&url).unwrap().tls(support::untrusted_tls_config()).build();
        assert_tls_refused(&ping(&untrusted).await.unwrap_err(), "an unrelated CA");

        let anything = Redis::builder(&url).unwrap().danger_accept_invalid_certs().build();
        ping(&anything).await.expect("verification is off");
        let info = support::client_info(&anything).await;
        assert_eq!(info["db"], "2", "the handshake ran over TLS");
        // It replaces a configuration given before it.
        let replaced = Redis::builder(&url).unwrap().tls(support::untrusted_tls_config()).danger_accept_invalid_certs();
        ping(&replaced.build()).await.expect("verification is off");
    }
}

#[tokio::test]
async fn danger_accept_invalid_certs_still_needs_a_client_certificate_where_asked() {
    // The opt-out is about the server's certificate: a server requiring one
    // from the client still refuses a client without.
    let server = RedisServer::builder().tls_auth_clients().start();
    let redis = Redis::builder(&server.tls_url()).unwrap().danger_accept_invalid_certs().build();
    let err = ping(&redis).await.unwrap_err();
    assert!(err.is_connection_error(), "{err:?}");
}

const SECRET: &str = "Tr0ub4dor-s3cret-pw";
/// A wrong password, which must not show either.
const WRONG: &str = "Wr0ng-s3cret-pw";

fn assert_hidden(what: &str, shown: &str) {
    for pw in [SECRET, WRONG] {
        assert!(!shown.contains(pw), "{what} shows a password: {shown}");
    }
}

/// Every form of an error: Display, Debug and each source's Display.
fn error_text(err: &Error) -> String {
    let mut text = format!("{err} {err:?}");
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(&format!(" {s} {s:?}"));
        source = s.source();
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_never_reach_logs_or_errors() {
    let logs = captured_logs();
    let mut server = RedisServer::builder().password(SECRET).user("alice", SECRET).tls().start();
    let mut errors = Vec::new();
    let mut shown = Vec::new();
    for p in [Protocol::Resp2, Protocol::Resp3] {
        let good = [
            format!("redis://:{SECRET}@127.0.0.1:{}/1", server.port()),
            format!("redis://alice:{SECRET}@127.0.0.1:{}/1?client_name=c", server.port()),
            format!("redis://127.0.0.1:{}/1?password={SECRET}", server.port()),
        ];
        let mut clients = Vec::new();
        for url in &good {
            clients.push(Redis::new(&with_protocol(url, p)).unwrap());
        }
        clients.push(Redis::builder(&server.url()).unwrap().auth(None, SECRET).protocol(p).build());
        clients.push(Redis::builder(&server.url()).unwrap().auth(Some("alice"), SECRET).protocol(p).build());
        let tls_url = format!("rediss://alice:{SECRET}@127.0.0.1:{}/3", server.tls_port());
        clients.push(Redis::builder(&with_protocol(&tls_url, p)).unwrap().tls(server.tls_client_config()).build());
        for redis in &clients {
            ping(redis).await.expect("the right password");
            shown.push(format!("{redis:?} {} {:?}", redis.connection_info(), redis.connection_info()));
            // Blocking commands and transactions open connections of their own.
            let _ = redis.execute_cmd("BLPOP", ("nothing", 0.01)).await.expect("BLPOP");
            redis.execute_cmd("MULTI", ()).await.unwrap();
            redis.execute_cmd("EXEC", ()).await.unwrap();
        }
        // Wrong passwords, the same ways.
        let wrong = |url: &str| Redis::new(&with_protocol(&url.replace(SECRET, WRONG), p)).unwrap();
        let mut refused: Vec<Redis> = good.iter().map(|u| wrong(u)).collect();
        refused.push(Redis::builder(&server.url()).unwrap().auth(Some("alice"), WRONG).protocol(p).build());
        refused.push(Redis::builder(&server.url()).unwrap().auth(Some("nobody"), SECRET).protocol(p).build());
        for redis in &refused {
            let err = ping(redis).await.expect_err("a wrong password");
            assert_eq!(err.code(), Some("WRONGPASS"), "{err:?}");
            errors.push(err);
            shown.push(format!("{redis:?}"));
        }
        // Reconnecting after a restart, failing while the server is down,
        // and reconnecting again.
        server.restart().await;
        for redis in &clients {
            ping(redis).await.expect("reconnects after a restart");
        }
        server.kill();
        for redis in &clients {
            errors.push(ping(redis).await.expect_err("the server is down"));
        }
        server.restart().await;
        for redis in &clients {
            // From its next attempt, once the backoff allows it.
            support::ping_once_reconnected(redis).await.expect("reconnects once the server is back");
        }
        // A connect timeout, and a server that is not Redis at all.
        let silent = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let url = format!("redis://:{SECRET}@127.0.0.1:{}/0", silent.local_addr().unwrap().port());
        let slow = Redis::builder(&with_protocol(&url, p)).unwrap().connect_timeout(Duration::from_millis(100)).build();
        errors.push(ping(&slow).await.expect_err("nothing answers"));
        shown.push(format!("{:?}", Redis::builder(&url).unwrap().tls(server.tls_client_config())));
    }
    for err in &errors {
        assert_hidden("an error", &error_text(err));
    }
    for text in &shown {
        assert_hidden("a client", text);
    }
    tracing::info!("end of passwords_never_reach_logs_or_errors");
    let logs = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
    // The capture works, and saw connections open, fail and come back.
    for expected in ["end of passwords_never_reach_logs_or_errors", "connected", "connect failed", "reconnecting"] {
        assert!(logs.contains(expected), "no {expected:?} in the captured logs:\n{logs}");
    }
    assert!(logs.contains("<redacted>"), "the server URL is logged with its password hidden:\n{logs}");
    assert_hidden("the logs", &logs);
}

#[test]
fn every_crate_forbids_unsafe_code() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut roots = Vec::new();
    for dir in ["", "siderpy-core", "siderpy-macros", "siderpy-gen", "fuzz"] {
        let manifest = std::fs::read_to_string(root.join(dir).join("Cargo.toml")).expect("a crate manifest");
        assert!(manifest.contains("[package]"), "{dir}");
        for file in ["src/lib.rs", "src/main.rs"] {
            let path = root.join(dir).join(file);
            if path.exists() {
                roots.push(path);
            }
        }
    }
    // The fuzz targets are crates of their own.
    for entry in std::fs::read_dir(root.join("fuzz/fuzz_targets")).expect("fuzz targets") {
        roots.push(entry.unwrap().path());
    }
    // Every member of the workspace is among them.
    let workspace = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let members = workspace.split("members = [").nth(1).and_then(|m| m.split(']').next()).expect("members");
    for member in members.split(',').map(|m| m.trim().trim_matches('"')).filter(|m| !m.is_empty()) {
        assert!(roots.iter().any(|r| r.starts_with(root.join(member))), "{member} is not checked");
    }
    assert!(roots.len() >= 9, "{roots:?}");
    for path in roots {
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("#![forbid(unsafe_code)]"), "{} does not forbid unsafe code", path.display());
    }
}
