//! Throughput and memory benchmark of siderpy against redis-rs, fred and
//! `redis-benchmark`, on one throwaway `redis-server` over loopback, and
//! on a throwaway Redis Cluster of three primaries for the `cluster_*`
//! workloads.
//!
//! Every workload runs for every client interleaved (A B C R A B C R ...)
//! over several rounds, so that the noise of a shared machine hits all of
//! them alike; the table shows each client's median. See `README.md`.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};

use bytes::Bytes;

mod clients;
mod server;

use server::{Cluster, Server};

/// The clients compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Client {
    Siderpy,
    RedisRs,
    Fred,
}

impl Client {
    const ALL: [Client; 3] = [Client::Siderpy, Client::RedisRs, Client::Fred];

    fn name(self) -> &'static str {
        match self {
            Client::Siderpy => "siderpy",
            Client::RedisRs => "redis-rs",
            Client::Fred => "fred",
        }
    }

    fn parse(s: &str) -> Option<Client> {
        Client::ALL.into_iter().find(|c| c.name() == s)
    }
}

/// The workloads, as the benchmark's issue defines them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Workload {
    SeqGet,
    PipeSet,
    Conc50Get,
    Get1MiB,
    Mget1000,
    PubSub1M,
    /// `conc50_get` on a Redis Cluster, keys spread over every slot.
    ClusterConc50Get,
    /// `pipe_set` on a Redis Cluster: each pipeline's keys span every node.
    ClusterPipeSet,
    /// 50 tasks reading a hot set of 100 keys, without a client-side cache.
    HotGet,
    /// The same through the client's own client-side cache (siderpy's
    /// `cache`, redis-rs's `cache-aio`; fred has none).
    HotGetCached,
    /// Connect and send one small GET: the baseline for peak RSS.
    Idle,
}

impl Workload {
    const ALL: [Workload; 10] = [
        Workload::SeqGet,
        Workload::PipeSet,
        Workload::Conc50Get,
        Workload::Get1MiB,
        Workload::Mget1000,
        Workload::PubSub1M,
        Workload::ClusterConc50Get,
        Workload::ClusterPipeSet,
        Workload::HotGet,
        Workload::HotGetCached,
    ];

    fn name(self) -> &'static str {
        match self {
            Workload::SeqGet => "seq_get",
            Workload::PipeSet => "pipe_set",
            Workload::Conc50Get => "conc50_get",
            Workload::Get1MiB => "get_1MiB",
            Workload::Mget1000 => "mget_1000",
            Workload::PubSub1M => "pubsub_1M",
            Workload::ClusterConc50Get => "cluster_conc50_get",
            Workload::ClusterPipeSet => "cluster_pipe_set",
            Workload::HotGet => "hot_get",
            Workload::HotGetCached => "hot_get_cached",
            Workload::Idle => "idle",
        }
    }

    fn parse(s: &str) -> Option<Workload> {
        Workload::ALL.into_iter().chain([Workload::Idle]).find(|w| w.name().eq_ignore_ascii_case(s))
    }

    /// Whether it runs against the cluster rather than the single server.
    fn is_cluster(self) -> bool {
        matches!(self, Workload::ClusterConc50Get | Workload::ClusterPipeSet)
    }

    /// The `redis-benchmark` run with matching settings, if there is one.
    fn reference(self, sizes: &Sizes) -> Option<Vec<String>> {
        if self.is_cluster() {
            let single = match self {
                Workload::ClusterConc50Get => Workload::Conc50Get,
                _ => Workload::PipeSet,
            };
            return single.reference(sizes).map(|args| [vec!["--cluster".to_string()], args].concat());
        }
        let args: Vec<String> = match self {
            Workload::SeqGet => {
                vec!["-t".into(), "get".into(), "-n".into(), sizes.seq_get.to_string(), "-c".into(), "1".into()]
            }
            Workload::PipeSet => vec![
                "-t".into(),
                "set".into(),
                "-n".into(),
                sizes.pipe_set.to_string(),
                "-c".into(),
                "1".into(),
                "-P".into(),
                sizes.pipe_batch.to_string(),
            ],
            Workload::Conc50Get => vec![
                "-t".into(),
                "get".into(),
                "-n".into(),
                (sizes.conc_tasks * sizes.conc_per_task).to_string(),
                "-c".into(),
                sizes.conc_tasks.to_string(),
            ],
            _ => return None,
        };
        Some(args)
    }
}

/// How much each workload does.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    pub seq_get: usize,
    pub pipe_set: usize,
    pub pipe_batch: usize,
    pub conc_tasks: usize,
    pub conc_per_task: usize,
    pub big_gets: usize,
    pub big_len: usize,
    pub mget_calls: usize,
    pub mget_keys: usize,
    pub pubsub_msgs: usize,
    pub pubsub_batch: usize,
    /// How many keys `cluster_conc50_get` reads, round-robin.
    pub cluster_keys: usize,
}

impl Sizes {
    fn scaled(self, f: f64) -> Self {
        let s = |n: usize| ((n as f64 * f).round() as usize).max(1);
        Sizes {
            seq_get: s(self.seq_get),
            pipe_set: s(self.pipe_set),
            conc_per_task: s(self.conc_per_task),
            big_gets: s(self.big_gets),
            mget_calls: s(self.mget_calls),
            pubsub_msgs: s(self.pubsub_msgs),
            ..self
        }
    }

    fn full() -> Self {
        Sizes {
            seq_get: 20_000,
            pipe_set: 200_000,
            pipe_batch: 100,
            conc_tasks: 50,
            conc_per_task: 2_000,
            big_gets: 200,
            big_len: 1 << 20,
            mget_calls: 300,
            mget_keys: 1_000,
            pubsub_msgs: 1_000_000,
            pubsub_batch: 1_000,
            cluster_keys: 10_000,
        }
    }

    fn quick() -> Self {
        Sizes {
            seq_get: 500,
            pipe_set: 5_000,
            conc_per_task: 40,
            big_gets: 10,
            mget_calls: 10,
            pubsub_msgs: 20_000,
            ..Sizes::full()
        }
    }
}

/// Keys the workloads read, written once before the rounds.
pub const SMALL_KEY: &str = "bench:small";
pub const BIG_KEY: &str = "bench:big";
pub const CHANNEL: &str = "bench:channel";
/// The hot set of `hot_get` and `hot_get_cached`: 100 of the MGET keys.
pub fn hot_keys(sizes: &Sizes) -> Vec<String> {
    mget_keys(sizes).into_iter().take(100).collect()
}

pub fn mget_keys(sizes: &Sizes) -> Vec<String> {
    (0..sizes.mget_keys).map(|i| format!("bench:m:{i}")).collect()
}

/// The keys `cluster_conc50_get` reads (no hash tag: they hash to slots all
/// over the cluster), each holding a 3-byte value.
pub fn cluster_keys(sizes: &Sizes) -> Vec<String> {
    (0..sizes.cluster_keys).map(|i| format!("bench:c:{i}")).collect()
}

/// What one run of a workload measured.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Operations (or messages) per second.
    pub rate: f64,
    /// Operations (or messages published) done.
    pub ops: usize,
    /// Why the run does not count, if it does not (messages lost...).
    pub failure: Option<String>,
}

struct Options {
    url: Option<String>,
    /// Seed URLs of an existing cluster, comma-separated.
    cluster_url: Option<String>,
    rounds: usize,
    quick: bool,
    clients: Vec<Client>,
    workloads: Vec<Workload>,
    child: bool,
    rss: bool,
    reference: bool,
    fred_broadcast_capacity: Option<usize>,
    verbose: bool,
    /// Multiplies every workload's operation count (for profiling runs).
    scale: f64,
}

fn usage() -> ! {
    eprintln!(
        "usage: siderpy-bench [--url redis://HOST:PORT] [--cluster-url redis://HOST:PORT[,redis://HOST:PORT]] \
         [--rounds N] [--quick] [--only CLIENT[,CLIENT]] [--workload NAME[,NAME]] [--no-rss] [--no-reference] [--fred-broadcast-capacity N] [--scale F] [--verbose]\n\
         clients: siderpy, redis-rs, fred\n\
         workloads: seq_get, pipe_set, conc50_get, get_1MiB, mget_1000, pubsub_1M, cluster_conc50_get, hot_get, hot_get_cached, \
         cluster_pipe_set (and idle, for --child)"
    );
    std::process::exit(2)
}

fn parse_args() -> Options {
    let mut o = Options {
        url: None,
        cluster_url: None,
        rounds: 5,
        quick: false,
        clients: Client::ALL.to_vec(),
        workloads: Workload::ALL.to_vec(),
        child: false,
        rss: true,
        reference: true,
        fred_broadcast_capacity: None,
        verbose: false,
        scale: 1.0,
    };
    let mut rounds = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--url" => o.url = Some(value()),
            "--cluster-url" => o.cluster_url = Some(value()),
            "--rounds" => rounds = Some(value().parse().unwrap_or_else(|_| usage())),
            "--quick" => o.quick = true,
            "--only" => o.clients = value().split(',').map(|c| Client::parse(c).unwrap_or_else(|| usage())).collect(),
            "--workload" => {
                o.workloads = value().split(',').map(|w| Workload::parse(w).unwrap_or_else(|| usage())).collect()
            }
            "--child" => o.child = true,
            "--no-rss" => o.rss = false,
            "--no-reference" => o.reference = false,
            "--fred-broadcast-capacity" => {
                o.fred_broadcast_capacity = Some(value().parse().unwrap_or_else(|_| usage()))
            }
            "--verbose" | "-v" => o.verbose = true,
            "--scale" => o.scale = value().parse().unwrap_or_else(|_| usage()),
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    o.rounds = rounds.unwrap_or(if o.quick { 1 } else { 5 }).max(1);
    o
}

/// Host and port of a `redis://host:port...` URL, for `redis-benchmark`.
fn host_port(url: &str) -> (String, u16) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, r)| r);
    let hostport = rest.split(['/', '?']).next().unwrap_or("");
    match hostport.rsplit_once(':') {
        Some((h, p)) => (h.trim_matches(['[', ']']).to_string(), p.parse().unwrap_or(6379)),
        None => (hostport.to_string(), 6379),
    }
}

/// Runs `redis-benchmark` with `args` and returns its requests per second;
/// `url` may be a cluster's comma-separated seeds (the first one is used).
fn redis_benchmark(url: &str, args: &[String]) -> Result<f64, String> {
    let (host, port) = host_port(url.split(',').next().unwrap_or(url));
    let out = Command::new("redis-benchmark")
        .args(["-h", &host, "-p", &port.to_string(), "-d", "3", "--csv"])
        .args(args)
        .stderr(Stdio::null())
        .output()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "test","rps",... then "GET","8123.45",...
    for line in text.lines() {
        let fields: Vec<&str> = line.split(',').map(|f| f.trim_matches('"')).collect();
        if fields.len() >= 2 && fields[0] != "test" {
            if let Ok(rps) = fields[1].parse::<f64>() {
                return Ok(rps);
            }
        }
    }
    Err(format!("could not read redis-benchmark's output: {text:?}"))
}

/// The server's CPU time so far (`used_cpu_user` + `used_cpu_sys` of
/// `INFO cpu`), in seconds; `None` if it cannot be read (a cluster, a
/// password). With it the benchmark shows how much of each operation is the
/// server's own work, which bounds what any client can reach.
fn server_cpu_seconds(url: &str) -> Option<f64> {
    use std::io::{Read, Write};
    if url.contains(',') || url.contains('@') {
        return None;
    }
    let (host, port) = host_port(url);
    let mut s = std::net::TcpStream::connect((host.as_str(), port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(2))).ok()?;
    s.write_all(b"*2\r\n$4\r\nINFO\r\n$3\r\ncpu\r\n").ok()?;
    let mut text = String::new();
    let mut buf = [0u8; 4096];
    // The reply is one small bulk string: read until its fields are in.
    while !text.contains("used_cpu_user:") || !text.ends_with("\r\n\r\n") {
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let field = |name: &str| -> Option<f64> {
        text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')?.trim().parse().ok())
    };
    Some(field("used_cpu_user")? + field("used_cpu_sys")?)
}

fn have_redis_benchmark() -> bool {
    Command::new("redis-benchmark").arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

/// Writes the keys the workloads read.
async fn setup(url: &str, sizes: &Sizes) -> Result<(), String> {
    use siderpy::prelude::*;
    let redis = siderpy::Redis::new(url).map_err(|e| e.to_string())?;
    let big = Bytes::from(vec![b'x'; sizes.big_len]);
    let mut p = redis.pipe();
    p.execute_cmd("SET", (SMALL_KEY, "abc")).queue();
    // What redis-benchmark -t get reads (it writes no value of its own).
    p.execute_cmd("SET", ("key:__rand_int__", "abc")).queue();
    p.execute_cmd("SET", (BIG_KEY, big)).queue();
    let keys = mget_keys(sizes);
    let mut mset = Vec::with_capacity(keys.len() * 2);
    for (i, k) in keys.iter().enumerate() {
        mset.push(k.clone());
        mset.push(format!("value-{i}"));
    }
    p.execute_cmd("MSET", mset).queue();
    for r in p.execute().await.map_err(|e| e.to_string())? {
        r.map_err(|e| e.to_string())?;
    }
    redis.close().await;
    Ok(())
}

/// Writes the keys the cluster workloads read.
async fn setup_cluster(seeds: &str, sizes: &Sizes) -> Result<(), String> {
    use siderpy::prelude::*;
    let seeds: Vec<&str> = seeds.split(',').collect();
    let cluster = siderpy::cluster::RedisCluster::new(&seeds).map_err(|e| e.to_string())?;
    let mut p = cluster.pipe();
    for k in cluster_keys(sizes) {
        p.set(k, "abc").queue();
    }
    for r in p.execute().await.map_err(|e| e.to_string())? {
        r.map_err(|e| e.to_string())?;
    }
    cluster.close().await;
    Ok(())
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn vm_hwm_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime")
}

/// Runs a workload as a task of the runtime, as an application's request
/// handler would run (not on the thread blocked in `block_on`, which would
/// make every wake-up cross threads).
///
/// Also returns the process's CPU time (user + system, every thread) per
/// operation: what the client cost, less noisy than its throughput on a
/// shared machine. `redis-server` and `redis-benchmark` are other processes.
fn run_on(
    rt: &tokio::runtime::Runtime,
    client: Client,
    w: Workload,
    url: &str,
    sizes: &Sizes,
    fred_capacity: Option<usize>,
) -> Result<(Outcome, CpuPerOp), String> {
    let (url, sizes) = (url.to_string(), *sizes);
    let cpu = cpu_seconds();
    let server_cpu = server_cpu_seconds(&url);
    let target = url.clone();
    let out = rt.block_on(async move {
        tokio::spawn(async move { clients::run(client, w, &url, &sizes, fred_capacity).await })
            .await
            .map_err(|e| e.to_string())?
    })?;
    let ops = out.ops.max(1) as f64;
    let client = (cpu_seconds() - cpu) / ops;
    // Includes setting up the client's connection: a few commands.
    let server = server_cpu.zip(server_cpu_seconds(&target)).map(|(a, b)| (b - a) / ops);
    Ok((out, CpuPerOp { client, server }))
}

/// CPU seconds per operation of one run: the client's, and the server's
/// when it could be read.
struct CpuPerOp {
    client: f64,
    server: Option<f64>,
}

/// User plus system CPU time of the whole process so far, in seconds.
fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is valid.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(usage.ru_utime) + t(usage.ru_stime)
}

/// `--child`: one run of one workload for one client, then its peak RSS.
fn child(o: &Options, sizes: &Sizes) {
    let (&[client], &[workload]) = (&o.clients[..], &o.workloads[..]) else { usage() };
    let url = if workload.is_cluster() { o.cluster_url.clone() } else { o.url.clone() };
    let url = url.unwrap_or_else(|| usage());
    let rt = runtime();
    let result = run_on(&rt, client, workload, &url, sizes, o.fred_broadcast_capacity).map(|(out, _)| out);
    match result {
        Ok(out) => println!(
            "RESULT rate={} hwm_kib={} failure={}",
            out.rate,
            vm_hwm_kib().unwrap_or(0),
            out.failure.unwrap_or_default().replace(' ', "_")
        ),
        Err(e) => {
            println!("RESULT error={}", e.replace(' ', "_"));
            std::process::exit(1);
        }
    }
}

/// Runs one workload for one client in a child process; returns its peak RSS in KiB.
fn rss_of(o: &Options, url: &str, client: Client, workload: Workload) -> Result<u64, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(exe);
    cmd.args(["--child", "--url", url, "--only", client.name(), "--workload", workload.name()]);
    if o.quick {
        cmd.arg("--quick");
    }
    if let Some(c) = o.fred_broadcast_capacity {
        cmd.args(["--fred-broadcast-capacity", &c.to_string()]);
    }
    cmd.args(["--scale", &o.scale.to_string()]);
    let out = cmd.stderr(Stdio::inherit()).output().map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("RESULT ")).ok_or_else(|| format!("child said {text:?}"))?;
    line.split_whitespace()
        .find_map(|f| f.strip_prefix("hwm_kib="))
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("child: {line}"))
}

fn fmt_rate(r: f64) -> String {
    if !r.is_finite() {
        "—".into()
    } else if r >= 100_000.0 {
        format!("{:.0}k", r / 1000.0)
    } else if r >= 10_000.0 {
        format!("{:.1}k", r / 1000.0)
    } else if r >= 1_000.0 {
        format!("{:.2}k", r / 1000.0)
    } else {
        format!("{r:.0}")
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 && a.is_finite() && b.is_finite() => format!("{:.2}x", a / b),
        _ => "—".into(),
    }
}

/// The targets siderpy is held to: (workload, versus, at least this ratio).
const TARGETS: &[(Workload, &str, f64)] = &[
    (Workload::SeqGet, "redis-benchmark", 0.95),
    (Workload::SeqGet, "redis-rs", 1.1),
    (Workload::PipeSet, "redis-rs", 1.5),
    (Workload::PipeSet, "redis-benchmark", 0.85),
    (Workload::Conc50Get, "redis-rs", 1.3),
    (Workload::Conc50Get, "fred", 1.5),
    (Workload::Get1MiB, "redis-rs", 1.2),
    (Workload::Mget1000, "redis-rs", 1.3),
    (Workload::PubSub1M, "redis-rs", 1.2),
];

fn main() {
    let o = parse_args();
    let sizes = (if o.quick { Sizes::quick() } else { Sizes::full() }).scaled(o.scale);
    if o.child {
        return child(&o, &sizes);
    }
    // Which deployments the chosen workloads need: the single server, the
    // cluster, or both. Each one is a throwaway one unless given by URL.
    let needs = |cluster: bool| o.workloads.iter().any(|&w| w != Workload::Idle && w.is_cluster() == cluster);
    let server = match (&o.url, needs(false)) {
        (None, true) => match Server::start() {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        },
        _ => None,
    };
    let cluster = match (&o.cluster_url, needs(true)) {
        (None, true) => match Cluster::start() {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("error: starting the cluster: {e}");
                drop(server);
                std::process::exit(1);
            }
        },
        _ => None,
    };
    let url = o.url.clone().or_else(|| server.as_ref().map(|s| format!("{}/0", s.url()))).unwrap_or_default();
    let cluster_url = o.cluster_url.clone().or_else(|| cluster.as_ref().map(Cluster::seeds)).unwrap_or_default();
    let target = |w: Workload| if w.is_cluster() { &cluster_url } else { &url };
    if o.url.is_some() && o.workloads.contains(&Workload::PubSub1M) {
        eprintln!(
            "note: pubsub_1M needs the server to run with `client-output-buffer-limit pubsub 0 0 0`, \
             or Redis may drop the subscriber"
        );
    }
    let reference = o.reference && have_redis_benchmark();
    if o.reference && !reference {
        eprintln!("note: redis-benchmark not found: its column is skipped");
    }
    let rt = runtime();
    let written = rt.block_on(async {
        if needs(false) {
            setup(&url, &sizes).await?;
        }
        if needs(true) {
            setup_cluster(&cluster_url, &sizes).await?;
        }
        Ok::<_, String>(())
    });
    if let Err(e) = written {
        eprintln!("error: setting up keys: {e}");
        drop((server, cluster));
        std::process::exit(1);
    }

    let on = match (needs(false), needs(true)) {
        (true, true) => "one redis-server and a Redis Cluster",
        (false, true) => "a Redis Cluster",
        _ => "one redis-server",
    };
    println!("# siderpy-bench: {} round(s){}, {on} on loopback", o.rounds, if o.quick { " (quick)" } else { "" });
    println!();
    // Per workload, per column: the rates of every round.
    let mut results: BTreeMap<Workload, BTreeMap<&'static str, Vec<f64>>> = BTreeMap::new();
    let mut failures: BTreeMap<(Workload, &'static str), String> = BTreeMap::new();
    // Per workload, per client: CPU microseconds per operation, every round.
    let mut cpu_per_op: BTreeMap<Workload, BTreeMap<&'static str, Vec<f64>>> = BTreeMap::new();
    // The same for the server's CPU while each client ran.
    let mut server_cpu_per_op: BTreeMap<Workload, BTreeMap<&'static str, Vec<f64>>> = BTreeMap::new();
    for &w in &o.workloads {
        if w == Workload::Idle {
            continue;
        }
        for round in 0..o.rounds {
            // Each round starts with another client, so none always runs
            // first, right after the previous round's redis-benchmark (whose
            // 50 connections the server is still closing).
            let mut order = o.clients.clone();
            let n = order.len().max(1);
            order.rotate_left(round % n);
            for &c in &order {
                let out = run_on(&rt, c, w, target(w), &sizes, o.fred_broadcast_capacity);
                match out {
                    Ok((out, cpu)) => {
                        cpu_per_op.entry(w).or_default().entry(c.name()).or_default().push(cpu.client * 1e6);
                        if let Some(server) = cpu.server {
                            server_cpu_per_op.entry(w).or_default().entry(c.name()).or_default().push(server * 1e6);
                        }
                        if o.verbose {
                            eprintln!("{} round {round} {}: {:.0}/s {:?}", w.name(), c.name(), out.rate, out.failure);
                        }
                        if let Some(f) = out.failure {
                            failures.insert((w, c.name()), f);
                        }
                        results.entry(w).or_default().entry(c.name()).or_default().push(out.rate);
                    }
                    Err(e) => {
                        eprintln!("{} round {round} {}: error: {e}", w.name(), c.name());
                        failures.insert((w, c.name()), e);
                    }
                }
            }
            if let (true, Some(args)) = (reference, w.reference(&sizes)) {
                match redis_benchmark(target(w), &args) {
                    Ok(rps) => {
                        if o.verbose {
                            eprintln!("{} round {round} redis-benchmark: {rps:.0}/s", w.name());
                        }
                        results.entry(w).or_default().entry("redis-benchmark").or_default().push(rps);
                    }
                    Err(e) => eprintln!("{} round {round} redis-benchmark: {e}", w.name()),
                }
            }
        }
    }

    let med = |w: Workload, col: &str| -> Option<f64> {
        let v = results.get(&w)?.get(col)?;
        (!v.is_empty()).then(|| median(v))
    };
    println!("Median ops/s (messages/s for pubsub_1M) over {} interleaved round(s):", o.rounds);
    println!();
    println!("| workload | siderpy | redis-rs | fred | redis-benchmark | siderpy/redis-rs | siderpy/fred | siderpy/redis-benchmark |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    for &w in &o.workloads {
        if w == Workload::Idle {
            continue;
        }
        let cell = |col: &'static str| {
            let m = med(w, col).map_or("—".to_string(), fmt_rate);
            if failures.contains_key(&(w, col)) {
                format!("{m} FAIL")
            } else {
                m
            }
        };
        let sp = med(w, "siderpy");
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            w.name(),
            cell("siderpy"),
            cell("redis-rs"),
            cell("fred"),
            if w.reference(&sizes).is_some() && reference { cell("redis-benchmark") } else { "—".into() },
            ratio(sp, med(w, "redis-rs")),
            ratio(sp, med(w, "fred")),
            ratio(sp, med(w, "redis-benchmark")),
        );
    }
    if !failures.is_empty() {
        println!();
        for ((w, c), f) in &failures {
            println!("- FAIL {} {c}: {f}", w.name());
        }
    }

    let cpu_table = |title: &str, table: &BTreeMap<Workload, BTreeMap<&'static str, Vec<f64>>>| {
        println!();
        println!("{title}");
        println!();
        println!("| workload | siderpy | redis-rs | fred | redis-rs/siderpy | fred/siderpy |");
        println!("|---|---:|---:|---:|---:|---:|");
        for &w in &o.workloads {
            let Some(per) = table.get(&w) else { continue };
            let m = |c: &str| per.get(c).filter(|v| !v.is_empty()).map(|v| median(v));
            let cell = |c: &str| m(c).map_or("—".to_string(), |v| format!("{v:.2}"));
            println!(
                "| {} | {} | {} | {} | {} | {} |",
                w.name(),
                cell("siderpy"),
                cell("redis-rs"),
                cell("fred"),
                ratio(m("redis-rs"), m("siderpy")),
                ratio(m("fred"), m("siderpy"))
            );
        }
    };
    cpu_table(
        "Client CPU time (user + system, all threads) per operation, in µs; median; lower is better:",
        &cpu_per_op,
    );
    cpu_table(
        "Server CPU time (INFO cpu, user + system) per operation while each client ran, in µs; median \
         (one server; a workload that keeps one batch in flight, as pipe_set does, cannot beat \
         1 / (server time per operation) with any client):",
        &server_cpu_per_op,
    );

    println!();
    println!("Targets (median ratios of this run):");
    for &(w, vs, min) in TARGETS {
        if !o.workloads.contains(&w) {
            continue;
        }
        match (med(w, "siderpy"), med(w, vs)) {
            (Some(a), Some(b)) if b > 0.0 => {
                let r = a / b;
                let ok = r >= min && !failures.contains_key(&(w, "siderpy"));
                println!(
                    "- {} siderpy/{vs} {:.2}x (target >= {min}x): {}",
                    w.name(),
                    r,
                    if ok { "ok" } else { "MISSED" }
                );
            }
            _ => println!("- {} siderpy/{vs}: not measured", w.name()),
        }
    }

    if o.rss && o.workloads.contains(&Workload::Get1MiB) {
        println!();
        println!("Peak RSS (VmHWM), each client in a child process of its own:");
        println!();
        println!("| client | idle | get_1MiB | get_1MiB - idle |");
        println!("|---|---:|---:|---:|");
        for &c in &o.clients {
            let idle = rss_of(&o, &url, c, Workload::Idle);
            let big = rss_of(&o, &url, c, Workload::Get1MiB);
            match (idle, big) {
                (Ok(i), Ok(b)) => println!(
                    "| {} | {:.1} MiB | {:.1} MiB | {:+.1} MiB |",
                    c.name(),
                    i as f64 / 1024.0,
                    b as f64 / 1024.0,
                    (b as f64 - i as f64) / 1024.0
                ),
                (i, b) => println!("| {} | {i:?} | {b:?} | — |", c.name()),
            }
        }
    }
    drop((server, cluster));
    // For CI: siderpy failing a workload (an error, a lost message) fails
    // the run; the other clients' failures are only reported.
    if failures.keys().any(|&(_, c)| c == "siderpy") {
        std::process::exit(1);
    }
}
