//! Pipelines, transactions and siderpy's pipeline mode, against real servers.

#[macro_use]
mod support;

use std::time::Duration;

use siderpy::prelude::*;
use siderpy::{Error, Protocol, Value};
use support::{client, RedisServer};

protocol_tests!(
    paused_and_resumed_pipeline_mode,
    pipeline_mode_refuses_awaits_and_keeps_the_queue,
    empty_and_single_command_pipelines_are_lists,
    hundred_thousand_command_pipeline,
    errors_in_a_pipeline_do_not_abort_the_others,
    typed_tuple_results,
    multi_exec_through_plain_methods_in_a_pipeline,
    multi_exec_awaited_on_a_shared_client,
    transaction_type_returns_exec_results,
    execabort_on_a_bad_command_at_queue_time,
    runtime_error_inside_exec_is_that_entry_only,
    watch_conflict_then_the_helper_retries,
    fifty_tasks_run_transactions_on_one_client,
    pipeline_with_a_blocking_command_does_not_stall_others,
    asking_only_with_the_command_it_is_for,
);

fn bulk(s: &str) -> Value {
    Value::Bulk(bytes::Bytes::copy_from_slice(s.as_bytes()))
}

/// The seed's second example: a pipeline paused, other work done, resumed,
/// then executed.
async fn paused_and_resumed_pipeline_mode(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    {
        let _mode = redis.pipeline();
        redis.set("key1", "value1").queue();
    }
    // Paused: this is sent right away, and is not part of the pipeline.
    redis.set("other", "x").await.unwrap();
    {
        let _mode = redis.pipeline();
        redis.set("key2", "value2").queue();
        redis.execute_cmd("MGET", ["key1", "key2"]).queue();
    }
    let results = redis.pipeline_execute().await.unwrap();
    let results: Vec<Value> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(results.len(), 3);
    assert_eq!(results[2], Value::Array(vec![bulk("value1"), bulk("value2")]));
    // The queue was emptied by executing it.
    assert!(redis.pipeline_execute().await.unwrap().is_empty());
}

async fn pipeline_mode_refuses_awaits_and_keeps_the_queue(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    redis.pipeline_on();
    redis.incr("n").queue();
    let err = redis.incr("n").await.unwrap_err();
    assert!(matches!(err, Error::Usage(_)), "{err:?}");
    redis.pipeline_off();
    // Nothing was sent yet: the awaited INCR was refused, the queued one waits.
    assert_eq!(redis.get("n").await.unwrap(), None);
    let results = redis.pipeline_execute().await.unwrap();
    assert_eq!(results.into_iter().map(Result::unwrap).collect::<Vec<_>>(), vec![Value::Int(1)]);
    redis.pipeline_on();
    redis.incr("n").queue();
    redis.pipeline_clear();
    redis.pipeline_off();
    assert!(redis.pipeline_execute().await.unwrap().is_empty());
    // A clone has a queue of its own.
    redis.incr("n").queue();
    assert!(redis.clone().pipeline_execute().await.unwrap().is_empty());
    assert_eq!(redis.pipeline_execute().await.unwrap().len(), 1);
}

async fn empty_and_single_command_pipelines_are_lists(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    assert!(redis.pipe().execute().await.unwrap().is_empty());
    let mut pipe = redis.pipe();
    pipe.incr("a").queue();
    let one = pipe.execute().await.unwrap();
    assert_eq!(one.len(), 1, "one command still gives a list");
    assert_eq!(*one[0].as_ref().unwrap(), Value::Int(1));
    assert!(pipe.is_empty(), "executing empties the pipeline");
}

async fn hundred_thousand_command_pipeline(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let mut pipe = redis.pipe();
    for i in 0..100_000 {
        pipe.execute_cmd("SET", (format!("k{i}"), i)).queue();
    }
    for i in 0..100_000 {
        pipe.get(format!("k{i}")).queue();
    }
    assert_eq!(pipe.len(), 200_000);
    let results = pipe.execute().await.unwrap();
    assert_eq!(results.len(), 200_000);
    for (i, r) in results[100_000..].iter().enumerate() {
        assert_eq!(r.as_ref().unwrap(), &bulk(&i.to_string()), "reply {i}");
    }
    let size: i64 = redis.execute_cmd("DBSIZE", ()).returning().await.unwrap();
    assert_eq!(size, 100_000);
}

async fn errors_in_a_pipeline_do_not_abort_the_others(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let mut pipe = redis.pipe();
    pipe.set("s", "text").queue().incr("s").queue().incr("n").queue().execute_cmd("NOSUCHCOMMAND", ()).queue();
    pipe.get("s").queue();
    let results = pipe.execute().await.unwrap();
    assert_eq!(results.len(), 5);
    assert!(results[0].is_ok());
    assert_eq!(results[1].as_ref().unwrap_err().code(), Some("ERR"));
    assert_eq!(results[2].as_ref().unwrap(), &Value::Int(1));
    assert_eq!(results[3].as_ref().unwrap_err().code(), Some("ERR"));
    assert_eq!(results[4].as_ref().unwrap(), &bulk("text"));
}

async fn typed_tuple_results(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let mut pipe = redis.pipe();
    pipe.set("a", "1").queue().get("a").queue().incr("a").queue().get("missing").queue();
    let (set, a, incremented, missing): (bool, Option<bytes::Bytes>, i64, Option<String>) = pipe.query().await.unwrap();
    assert!(set);
    assert_eq!(a.as_deref(), Some(&b"1"[..]));
    assert_eq!(incremented, 2);
    assert_eq!(missing, None);
    let mut pipe = redis.pipe();
    for _ in 0..3 {
        pipe.incr("c").queue();
    }
    let counts: Vec<i64> = pipe.query().await.unwrap();
    assert_eq!(counts, vec![1, 2, 3]);
}

/// siderpy: `MULTI` / `EXEC` as plain commands inside a pipeline reply
/// `OK`, `QUEUED`..., then the EXEC array.
async fn multi_exec_through_plain_methods_in_a_pipeline(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let _mode = redis.pipeline();
    redis.multi().queue();
    redis.incr("n").queue();
    redis.incr("n").queue();
    redis.execute_cmd("EXEC", ()).queue();
    let results: Vec<Value> = redis.pipeline_execute().await.unwrap().into_iter().map(Result::unwrap).collect();
    assert_eq!(results.len(), 4);
    assert_eq!(results[0], Value::Simple("OK".into()));
    assert_eq!(results[1], Value::Simple("QUEUED".into()));
    assert_eq!(results[3], Value::Array(vec![Value::Int(1), Value::Int(2)]));
}

/// `ASKING` lasts one command, so a pipeline may hold it right before the
/// command it is for (as a client following `-ASK` by hand sends it), but
/// never last, where it would flag whatever the next caller sends.
async fn asking_only_with_the_command_it_is_for(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let mut pipe = redis.pipe();
    pipe.execute_cmd("ASKING", ()).queue();
    let err = pipe.execute().await.unwrap_err();
    assert!(matches!(&err, Error::Usage(m) if m.contains("ASKING must be followed")), "{err:?}");
    // Not a cluster node, so the server refuses ASKING itself: the pipeline
    // went out, in order, and the GET is answered.
    pipe.execute_cmd("ASKING", ()).queue().get("k").queue();
    let results = pipe.execute().await.unwrap();
    assert_eq!(results.len(), 2);
    assert!(results[0].is_err());
    assert_eq!(results[1].as_ref().unwrap(), &Value::Nil);
    // In a transaction it is refused outright.
    let mut tx = redis.transaction();
    tx.execute_cmd("ASKING", ()).queue().get("k").queue();
    assert!(matches!(tx.execute().await, Err(Error::Usage(_))));
}

/// `MULTI` awaited on a client shared by other tasks: the handle pins a
/// connection of its own, so another task's commands don't land inside.
async fn multi_exec_awaited_on_a_shared_client(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    redis.multi().await.unwrap();
    // Queued, not run: a typed "queued" result, with its place in EXEC's reply.
    let queued = redis.incr("n").await;
    assert!(matches!(queued, Err(Error::Queued { index: 0 })), "{queued:?}");
    // Another handle (another task's) is not part of the transaction.
    let other = redis.clone();
    assert_eq!(other.incr("other").await.unwrap(), 1);
    let results: Vec<i64> = redis.execute_cmd("EXEC", ()).returning().await.unwrap();
    assert_eq!(results, vec![1]);
    // After EXEC the handle is back on the shared connection.
    assert_eq!(redis.incr("n").await.unwrap(), 2);
}

async fn transaction_type_returns_exec_results(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let mut tx = redis.transaction();
    tx.set("k", "v").queue().incr("n").queue().get("k").queue();
    let (ok, n, k): (bool, i64, String) = tx.query().await.unwrap();
    assert!(ok);
    assert_eq!((n, k.as_str()), (1, "v"));
    let mut tx = redis.transaction();
    tx.incr("n").queue();
    let results = tx.execute().await.unwrap();
    assert_eq!(results.into_iter().map(Result::unwrap).collect::<Vec<_>>(), vec![Value::Int(2)]);
}

async fn execabort_on_a_bad_command_at_queue_time(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let mut tx = redis.transaction();
    tx.incr("n").queue().execute_cmd("NOSUCHCOMMAND", ["x"]).queue().incr("n").queue();
    let err = tx.execute().await.unwrap_err();
    match &err {
        Error::Transaction { index, error } => {
            assert_eq!(*index, 1, "the second command was refused");
            assert_eq!(error.code(), "ERR");
        }
        other => panic!("expected a transaction error, got {other:?}"),
    }
    // Nothing ran, and the connection is fine.
    assert_eq!(redis.get("n").await.unwrap(), None);
}

async fn runtime_error_inside_exec_is_that_entry_only(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let mut tx = redis.transaction();
    tx.set("s", "text").queue().incr("s").queue().incr("n").queue();
    let results = tx.execute().await.unwrap();
    assert!(results[0].is_ok());
    assert_eq!(results[1].as_ref().unwrap_err().code(), Some("ERR"));
    assert_eq!(results[2].as_ref().unwrap(), &Value::Int(1));
}

async fn watch_conflict_then_the_helper_retries(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let other = client(&server, p);
    redis.set("balance", "100").await.unwrap();

    // By hand on a dedicated connection: a change after WATCH makes EXEC nil.
    let conn = redis.dedicated().await.unwrap();
    conn.execute_cmd("WATCH", ["balance"]).await.unwrap();
    other.set("balance", "150").await.unwrap();
    let mut tx = conn.transaction();
    tx.set("balance", "0").queue();
    assert!(matches!(tx.execute().await, Err(Error::WatchConflict)));
    assert_eq!(redis.get("balance").await.unwrap().as_deref(), Some(&b"150"[..]));

    // The helper: the first attempt meets a concurrent change, the second succeeds.
    let attempts = std::sync::atomic::AtomicUsize::new(0);
    let ((), balance): ((), i64) = redis
        .transaction_with(["balance"], 5, |conn| {
            let attempt = attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let other = other.clone();
            async move {
                let current: i64 = conn.execute_cmd("GET", ["balance"]).returning().await?;
                if attempt == 0 {
                    other.incr("balance").await?; // someone else changes it meanwhile
                }
                let mut tx = conn.transaction();
                tx.set("balance", current + 10).queue().execute_cmd("GET", ["balance"]).queue();
                Ok(tx)
            }
        })
        .await
        .unwrap();
    assert_eq!(attempts.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert_eq!(balance, 161);

    // A limit the conflicts never let through.
    let err = redis
        .transaction_with(["balance"], 2, |conn| {
            let other = other.clone();
            async move {
                other.incr("balance").await?;
                let mut tx = conn.transaction();
                tx.incr("balance").queue();
                Ok(tx)
            }
        })
        .await
        .map(|(n,): (i64,)| n)
        .unwrap_err();
    assert!(matches!(err, Error::WatchConflict), "{err:?}");
}

async fn fifty_tasks_run_transactions_on_one_client(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let tasks: Vec<_> = (0..50)
        .map(|t| {
            let redis = redis.clone();
            tokio::spawn(async move {
                for round in 0..20 {
                    let mut tx = redis.transaction();
                    tx.incr(format!("t{t}")).queue().execute_cmd("ECHO", [format!("{t}-{round}")]).queue();
                    let (n, echo): (i64, String) = tx.query().await.unwrap();
                    assert_eq!(n, round + 1);
                    assert_eq!(echo, format!("{t}-{round}"));
                    // A plain command between transactions, on the same client.
                    assert_eq!(redis.incr(format!("plain{t}")).await.unwrap(), round + 1);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

async fn pipeline_with_a_blocking_command_does_not_stall_others(p: Protocol) {
    let server = RedisServer::start();
    let redis = client(&server, p);
    let waiting = redis.clone();
    let blocked = tokio::spawn(async move {
        let mut pipe = waiting.pipe();
        pipe.incr("before").queue().blpop(["q"], 0.0).queue();
        pipe.execute().await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(redis.incr("meanwhile").await.unwrap(), 1, "the shared connection is free");
    redis.execute_cmd("RPUSH", ("q", "x")).await.unwrap();
    let results = tokio::time::timeout(Duration::from_secs(5), blocked).await.unwrap().unwrap().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[1].as_ref().unwrap(), &Value::Array(vec![bulk("q"), bulk("x")]));
}
