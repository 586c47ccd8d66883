use siderpy::prelude::*;
#[tokio::main]
async fn main() -> siderpy::Result<()> {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:7712/0".into());
    let redis = siderpy::Redis::new(&url)?;
    redis.set("tour:k", "v").ex(10).await?;
    println!("{:?}", redis.get("tour:k").await?);
    println!("{:?}", redis.execute_cmd("CLIENT LIST", ()).await?);
    println!("{:?}", redis.execute_cmd("HELLO", ["3"]).await?);
    let mut hs = Vec::new();
    for i in 0..100 {
        let r = redis.clone();
        hs.push(tokio::spawn(async move {
            for _ in 0..1000 {
                r.incr(format!("tour:c{i}")).await.unwrap();
            }
            r.execute_cmd("GET", [format!("tour:c{i}")]).returning::<i64>().await.unwrap()
        }));
    }
    for h in hs {
        assert_eq!(h.await.unwrap(), 1000);
    }
    println!("ok");
    Ok(())
}
