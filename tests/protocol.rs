//! Raw protocol bytes against a fake server: what the client sends, how it
//! reads unusual but valid replies, and that malformed or truncated replies
//! fail promptly with `Error::Protocol` or `Error::Io`, never a panic or a hang.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use siderpy::prelude::*;
use siderpy::{Error, Redis, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the fake server does on a connection, in order.
#[derive(Debug, Clone)]
enum Step {
    /// Reads one whole command (and records it).
    Read,
    /// Writes bytes.
    Write(&'static [u8]),
    /// Writes bytes one at a time, flushing each.
    Trickle(&'static [u8]),
    /// Waits.
    Sleep(u64),
    /// Closes the connection.
    Close,
    /// Keeps the connection open, reading and ignoring whatever comes.
    Hold,
    /// Behaves from here on: PING → PONG, ECHO x → x, HELLO → a map,
    /// anything else → OK.
    Serve,
    /// Writes the first bytes, then the second over and over until the
    /// client goes away.
    Endless(&'static [u8], &'static [u8]),
}

use Step::*;

/// A TCP server following one script per connection (the last one for any
/// connection beyond), recording the commands it reads. Each script starts
/// after the handshake's PING is answered, unless it starts with `Write` or
/// `Serve`.
struct FakeServer {
    url: String,
    accepted: Arc<AtomicUsize>,
    received: Arc<Mutex<Vec<Vec<Bytes>>>>,
    /// Bytes written by `Endless` steps.
    written: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeServer {
    async fn start(scripts: Vec<Vec<Step>>) -> FakeServer {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
        let url = format!("redis://127.0.0.1:{}", listener.local_addr().unwrap().port());
        let accepted = Arc::new(AtomicUsize::new(0));
        let received = Arc::new(Mutex::new(Vec::new()));
        let written = Arc::new(AtomicUsize::new(0));
        let (count, log, bytes) = (Arc::clone(&accepted), Arc::clone(&received), Arc::clone(&written));
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                // Each write goes out as written: split replies stay split,
                // and no write waits for the client's delayed ACK.
                socket.set_nodelay(true).unwrap();
                let n = count.fetch_add(1, Ordering::SeqCst);
                let script = scripts.get(n).or(scripts.last()).cloned().unwrap_or_default();
                tokio::spawn(run_script(socket, script, Arc::clone(&log), Arc::clone(&bytes)));
            }
        });
        FakeServer { url, accepted, received, written, task }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    fn received(&self) -> Vec<Vec<Bytes>> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn run_script(
    mut socket: TcpStream,
    script: Vec<Step>,
    log: Arc<Mutex<Vec<Vec<Bytes>>>>,
    written: Arc<AtomicUsize>,
) {
    let mut buf = Vec::new();
    // A RESP2 client's handshake ends with PING (the only command it sends
    // with default settings): answered here as a real server would, and not
    // recorded. Scripts that speak first, or serve everything, get none.
    let answers_handshake = !matches!(script.first(), Some(Write(_) | Serve));
    if answers_handshake
        && (read_command(&mut socket, &mut buf).await.is_none() || socket.write_all(b"+PONG\r\n").await.is_err())
    {
        return;
    }
    for step in script {
        match step {
            Read => match read_command(&mut socket, &mut buf).await {
                Some(cmd) => log.lock().unwrap().push(cmd),
                None => return,
            },
            // The client may have gone already (a reply it refused).
            Write(bytes) => {
                if socket.write_all(bytes).await.is_err() {
                    return;
                }
            }
            Trickle(bytes) => {
                for b in bytes {
                    socket.write_all(&[*b]).await.unwrap();
                    socket.flush().await.unwrap();
                    tokio::time::sleep(Duration::from_micros(200)).await;
                }
            }
            Sleep(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            Close => return,
            Hold => {
                let mut sink = [0u8; 1024];
                while matches!(socket.read(&mut sink).await, Ok(n) if n > 0) {}
                std::future::pending::<()>().await;
            }
            Serve => {
                while let Some(cmd) = read_command(&mut socket, &mut buf).await {
                    log.lock().unwrap().push(cmd.clone());
                    let reply = match cmd[0].to_ascii_uppercase().as_slice() {
                        b"PING" => b"+PONG\r\n".to_vec(),
                        b"HELLO" => b"%1\r\n$6\r\nserver\r\n$4\r\nfake\r\n".to_vec(),
                        b"ECHO" => [format!("${}\r\n", cmd[1].len()).as_bytes(), &cmd[1], b"\r\n"].concat(),
                        _ => b"+OK\r\n".to_vec(),
                    };
                    socket.write_all(&reply).await.unwrap();
                }
                return;
            }
            Endless(first, again) => {
                let mut bytes = first;
                while socket.write_all(bytes).await.is_ok() {
                    written.fetch_add(bytes.len(), Ordering::SeqCst);
                    bytes = again;
                }
                return;
            }
        }
    }
}

/// Reads one command (an array of bulk strings) from `socket`; `None` at EOF.
async fn read_command(socket: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Vec<Bytes>> {
    loop {
        if let Some((cmd, used)) = parse_command(buf) {
            buf.drain(..used);
            return Some(cmd);
        }
        let mut chunk = [0u8; 4096];
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A whole command at the front of `buf` and its length, if it is all there.
fn parse_command(buf: &[u8]) -> Option<(Vec<Bytes>, usize)> {
    fn line(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
        let end = pos + buf.get(pos..)?.windows(2).position(|w| w == b"\r\n")?;
        Some((&buf[pos..end], end + 2))
    }
    let number = |s: &[u8]| -> usize { std::str::from_utf8(s).unwrap().parse().unwrap() };
    let (header, mut pos) = line(buf, 0)?;
    assert_eq!(header.first(), Some(&b'*'), "the client sent something other than an array");
    let mut args = Vec::new();
    for _ in 0..number(&header[1..]) {
        let (len, next) = line(buf, pos)?;
        assert_eq!(len.first(), Some(&b'$'), "the client sent an argument other than a bulk string");
        let len = number(&len[1..]);
        let end = next + len;
        if buf.len() < end + 2 {
            return None;
        }
        assert_eq!(&buf[end..end + 2], b"\r\n");
        args.push(Bytes::copy_from_slice(&buf[next..end]));
        pos = end + 2;
    }
    Some((args, pos))
}

/// Runs `PING` on a fresh client of `server`, which must answer within 2 s.
async fn ping(server: &FakeServer) -> Result<Value, Error> {
    let redis = Redis::new(&server.url).unwrap();
    tokio::time::timeout(Duration::from_secs(2), redis.execute_cmd("PING", ())).await.expect("the client hung")
}

#[tokio::test]
async fn malformed_replies_are_protocol_errors() {
    let deep: &'static [u8] = Box::leak([&b"*1\r\n".repeat(1000)[..], b":1\r\n"].concat().into_boxed_slice());
    let long_line: &'static [u8] = Box::leak([&b"+"[..], &b"a".repeat(100_000)].concat().into_boxed_slice());
    let cases: &[(&str, &'static [u8])] = &[
        ("unknown type byte", b"?what\r\n"),
        ("letters for a length", b"$abc\r\n"),
        ("negative length", b"$-2\r\n"),
        ("huge claimed bulk length", b"$9999999999\r\n"),
        ("length overflowing i64", b"$99999999999999999999999\r\n"),
        ("huge claimed array length", b"*9999999999999\r\n"),
        ("bulk not followed by CRLF", b"$3\r\nabcXY"),
        ("integer with garbage", b":12x\r\n"),
        ("empty integer", b":\r\n"),
        ("LF without CR", b"+OK\n"),
        ("nesting 1000 deep", deep),
        ("a header line without end", long_line),
        ("RESP3 double that is no number", b",one\r\n"),
        ("RESP3 boolean that is neither t nor f", b"#x\r\n"),
        ("RESP3 verbatim string without format", b"=2\r\nab\r\n"),
        ("RESP3 map with an odd claimed size cut by garbage", b"%1\r\n+k\r\n?\r\n"),
    ];
    for (what, reply) in cases {
        // The server keeps the connection open: the client must not wait for more.
        let server = FakeServer::start(vec![vec![Read, Write(reply), Hold]]).await;
        let start = Instant::now();
        let err = ping(&server).await.expect_err(what);
        assert!(matches!(err, Error::Protocol(_)), "{what}: {err:?}");
        assert!(err.is_connection_error(), "{what}");
        assert!(start.elapsed() < Duration::from_secs(1), "{what}: took {:?}", start.elapsed());
        let shown = err.to_string();
        assert!(shown.contains("protocol error"), "{what}: {shown}");
    }
}

#[tokio::test]
async fn truncated_replies_are_io_errors() {
    let cases: &[(&str, Vec<Step>)] = &[
        ("closed before any reply", vec![Read, Close]),
        ("bulk cut mid-way", vec![Read, Write(b"$10\r\nabc"), Close]),
        ("header cut mid-way", vec![Read, Write(b"$10"), Close]),
        ("array cut mid-way", vec![Read, Write(b"*3\r\n:1\r\n"), Close]),
        ("large claimed bulk cut", vec![Read, Write(b"$100000000\r\nabc"), Close]),
        ("closed after a pause", vec![Read, Write(b"+PO"), Sleep(50), Close]),
    ];
    for (what, script) in cases {
        let server = FakeServer::start(vec![script.clone()]).await;
        let err = ping(&server).await.expect_err(what);
        match &err {
            Error::Io(io) => assert_eq!(io.kind(), std::io::ErrorKind::UnexpectedEof, "{what}: {err:?}"),
            other => panic!("{what}: expected an I/O error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn after_a_protocol_error_the_next_command_reconnects() {
    let server = FakeServer::start(vec![vec![Read, Write(b"?garbage\r\n"), Hold], vec![Serve]]).await;
    let redis = Redis::new(&server.url).unwrap();
    let err = redis.execute_cmd("PING", ()).await.expect_err("garbage");
    assert!(matches!(err, Error::Protocol(_)), "{err:?}");
    let echoed: String = redis.execute_cmd("ECHO", ["again"]).returning().await.unwrap();
    assert_eq!(echoed, "again");
    assert_eq!(server.accepted(), 2);
}

#[tokio::test]
async fn unsolicited_reply_closes_the_connection() {
    // A reply arriving while nothing is in flight: the connection is out of
    // step and closed; the next command goes on a new one.
    let server =
        FakeServer::start(vec![vec![Read, Write(b"+PONG\r\n"), Sleep(20), Write(b"+EXTRA\r\n"), Hold], vec![Serve]])
            .await;
    let redis = Redis::new(&server.url).unwrap();
    let pong: String = redis.execute_cmd("PING", ()).returning().await.unwrap();
    assert_eq!(pong, "PONG");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let echoed: String = redis.execute_cmd("ECHO", ["mine"]).returning().await.unwrap();
    assert_eq!(echoed, "mine");
    assert_eq!(server.accepted(), 2);
}

#[tokio::test]
async fn extra_reply_after_a_real_one() {
    // Two replies to one command, in one segment: the command gets its own
    // reply, then the connection (out of step) is replaced.
    let server = FakeServer::start(vec![vec![Read, Write(b"+PONG\r\n+EXTRA\r\n"), Hold], vec![Serve]]).await;
    let redis = Redis::new(&server.url).unwrap();
    let pong = tokio::time::timeout(Duration::from_secs(2), redis.execute_cmd("PING", ())).await.expect("no hang");
    assert_eq!(pong.unwrap(), Value::Simple(Bytes::from_static(b"PONG")));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let echoed: String = redis.execute_cmd("ECHO", ["mine"]).returning().await.unwrap();
    assert_eq!(echoed, "mine");
    assert_eq!(server.accepted(), 2);
}

#[tokio::test]
async fn server_error_reply_keeps_the_connection() {
    let server = FakeServer::start(vec![vec![
        Read,
        Write(b"-ERR nope\r\n"),
        Read,
        Write(b"!18\r\nSYNTAX blob\r\nerror\r\n"),
        Serve,
    ]])
    .await;
    let redis = Redis::new(&server.url).unwrap();
    let err = redis.execute_cmd("GET", ["k"]).await.expect_err("an error reply");
    assert_eq!(err.code(), Some("ERR"));
    assert_eq!(err.as_server_error().unwrap().message(), "nope");
    let err = redis.execute_cmd("GET", ["k"]).await.expect_err("a blob error reply");
    assert_eq!(err.code(), Some("SYNTAX"), "{err:?}");
    assert_eq!(err.as_server_error().unwrap().message(), "blob\r\nerror");
    let echoed: String = redis.execute_cmd("ECHO", ["still here"]).returning().await.unwrap();
    assert_eq!(echoed, "still here");
    assert_eq!(server.accepted(), 1);
}

#[tokio::test]
async fn unusual_valid_replies() {
    let cases: Vec<(&'static [u8], Value)> = vec![
        (b"$-1\r\n", Value::Nil),
        (b"*-1\r\n", Value::Nil),
        (b"_\r\n", Value::Nil),
        (b"$0\r\n\r\n", Value::Bulk(Bytes::new())),
        (b"*0\r\n", Value::Array(vec![])),
        (b":-9223372036854775808\r\n", Value::Int(i64::MIN)),
        (b"#t\r\n", Value::Boolean(true)),
        (b",1.5\r\n", Value::Double(1.5)),
        (b",-inf\r\n", Value::Double(f64::NEG_INFINITY)),
        (
            b"(123456789012345678901234567890\r\n",
            Value::BigNumber(Bytes::from_static(b"123456789012345678901234567890")),
        ),
        (b"=7\r\ntxt:a\r\n\r\n", Value::Verbatim { format: *b"txt", text: Bytes::from_static(b"a\r\n") }),
        (b"%1\r\n+k\r\n:1\r\n", Value::Map(vec![(Value::Simple(Bytes::from_static(b"k")), Value::Int(1))])),
        (b"~1\r\n$1\r\nx\r\n", Value::Set(vec![Value::Bulk(Bytes::from_static(b"x"))])),
        (
            b"*2\r\n*1\r\n$-1\r\n-ERR inner\r\n",
            Value::Array(vec![Value::Array(vec![Value::Nil]), Value::Error(error_value(b"*1\r\n-ERR inner\r\n"))]),
        ),
        (
            b"|1\r\n+ttl\r\n:3\r\n+OK\r\n",
            Value::Attribute {
                attributes: vec![(Value::Simple(Bytes::from_static(b"ttl")), Value::Int(3))],
                value: Box::new(Value::Simple(Bytes::from_static(b"OK"))),
            },
        ),
    ];
    let mut script = Vec::new();
    for (reply, _) in &cases {
        script.push(Read);
        script.push(Trickle(reply));
    }
    script.push(Hold);
    let server = FakeServer::start(vec![script]).await;
    let redis = Redis::new(&server.url).unwrap();
    for (reply, want) in cases {
        let got = tokio::time::timeout(Duration::from_secs(2), redis.execute_cmd("PING", ())).await.expect("no hang");
        assert_eq!(got.unwrap(), want, "{}", String::from_utf8_lossy(reply));
    }
    assert_eq!(server.accepted(), 1);
}

/// The error nested in `array_reply`, decoded by the client itself.
fn error_value(array_reply: &[u8]) -> siderpy::ServerError {
    let mut buf = bytes::BytesMut::from(array_reply);
    match siderpy::resp::Decoder::default().decode(&mut buf) {
        Ok(Some(Value::Array(mut items))) => match items.pop() {
            Some(Value::Error(e)) => e,
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn push_messages_are_not_replies() {
    // RESP3 out-of-band data before the reply does not shift replies.
    let server = FakeServer::start(vec![vec![
        Read,
        Write(b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n+PONG\r\n"),
        Read,
        Write(b"$2\r\nok\r\n"),
        Write(b">2\r\n+invalidate\r\n*1\r\n$1\r\nk\r\n"),
        Hold,
    ]])
    .await;
    let redis = Redis::new(&server.url).unwrap();
    assert_eq!(redis.execute_cmd("PING", ()).await.unwrap(), Value::Simple(Bytes::from_static(b"PONG")));
    let got: String = redis.execute_cmd("GET", ["k"]).returning().await.unwrap();
    assert_eq!(got, "ok");
}

#[tokio::test]
async fn unknown_pushes_reach_the_subscriber_as_unknown_messages() {
    // Pushes of a kind no Redis sends today, and a message with no string
    // payload, on a subscribed connection: queued as `Unknown`, whole, in
    // order with the messages; none is taken as a reply (PING still gets its own).
    let server = FakeServer::start(vec![vec![
        Read,
        Write(b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"),
        Write(b">3\r\n$9\r\nsomething\r\n:1\r\n$1\r\nx\r\n"),
        Write(b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n*1\r\n:1\r\n"),
        Write(b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"),
        Read,
        Write(b">1\r\n$5\r\nother\r\n+PONG\r\n"),
        Hold,
    ]])
    .await;
    let redis = Redis::new(&server.url).unwrap();
    redis.execute_cmd("SUBSCRIBE", ["ch"]).await.unwrap();
    let queue = redis.pubsub_queue();
    let next = || async { tokio::time::timeout(Duration::from_secs(5), queue.recv()).await.unwrap().unwrap() };
    let m = next().await;
    assert_eq!((m.kind, &m.channel[..]), (siderpy::MessageKind::Unknown, &b"something"[..]));
    assert!(matches!(&m.frame, Some(Value::Push(items)) if items.len() == 3), "{m:?}");
    let m = next().await;
    assert_eq!((m.kind, &m.channel[..]), (siderpy::MessageKind::Unknown, &b"message"[..]));
    let m = next().await;
    assert_eq!((m.kind, &m.channel[..], &m.payload[..]), (siderpy::MessageKind::Message, &b"ch"[..], &b"hi"[..]));
    assert_eq!(redis.execute_cmd("PING", ()).await.unwrap(), Value::Simple(Bytes::from_static(b"PONG")));
    let m = next().await;
    assert_eq!((m.kind, &m.channel[..]), (siderpy::MessageKind::Unknown, &b"other"[..]));
}

#[tokio::test]
async fn commands_are_encoded_as_arrays_of_bulk_strings() {
    let server = FakeServer::start(vec![vec![Serve]]).await;
    let redis = Redis::new(&server.url).unwrap();
    redis.execute_cmd("SET", ("key", 1.5)).await.unwrap();
    redis.execute_cmd("CLIENT LIST", ()).await.unwrap();
    redis.execute_cmd("ZADD", ("z", f64::INFINITY, "m", -7, "")).await.unwrap();
    redis.execute_cmd("SET", (&b"\r\n\0"[..], "é")).await.unwrap();
    let got = server.received();
    let want: Vec<Vec<&[u8]>> = vec![
        vec![b"PING"],
        vec![b"SET", b"key", b"1.5"],
        vec![b"CLIENT", b"LIST"],
        vec![b"ZADD", b"z", b"inf", b"m", b"-7", b""],
        vec![b"SET", b"\r\n\0", "é".as_bytes()],
    ];
    assert_eq!(
        got,
        want.iter().map(|c| c.iter().map(|a| Bytes::copy_from_slice(a)).collect::<Vec<_>>()).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn handshake_commands() {
    fn args(cmd: &[Bytes]) -> Vec<String> {
        cmd.iter().map(|a| String::from_utf8_lossy(a).into_owned()).collect()
    }
    let cases: &[(&str, &[&[&str]])] = &[
        ("redis://127.0.0.1:{port}", &[&["PING"]]),
        (
            "redis://:pw@127.0.0.1:{port}/2?client_name=app",
            &[&["AUTH", "pw"], &["CLIENT", "SETNAME", "app"], &["SELECT", "2"], &["PING"]],
        ),
        ("redis://al:pw@127.0.0.1:{port}/0", &[&["AUTH", "al", "pw"], &["PING"]]),
        ("redis://127.0.0.1:{port}/0?protocol=3", &[&["HELLO", "3"]]),
        (
            "redis://al:pw@127.0.0.1:{port}/5?protocol=3&client_name=app",
            &[&["HELLO", "3", "AUTH", "al", "pw", "SETNAME", "app"], &["SELECT", "5"]],
        ),
        ("redis://:pw@127.0.0.1:{port}?protocol=3", &[&["HELLO", "3", "AUTH", "default", "pw"]]),
    ];
    for (template, want) in cases {
        let server = FakeServer::start(vec![vec![Serve]]).await;
        let port = server.url.rsplit(':').next().unwrap().to_owned();
        let url = template.replace("{port}", &port);
        let redis = Redis::new(&url).unwrap();
        let echoed: String = redis.execute_cmd("ECHO", ["first"]).returning().await.unwrap();
        assert_eq!(echoed, "first");
        let got: Vec<Vec<String>> = server.received().iter().map(|c| args(c)).collect();
        let mut want: Vec<Vec<String>> = want.iter().map(|c| c.iter().map(|s| s.to_string()).collect()).collect();
        want.push(vec!["ECHO".into(), "first".into()]);
        assert_eq!(got, want, "{url}");
    }
}

/// Leaks `bytes`, for a script step.
fn leak(bytes: Vec<u8>) -> &'static [u8] {
    Box::leak(bytes.into_boxed_slice())
}

/// One reply holding every RESP2 and RESP3 type, nested.
fn every_type_reply() -> Vec<u8> {
    let parts: &[&[u8]] = &[
        b"+OK\r\n",
        b"-ERR nested\r\n",
        b":-42\r\n",
        b"$5\r\nhe\r\no\r\n",
        b"$0\r\n\r\n",
        b"$-1\r\n",
        b"*-1\r\n",
        b"_\r\n",
        b",3.25\r\n",
        b"#f\r\n",
        b"(12345678901234567890123\r\n",
        b"!9\r\nBLOB\r\nerr\r\n",
        b"=9\r\ntxt:hello\r\n",
        b"%2\r\n+k\r\n~2\r\n:1\r\n:2\r\n$1\r\nm\r\n*0\r\n",
        b"|1\r\n+ttl\r\n:3\r\n*2\r\n:7\r\n*1\r\n$1\r\nx\r\n",
        b">2\r\n+p\r\n:1\r\n",
    ];
    [format!("*{}\r\n", parts.len()).as_bytes(), &parts.concat()].concat()
}

#[tokio::test]
async fn a_reply_split_at_every_byte_boundary() {
    // Cut in two at each point in turn, with a pause between the halves, and
    // then dribbled one byte at a time: the same value every time.
    let reply = every_type_reply();
    let want = {
        let mut buf = bytes::BytesMut::from(&reply[..]);
        siderpy::resp::Decoder::default().decode(&mut buf).unwrap().expect("a whole reply")
    };
    let mut script = Vec::new();
    for split in 1..reply.len() {
        script.extend([Read, Write(leak(reply[..split].to_vec())), Sleep(2), Write(leak(reply[split..].to_vec()))]);
    }
    script.extend([Read, Trickle(leak(reply.clone())), Hold]);
    let server = FakeServer::start(vec![script]).await;
    let redis = Redis::new(&server.url).unwrap();
    for split in 1..=reply.len() {
        let got = tokio::time::timeout(Duration::from_secs(5), redis.execute_cmd("PING", ())).await.expect("no hang");
        assert_eq!(got.unwrap(), want, "split at {split}");
    }
    assert_eq!(server.accepted(), 1);
}

#[tokio::test]
async fn an_error_before_any_command_keeps_the_servers_words() {
    // As a server at maxclients does: it says so on accepting, then closes,
    // maybe before the client has queued its first command.
    for _ in 0..20 {
        let server = FakeServer::start(vec![vec![Write(b"-ERR max number of clients reached\r\n"), Close]]).await;
        let err = ping(&server).await.expect_err("refused");
        assert!(err.to_string().contains("max number of clients reached"), "{err:?}");
    }
}

#[tokio::test]
async fn a_server_that_never_answers() {
    let server = FakeServer::start(vec![vec![Hold], vec![Serve]]).await;
    // With a read timeout: Error::Timeout, on time, and the connection kept.
    let redis = Redis::builder(&server.url).unwrap().read_timeout(Some(Duration::from_millis(200))).build();
    let start = Instant::now();
    let err = redis.execute_cmd("PING", ()).await.expect_err("no answer");
    assert!(matches!(err, Error::Timeout(siderpy::Timeout::Read)), "{err:?}");
    assert!(!err.is_connection_error());
    assert!(start.elapsed() < Duration::from_secs(1), "{:?}", start.elapsed());
    // Without one: the caller can give up (cancel), other callers too, and
    // closing the client lets the next command go to a new connection.
    let server = FakeServer::start(vec![vec![Hold], vec![Serve]]).await;
    let redis = Redis::new(&server.url).unwrap();
    let calls: Vec<_> = (0..10)
        .map(|i| {
            let redis = redis.clone();
            tokio::spawn(async move { redis.execute_cmd("ECHO", [format!("lost {i}")]).await })
        })
        .collect();
    let given_up = tokio::time::timeout(Duration::from_millis(100), redis.execute_cmd("PING", ())).await;
    assert!(given_up.is_err(), "the server never answers");
    for call in &calls {
        call.abort();
    }
    for call in calls {
        assert!(call.await.unwrap_err().is_cancelled());
    }
    redis.close().await;
    let echoed: String = redis.execute_cmd("ECHO", ["again"]).returning().await.unwrap();
    assert_eq!(echoed, "again");
    assert_eq!(server.accepted(), 2);
}

#[tokio::test]
async fn limits_stop_a_server_that_never_stops_sending() {
    use siderpy::resp::Limits;
    let deep: &'static [u8] = leak(b"*1\r\n".repeat(10_000));
    let endless_child = leak([&b"*1000\r\n"[..], &b":1\r\n".repeat(1000)].concat());
    let small = Limits { max_bulk_len: 1 << 20, max_elements: 1000, max_frame_len: 1 << 20, ..Limits::default() };
    // What the server sends first and then over and over, and the error.
    type Flood = (&'static [u8], &'static [u8], &'static str);
    let cases: Vec<(&str, Limits, Flood)> = vec![
        // Refused on its header: more than max_bulk_len.
        ("an endless bulk", small, (b"$536870912\r\n", b"0123456789abcdef", "exceeds the limit")),
        // Refused on its header even by default: 2^32 elements take more
        // than max_frame_len, whatever they are.
        ("an endless array", Limits::default(), (b"*4294967295\r\n", b":1\r\n", "max_frame_len")),
        // Each array within max_elements, together without end: refused
        // once max_frame_len is buffered.
        ("arrays of arrays", small, (b"*1000\r\n*1000\r\n", endless_child, "max_frame_len")),
        ("nesting 10,000 deep, and on", Limits::default(), (deep, b"*1\r\n", "nested deeper")),
    ];
    for (what, limits, (first, again, why)) in cases {
        let server = FakeServer::start(vec![vec![Read, Endless(first, again)]]).await;
        let redis = Redis::builder(&server.url).unwrap().limits(limits).build();
        let start = Instant::now();
        let err = tokio::time::timeout(Duration::from_secs(5), redis.execute_cmd("PING", ()))
            .await
            .unwrap_or_else(|_| panic!("{what}: the client kept reading"))
            .expect_err(what);
        assert!(matches!(&err, Error::Protocol(m) if m.contains(why)), "{what}: {err:?}");
        assert!(start.elapsed() < Duration::from_secs(2), "{what}: took {:?}", start.elapsed());
        // The client closed the connection: the server's writes fail soon,
        // after what the socket buffers held, not after gigabytes.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let written = server.written.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(server.written.load(Ordering::SeqCst), written, "{what}: the server is still writing");
        assert!(written < (1 << 20) + (32 << 20), "{what}: {written} bytes written");
    }
}
