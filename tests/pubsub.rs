//! Pub/sub against real servers: subscriptions, the bounded queue and its
//! full-queue policy, QueueClosed, re-subscribing, RESP3 pushes.

#[macro_use]
mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use siderpy::prelude::*;
use siderpy::{Error, Message, MessageKind, Protocol, PubSubQueue, Redis, TextPolicy, Value};
use support::{client, url, with_protocol, RedisServer};

protocol_tests!(
    channels_and_patterns_receive_published_messages,
    sharded_subscribe_receives_spublish,
    hundred_thousand_messages_through_a_queue_of_100,
    unsubscribe_and_close_return_promptly_while_the_queue_is_full,
    reading_after_close_drains_then_errors,
    killing_the_server_closes_the_queue_with_the_cause,
    subscribe_again_after_a_full_unsubscribe,
    ping_while_subscribed_returns_pong,
    raw_lowercase_subscribe_enters_pubsub_mode,
    error_reply_while_subscribed_reaches_its_caller,
    other_commands_keep_working_while_subscribed,
    pubsub_with_text_decoding_on,
    the_queue_is_a_stream_and_the_client_keeps_its_commands,
    resubscribes_after_a_restart_when_asked,
);

/// A server that never disconnects a slow subscriber.
fn server() -> RedisServer {
    RedisServer::builder().config("client-output-buffer-limit pubsub 0 0 0").start()
}

async fn recv(queue: &PubSubQueue) -> Message {
    tokio::time::timeout(Duration::from_secs(5), queue.recv()).await.expect("a message in time").expect("a message")
}

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn channels_and_patterns_receive_published_messages(p: Protocol) {
    let server = server();
    let sub = client(&server, p);
    let publisher = client(&server, p);
    let confirmations: Vec<(String, Option<String>, i64)> =
        sub.execute_cmd("SUBSCRIBE", ["news", "sport"]).returning().await.unwrap();
    assert_eq!(
        confirmations,
        vec![("subscribe".into(), Some("news".into()), 1), ("subscribe".into(), Some("sport".into()), 2)]
    );
    sub.execute_cmd("PSUBSCRIBE", ["wea*"]).await.unwrap();
    let queue = sub.pubsub_queue();

    let receivers: i64 = publisher.execute_cmd("PUBLISH", ("news", "hello")).returning().await.unwrap();
    assert_eq!(receivers, 1);
    publisher.execute_cmd("PUBLISH", ("weather", "sunny")).await.unwrap();
    publisher.execute_cmd("PUBLISH", ("sport", Bytes::from_static(b"\x00\xff"))).await.unwrap();

    let m = recv(&queue).await;
    assert_eq!((m.kind, m.channel, m.pattern, m.payload), (MessageKind::Message, b("news"), None, b("hello")));
    let m = recv(&queue).await;
    assert_eq!(
        (m.kind, m.channel, m.pattern, m.payload),
        (MessageKind::PMessage, b("weather"), Some(b("wea*")), b("sunny"))
    );
    let m = recv(&queue).await;
    assert_eq!((m.channel, &m.payload[..]), (b("sport"), &b"\x00\xff"[..]));
    assert!(queue.is_empty());
}

async fn sharded_subscribe_receives_spublish(p: Protocol) {
    let server = server();
    let sub = client(&server, p);
    let publisher = client(&server, p);
    sub.execute_cmd("SSUBSCRIBE", ["shard-1"]).await.unwrap();
    publisher.execute_cmd("SPUBLISH", ("shard-1", "sharded hello")).await.unwrap();
    let m = recv(&sub.pubsub_queue()).await;
    assert_eq!((m.kind, m.channel, m.payload), (MessageKind::SMessage, b("shard-1"), b("sharded hello")));
    sub.execute_cmd("SUNSUBSCRIBE", ()).await.unwrap();
    assert!(matches!(sub.pubsub_queue().recv().await, Err(Error::QueueClosed { cause: None })));
}

async fn hundred_thousand_messages_through_a_queue_of_100(p: Protocol) {
    const N: usize = 100_000;
    let server = server();
    let sub = Redis::builder(&url(&server, p)).unwrap().pubsub_queue_maxsize(100).build();
    let publisher = client(&server, p);
    sub.execute_cmd("SUBSCRIBE", ["firehose"]).await.unwrap();
    let queue = sub.pubsub_queue();
    let publishing = tokio::spawn(async move {
        for chunk in 0..N / 1000 {
            let mut pipe = publisher.pipe();
            for i in chunk * 1000..(chunk + 1) * 1000 {
                pipe.execute_cmd("PUBLISH", ("firehose", i)).queue();
            }
            pipe.execute().await.unwrap();
        }
    });
    let mut max_len = 0;
    for i in 0..N {
        max_len = max_len.max(queue.len());
        let m = recv(&queue).await;
        assert_eq!(m.payload, i.to_string().as_bytes(), "message {i} out of order or lost");
    }
    publishing.await.unwrap();
    assert!(max_len <= 100, "the queue held {max_len} messages, more than its maxsize");
}

async fn unsubscribe_and_close_return_promptly_while_the_queue_is_full(p: Protocol) {
    let server = server();
    let sub = Redis::builder(&url(&server, p)).unwrap().pubsub_queue_maxsize(10).build();
    let publisher = client(&server, p);
    sub.execute_cmd("SUBSCRIBE", ["a", "b"]).await.unwrap();
    let mut pipe = publisher.pipe();
    for i in 0..5_000 {
        pipe.execute_cmd("PUBLISH", ("a", i)).queue();
    }
    pipe.execute().await.unwrap();
    let queue = sub.pubsub_queue();
    support::wait_until("the queue to fill", Duration::from_secs(5), || {
        let queue = queue.clone();
        async move { queue.len() >= 10 }
    })
    .await;

    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(2), sub.execute_cmd("UNSUBSCRIBE", ["a"])).await.unwrap().unwrap();
    let pong: Bytes = tokio::time::timeout(Duration::from_secs(2), sub.execute_cmd("PING", ()))
        .await
        .unwrap()
        .unwrap()
        .as_bytes()
        .cloned()
        .unwrap();
    assert_eq!(&pong[..], b"PONG");
    tokio::time::timeout(Duration::from_secs(2), sub.close()).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2));

    // Every message read before the close is still there, in order, then the end.
    let mut next = 0;
    loop {
        match queue.recv().await {
            Ok(m) => {
                assert_eq!(m.payload, next.to_string().as_bytes());
                next += 1;
            }
            Err(Error::QueueClosed { cause: None }) => break,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert!(next >= 10, "only {next} messages were queued");
}

async fn reading_after_close_drains_then_errors(p: Protocol) {
    let server = server();
    let sub = client(&server, p);
    let publisher = client(&server, p);
    sub.execute_cmd("SUBSCRIBE", ["c"]).await.unwrap();
    for i in 0..3 {
        publisher.execute_cmd("PUBLISH", ("c", i)).await.unwrap();
    }
    let queue = sub.pubsub_queue();
    support::wait_until("3 messages", Duration::from_secs(5), || {
        let queue = queue.clone();
        async move { queue.len() == 3 }
    })
    .await;
    sub.close().await;
    for i in 0..3 {
        assert_eq!(recv(&queue).await.payload, i.to_string().as_bytes());
    }
    assert!(matches!(queue.recv().await, Err(Error::QueueClosed { cause: None })));
    assert!(matches!(queue.try_recv(), Err(Error::QueueClosed { .. })));
}

async fn killing_the_server_closes_the_queue_with_the_cause(p: Protocol) {
    let mut server = server();
    let sub = client(&server, p);
    sub.execute_cmd("SUBSCRIBE", ["c"]).await.unwrap();
    let queue = sub.pubsub_queue();
    server.kill();
    let err = tokio::time::timeout(Duration::from_secs(5), queue.recv()).await.expect("closed in time").unwrap_err();
    match err {
        Error::QueueClosed { cause: Some(cause) } => assert!(matches!(*cause, Error::Io(_)), "{cause:?}"),
        other => panic!("expected QueueClosed with an I/O cause, got {other:?}"),
    }
}

async fn subscribe_again_after_a_full_unsubscribe(p: Protocol) {
    let server = server();
    let sub = client(&server, p);
    let publisher = client(&server, p);
    let queue = sub.pubsub_queue();
    for round in 0..3 {
        sub.execute_cmd("SUBSCRIBE", ["x", "y"]).await.unwrap();
        publisher.execute_cmd("PUBLISH", ("y", round)).await.unwrap();
        assert_eq!(recv(&queue).await.payload, round.to_string().as_bytes());
        let confirmations: Vec<Value> = sub.execute_cmd("UNSUBSCRIBE", ()).returning().await.unwrap();
        assert_eq!(confirmations.len(), 2, "one confirmation per channel");
        assert!(matches!(queue.recv().await, Err(Error::QueueClosed { cause: None })));
        // The connection is an ordinary one again.
        assert_eq!(sub.incr("n").await.unwrap(), round + 1);
    }
}

async fn ping_while_subscribed_returns_pong(p: Protocol) {
    let server = server();
    let sub = client(&server, p);
    sub.execute_cmd("SUBSCRIBE", ["c"]).await.unwrap();
    let pong: String = sub.execute_cmd("PING", ()).returning().await.unwrap();
    assert_eq!(pong, "PONG");
    let echo: String = sub.execute_cmd("PING", ["hi"]).returning().await.unwrap();
    assert_eq!(echo, "hi");
}

async fn raw_lowercase_subscribe_enters_pubsub_mode(p: Protocol) {
    let server = server();
    let sub = client(&server, p);
    let publisher = client(&server, p);
    sub.execute_cmd("subscribe", ["low"]).await.unwrap();
    publisher.execute_cmd("PUBLISH", ("low", "case")).await.unwrap();
    assert_eq!(recv(&sub.pubsub_queue()).await.payload, b("case"));
}

async fn error_reply_while_subscribed_reaches_its_caller(p: Protocol) {
    let server = RedisServer::builder().user("limited", "pw").config("client-output-buffer-limit pubsub 0 0 0").start();
    // An ACL user allowed only channel `ok*`: subscribing elsewhere is refused.
    server.admin().execute_cmd("ACL", ("SETUSER", "limited", "resetchannels", "&ok*")).await.unwrap();
    let url = with_protocol(&format!("redis://limited:pw@127.0.0.1:{}/0", server.port()), p);
    let sub = Redis::new(&url).unwrap();
    sub.execute_cmd("SUBSCRIBE", ["ok1"]).await.unwrap();
    let err = sub.execute_cmd("SUBSCRIBE", ["forbidden"]).await.unwrap_err();
    assert_eq!(err.code(), Some("NOPERM"), "{err:?}");
    // The refusal did not steal or shift any other reply.
    let pong: String = sub.execute_cmd("PING", ()).returning().await.unwrap();
    assert_eq!(pong, "PONG");
    server.admin().execute_cmd("PUBLISH", ("ok1", "still here")).await.unwrap();
    assert_eq!(recv(&sub.pubsub_queue()).await.payload, b("still here"));
}

/// RESP3 serves ordinary commands on the subscribed connection itself;
/// RESP2 sends them over the client's shared connection.
async fn other_commands_keep_working_while_subscribed(p: Protocol) {
    let server = server();
    let sub = client(&server, p);
    let publisher = client(&server, p);
    sub.execute_cmd("SUBSCRIBE", ["c"]).await.unwrap();
    let queue = sub.pubsub_queue();
    let sub_id: i64 = sub.execute_cmd("CLIENT", ["ID"]).returning().await.unwrap();
    for i in 0..50 {
        publisher.execute_cmd("PUBLISH", ("c", i)).await.unwrap();
        sub.set(format!("k{i}"), i).await.unwrap();
        assert_eq!(sub.get(format!("k{i}")).await.unwrap(), Some(b(&i.to_string())));
    }
    for i in 0..50 {
        assert_eq!(recv(&queue).await.payload, i.to_string().as_bytes());
    }
    let info = support::client_info(&sub).await;
    if p == Protocol::Resp3 {
        assert_eq!(info["id"], sub_id.to_string(), "one connection");
        assert_eq!(info["sub"], "1", "the connection serving GET/SET is the subscribed one");
    } else {
        assert_eq!(info["sub"], "0", "RESP2 keeps the subscribed connection for pub/sub alone");
    }
}

async fn pubsub_with_text_decoding_on(p: Protocol) {
    let server = server();
    let sub = Redis::builder(&url(&server, p)).unwrap().text_policy(TextPolicy::Replace).build();
    let publisher = client(&server, p);
    let confirmations: Vec<(String, String, i64)> = sub.execute_cmd("SUBSCRIBE", ["t"]).returning().await.unwrap();
    assert_eq!(confirmations[0].0, "subscribe");
    publisher.execute_cmd("PUBLISH", ("t", Bytes::from_static(b"caf\xc3\xa9 \xff"))).await.unwrap();
    let m = recv(&sub.pubsub_queue()).await;
    assert_eq!(String::from_utf8_lossy(&m.payload), "café \u{fffd}");
}

/// The queue is the stream; the client is not one, so with `StreamExt` in
/// scope its commands keep their names (`scan` was `StreamExt::scan`).
async fn the_queue_is_a_stream_and_the_client_keeps_its_commands(p: Protocol) {
    use futures_util::StreamExt;
    let server = server();
    let sub = client(&server, p);
    let publisher = client(&server, p);
    sub.execute_cmd("SUBSCRIBE", ["s"]).await.unwrap();
    publisher.execute_cmd("PUBLISH", ("s", "one")).await.unwrap();
    let mut queue = sub.pubsub_queue();
    assert_eq!(queue.next().await.unwrap().unwrap().payload, b("one"));
    sub.execute_cmd("UNSUBSCRIBE", ()).await.unwrap();
    assert!(queue.next().await.is_none(), "the stream ends when the last subscription does");
    publisher.set("k", "v").await.unwrap();
    let (cursor, keys) = publisher.scan(0).await.unwrap();
    assert_eq!((cursor, keys), (0, vec![Bytes::from_static(b"k")]));
}

async fn resubscribes_after_a_restart_when_asked(p: Protocol) {
    let mut server = server();
    let sub = Redis::builder(&url(&server, p)).unwrap().resubscribe(true).build();
    sub.execute_cmd("SUBSCRIBE", ["a", "b"]).await.unwrap();
    sub.execute_cmd("PSUBSCRIBE", ["p*"]).await.unwrap();
    let queue = sub.pubsub_queue();
    server.restart().await;
    let publisher = client(&server, p);
    // Publish until the re-subscriber is back (messages sent while it was
    // away are lost: Redis keeps none).
    let mut n = 0;
    let got = loop {
        n += 1;
        publisher.execute_cmd("PUBLISH", ("pattern-match", n)).await.unwrap();
        if let Ok(Ok(m)) = tokio::time::timeout(Duration::from_millis(100), queue.recv()).await {
            break m;
        }
        assert!(n < 100, "no message after the restart");
    };
    assert_eq!((got.kind, got.pattern), (MessageKind::PMessage, Some(b("p*"))));
    publisher.execute_cmd("PUBLISH", ("b", "to b")).await.unwrap();
    // Drain any later copies of the pattern message, then find b's.
    loop {
        let m = recv(&queue).await;
        if m.channel == b("b") {
            assert_eq!(m.payload, b("to b"));
            break;
        }
    }
    let confirmations: Vec<Value> = sub.execute_cmd("UNSUBSCRIBE", ()).returning().await.unwrap();
    assert_eq!(confirmations.len(), 2, "both channels were subscribed again");
}
