//! Connection URLs through the public API: invalid ones are `Error::Url`
//! (never a panic), and no output ever shows a password.

mod support;

use siderpy::prelude::*;
use siderpy::{Error, Redis, UrlError};
use support::RedisServer;

#[test]
fn bad_urls_are_url_errors() {
    let cases: &[(&str, UrlError)] = &[
        ("", UrlError::MissingScheme),
        ("localhost:6379", UrlError::MissingScheme),
        ("://localhost", UrlError::MissingScheme),
        ("http://localhost", UrlError::UnsupportedScheme("http".into())),
        ("rediss+unix:///tmp/r.sock", UrlError::UnsupportedScheme("rediss+unix".into())),
        ("redis://", UrlError::MissingHost),
        ("redis://:6379", UrlError::MissingHost),
        ("redis:///0", UrlError::MissingHost),
        ("redis+unix://", UrlError::MissingSocketPath),
        ("unix:///", UrlError::MissingSocketPath),
        ("redis-socket://", UrlError::MissingSocketPath),
        ("redis://h:99999", UrlError::InvalidPort("99999".into())),
        ("redis://h:65536", UrlError::InvalidPort("65536".into())),
        ("redis://h:0", UrlError::InvalidPort("0".into())),
        ("redis://h/abc", UrlError::InvalidDb("abc".into())),
        ("redis://h/-1", UrlError::InvalidDb("-1".into())),
        ("redis://h/1/2", UrlError::InvalidDb("1/2".into())),
        ("redis://h/99999999999999999999", UrlError::InvalidDb("99999999999999999999".into())),
        ("redis://h?db=x", UrlError::InvalidDb("x".into())),
        ("redis://h?db=", UrlError::InvalidDb("".into())),
        ("unix:///tmp/r.sock?db=-2", UrlError::InvalidDb("-2".into())),
        ("redis://h?protocol=4", UrlError::InvalidProtocol("4".into())),
        ("redis://h?protocol=", UrlError::InvalidProtocol("".into())),
        ("redis://h?colour=red", UrlError::UnknownParameter("colour".into())),
        ("redis://h?bogus", UrlError::UnknownParameter("bogus".into())),
        ("redis+unix:///tmp/r.sock?timeout=1", UrlError::UnknownParameter("timeout".into())),
        ("redis://%ff@h", UrlError::InvalidCredentials),
        ("redis://u:%c3%28@h", UrlError::InvalidCredentials),
    ];
    for (url, want) in cases {
        match Redis::new(url) {
            Err(Error::Url(got)) => assert_eq!(&got, want, "{url:?}"),
            other => panic!("{url:?}: expected Error::Url({want:?}), got {other:?}"),
        }
        match Redis::builder(url) {
            Err(Error::Url(got)) => assert_eq!(&got, want, "{url:?} (builder)"),
            other => panic!("{url:?} (builder): expected Error::Url({want:?}), got {other:?}"),
        }
    }
    // A URL the `url` crate itself rejects keeps its reason.
    assert!(matches!(Redis::new("redis://[::1"), Err(Error::Url(UrlError::Malformed(_)))));
}

#[test]
fn odd_inputs_never_panic() {
    let odd = [
        "redis://",
        "redis://@",
        "redis://:@",
        "redis://@:",
        "redis://[]",
        "redis://[::1]:",
        "redis://h:",
        "redis://h:+1",
        "redis://h?",
        "redis://h?&",
        "redis://h?=",
        "redis://h?db",
        "redis://h#",
        "redis://h/%",
        "redis://h/%zz",
        "redis+unix://@",
        "redis+unix://:@/",
        "unix://?db=1",
        "unix:////",
        "redis://\u{0}",
        "redis://h\u{0}/0",
        "redis://ü.example",
        "redis://h/0?protocol=RESP3",
        "REDIS://H:1/1",
        "redis://a@b@c",
        "redis://h:1:2",
        "rediss://",
        "rediss://h:70000",
        "redis://h/ 1",
        "redis://h?db=1&db=x",
        "redis://\\\\h",
        "::::",
        "redis:",
        "redis:/h",
        "redis:h",
        "redis://h?password=%",
        "redis://h?client_name=%ff",
    ];
    for url in odd {
        match std::panic::catch_unwind(|| Redis::new(url)) {
            Ok(Ok(_) | Err(Error::Url(_))) => {}
            Ok(Err(e)) => panic!("{url:?}: not a URL error: {e:?}"),
            Err(_) => panic!("{url:?}: panicked"),
        }
    }
}

/// Asserts that neither form of `what` shows the password.
fn assert_hidden(what: &str, shown: String) {
    assert!(!shown.contains("s3cret-pw"), "{what} shows the password: {shown}");
}

#[test]
fn url_errors_never_show_the_password() {
    let urls = [
        "redis://alice:s3cret-pw@h:99999",
        "redis://alice:s3cret-pw@h/abc",
        "redis://alice:s3cret-pw@h?bogus=1",
        "redis://alice:s3cret-pw@h?protocol=9",
        "redis://alice:s3cret-pw@",
        "redis://alice:s3cret-pw@[::1",
        "http://alice:s3cret-pw@h",
        "redis+unix://alice:s3cret-pw@/",
        // The host forgotten: the URL parser reads the password as a port.
        "redis://alice:s3cret-pw",
        "redis://alice:s3cret-pw/0",
        "redis://h?password=s3cret-pw&db=x",
    ];
    for url in urls {
        let err = Redis::new(url).expect_err(url);
        assert!(matches!(err, Error::Url(_)), "{url}: {err:?}");
        assert_hidden(url, format!("{err} {err:?}"));
        assert_hidden(url, format!("{}", std::error::Error::source(&err).expect("a URL error has a source")));
    }
}

#[tokio::test]
async fn clients_and_errors_never_show_the_password() {
    let server = RedisServer::builder().password("another-pw").start();
    for url in [
        format!("redis://alice:s3cret-pw@127.0.0.1:{}/1", server.port()),
        format!("redis://:s3cret-pw@127.0.0.1:{}/1", server.port()),
        format!("redis://127.0.0.1:{}/1?password=s3cret-pw", server.port()),
    ] {
        let redis = Redis::new(&url).unwrap();
        assert_hidden("Redis", format!("{redis:?}"));
        let info = redis.connection_info();
        assert_eq!(info.password.as_ref().map(|p| p.expose()), Some("s3cret-pw"));
        assert_hidden("ConnectionInfo", format!("{info} {info:?} {:?}", info.password));
        assert_hidden("RedisBuilder", format!("{:?}", Redis::builder(&url).unwrap()));
        let builder = Redis::builder(&url).unwrap().tls(support::untrusted_tls_config());
        assert_hidden("RedisBuilder with TLS", format!("{builder:?}"));

        // A refused handshake: the error names the failure, not the secret.
        let err = redis.execute_cmd("PING", ()).await.expect_err("the password is wrong");
        assert!(matches!(err.code(), Some("WRONGPASS")), "{err:?}");
        assert_hidden("Error", format!("{err} {err:?}"));
    }
    // A connection failure, too.
    let url = format!("redis://alice:s3cret-pw@127.0.0.1:{}/0", support::free_port());
    let err = Redis::new(&url).unwrap().execute_cmd("PING", ()).await.expect_err("nothing listens there");
    assert!(matches!(err, Error::Io(_)), "{err:?}");
    assert_hidden("Error", format!("{err} {err:?}"));
}
