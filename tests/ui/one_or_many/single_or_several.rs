// Where the spec takes several keys, members or values, one works as well
// as a list, an iterator, or a borrowed collection.
use siderpy::prelude::*;

async fn design(redis: siderpy::Redis) -> siderpy::Result<()> {
    let _ = redis.blpop("list", 0).await?;
    let _: i64 = redis.delete("k").await?;
    let _: i64 = redis.lpush("l", "v").await?;
    let _: i64 = redis.lpush("l", ["v", "w"]).await?;
    let keys = vec![String::from("a"), String::from("b")];
    let _: i64 = redis.exists(&keys).await?;
    let _: i64 = redis.delete(keys.iter().map(|k| format!("{k}:x"))).await?;
    // A byte string is one key, not a list of numbers.
    let _ = redis.mget(b"k".to_vec()).await?;
    let _ = redis.sadd("s", 7).await?;
    let _ = redis.eval("return 1").key("k").await?;
    // A repeated block: one tuple, or a list of them.
    let _: i64 = redis.hset("h", ("f", "v")).await?;
    let _: i64 = redis.hset("h", vec![("f", 1)]).await?;
    let _: i64 = redis.zadd("z", (1.5, "m")).await?;
    let _: i64 = redis.zadd("z", [(1, "m"), (2, "n")]).await?;
    let _: i64 = redis.geoadd("g", (13.36, 38.11, "Palermo")).await?;
    let mut pipe = redis.pipe();
    pipe.hset("h", ("f", "v")).queue().mset(("k", 1)).queue();
    let _: (i64, ()) = pipe.query().await?;
    Ok(())
}

fn main() {
    let _ = design;
}
