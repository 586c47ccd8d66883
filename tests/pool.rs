//! `RedisPool` against real servers: many tasks through a small pool,
//! exhaustion and timeouts, connections killed by the server, clients given
//! back with state left open (transactions, WATCH, SELECT, pipeline mode,
//! pub/sub), closing with waiters, blocking commands, `Debug`, and the bb8
//! and deadpool managers. Most tests run under RESP2 and RESP3.

#[macro_use]
mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use siderpy::prelude::*;
use siderpy::{Error, PooledRedis, Protocol, Redis, RedisPool, Timeout};
use support::{client_id, client_info, url, wait_until, RedisServer};

protocol_tests!(
    clean_clients_are_reused_last_in_first_out,
    exhausted_pool_times_out,
    killed_connection_is_replaced,
    open_transaction_or_watch_is_undone,
    client_shared_past_its_guard_is_not_lent_again,
    select_is_not_lent_again,
    pipeline_mode_is_undone,
    subscribed_client_is_not_lent_again,
    close_fails_waiters_promptly,
    blocking_command_holds_one_client_only,
    dropped_command_gives_its_client_back,
    pool_keeps_serving_after_a_server_restart,
);

#[test]
fn pool_and_guard_are_send_sync_and_shareable() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<RedisPool>();
    fn sendable<T: Send + Sync + 'static>() {}
    sendable::<PooledRedis>();
}

fn pool(server: &RedisServer, p: Protocol, size: usize) -> RedisPool {
    RedisPool::builder(&url(server, p)).unwrap().size(size).build()
}

/// Connections the server accepted since it started.
async fn connections_received(admin: &Redis) -> i64 {
    let info: String = admin.execute_cmd("INFO", ["stats"]).returning().await.expect("INFO stats");
    info.lines()
        .find_map(|l| l.strip_prefix("total_connections_received:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("total_connections_received in INFO")
}

/// `CLIENT LIST`, one map of fields per connection, the admin's included.
async fn client_list(admin: &Redis) -> Vec<std::collections::HashMap<String, String>> {
    let text: String = admin.execute_cmd("CLIENT", ["LIST"]).returning().await.expect("CLIENT LIST");
    text.lines()
        .map(|l| l.split_whitespace().filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect())
        .collect()
}

async fn blocked_clients(admin: &Redis) -> i64 {
    let info: String = admin.execute_cmd("INFO", ["clients"]).returning().await.expect("INFO clients");
    info.lines()
        .find_map(|l| l.strip_prefix("blocked_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("blocked_clients in INFO")
}

fn assert_closed<T: std::fmt::Debug>(result: siderpy::Result<T>, what: &str) {
    assert!(matches!(result, Err(Error::Closed("pool"))), "{what}: expected Closed(\"pool\"), got {result:?}");
}

/// The load test: 200 tasks each doing 1,000 INCRs on a key of
/// their own through a pool of 4. Every reply must be the task's own count,
/// and the server must never have seen more than 4 connections from the pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_tasks_through_a_pool_of_four() {
    const TASKS: usize = 200;
    const OPS: i64 = 1_000;
    let server = RedisServer::start();
    let admin = server.admin();
    let before = connections_received(&admin).await;
    let pool = pool(&server, Protocol::Resp2, 4);
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let key = format!("counter:{t}");
                for i in 1..=OPS {
                    let n = pool.incr(&key).await.unwrap();
                    assert_eq!(n, i, "task {t}: INCR got another task's reply");
                }
            })
        })
        .collect();
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(60), task).await.expect("no deadlock").unwrap();
    }
    let took = started.elapsed();
    for t in 0..TASKS {
        let n: i64 = admin.execute_cmd("GET", [format!("counter:{t}")]).returning().await.unwrap();
        assert_eq!(n, OPS, "counter:{t}");
    }
    let opened = connections_received(&admin).await - before;
    assert!(opened <= 4, "the pool opened {opened} connections");
    let status = pool.status();
    assert_eq!((status.in_use, status.idle), (0, 4), "{status:?}");
    eprintln!("{} commands through a pool of 4 in {took:?}", TASKS as i64 * OPS);
}

async fn clean_clients_are_reused_last_in_first_out(p: Protocol) {
    let server = RedisServer::start();
    let pool = pool(&server, p, 4);
    let status = pool.status();
    assert_eq!((status.size, status.idle, status.in_use), (4, 0, 0), "no client made before it is needed");

    let first = client_id(&pool.get_redis(None).await.unwrap()).await;
    // One at a time: the same client (and connection) every time.
    for _ in 0..5 {
        assert_eq!(pool.execute_cmd("CLIENT", ["ID"]).returning::<i64>().await.unwrap(), first);
    }
    assert_eq!(pool.status().idle, 1);
    // A reply that does not convert names its command, typed or raw.
    pool.set("k", "abc").await.unwrap();
    let err = pool.get("k").returning::<i64>().await.expect_err("abc is no integer");
    assert!(matches!(&err, Error::Type(t) if t.command.as_deref() == Some("GET")), "{err:?}");
    let err = pool.execute_cmd("get", ["k"]).returning::<i64>().await.expect_err("abc is no integer");
    assert!(matches!(&err, Error::Type(t) if t.command.as_deref() == Some("GET")), "{err:?}");

    // Two held at once: a second is made; the last given back is lent next.
    let a = pool.get_redis(None).await.unwrap();
    let b = pool.get_redis(None).await.unwrap();
    assert_eq!(pool.status().in_use, 2);
    let (id_a, id_b) = (client_id(&a).await, client_id(&b).await);
    assert_ne!(id_a, id_b);
    drop(a);
    drop(b);
    assert_eq!(client_id(&pool.get_redis(None).await.unwrap()).await, id_b);
    assert_eq!(pool.status().idle, 2);
    assert_eq!(
        client_info(&pool.get_redis(None).await.unwrap()).await["resp"],
        if p == Protocol::Resp3 { "3" } else { "2" }
    );
}

async fn exhausted_pool_times_out(p: Protocol) {
    let server = RedisServer::start();
    let pool =
        RedisPool::builder(&url(&server, p)).unwrap().size(4).wait_timeout(Some(Duration::from_millis(100))).build();
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(pool.get_redis(None).await.unwrap());
    }
    for redis in &held {
        redis.set("k", "v").await.unwrap(); // each works while held
    }

    let started = Instant::now();
    let err = pool.get_redis(Some(Duration::from_millis(100))).await.expect_err("every client is lent");
    let took = started.elapsed();
    assert!(matches!(err, Error::Timeout(Timeout::Pool)), "{err:?}");
    assert!(took >= Duration::from_millis(100) && took < Duration::from_millis(1000), "took {took:?}");

    // A command awaited on the pool waits at most the pool's wait_timeout.
    let started = Instant::now();
    let err = pool.get("k").await.expect_err("every client is lent");
    assert!(matches!(err, Error::Timeout(Timeout::Pool)), "{err:?}");
    assert!(started.elapsed() < Duration::from_millis(1000), "took {:?}", started.elapsed());

    // A waiter gets the first client given back.
    let waiter = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.get_redis(Some(Duration::from_secs(5))).await.map(|r| r.connection_info().db) })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    held.pop();
    assert_eq!(tokio::time::timeout(Duration::from_secs(1), waiter).await.unwrap().unwrap().unwrap(), 0);
    drop(held);
    assert_eq!(pool.get("k").await.unwrap(), Some(Bytes::from_static(b"v")));
    assert_eq!(pool.status().in_use, 0);
}

async fn killed_connection_is_replaced(p: Protocol) {
    let server = RedisServer::start();
    let admin = server.admin();
    let pool = pool(&server, p, 2);
    pool.set("k", "v").await.unwrap();
    // Both clients connected, and their connections killed by the server.
    let ids = {
        let (a, b) = (pool.get_redis(None).await.unwrap(), pool.get_redis(None).await.unwrap());
        [client_id(&a).await, client_id(&b).await]
    };
    for id in ids {
        let killed: i64 = admin.execute_cmd("CLIENT", ("KILL", "ID", id)).returning().await.unwrap();
        assert_eq!(killed, 1);
    }
    // Let the clients see their sockets close (no command of theirs was in flight).
    tokio::time::sleep(Duration::from_millis(300)).await;

    for _ in 0..10 {
        assert_eq!(pool.get("k").await.unwrap(), Some(Bytes::from_static(b"v")));
    }
    let (a, b) = (pool.get_redis(None).await.unwrap(), pool.get_redis(None).await.unwrap());
    let new_ids = [client_id(&a).await, client_id(&b).await];
    assert!(new_ids.iter().all(|id| !ids.contains(id)), "{ids:?} -> {new_ids:?}");
    assert_eq!(pool.status().size, 2);
}

/// Whether any connection on the server is inside MULTI.
async fn any_in_multi(admin: &Redis) -> bool {
    client_list(admin).await.iter().any(|c| c.get("multi").is_some_and(|m| m != "-1"))
}

/// An open transaction lives on a connection pinned to the handle: closing
/// it undoes the transaction, and the client itself is lent again.
async fn open_transaction_or_watch_is_undone(p: Protocol) {
    let server = RedisServer::start();
    let admin = server.admin();
    let pool = pool(&server, p, 1);
    let id = {
        let redis = pool.get_redis(None).await.unwrap();
        let id = client_id(&redis).await;
        redis.multi().await.unwrap();
        let queued = redis.execute_cmd("SET", ("in-tx", "1")).await;
        assert!(matches!(queued, Err(Error::Queued { index: 0 })), "{queued:?}");
        assert!(any_in_multi(&admin).await);
        id
    }; // given back inside MULTI

    let redis = pool.get_redis(None).await.unwrap();
    let info = client_info(&redis).await;
    assert_eq!(info["multi"], "-1", "{info:?}");
    assert_eq!(info["id"], id.to_string(), "the client itself was kept");
    assert_eq!(redis.get("in-tx").await.unwrap(), None, "the abandoned transaction never ran");
    // Its connection was closed, not left open with the server holding it.
    wait_until("the transaction's connection to close", Duration::from_secs(5), || async {
        !any_in_multi(&admin).await && client_list(&admin).await.len() == 2
    })
    .await;
    drop(redis);

    // The same for a WATCH, and through a command sent on the pool itself.
    {
        let redis = pool.get_redis(None).await.unwrap();
        redis.execute_cmd("WATCH", ["w"]).await.unwrap();
        assert_eq!(client_list(&admin).await.len(), 3);
    }
    // MULTI on the pool itself: refused (a borrow lasts one command).
    assert!(matches!(pool.execute_cmd("MULTI", ()).await, Err(Error::Usage(_))));
    let redis = pool.get_redis(None).await.unwrap();
    let info = client_info(&redis).await;
    assert_eq!(info["multi"], "-1", "{info:?}");
    assert_eq!(info["id"], id.to_string(), "the client itself was kept");
    wait_until("the pinned connections to close", Duration::from_secs(5), || async {
        client_list(&admin).await.len() == 2
    })
    .await;
    assert_eq!(pool.status().size, 1);
}

async fn client_shared_past_its_guard_is_not_lent_again(p: Protocol) {
    let server = RedisServer::start();
    let pool = pool(&server, p, 1);
    let (dedicated, clone, id) = {
        let redis = pool.get_redis(None).await.unwrap();
        let dedicated = redis.dedicated().await.unwrap();
        dedicated.multi().await.unwrap();
        (dedicated, Redis::clone(&redis), client_id(&redis).await)
    };
    // The pool dropped its client, which the clones still own and use.
    let redis = pool.get_redis(None).await.unwrap();
    assert_ne!(client_id(&redis).await, id);
    assert_eq!(client_id(&clone).await, id);
    let info = client_info(&redis).await;
    assert_eq!(info["multi"], "-1", "{info:?}");
    dedicated.execute_cmd("DISCARD", ()).await.unwrap();
}

async fn select_is_not_lent_again(p: Protocol) {
    let server = RedisServer::start();
    let pool = pool(&server, p, 1);
    {
        let redis = pool.get_redis(None).await.unwrap();
        // On the lent client's own connection SELECT is refused; its
        // dedicated handle runs it, on a connection that closes with it.
        assert!(matches!(redis.execute_cmd("SELECT", [5]).await, Err(Error::Usage(_))));
        let dedicated = redis.dedicated().await.unwrap();
        dedicated.execute_cmd("SELECT", [5]).await.unwrap();
        dedicated.set("in-db5", "1").await.unwrap();
        assert_eq!(client_info(&dedicated).await["db"], "5");
        assert_eq!(client_info(&redis).await["db"], "0");
    }
    let redis = pool.get_redis(None).await.unwrap();
    assert_eq!(client_info(&redis).await["db"], "0");
    assert_eq!(redis.get("in-db5").await.unwrap(), None);
    drop(redis);

    // On the pool itself: refused.
    assert!(matches!(pool.execute_cmd("SELECT", [5]).await, Err(Error::Usage(_))));
    assert_eq!(pool.get("in-db5").await.unwrap(), None);
    let db: String = pool.execute_cmd("CLIENT", ["INFO"]).returning().await.unwrap();
    assert!(db.contains(" db=0 "), "{db}");
}

/// Pipeline mode and its queue live on the handle: they are undone, and
/// the client is lent again.
async fn pipeline_mode_is_undone(p: Protocol) {
    let server = RedisServer::start();
    let pool = pool(&server, p, 1);
    let id = {
        let redis = pool.get_redis(None).await.unwrap();
        let id = client_id(&redis).await;
        let _mode = redis.pipeline();
        redis.set("queued", "1").queue();
        id
    };
    {
        let redis = pool.get_redis(None).await.unwrap();
        assert!(redis.pipeline_execute().await.unwrap().is_empty(), "the queued commands were dropped");
        redis.pipeline_on(); // left on, with nothing queued
    }
    let redis = pool.get_redis(None).await.unwrap();
    assert_eq!(client_id(&redis).await, id, "awaiting works (pipeline mode is off), on the same client");
    assert!(redis.pipeline_execute().await.unwrap().is_empty());
    assert_eq!(redis.get("queued").await.unwrap(), None, "the queued SET was never sent");
    assert_eq!(pool.status().size, 1);
}

/// How many connections are subscribed to `channel`.
async fn subscribers(admin: &Redis, channel: &str) -> i64 {
    let (_, n): (String, i64) = admin.execute_cmd("PUBSUB", ("NUMSUB", channel)).returning().await.unwrap();
    n
}

async fn subscribed_client_is_not_lent_again(p: Protocol) {
    let server = RedisServer::start();
    let admin = server.admin();
    let pool = pool(&server, p, 1);
    {
        let redis = pool.get_redis(None).await.unwrap();
        redis.execute_cmd("SUBSCRIBE", ["news"]).await.unwrap();
        assert_eq!(subscribers(&admin, "news").await, 1);
    } // given back subscribed
    let redis = pool.get_redis(None).await.unwrap();
    let info = client_info(&redis).await;
    assert_eq!((&*info["sub"], &*info["psub"]), ("0", "0"), "{info:?}");
    wait_until("the subscribed connection to close", Duration::from_secs(5), || async {
        subscribers(&admin, "news").await == 0
    })
    .await;
    drop(redis);

    // Subscribed, then fully unsubscribed: its queue, which the borrower may
    // still hold, must not get the next borrower's messages.
    let old_queue = {
        let redis = pool.get_redis(None).await.unwrap();
        redis.execute_cmd("SUBSCRIBE", ["a"]).await.unwrap();
        redis.execute_cmd("UNSUBSCRIBE", ()).await.unwrap();
        redis.pubsub_queue()
    };
    let redis = pool.get_redis(None).await.unwrap();
    redis.execute_cmd("SUBSCRIBE", ["b"]).await.unwrap();
    admin.execute_cmd("PUBLISH", ("b", "for the new borrower")).await.unwrap();
    let message = tokio::time::timeout(Duration::from_secs(5), redis.pubsub_queue().recv()).await.unwrap().unwrap();
    assert_eq!(message.channel, Bytes::from_static(b"b"), "{message:?}");
    assert!(!matches!(old_queue.try_recv(), Ok(Some(_))), "the old queue got the new borrower's message");
    drop(redis);

    // On the pool itself: refused (a borrow lasts one command).
    assert!(matches!(pool.execute_cmd("SUBSCRIBE", ["direct"]).await, Err(Error::Usage(_))));
    assert_eq!(subscribers(&admin, "direct").await, 0);
    let info: String = pool.execute_cmd("CLIENT", ["INFO"]).returning().await.unwrap();
    assert!(info.contains(" sub=0 "), "{info}");
    assert_eq!(pool.status().size, 1);
}

async fn close_fails_waiters_promptly(p: Protocol) {
    let server = RedisServer::start();
    let admin = server.admin();
    let pool = pool(&server, p, 1);
    pool.set("k", "v").await.unwrap();
    let held = pool.get_redis(None).await.unwrap();
    let waiters: Vec<_> = (0..3)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move {
                let result = if i == 0 { pool.get_redis(None).await.map(drop) } else { pool.get("k").await.map(drop) };
                (result, Instant::now())
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let closed_at = Instant::now();
    pool.close().await;
    assert!(pool.is_closed());
    for waiter in waiters {
        let (result, at) = tokio::time::timeout(Duration::from_secs(1), waiter).await.expect("waiter woken").unwrap();
        assert_closed(result, "a waiter");
        assert!(at.duration_since(closed_at) < Duration::from_millis(1000));
    }
    assert_closed(pool.get_redis(Some(Duration::from_secs(1))).await, "get_redis after close");
    assert_closed(pool.get("k").await, "a command after close");

    // A client lent before the close works until given back, then is closed.
    let id = client_id(&held).await;
    drop(held);
    let status = pool.status();
    assert_eq!((status.idle, status.in_use, status.closed), (0, 0, true), "{status:?}");
    wait_until("the pool's connection to close", Duration::from_secs(5), || async {
        client_list(&admin).await.iter().all(|c| c["id"] != id.to_string())
    })
    .await;
}

async fn blocking_command_holds_one_client_only(p: Protocol) {
    let server = RedisServer::start();
    let admin = server.admin();
    let pool = pool(&server, p, 2);
    let blocked = {
        let pool = pool.clone();
        tokio::spawn(async move { pool.blpop(["queue"], 0.0).await })
    };
    wait_until("BLPOP to block", Duration::from_secs(5), || async { blocked_clients(&admin).await == 1 }).await;
    assert_eq!(pool.status().in_use, 1);

    // Other callers share the one client left.
    let started = Instant::now();
    let tasks: Vec<_> = (0..20)
        .map(|t| {
            let pool = pool.clone();
            tokio::spawn(async move {
                for i in 1..=50 {
                    assert_eq!(pool.incr(format!("n:{t}")).await.unwrap(), i);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    assert!(!blocked.is_finished());

    pool.execute_cmd("RPUSH", ("queue", "job")).await.unwrap();
    let popped = tokio::time::timeout(Duration::from_secs(5), blocked).await.unwrap().unwrap().unwrap();
    assert_eq!(popped, Some((Bytes::from_static(b"queue"), Bytes::from_static(b"job"))));
    assert_eq!(pool.status().in_use, 0);
}

async fn dropped_command_gives_its_client_back(p: Protocol) {
    let server = RedisServer::start();
    let admin = server.admin();
    let pool = pool(&server, p, 1);
    // Abandoned while blocking: the client comes back (its blocking side
    // connection is closed, since the server would keep it blocked).
    let abandoned = tokio::time::timeout(Duration::from_millis(100), pool.blpop(["nothing"], 0.0)).await;
    assert!(abandoned.is_err());
    assert_eq!(pool.status().in_use, 0);
    wait_until("the abandoned BLPOP's connection to close", Duration::from_secs(5), || async {
        blocked_clients(&admin).await == 0
    })
    .await;
    let started = Instant::now();
    pool.set("k", "v").await.unwrap();
    assert_eq!(pool.get("k").await.unwrap(), Some(Bytes::from_static(b"v")));
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// siderpy could not print a pool of unix-socket connections; this one
/// prints, and never shows the password.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_of_unix_socket_pool_hides_the_password() {
    let server = RedisServer::builder().password("pool-s3cret").unix_socket().start();
    let url = format!("redis+unix://:pool-s3cret@{}?db=2", server.socket_path().display());
    let pool = RedisPool::builder(&url).unwrap().size(3).build();
    pool.set("k", "v").await.unwrap();
    let redis = pool.get_redis(None).await.unwrap();
    assert_eq!(client_info(&redis).await["db"], "2");

    let shown = format!("{pool:?} {pool:#?} {redis:?} {:?} {:?}", pool.strategy(), pool.status());
    assert!(!shown.contains("pool-s3cret"), "{shown}");
    assert!(shown.contains(&server.socket_path().display().to_string()), "{shown}");
    assert!(shown.contains("in_use: 1"), "{shown}");
    let builder = format!("{:?}", RedisPool::builder(&url).unwrap());
    assert!(!builder.contains("pool-s3cret"), "{builder}");
}

/// Every client setting reaches the pool's clients.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_settings_reach_every_client() {
    let server = RedisServer::builder().user("app", "app-pw").start();
    let pool = RedisPool::builder(&server.url())
        .unwrap()
        .size(2)
        .client(|c| c.auth(Some("app"), "app-pw").db(3).client_name("pooled").protocol(Protocol::Resp3))
        .build();
    let (a, b) = (pool.get_redis(None).await.unwrap(), pool.get_redis(None).await.unwrap());
    for redis in [&a, &b] {
        let info = client_info(redis).await;
        assert_eq!((&*info["user"], &*info["db"], &*info["name"], &*info["resp"]), ("app", "3", "pooled", "3"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bb8_manager_runs_commands() {
    let server = RedisServer::start();
    let manager = siderpy::bb8::RedisConnectionManager::new(&format!("{}/0", server.url())).unwrap();
    let pool = siderpy::bb8::Pool::builder().max_size(1).build(manager).await.unwrap();
    {
        let redis = pool.get().await.unwrap();
        assert!(redis.set("k", "v").await.unwrap());
        assert!(matches!(redis.execute_cmd("SELECT", [5]).await, Err(Error::Usage(_))));
        redis.execute_cmd("SUBSCRIBE", ["ch"]).await.unwrap();
    } // given back dirty (subscribed): bb8 is told it is broken
    let redis = pool.get().await.unwrap();
    assert_eq!(redis.get("k").await.unwrap(), Some(Bytes::from_static(b"v")));
    assert_eq!(client_info(&redis).await["db"], "0");

    let mut unreachable = RedisServer::start();
    let manager = siderpy::bb8::RedisConnectionManager::new(&unreachable.url()).unwrap();
    unreachable.kill();
    // Connecting PINGs, so a client that cannot connect is never made.
    let pool = siderpy::bb8::Pool::builder().build_unchecked(manager);
    let err = pool.dedicated_connection().await.expect_err("no server");
    assert!(matches!(err, Error::Io(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadpool_manager_runs_commands() {
    let server = RedisServer::start();
    let manager = siderpy::deadpool::Manager::new(&format!("{}/0", server.url())).unwrap();
    let pool = siderpy::deadpool::Pool::builder(manager).max_size(1).build().unwrap();
    {
        let redis = pool.get().await.unwrap();
        assert!(redis.set("k", "v").await.unwrap());
        redis.multi().await.unwrap();
    } // given back inside MULTI: not recycled
    let redis: siderpy::deadpool::Connection = pool.get().await.unwrap();
    assert_eq!(redis.get("k").await.unwrap(), Some(Bytes::from_static(b"v")));
    assert_eq!(client_info(&redis).await["multi"], "-1");
}

/// Every pooled connection dies with the server; after a restart on the
/// same port the pool serves again, commands and borrowed clients alike,
/// with no manual action.
async fn pool_keeps_serving_after_a_server_restart(p: Protocol) {
    let mut server = RedisServer::start();
    let pool = pool(&server, p, 4);
    // Open all four connections.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let pool = pool.clone();
            tokio::spawn(async move { pool.incr(format!("before{i}")).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap(), 1);
    }
    server.restart().await;
    // The first use of each dead connection may fail (it was sent before
    // the death was noticed) or reconnect; within a few tries all succeed.
    let mut served = 0;
    for i in 0..40 {
        if let Ok(n) = pool.incr(format!("after{i}")).await {
            assert_eq!(n, 1, "each key is new after the restart");
            served += 1;
        }
    }
    assert!(served >= 36, "only {served} of 40 commands served after the restart");
    let conn = pool.get_redis(Some(std::time::Duration::from_secs(2))).await.unwrap();
    assert_eq!(conn.incr("borrowed").await.unwrap(), 1);
}
