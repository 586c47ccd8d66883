//! A crate that depends only on `siderpy` and gets typed methods for
//! RedisJSON and RedisBloom from their published specs (`specs/`).

siderpy::commands! {
    /// RedisJSON's commands (`JSON.*`).
    pub trait JsonCommands = "specs/json.json", replies = "specs/json.replies.json";
}

siderpy::commands! {
    /// RedisBloom's commands (`BF.*`, `CF.*`, `CMS.*`, `TOPK.*`, `TDIGEST.*`).
    pub trait BloomCommands = "specs/bloom.json";
}
