//! The cluster's layout: which shard serves each slot, and the nodes of each
//! shard, read from `CLUSTER SHARDS` (Redis 7+) or `CLUSTER SLOTS`.

use std::fmt;

use crate::error::{Error, Result};
use crate::value::Value;

use super::slot::SLOTS;

/// A cluster node's address, as the cluster announces it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeAddr {
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// The port clients connect to (the TLS port on a TLS cluster).
    pub port: u16,
}

impl NodeAddr {
    /// Parses `host:port` as in `MOVED` and `ASK` errors; an empty host
    /// (`:6380`, a node that does not know its own address) means
    /// `default_host`, the host the error came from.
    pub(crate) fn parse(s: &str, default_host: &str) -> Option<NodeAddr> {
        let (host, port) = s.rsplit_once(':')?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let host = if host.is_empty() || host == "?" { default_host } else { host };
        Some(NodeAddr { host: host.to_owned(), port: port.parse().ok()? })
    }
}

impl fmt::Display for NodeAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// One primary and its replicas, serving some slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shard {
    pub(crate) primary: NodeAddr,
    pub(crate) replicas: Vec<NodeAddr>,
}

/// Which shard serves each slot.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Topology {
    /// Per slot, an index into `shards`, or [`UNSERVED`].
    slots: Box<[u16]>,
    shards: Vec<Shard>,
}

/// The mark of a slot no shard serves (the cluster is partly down).
const UNSERVED: u16 = u16::MAX;

impl fmt::Debug for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let served = self.slots.iter().filter(|&&s| s != UNSERVED).count();
        f.debug_struct("Topology").field("shards", &self.shards).field("slots_served", &served).finish()
    }
}

impl Default for Topology {
    /// Nothing known yet: no slot served.
    fn default() -> Self {
        Topology { slots: vec![UNSERVED; usize::from(SLOTS)].into_boxed_slice(), shards: Vec::new() }
    }
}

impl Topology {
    /// The shard serving `slot`, if any.
    pub(crate) fn shard(&self, slot: u16) -> Option<&Shard> {
        self.shards.get(usize::from(*self.slots.get(usize::from(slot))?))
    }

    pub(crate) fn shards(&self) -> &[Shard] {
        &self.shards
    }

    /// One slot of each shard that serves any, to reach every primary by a
    /// slot: after a failover the slot leads to the new primary.
    pub(crate) fn slot_per_shard(&self) -> Vec<u16> {
        let mut seen = vec![false; self.shards.len()];
        let mut out = Vec::with_capacity(self.shards.len());
        for (slot, &index) in self.slots.iter().enumerate() {
            if let Some(first) = seen.get_mut(usize::from(index)).filter(|s| !**s) {
                *first = true;
                out.push(slot as u16);
            }
        }
        out
    }

    /// Every node: primaries first, then replicas.
    pub(crate) fn nodes(&self) -> impl Iterator<Item = &NodeAddr> {
        self.shards.iter().map(|s| &s.primary).chain(self.shards.iter().flat_map(|s| &s.replicas))
    }

    /// Records that `slot` moved to the primary at `addr` (a `MOVED`
    /// redirection), until the next refresh tells the whole story.
    pub(crate) fn moved(&mut self, slot: u16, addr: &NodeAddr) {
        let index = self.index_of(addr, || Shard { primary: addr.clone(), replicas: Vec::new() });
        self.slots[usize::from(slot)] = index;
    }

    /// The index of the shard whose primary is `primary`, adding `new()` if
    /// there is none.
    fn index_of(&mut self, primary: &NodeAddr, new: impl FnOnce() -> Shard) -> u16 {
        match self.shards.iter().position(|s| &s.primary == primary) {
            Some(i) => i as u16,
            None => {
                self.shards.push(new());
                (self.shards.len() - 1) as u16
            }
        }
    }

    fn assign(&mut self, range: (i64, i64), shard: Shard) -> Result<()> {
        let (start, end) = range;
        if !(0..i64::from(SLOTS)).contains(&start) || !(start..i64::from(SLOTS)).contains(&end) {
            return Err(Error::protocol(format!("cluster topology names slots {start}-{end}")));
        }
        let primary = shard.primary.clone();
        let index = self.index_of(&primary, || shard);
        for slot in start..=end {
            self.slots[slot as usize] = index;
        }
        Ok(())
    }

    /// Reads a `CLUSTER SHARDS` reply (RESP2 or RESP3). `tls` picks the
    /// nodes' TLS ports; `default_host` stands for nodes that announce no
    /// address (the host the reply came from).
    pub(crate) fn from_shards(reply: Value, tls: bool, default_host: &str) -> Result<Topology> {
        let mut topology = Topology::default();
        for shard in items(reply, "CLUSTER SHARDS")? {
            let mut slots = Vec::new();
            let mut nodes = Vec::new();
            for (field, value) in fields(shard, "a shard of CLUSTER SHARDS")? {
                match field.as_str() {
                    "slots" => slots = items(value, "slots")?.into_iter().map(int).collect::<Result<Vec<_>>>()?,
                    "nodes" => nodes = items(value, "nodes")?,
                    _ => {}
                }
            }
            let mut primary = None;
            let mut replicas = Vec::new();
            for node in nodes {
                let node = ShardNode::read(node, tls, default_host)?;
                let Some(addr) = node.addr else { continue };
                match (node.role.as_str(), node.health.as_str()) {
                    // A failed node may still be listed as a primary until its
                    // replica takes over: prefer a healthy one.
                    ("master", "online") => primary = Some(addr),
                    ("master", _) if primary.is_none() => primary = Some(addr),
                    // Redis 7.0 calls a replica `loading` until it has
                    // replicated a first write; a replica that really is
                    // loading answers `LOADING`, and the read is retried.
                    (_, "online" | "loading") => replicas.push(addr),
                    _ => {}
                }
            }
            let Some(primary) = primary else { continue };
            for pair in slots.chunks(2) {
                let &[start, end] = pair else {
                    return Err(Error::protocol("CLUSTER SHARDS listed an odd number of slot bounds"));
                };
                topology.assign((start, end), Shard { primary: primary.clone(), replicas: replicas.clone() })?;
            }
        }
        Ok(topology)
    }

    /// Reads a `CLUSTER SLOTS` reply (servers before 7.0):
    /// `[start, end, [host, port, id, ...], replicas...]` per range.
    pub(crate) fn from_slots(reply: Value, default_host: &str) -> Result<Topology> {
        let mut topology = Topology::default();
        for range in items(reply, "CLUSTER SLOTS")? {
            let mut parts = items(range, "a range of CLUSTER SLOTS")?.into_iter();
            let (Some(start), Some(end)) = (parts.next(), parts.next()) else {
                return Err(Error::protocol("CLUSTER SLOTS range without bounds"));
            };
            let mut nodes = parts.map(|n| slots_node(n, default_host)).collect::<Result<Vec<_>>>()?.into_iter();
            let Some(primary) = nodes.next().flatten() else { continue };
            topology.assign((int(start)?, int(end)?), Shard { primary, replicas: nodes.flatten().collect() })?;
        }
        Ok(topology)
    }
}

/// What `CLUSTER SHARDS` says of one node.
struct ShardNode {
    addr: Option<NodeAddr>,
    role: String,
    health: String,
}

impl ShardNode {
    fn read(node: Value, tls: bool, default_host: &str) -> Result<ShardNode> {
        let (mut endpoint, mut ip, mut port, mut tls_port) = (None, None, None, None);
        let (mut role, mut health) = (String::new(), String::from("online"));
        for (field, value) in fields(node, "a node of CLUSTER SHARDS")? {
            match field.as_str() {
                "endpoint" => endpoint = Some(text(value)?),
                "ip" => ip = Some(text(value)?),
                "port" => port = Some(int(value)?),
                "tls-port" => tls_port = Some(int(value)?),
                "role" => role = text(value)?,
                "health" => health = text(value)?,
                _ => {}
            }
        }
        let host = [endpoint, ip].into_iter().flatten().find(|h| !h.is_empty() && h != "?");
        let port = if tls { tls_port.or(port) } else { port.or(tls_port) };
        let addr = port
            .and_then(|p| u16::try_from(p).ok())
            .map(|port| NodeAddr { host: host.unwrap_or_else(|| default_host.to_owned()), port });
        Ok(ShardNode { addr, role, health })
    }
}

/// A node of `CLUSTER SLOTS`: `[host, port, id, ...]`; `None` for a node
/// with no known address.
fn slots_node(node: Value, default_host: &str) -> Result<Option<NodeAddr>> {
    let mut parts = items(node, "a node of CLUSTER SLOTS")?.into_iter();
    let (Some(host), Some(port)) = (parts.next(), parts.next()) else {
        return Err(Error::protocol("CLUSTER SLOTS node without host and port"));
    };
    let host = text(host)?;
    let host = if host.is_empty() || host == "?" { default_host.to_owned() } else { host };
    Ok(u16::try_from(int(port)?).ok().map(|port| NodeAddr { host, port }))
}

fn items(v: Value, what: &str) -> Result<Vec<Value>> {
    match v.into_inner() {
        Value::Array(items) | Value::Set(items) => Ok(items),
        other => Err(Error::protocol(format!("expected an array for {what}, got {}", other.kind()))),
    }
}

/// The fields of a RESP3 map, or of a RESP2 array of alternating names and values.
fn fields(v: Value, what: &str) -> Result<Vec<(String, Value)>> {
    let pairs = match v.into_inner() {
        Value::Map(pairs) => pairs,
        Value::Array(flat) => {
            let mut it = flat.into_iter();
            std::iter::from_fn(|| Some((it.next()?, it.next()?))).collect()
        }
        other => return Err(Error::protocol(format!("expected a map for {what}, got {}", other.kind()))),
    };
    pairs.into_iter().map(|(k, v)| Ok((text(k)?, v))).collect()
}

fn text(v: Value) -> Result<String> {
    match v.as_bytes() {
        Some(b) => Ok(String::from_utf8_lossy(b).into_owned()),
        None => Err(Error::protocol(format!("expected a string in the cluster topology, got {}", v.kind()))),
    }
}

fn int(v: Value) -> Result<i64> {
    match v.into_inner() {
        Value::Int(i) => Ok(i),
        other => other
            .as_bytes()
            .and_then(|b| std::str::from_utf8(b).ok()?.parse().ok())
            .ok_or_else(|| Error::protocol(format!("expected an integer in the cluster topology, got {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn bulk(s: &str) -> Value {
        Value::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn node(port: i64, role: &str, health: &str) -> Value {
        Value::Array(vec![
            bulk("id"),
            bulk("abc"),
            bulk("port"),
            Value::Int(port),
            bulk("ip"),
            bulk("127.0.0.1"),
            bulk("endpoint"),
            bulk("127.0.0.1"),
            bulk("role"),
            bulk(role),
            bulk("replication-offset"),
            Value::Int(10),
            bulk("health"),
            bulk(health),
        ])
    }

    fn shard(slots: &[i64], nodes: Vec<Value>) -> Value {
        Value::Array(vec![
            bulk("slots"),
            Value::Array(slots.iter().map(|&s| Value::Int(s)).collect()),
            bulk("nodes"),
            Value::Array(nodes),
        ])
    }

    fn addr(port: u16) -> NodeAddr {
        NodeAddr { host: "127.0.0.1".into(), port }
    }

    #[test]
    fn reads_cluster_shards() {
        let reply = Value::Array(vec![
            shard(&[0, 5460, 10923, 10923], vec![node(7000, "master", "online"), node(7003, "replica", "online")]),
            shard(&[5461, 10922], vec![node(7001, "master", "fail"), node(7004, "replica", "online")]),
            shard(&[10924, 16383], vec![node(7005, "replica", "loading"), node(7002, "master", "online")]),
        ]);
        let t = Topology::from_shards(reply, false, "seed").unwrap();
        assert_eq!(t.shard(0).unwrap().primary, addr(7000));
        assert_eq!(t.shard(10923).unwrap().primary, addr(7000));
        assert_eq!(t.shard(0).unwrap().replicas, vec![addr(7003)]);
        // A failed primary is still the one listed until failover.
        assert_eq!(t.shard(6000).unwrap().primary, addr(7001));
        // A loading replica is kept (it answers LOADING if it really is).
        assert_eq!(t.shard(16383).unwrap().replicas, vec![addr(7005)]);
        assert_eq!(t.nodes().count(), 6);
        // A fan-out reaches each primary through one of its slots.
        assert_eq!(t.slot_per_shard(), [0, 5461, 10924]);
        assert!(Topology::default().slot_per_shard().is_empty());
    }

    #[test]
    fn tls_clients_get_tls_ports() {
        let with = |fields: &[(&str, i64)]| {
            let mut node = vec![bulk("ip"), bulk("127.0.0.1"), bulk("role"), bulk("master")];
            for (name, port) in fields {
                node.extend([bulk(name), Value::Int(*port)]);
            }
            Value::Array(vec![shard(&[0, 16383], vec![Value::Array(node)])])
        };
        let port = |reply: Value, tls| Topology::from_shards(reply, tls, "h").unwrap().shard(0).unwrap().primary.port;
        // `tls-cluster yes` with both listeners: each client its own kind.
        let both = [("port", 7000), ("tls-port", 8000)];
        assert_eq!(port(with(&both), true), 8000);
        assert_eq!(port(with(&both), false), 7000);
        // TLS only (`port 0`): no `port` field.
        assert_eq!(port(with(&[("tls-port", 8000)]), true), 8000);
        // `tls-cluster no`: the cluster knows no TLS port at all.
        assert_eq!(port(with(&[("port", 7000)]), true), 7000);
    }

    #[test]
    fn reads_cluster_slots_and_fills_in_unknown_hosts() {
        let n = |host: &str, port| Value::Array(vec![bulk(host), Value::Int(port), bulk("id")]);
        let reply = Value::Array(vec![
            Value::Array(vec![Value::Int(0), Value::Int(8191), n("10.0.0.1", 7000), n("10.0.0.2", 7001)]),
            Value::Array(vec![Value::Int(8192), Value::Int(16383), n("", 7002)]),
        ]);
        let t = Topology::from_slots(reply, "seed-host").unwrap();
        assert_eq!(t.shard(8191).unwrap().primary, NodeAddr { host: "10.0.0.1".into(), port: 7000 });
        assert_eq!(t.shard(8191).unwrap().replicas.len(), 1);
        assert_eq!(t.shard(8192).unwrap().primary, NodeAddr { host: "seed-host".into(), port: 7002 });
    }

    #[test]
    fn unserved_slots_and_bad_replies() {
        let reply = Value::Array(vec![shard(&[0, 99], vec![node(7000, "master", "online")])]);
        let mut t = Topology::from_shards(reply, false, "h").unwrap();
        assert!(t.shard(100).is_none());
        t.moved(100, &addr(7009));
        assert_eq!(t.shard(100).unwrap().primary, addr(7009));
        let bad = Value::Array(vec![shard(&[0, 20000], vec![node(7000, "master", "online")])]);
        assert!(matches!(Topology::from_shards(bad, false, "h"), Err(Error::Protocol(_))));
        assert!(matches!(Topology::from_shards(Value::Int(1), false, "h"), Err(Error::Protocol(_))));
    }

    #[test]
    fn redirection_addresses() {
        assert_eq!(NodeAddr::parse("127.0.0.1:7001", "x"), Some(addr(7001)));
        assert_eq!(NodeAddr::parse(":7001", "127.0.0.1"), Some(addr(7001)));
        assert_eq!(NodeAddr::parse("::1:7001", "x").unwrap().host, "::1");
        assert_eq!(NodeAddr::parse("host:notaport", "x"), None);
        assert_eq!(addr(1).to_string(), "127.0.0.1:1");
    }
}
