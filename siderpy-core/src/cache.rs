//! Client-side caching: replies of cacheable reads kept in the client,
//! invalidated by the server (`CLIENT TRACKING`).
//!
//! The cache knows nothing of sockets: the connection hands it the
//! invalidations it reads, in the order it reads them, and tells it when
//! the connection that feeds them is lost; the client looks replies up
//! and fills them in.
//!
//! # Why a read racing an invalidation is never cached
//! A miss puts a *pending* entry (a fetch token) in place before its
//! command is queued. An invalidation of the key, or a flush, removes
//! entries, pending ones included; a reply fills only the very pending
//! entry its command put there. So a reply that an invalidation may have
//! made stale (one arriving before or after the reply, on the same
//! connection or, with `REDIRECT`, on another) finds its token gone and
//! is handed to its caller without being kept.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::args::CmdArgs;
use crate::command::CommandInfo;
use crate::keys::BeginSearch;
use crate::value::Value;

/// The default bound on entries of a [`CacheConfig`].
pub const DEFAULT_CACHE_ENTRIES: usize = 10_000;
/// The default bound on bytes of a [`CacheConfig`] (64 MiB).
pub const DEFAULT_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// Which reads the server tracks for the cache (`CLIENT TRACKING` modes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CacheMode {
    /// The server remembers every key the client reads and invalidates
    /// those: every cacheable read is cached.
    #[default]
    Default,
    /// `OPTIN`: only reads marked with [`Cmd::cached`](crate::Cmd::cached)
    /// are cached (and tracked: the client sends `CLIENT CACHING yes` right
    /// before them); other reads cost the server no memory.
    OptIn,
    /// `BCAST`: the server sends invalidations for every key starting with
    /// one of the prefixes, whoever reads it; only reads of such keys are
    /// cached. No prefix means every key.
    Broadcast {
        /// The key prefixes (`PREFIX` arguments).
        prefixes: Vec<Bytes>,
    },
}

/// The settings of a client-side cache, for
/// [`RedisBuilder::cache`](crate::RedisBuilder::cache).
///
/// ```
/// # extern crate siderpy_core as siderpy;
/// use std::time::Duration;
/// use siderpy::{CacheConfig, CacheMode};
/// let config = CacheConfig::new()
///     .max_entries(100_000)
///     .max_bytes(256 << 20)
///     .ttl(Some(Duration::from_secs(60)))
///     .mode(CacheMode::Broadcast { prefixes: vec!["user:".into()] });
/// # let _ = config;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    pub(crate) max_entries: usize,
    pub(crate) max_bytes: usize,
    pub(crate) ttl: Option<Duration>,
    pub(crate) mode: CacheMode,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_entries: DEFAULT_CACHE_ENTRIES,
            max_bytes: DEFAULT_CACHE_BYTES,
            ttl: None,
            mode: CacheMode::Default,
        }
    }
}

impl CacheConfig {
    /// [`DEFAULT_CACHE_ENTRIES`], [`DEFAULT_CACHE_BYTES`], no TTL,
    /// [`CacheMode::Default`].
    pub fn new() -> Self {
        Self::default()
    }

    /// The most entries kept (at least 1); past it the least recently used
    /// go first. A cache of more than 512 entries is split into up to 16
    /// shards by key, for less waiting between threads: each keeps its share
    /// of both bounds, and its own least recently used go first.
    pub fn max_entries(mut self, n: usize) -> Self {
        self.max_entries = n.max(1);
        self
    }

    /// The most bytes kept, counting each entry's command, key and reply
    /// plus a fixed overhead; past it the least recently used go first. A
    /// reply larger than this alone (than its shard's share, see
    /// [`max_entries`](Self::max_entries)) is not cached.
    pub fn max_bytes(mut self, n: usize) -> Self {
        self.max_bytes = n;
        self
    }

    /// How long an entry may be served at most, invalidated or not (`None`,
    /// the default: until invalidated or evicted). A bound on staleness
    /// should the server's invalidations ever be late, and on how long a key
    /// with an expiry may outlive it here: the server invalidates such a key
    /// only when it actually deletes it.
    pub fn ttl(mut self, ttl: Option<Duration>) -> Self {
        self.ttl = ttl;
        self
    }

    /// Which reads are tracked and cached ([`CacheMode::Default`] unless set).
    pub fn mode(mut self, mode: CacheMode) -> Self {
        self.mode = mode;
        self
    }
}

/// What a client's cache did so far (see [`Redis::cache_stats`](crate::Redis::cache_stats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Reads answered from the cache.
    pub hits: u64,
    /// Cacheable reads sent to the server.
    pub misses: u64,
    /// Entries removed because the server said their key changed (or
    /// because the cache was flushed: a reconnect, a lost invalidation
    /// channel, `FLUSHALL`).
    pub invalidations: u64,
    /// Entries removed to stay within the bounds, or past their TTL.
    pub evictions: u64,
    /// Entries now (fetches under way included).
    pub entries: u64,
    /// Bytes now, as the bound counts them.
    pub bytes: u64,
}

impl std::ops::Add for CacheStats {
    type Output = CacheStats;
    fn add(self, o: CacheStats) -> CacheStats {
        CacheStats {
            hits: self.hits + o.hits,
            misses: self.misses + o.misses,
            invalidations: self.invalidations + o.invalidations,
            evictions: self.evictions + o.evictions,
            entries: self.entries + o.entries,
            bytes: self.bytes + o.bytes,
        }
    }
}

/// Bytes counted for an entry beyond its command, key and reply.
const ENTRY_OVERHEAD: usize = 96;

/// One client's cache.
#[derive(Debug)]
pub(crate) struct Cache {
    config: CacheConfig,
    /// Entries are spread over shards by their key's hash, each with its
    /// share of the bounds, so that tasks on different threads seldom wait
    /// for the same lock; all of a key's entries are in one shard.
    shards: Box<[Shard]>,
    /// Each shard's share of the bounds.
    shard_entries: usize,
    shard_bytes: usize,
    hasher: Hasher,
}

/// Seeded per cache, as std's, but several times faster on the short
/// commands and keys a lookup hashes (twice: the key for its shard, the
/// command in the shard's map).
type Hasher = foldhash::fast::RandomState;

/// A shard on cache lines of its own: threads locking neighbouring
/// shards do not take each other's lines.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Shard(Mutex<State>);

/// At most this many shards, and at least this many entries per shard.
const MAX_SHARDS: usize = 16;
const MIN_SHARD_ENTRIES: usize = 256;

/// In this order (`repr(C)`): what a hit reads and writes first, next to
/// the lock's own word, on as few cache lines as can be.
#[derive(Debug, Default)]
#[repr(C)]
struct State {
    stats: CacheStats,
    /// The connection whose invalidations keep the cache true, while it
    /// has them; no entry is served or made without one. Set in every
    /// shard, under its lock.
    live: Option<u64>,
    /// By the command as sent (its bulk strings, name included).
    entries: HashMap<Bytes, Entry, Hasher>,
    /// The commands cached for each key, for invalidation.
    by_key: HashMap<Bytes, Vec<Bytes>, Hasher>,
    /// Commands in insertion order for the CLOCK eviction, with the id of
    /// the entry each was queued for (an entry replaced later has a new id).
    clock: VecDeque<(Bytes, u64)>,
    bytes: usize,
    next_id: u64,
}

#[derive(Debug)]
struct Entry {
    id: u64,
    key: Bytes,
    /// `None` while its fetch is under way.
    value: Option<Value>,
    size: usize,
    expires: Option<Instant>,
    /// Read since the clock hand last passed (CLOCK's second chance).
    referenced: bool,
}

/// What a read finds in the cache.
pub(crate) enum Lookup {
    /// The reply, from the cache.
    Hit(Value),
    /// Not there: send the command, and give the reply to the token.
    Fetch(Fetch),
    /// Not for the cache: send it as usual.
    Pass,
    /// For the cache, but no connection feeds it yet (the client has not
    /// connected, or is reconnecting): connect, then look again.
    Offline,
}

impl Cache {
    pub(crate) fn new(config: CacheConfig) -> Arc<Self> {
        // A small cache keeps one shard: its bounds, and its LRU, stay exact.
        let n = (config.max_entries / MIN_SHARD_ENTRIES).clamp(1, MAX_SHARDS);
        let shards = (0..n).map(|_| Shard::default()).collect();
        Arc::new(Cache {
            shard_entries: (config.max_entries / n).max(1),
            shard_bytes: config.max_bytes / n,
            config,
            shards,
            hasher: Hasher::default(),
        })
    }

    fn shard_of(&self, key: &[u8]) -> usize {
        use std::hash::BuildHasher;
        if self.shards.len() == 1 {
            return 0;
        }
        // The hash's high bits scaled to the shard count: no division.
        ((u128::from(self.hasher.hash_one(key)) * self.shards.len() as u128) >> 64) as usize
    }

    fn lock(&self, shard: usize) -> MutexGuard<'_, State> {
        self.shards[shard].0.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn each_shard(&self, mut f: impl FnMut(&mut State)) {
        for shard in 0..self.shards.len() {
            f(&mut self.lock(shard));
        }
    }

    pub(crate) fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Whether reads need `CLIENT CACHING yes` before them to be tracked.
    pub(crate) fn opt_in(&self) -> bool {
        self.config.mode == CacheMode::OptIn
    }

    pub(crate) fn stats(&self) -> CacheStats {
        let mut total = CacheStats::default();
        self.each_shard(|st| {
            total = total + CacheStats { entries: st.entries.len() as u64, bytes: st.bytes as u64, ..st.stats };
        });
        total
    }

    /// Looks a command up. `marked`: the caller asked for the cache
    /// ([`Cmd::cached`](crate::Cmd::cached)), which `OPTIN` requires.
    pub(crate) fn lookup(self: &Arc<Self>, args: &CmdArgs, info: Option<&CommandInfo>, marked: bool) -> Lookup {
        let Some(info) = info.filter(|i| i.cacheable) else { return Lookup::Pass };
        if self.opt_in() && !marked {
            return Lookup::Pass;
        }
        let Some(key) = key_of(args, info) else { return Lookup::Pass };
        if let CacheMode::Broadcast { prefixes } = &self.config.mode {
            // The server says nothing of other keys.
            if !prefixes.is_empty() && !prefixes.iter().any(|p| key.starts_with(p)) {
                return Lookup::Pass;
            }
        }
        let command = args.sent_bytes();
        let shard = self.shard_of(key);
        let mut st = self.lock(shard);
        if st.live.is_none() {
            return Lookup::Offline;
        }
        let now = self.config.ttl.map(|_| Instant::now());
        if let Some(e) = st.entries.get_mut(&command[..]) {
            match &e.value {
                Some(v) if e.expires.zip(now).is_none_or(|(at, now)| now < at) => {
                    // Written only when not yet: a line both threads
                    // read stays shared between their caches.
                    if !e.referenced {
                        e.referenced = true;
                    }
                    let v = served(v);
                    st.stats.hits += 1;
                    return Lookup::Hit(v);
                }
                Some(_) => {
                    let command = Bytes::copy_from_slice(&command);
                    st.remove(&command);
                    st.stats.evictions += 1;
                }
                None => {
                    // Another caller's fetch of it is under way; this one
                    // is sent too, and not kept.
                    st.stats.misses += 1;
                    return Lookup::Pass;
                }
            }
        }
        st.stats.misses += 1;
        while st.entries.len() >= self.shard_entries {
            if !st.evict_one() {
                break;
            }
        }
        let command = Bytes::copy_from_slice(&command);
        let key = Bytes::copy_from_slice(key);
        st.next_id += 1;
        let id = st.next_id;
        let size = command.len() + key.len() + ENTRY_OVERHEAD;
        st.bytes += size;
        st.by_key.entry(key.clone()).or_default().push(command.clone());
        st.clock.push_back((command.clone(), id));
        st.entries.insert(command.clone(), Entry { id, key, value: None, size, expires: None, referenced: false });
        st.compact_clock();
        Lookup::Fetch(Fetch { cache: Arc::clone(self), shard, command, id, done: false })
    }

    /// Removes the entries of `keys` (`None`: every entry), as the server
    /// asks.
    pub(crate) fn invalidate(&self, keys: Option<&[Bytes]>) {
        match keys {
            None => self.each_shard(State::flush),
            Some(keys) => {
                for key in keys {
                    let mut st = self.lock(self.shard_of(key));
                    for command in st.by_key.remove(key).unwrap_or_default() {
                        if let Some(e) = st.entries.remove(&command) {
                            st.bytes -= e.size;
                            st.stats.invalidations += 1;
                        }
                    }
                }
            }
        }
    }

    /// The connection `conn` now feeds invalidations: starts afresh.
    pub(crate) fn go_live(&self, conn: u64) {
        self.each_shard(|st| {
            st.flush();
            st.live = Some(conn);
        });
    }

    /// The invalidations of `conn` stopped (it closed, or its `REDIRECT`
    /// subscriber did): if it fed the cache, everything goes, and nothing is
    /// cached until a new connection feeds it. Anything older than the loss
    /// may have missed its invalidation.
    pub(crate) fn lost(&self, conn: u64) {
        self.each_shard(|st| {
            if st.live == Some(conn) {
                st.flush();
                st.live = None;
            }
        });
    }
}

impl State {
    fn remove(&mut self, command: &Bytes) {
        let Some(e) = self.entries.remove(command) else { return };
        self.bytes -= e.size;
        if let Some(commands) = self.by_key.get_mut(&e.key) {
            commands.retain(|c| c != command);
            if commands.is_empty() {
                self.by_key.remove(&e.key);
            }
        }
    }

    fn flush(&mut self) {
        self.stats.invalidations += self.entries.len() as u64;
        self.entries.clear();
        self.by_key.clear();
        self.clock.clear();
        self.bytes = 0;
    }

    /// Evicts one entry, the least recently used as CLOCK tells it;
    /// `false` when there is none.
    fn evict_one(&mut self) -> bool {
        while let Some((command, id)) = self.clock.pop_front() {
            let Some(e) = self.entries.get_mut(&command).filter(|e| e.id == id) else { continue };
            if std::mem::take(&mut e.referenced) {
                self.clock.push_back((command, id));
                continue;
            }
            self.remove(&command);
            self.stats.evictions += 1;
            return true;
        }
        false
    }

    /// Drops what the clock holds for entries gone, once it is mostly that
    /// (the clock's own bound).
    fn compact_clock(&mut self) {
        if self.clock.len() > 2 * self.entries.len() + 64 {
            let entries = &self.entries;
            self.clock.retain(|(command, id)| entries.get(command).is_some_and(|e| e.id == *id));
        }
    }
}

/// The right to fill one pending entry with its command's reply; dropped
/// unfilled (the caller gave up, or the reply was an error), the entry goes.
pub(crate) struct Fetch {
    cache: Arc<Cache>,
    shard: usize,
    command: Bytes,
    id: u64,
    done: bool,
}

impl std::fmt::Debug for Fetch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetch").field("id", &self.id).finish()
    }
}

impl Fetch {
    /// Whether the command must be sent right after `CLIENT CACHING yes`.
    pub(crate) fn opt_in(&self) -> bool {
        self.cache.opt_in()
    }

    /// Keeps `reply` if the entry is still the one this fetch made: no
    /// invalidation or flush came in between.
    pub(crate) fn fill(mut self, reply: &Value) {
        self.done = true;
        let cache = &self.cache;
        let mut st = cache.lock(self.shard);
        let Some(e) = st.entries.get_mut(&self.command).filter(|e| e.id == self.id && e.value.is_none()) else {
            return;
        };
        if matches!(reply, Value::Error(_)) {
            st.remove(&self.command);
            return;
        }
        let size = value_size(reply);
        e.value = Some(owned(reply));
        e.size += size;
        e.expires = cache.config.ttl.map(|ttl| Instant::now() + ttl);
        st.bytes += size;
        let max = cache.shard_bytes;
        if st.entries.get(&self.command).is_some_and(|e| e.size > max) {
            st.remove(&self.command);
            return;
        }
        while st.bytes > max {
            if !st.evict_one() {
                break;
            }
        }
    }
}

impl Drop for Fetch {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let mut st = self.cache.lock(self.shard);
        if st.entries.get(&self.command).is_some_and(|e| e.id == self.id && e.value.is_none()) {
            st.remove(&self.command);
        }
    }
}

/// The key of a cacheable command (its only key, at a fixed index).
fn key_of<'a>(args: &'a CmdArgs, info: &CommandInfo) -> Option<&'a [u8]> {
    match info.keys.first()?.begin {
        BeginSearch::Index(i) => args.word(usize::try_from(i).ok()?),
        _ => None,
    }
}

/// Past this, a cached string is handed out shared, not copied.
const SERVE_COPIED: usize = 256;

/// What a hit hands out: a short string copied rather than shared. A
/// shared one's reference count is written by every hit and every drop of
/// what it returned: with hits on several threads, that one cache line
/// moves between their cores on nearly every read, which costs more than
/// the copy.
fn served(v: &Value) -> Value {
    match v {
        Value::Bulk(b) if b.len() <= SERVE_COPIED => Value::Bulk(Bytes::copy_from_slice(b)),
        Value::Simple(b) if b.len() <= SERVE_COPIED => Value::Simple(Bytes::copy_from_slice(b)),
        v => v.clone(),
    }
}

/// A copy of `v` whose byte strings are its own: a reply's bytes are
/// slices of the connection's read buffer, which a cached slice would keep
/// whole (far past what the byte bound counts).
fn owned(v: &Value) -> Value {
    let copy = |b: &Bytes| Bytes::copy_from_slice(b);
    let pairs = |p: &[(Value, Value)]| p.iter().map(|(k, v)| (owned(k), owned(v))).collect();
    match v {
        Value::Simple(b) => Value::Simple(copy(b)),
        Value::Bulk(b) => Value::Bulk(copy(b)),
        Value::BigNumber(b) => Value::BigNumber(copy(b)),
        Value::Verbatim { format, text } => Value::Verbatim { format: *format, text: copy(text) },
        Value::Array(items) => Value::Array(items.iter().map(owned).collect()),
        Value::Set(items) => Value::Set(items.iter().map(owned).collect()),
        Value::Push(items) => Value::Push(items.iter().map(owned).collect()),
        Value::Map(p) => Value::Map(pairs(p)),
        Value::Attribute { attributes, value } => {
            Value::Attribute { attributes: pairs(attributes), value: Box::new(owned(value)) }
        }
        other => other.clone(),
    }
}

/// About how much memory a reply takes.
fn value_size(v: &Value) -> usize {
    const NODE: usize = 32;
    match v {
        Value::Simple(b) | Value::Bulk(b) | Value::BigNumber(b) | Value::Verbatim { text: b, .. } => NODE + b.len(),
        Value::Array(items) | Value::Set(items) | Value::Push(items) => {
            NODE + items.iter().map(value_size).sum::<usize>()
        }
        Value::Map(pairs) => NODE + pairs.iter().map(|(k, v)| value_size(k) + value_size(v)).sum::<usize>(),
        Value::Attribute { attributes, value } => {
            value_size(value) + attributes.iter().map(|(k, v)| value_size(k) + value_size(v)).sum::<usize>()
        }
        _ => NODE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(key: &str) -> CmdArgs {
        let mut args = CmdArgs::with_name("GET");
        args.push(key);
        args
    }

    fn lookup(cache: &Arc<Cache>, key: &str) -> Lookup {
        cache.lookup(&get(key), crate::commands::command_info("GET"), false)
    }

    #[test]
    fn a_reply_racing_an_invalidation_is_not_kept() {
        let cache = Cache::new(CacheConfig::new());
        assert!(matches!(lookup(&cache, "k"), Lookup::Offline), "nothing feeds it yet");
        cache.go_live(1);
        let Lookup::Fetch(fetch) = lookup(&cache, "k") else { panic!("a miss") };
        cache.invalidate(Some(&[Bytes::from_static(b"k")]));
        fetch.fill(&Value::Bulk(Bytes::from_static(b"old")));
        assert!(matches!(lookup(&cache, "k"), Lookup::Fetch(_)), "still a miss");
        // Without the race, the reply is kept; the feed's loss drops it.
        let Lookup::Fetch(fetch) = lookup(&cache, "k") else { panic!("a miss") };
        fetch.fill(&Value::Bulk(Bytes::from_static(b"new")));
        assert!(matches!(lookup(&cache, "k"), Lookup::Hit(Value::Bulk(b)) if b == "new"));
        cache.lost(2);
        assert!(matches!(lookup(&cache, "k"), Lookup::Hit(_)), "another connection's loss changes nothing");
        cache.lost(1);
        assert!(matches!(lookup(&cache, "k"), Lookup::Offline));
        assert_eq!(cache.stats().entries, 0);
    }

    #[test]
    fn an_abandoned_fetch_leaves_nothing_behind() {
        let cache = Cache::new(CacheConfig::new());
        cache.go_live(1);
        drop(lookup(&cache, "k"));
        assert_eq!(cache.stats().entries, 0);
    }

    #[test]
    fn cached_values_do_not_keep_the_read_buffer() {
        let buffer = Bytes::from(vec![b'x'; 64 * 1024]);
        let reply = Value::Array(vec![Value::Bulk(buffer.slice(0..3))]);
        let Value::Array(items) = owned(&reply) else { panic!() };
        let Value::Bulk(b) = &items[0] else { panic!() };
        assert_eq!(b, &buffer.slice(0..3));
        assert!(!std::ptr::eq(b.as_ptr(), buffer.as_ptr()));
    }
}
