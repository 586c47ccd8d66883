//! Commands as futures: a typed command is itself a `Future` (lazy, `Unpin`)
//! on every executor that runs commands, so it goes into `join_all`,
//! `select`, `tokio::join!` and `tokio::select!` as it is, with the futures
//! crate's extension traits in scope. Cancelling one before its first poll
//! sends nothing; after it, no other caller's reply shifts.

#[macro_use]
mod support;

use std::future::Future;

use futures_util::future::{join_all, select, Either};
use futures_util::{FutureExt, StreamExt};
use siderpy::cluster::RedisCluster;
use siderpy::mock::MockRedis;
use siderpy::prelude::*;
use siderpy::{Bytes, Error, Protocol, Redis, RedisPool, Value};
use support::cluster::TestCluster;
use support::{client, url, RedisServer};

protocol_tests!(
    join_all_over_typed_commands,
    select_and_tokio_macros,
    options_set_before_the_first_poll_count,
    cancelled_before_its_first_poll_is_never_sent,
    cancelled_after_its_first_poll_shifts_no_reply,
    dedicated_handle_and_pool_commands_are_futures,
);

/// What `join_all` and `select` ask of a command.
fn is_future<F: Future + Unpin + Send>(f: F) -> F {
    f
}

async fn join_all_over_typed_commands(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    redis.set("a", "1").await.unwrap();
    redis.set("b", "2").await.unwrap();
    // The issue's own example: no `.into_future()`.
    let replies = join_all(vec![redis.get("a"), redis.get("b"), redis.get("missing")]).await;
    let replies: Vec<Option<Bytes>> = replies.into_iter().map(Result::unwrap).collect();
    assert_eq!(replies, [Some(Bytes::from("1")), Some(Bytes::from("2")), None]);

    // Many at once, each reply to its own command.
    let keys: Vec<String> = (0..50).map(|i| format!("k{i}")).collect();
    join_all(keys.iter().map(|k| redis.set(k.as_str(), k.as_str())))
        .await
        .into_iter()
        .for_each(|r| assert!(r.unwrap()));
    let got = join_all(keys.iter().map(|k| redis.get(k.as_str()).returning::<String>())).await;
    assert_eq!(got.into_iter().map(Result::unwrap).collect::<Vec<_>>(), keys);

    // FutureExt's combinators apply to a command as to any future.
    let len = redis.strlen("a").map(|r| r.unwrap() * 10).await;
    assert_eq!(len, 10);
    let boxed = redis.incr("counter").boxed();
    assert_eq!(boxed.await.unwrap(), 1);
    // A stream of commands: StreamExt in scope changes nothing.
    let sum: i64 = futures_util::stream::iter(0..5)
        .then(|_| redis.incr("counter"))
        .map(Result::unwrap)
        .fold(0, |acc, n| async move { acc + n })
        .await;
    assert_eq!(sum, 2 + 3 + 4 + 5 + 6);
}

async fn select_and_tokio_macros(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    redis.rpush("list", ["x"]).await.unwrap();
    let (a, b) = tokio::join!(redis.incr("n"), redis.lpop("list"));
    assert_eq!(a.unwrap(), 1);
    assert_eq!(b.unwrap(), Some(Bytes::from("x")));
    let (a, b) = tokio::try_join!(redis.incr("n"), redis.echo("hi").returning::<String>()).unwrap();
    assert_eq!((a, b.as_str()), (2, "hi"));

    // A blocking command against an ordinary one: the one that can answer wins.
    tokio::select! {
        popped = redis.blpop("empty", 0) => panic!("nothing to pop, got {popped:?}"),
        n = redis.incr("n") => assert_eq!(n.unwrap(), 3),
    }
    // futures' `select` wants `Unpin` futures: a command is one as it is.
    match select(is_future(redis.blpop("empty", 0)), is_future(redis.get("n"))).await {
        Either::Right((n, _blpop)) => assert_eq!(n.unwrap(), Some(Bytes::from("3"))),
        Either::Left((popped, _)) => panic!("nothing to pop, got {popped:?}"),
    }
    // The BLPOP given up above left its side connection: the client goes on.
    assert_eq!(redis.incr("n").await.unwrap(), 4);
}

async fn options_set_before_the_first_poll_count(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    redis.set("k", "old").await.unwrap();
    // Built, given options, and only then handed over as futures.
    let cmds = vec![redis.set("k", "new").nx(), redis.set("j", "new").nx(), redis.set("k", "newer").xx()];
    let replies: Vec<bool> = join_all(cmds).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(replies, [false, true, true]);
    assert_eq!(redis.get("k").returning::<String>().await.unwrap(), "newer");
    assert_eq!(redis.get("j").returning::<String>().await.unwrap(), "new");

    // An option set on a command already polled is refused, typed.
    let mut cmd = redis.blpop("empty", 0);
    assert!((&mut cmd).now_or_never().is_none(), "BLPOP on an empty list waits");
    let err = cmd.with_timeout(std::time::Duration::from_secs(1)).await.unwrap_err();
    assert!(matches!(&err, Error::Usage(m) if m.contains("after the command was first polled")), "{err:?}");
    assert_eq!(redis.echo("still in step").returning::<String>().await.unwrap(), "still in step");
}

async fn cancelled_before_its_first_poll_is_never_sent(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    redis.ping().await.unwrap();
    drop(redis.incr("never"));
    let unpolled = vec![redis.set("never", "x"), redis.set("never2", "x")];
    drop(unpolled);
    // Nothing reached the server: not the commands, nor a reply in the way.
    assert_eq!(redis.get("never").await.unwrap(), None);
    assert_eq!(redis.exists(["never", "never2"]).await.unwrap(), 0);
    let admin = server.admin();
    let stats: String = admin.execute_cmd("INFO", ["commandstats"]).returning().await.unwrap();
    assert!(!stats.contains("cmdstat_incr"), "INCR was sent: {stats}");

    // The same on a pool and a mock, which run commands as boxed futures.
    let pool = RedisPool::new(&url(&server, p)).unwrap();
    drop(pool.incr("never"));
    assert_eq!(pool.get("never").await.unwrap(), None);
    let mock = MockRedis::new();
    drop(mock.incr("never"));
    assert!(mock.commands().is_empty());
}

async fn cancelled_after_its_first_poll_shifts_no_reply(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    redis.ping().await.unwrap();
    // Polled once (sent on the open connection), then given up. Writes are
    // paused on the server, so that its reply cannot be there yet however
    // late this task runs after sending it.
    server.admin().execute_cmd("CLIENT", ("PAUSE", 200, "WRITE")).await.unwrap();
    let mut cmd = redis.incr("sent");
    assert!((&mut cmd).now_or_never().is_none(), "the reply cannot be there on the first poll");
    drop(cmd);
    for i in 0..20 {
        let mut cmds: Vec<_> = (0..5).map(|j| redis.echo(format!("{i}-{j}")).returning::<String>()).collect();
        // Every other one given up after its first poll.
        for cmd in cmds.iter_mut().step_by(2) {
            let _ = cmd.now_or_never();
        }
        let kept: Vec<_> = cmds.into_iter().skip(1).step_by(2).collect();
        let got: Vec<String> = join_all(kept).await.into_iter().map(Result::unwrap).collect();
        assert_eq!(got, [format!("{i}-1"), format!("{i}-3")]);
    }
    // The socket took it: the given-up INCR ran, and its reply went nowhere.
    assert_eq!(redis.get("sent").returning::<i64>().await.unwrap(), 1);
    assert_eq!(redis.incr("sent").await.unwrap(), 2);
}

async fn dedicated_handle_and_pool_commands_are_futures(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let dedicated = redis.dedicated().await.unwrap();
    dedicated.select(1).await.unwrap();
    let replies = join_all(vec![dedicated.incr("d"), dedicated.incr("d")]).await;
    assert_eq!(replies.into_iter().map(Result::unwrap).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(redis.get("d").await.unwrap(), None, "the dedicated handle's db 1 is its own");

    let pool = RedisPool::builder(&url(&server, p)).unwrap().size(2).build();
    let replies = join_all((0..6).map(|_| is_future(pool.incr("p")))).await;
    let mut replies: Vec<i64> = replies.into_iter().map(Result::unwrap).collect();
    replies.sort_unstable();
    assert_eq!(replies, [1, 2, 3, 4, 5, 6]);

    let mock = MockRedis::new();
    mock.reply(Value::Int(7)).reply(Value::Nil);
    let (n, v) = tokio::join!(is_future(mock.incr("m")), is_future(mock.get("m")));
    assert_eq!((n.unwrap(), v.unwrap()), (7, None));
}

/// The cluster runs a command as a boxed future; it is a future all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_commands_are_futures() {
    let cluster = TestCluster::start(3, 0).await;
    let redis = RedisCluster::new(&cluster.seed_urls()).unwrap();
    let keys: Vec<String> = (0..30).map(|i| format!("key{i}")).collect();
    let sets = join_all(keys.iter().map(|k| is_future(redis.set(k.as_str(), k.as_str())))).await;
    sets.into_iter().for_each(|r| assert!(r.unwrap()));
    let got = join_all(keys.iter().map(|k| redis.get(k.as_str()).returning::<String>())).await;
    assert_eq!(got.into_iter().map(Result::unwrap).collect::<Vec<_>>(), keys);
    let (a, b) = tokio::join!(redis.incr("x"), redis.incr("y"));
    assert_eq!((a.unwrap(), b.unwrap()), (1, 1));
    drop(redis.incr("never"));
    assert_eq!(redis.get("never").await.unwrap(), None);
}

#[test]
fn commands_are_unpin_send_futures() {
    fn check<F: Future + Unpin + Send>(_: &F) {}
    fn on_redis(redis: &Redis) {
        check(&redis.get("k"));
        check(&redis.execute_cmd("GET", ["k"]));
    }
    fn on_pool(pool: &RedisPool) {
        check(&pool.get("k"));
    }
    fn on_cluster(cluster: &RedisCluster) {
        check(&cluster.get("k"));
    }
    fn on_mock(mock: &MockRedis) {
        check(&mock.get("k"));
    }
    let _ = (on_redis, on_pool, on_cluster, on_mock);
}
