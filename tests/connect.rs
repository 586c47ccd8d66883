//! Connecting: every URL scheme, TLS, authentication, db selection and the
//! connect timeout, against real servers.

#[macro_use]
mod support;

use std::time::{Duration, Instant};

use siderpy::prelude::*;
use siderpy::{Error, Protocol, Redis, Timeout};
use support::{client_info, percent_encode, silent_listener, untrusted_tls_config, with_protocol, RedisServer};

protocol_tests!(
    tcp_url,
    unix_urls,
    unix_url_credentials,
    tls_url,
    tls_url_by_host_name,
    password_auth,
    acl_user_auth,
    percent_encoded_credentials,
    wrong_password_is_refused,
    missing_password_gives_noauth,
    auth_failure_before_select_is_an_error,
    db_from_path_and_query,
    client_name_from_url_and_builder,
);

/// Writes and reads back a key, and checks the protocol spoken.
async fn round_trip(redis: &Redis, p: Protocol) {
    let key = format!("k:{}", redis.connection_info());
    redis.execute_cmd("SET", (&key, "v\r\n\0x")).await.expect("SET");
    let v: Option<Vec<u8>> = redis.execute_cmd("GET", [&key]).returning().await.expect("GET");
    assert_eq!(v.as_deref(), Some(&b"v\r\n\0x"[..]));
    let resp = match p {
        Protocol::Resp2 => "2",
        Protocol::Resp3 => "3",
    };
    assert_eq!(client_info(redis).await["resp"], resp);
}

async fn whoami(redis: &Redis) -> String {
    redis.execute_cmd("ACL", ["WHOAMI"]).returning().await.expect("ACL WHOAMI")
}

async fn tcp_url(p: Protocol) {
    let server = RedisServer::start();
    let redis = Redis::new(&with_protocol(&format!("{}/2", server.url()), p)).unwrap();
    round_trip(&redis, p).await;
    assert_eq!(client_info(&redis).await["db"], "2");
    // No db, no trailing slash.
    let redis = Redis::new(&with_protocol(&server.url(), p)).unwrap();
    round_trip(&redis, p).await;
    assert_eq!(client_info(&redis).await["db"], "0");
}

async fn unix_urls(p: Protocol) {
    let server = RedisServer::builder().unix_socket().start();
    let path = server.socket_path().display().to_string();
    for (db, scheme) in ["redis+unix", "redis-socket", "unix"].into_iter().enumerate() {
        let url = with_protocol(&format!("{scheme}://{path}?db={db}"), p);
        let redis = Redis::new(&url).unwrap();
        round_trip(&redis, p).await;
        let info = client_info(&redis).await;
        assert_eq!(info["db"], db.to_string(), "{url}");
        assert!(info["laddr"].starts_with(&path), "{url} did not use the socket: {info:?}");
    }
    assert_eq!(server.unix_url(), format!("redis+unix://{path}"));
}

async fn unix_url_credentials(p: Protocol) {
    let server = RedisServer::builder().unix_socket().password("pw").user("alice", "a-pw").start();
    let path = server.socket_path().display();
    for (url, user) in [
        (format!("redis+unix://:pw@{path}"), "default"),
        (format!("unix://alice:a-pw@{path}?db=3"), "alice"),
        (format!("redis-socket://{path}?password=pw"), "default"),
    ] {
        let redis = Redis::new(&with_protocol(&url, p)).unwrap();
        assert_eq!(whoami(&redis).await, user, "{url}");
        round_trip(&redis, p).await;
    }
}

async fn tls_url(p: Protocol) {
    let server = RedisServer::builder().tls().start();
    let redis = Redis::builder(&with_protocol(&format!("{}/4", server.tls_url()), p))
        .unwrap()
        .tls(server.tls_client_config())
        .build();
    round_trip(&redis, p).await;
    assert_eq!(client_info(&redis).await["db"], "4");
    // `.tls()` turns TLS on for a redis:// URL too.
    let url = format!("redis://127.0.0.1:{}", server.tls_port());
    let redis = Redis::builder(&with_protocol(&url, p)).unwrap().tls(server.tls_client_config()).build();
    round_trip(&redis, p).await;
}

async fn tls_url_by_host_name(p: Protocol) {
    let server = RedisServer::builder().tls().password("pw").start();
    let url = format!("rediss://:pw@localhost:{}", server.tls_port());
    let redis = Redis::builder(&with_protocol(&url, p)).unwrap().tls(server.tls_client_config()).build();
    round_trip(&redis, p).await;
}

#[tokio::test]
async fn tls_untrusted_certificate_is_refused() {
    let server = RedisServer::builder().tls().start();
    let redis = Redis::builder(&server.tls_url()).unwrap().tls(untrusted_tls_config()).build();
    let err = redis.execute_cmd("PING", ()).await.expect_err("the CA is not trusted");
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    assert!(err.is_connection_error());
    // Without a configuration, rediss:// verifies against the public roots,
    // which do not hold the test CA either.
    let err = Redis::new(&server.tls_url()).unwrap().execute_cmd("PING", ()).await.expect_err("not a public CA");
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    // The plain port of the same server still works.
    server.admin().execute_cmd("PING", ()).await.unwrap();
}

/// The README's (and `RedisBuilder::tls`'s) private-CA example, verbatim:
/// a rustls configuration trusting the CA in a PEM file.
fn private_ca_config(
    ca_pem: &str,
) -> Result<std::sync::Arc<siderpy::rustls::ClientConfig>, Box<dyn std::error::Error>> {
    use siderpy::rustls::{
        self,
        pki_types::{pem::PemObject, CertificateDer},
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_pem)? {
        roots.add(cert?)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(siderpy::crypto_provider()?)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(std::sync::Arc::new(config))
}

#[tokio::test]
async fn tls_with_a_private_ca_from_its_pem_file() {
    let server = RedisServer::builder().tls().start();
    let ca = server.ca_cert_path();
    // The host name in the URL is what the certificate is checked against.
    let url = format!("rediss://localhost:{}/0", server.tls_port());
    let redis = Redis::builder(&url).unwrap().tls(private_ca_config(ca.to_str().unwrap()).unwrap()).build();
    redis.ping().await.unwrap();
    round_trip(&redis, Protocol::Resp2).await;

    // Another server's CA does not vouch for this one.
    let other = RedisServer::builder().tls().start();
    let config = private_ca_config(other.ca_cert_path().to_str().unwrap()).unwrap();
    let err = Redis::builder(&url).unwrap().tls(config).build().ping().await.unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    // A CA file that is not there is an error, not an empty trust store.
    assert!(private_ca_config("no-such-ca.pem").is_err());
}

#[tokio::test]
async fn tls_client_certificate() {
    let server = RedisServer::builder().tls_auth_clients().start();
    let redis = Redis::builder(&server.tls_url()).unwrap().tls(server.tls_client_config_with_cert()).build();
    round_trip(&redis, Protocol::Resp2).await;
    let redis = Redis::builder(&server.tls_url()).unwrap().tls(server.tls_client_config()).build();
    let err = redis.execute_cmd("PING", ()).await.expect_err("the server requires a client certificate");
    assert!(err.is_connection_error(), "{err:?}");
}

async fn password_auth(p: Protocol) {
    let server = RedisServer::builder().password("pw").start();
    let port = server.port();
    for url in [
        format!("redis://:pw@127.0.0.1:{port}"),
        format!("redis://default:pw@127.0.0.1:{port}/0"),
        format!("redis://127.0.0.1:{port}/0?password=pw"),
    ] {
        let redis = Redis::new(&with_protocol(&url, p)).unwrap();
        assert_eq!(whoami(&redis).await, "default", "{url}");
        round_trip(&redis, p).await;
    }
    let redis = Redis::builder(&server.url()).unwrap().auth(None, "pw").protocol(p).build();
    assert_eq!(whoami(&redis).await, "default");
    round_trip(&redis, p).await;
}

async fn acl_user_auth(p: Protocol) {
    let server = RedisServer::builder().user("alice", "alice-pw").start();
    let url = format!("redis://alice:alice-pw@127.0.0.1:{}/1", server.port());
    let redis = Redis::new(&with_protocol(&url, p)).unwrap();
    assert_eq!(whoami(&redis).await, "alice");
    round_trip(&redis, p).await;
    let redis = Redis::builder(&server.url()).unwrap().auth(Some("alice"), "alice-pw").protocol(p).build();
    assert_eq!(whoami(&redis).await, "alice");
    // The server has no requirepass: no credentials is the default user.
    assert_eq!(whoami(&Redis::new(&with_protocol(&server.url(), p)).unwrap()).await, "default");
}

async fn percent_encoded_credentials(p: Protocol) {
    let special = "p@ss:w/rd?#%&+= \"x\"\\é";
    let server = RedisServer::builder().password(special).user("carol@corp", special).start();
    let port = server.port();
    let pw = percent_encode(special);
    for (url, user) in [
        (format!("redis://:{pw}@127.0.0.1:{port}/0"), "default"),
        (format!("redis://carol%40corp:{pw}@127.0.0.1:{port}/0"), "carol@corp"),
        (format!("redis://127.0.0.1:{port}/0?password={pw}"), "default"),
    ] {
        let redis = Redis::new(&with_protocol(&url, p)).unwrap();
        assert_eq!(redis.connection_info().password.as_ref().unwrap().expose(), special);
        assert_eq!(whoami(&redis).await, user, "{url}");
    }
    let redis = Redis::builder(&server.url()).unwrap().auth(Some("carol@corp"), special).protocol(p).build();
    assert_eq!(whoami(&redis).await, "carol@corp");
}

async fn wrong_password_is_refused(p: Protocol) {
    let server = RedisServer::builder().password("pw").user("alice", "alice-pw").start();
    let port = server.port();
    for url in [
        format!("redis://:wrong@127.0.0.1:{port}"),
        format!("redis://alice:wrong@127.0.0.1:{port}"),
        format!("redis://nobody:pw@127.0.0.1:{port}"),
    ] {
        let redis = Redis::new(&with_protocol(&url, p)).unwrap();
        for _ in 0..2 {
            // Every attempt reconnects and is refused again.
            let err = redis.execute_cmd("PING", ()).await.expect_err("wrong credentials");
            assert!(matches!(err, Error::Redis(_)), "{url}: {err:?}");
            assert_eq!(err.code(), Some("WRONGPASS"), "{url}: {err:?}");
            assert!(!err.is_connection_error());
        }
    }
    let redis = Redis::builder(&server.url()).unwrap().auth(Some("alice"), "pw").protocol(p).build();
    let err = redis.execute_cmd("PING", ()).await.expect_err("wrong credentials");
    assert_eq!(err.code(), Some("WRONGPASS"), "{err:?}");
}

async fn missing_password_gives_noauth(p: Protocol) {
    let server = RedisServer::builder().password("pw").start();
    let redis = Redis::new(&with_protocol(&server.url(), p)).unwrap();
    // RESP2 sends no handshake, so the command itself is refused; under
    // RESP3 the HELLO 3 of the handshake is.
    let err = redis.execute_cmd("GET", ["k"]).await.expect_err("no password");
    assert_eq!(err.code(), Some("NOAUTH"), "{err:?}");
}

async fn auth_failure_before_select_is_an_error(p: Protocol) {
    let server = RedisServer::builder().password("pw").start();
    for url in [
        format!("redis://:wrong@127.0.0.1:{}/3", server.port()),
        format!("redis://:wrong@127.0.0.1:{}/0?db=5&client_name=named", server.port()),
    ] {
        let redis = Redis::new(&with_protocol(&url, p)).unwrap();
        let err = redis.execute_cmd("PING", ()).await.expect_err("the AUTH failed");
        assert_eq!(err.code(), Some("WRONGPASS"), "{url}: {err:?}");
    }
}

async fn db_from_path_and_query(p: Protocol) {
    let server = RedisServer::start();
    let base = server.url();
    for (url, db) in [
        (format!("{base}/5"), 5),
        (format!("{base}?db=7"), 7),
        (format!("{base}/1?db=9"), 9),
        (format!("{base}/15"), 15),
    ] {
        let redis = Redis::new(&with_protocol(&url, p)).unwrap();
        assert_eq!(client_info(&redis).await["db"], db.to_string(), "{url}");
        redis.execute_cmd("SET", (format!("in-db-{db}"), db)).await.unwrap();
    }
    let redis = Redis::builder(&base).unwrap().db(11).protocol(p).build();
    assert_eq!(client_info(&redis).await["db"], "11");
    // The keys landed in their databases.
    let admin = server.admin().dedicated().await.unwrap();
    for db in [5, 7, 9, 15] {
        admin.execute_cmd("SELECT", [db]).await.unwrap();
        let v: Option<i64> = admin.execute_cmd("GET", [format!("in-db-{db}")]).returning().await.unwrap();
        assert_eq!(v, Some(db));
        let size: i64 = admin.execute_cmd("DBSIZE", ()).returning().await.unwrap();
        assert_eq!(size, 1, "db {db}");
    }
    // A db the server does not have is refused at connect time.
    let redis = Redis::new(&with_protocol(&format!("{base}/99"), p)).unwrap();
    let err = redis.execute_cmd("PING", ()).await.expect_err("db 99 is out of range");
    assert_eq!(err.code(), Some("ERR"), "{err:?}");
}

async fn client_name_from_url_and_builder(p: Protocol) {
    let server = RedisServer::builder().password("pw").start();
    let url = format!("redis://:pw@127.0.0.1:{}/0?client_name=from-url", server.port());
    let redis = Redis::new(&with_protocol(&url, p)).unwrap();
    let name: Option<String> = redis.execute_cmd("CLIENT", ["GETNAME"]).returning().await.unwrap();
    assert_eq!(name.as_deref(), Some("from-url"));
    let redis = Redis::builder(&url).unwrap().client_name("from-builder").protocol(p).build();
    let name: Option<String> = redis.execute_cmd("CLIENT", ["GETNAME"]).returning().await.unwrap();
    assert_eq!(name.as_deref(), Some("from-builder"));
}

#[tokio::test]
async fn connect_timeout() {
    let (port, task) = silent_listener().await;
    // The TLS handshake never completes...
    let cases = [
        (format!("rediss://127.0.0.1:{port}"), "TLS handshake"),
        // ...nor does the AUTH of the handshake, nor HELLO.
        (format!("redis://:pw@127.0.0.1:{port}"), "AUTH"),
        (format!("redis://127.0.0.1:{port}?protocol=3"), "HELLO"),
        (format!("redis://127.0.0.1:{port}/1"), "SELECT"),
    ];
    for (url, what) in cases {
        let redis = Redis::builder(&url).unwrap().connect_timeout(Duration::from_millis(300)).build();
        let start = Instant::now();
        let err = redis.execute_cmd("PING", ()).await.expect_err(what);
        let took = start.elapsed();
        assert!(matches!(err, Error::Timeout(Timeout::Connect)), "{what}: {err:?}");
        assert!(took >= Duration::from_millis(250) && took < Duration::from_secs(2), "{what}: took {took:?}");
    }
    task.abort();
}

#[tokio::test]
async fn connection_refused_is_an_io_error() {
    let url = format!("redis://127.0.0.1:{}", support::free_port());
    let redis = Redis::builder(&url).unwrap().connect_timeout(Duration::from_secs(5)).build();
    let err = redis.execute_cmd("PING", ()).await.expect_err("nothing listens there");
    assert!(matches!(err, Error::Io(_)), "{err:?}");
    assert!(err.is_connection_error());
}
