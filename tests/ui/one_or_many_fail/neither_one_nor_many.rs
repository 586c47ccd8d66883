use siderpy::prelude::*;

fn main() {
    let redis = siderpy::Redis::default();
    let _ = redis.delete(std::time::Duration::from_secs(1));
}
