//! One open connection, shared by every task that sends on it.
//!
//! Callers never touch the socket. A caller encodes its command into the
//! shared output buffer and queues a reply slot, both under one short lock,
//! so the order of the slots is the order of the bytes on the wire. A
//! [`Driver`] task owns the socket: it writes whatever has queued up in one
//! go (many callers' commands coalesce into one syscall), decodes replies
//! zero-copy and hands each to the slot at the head of the queue.
//!
//! This makes cancellation safe by construction: a caller that gives up (its
//! future dropped, or timed out) only drops its receiver; its reply still
//! arrives in order and is discarded, so nobody else's reply shifts. A
//! command given up before its bytes reached the socket is taken out of the
//! queue instead, once the socket refused bytes (see [`State::purge_unsent`]):
//! it is never sent.
//!
//! # Ownership
//! [`Connection`] handles are the owners of the connection: when the last
//! one is dropped, the connection closes and its driver ends, closing the
//! socket. The driver holds the state but not a handle, so a connection no
//! one can send on never lingers. A driver that ends for any reason (its
//! runtime shut down, say) leaves the connection marked closed, so the next
//! call reconnects instead of waiting for a reply that cannot come.

mod driver;
pub(crate) mod reconnect;
pub(crate) mod transport;
mod wait;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Poll, Waker};

use bytes::BytesMut;
use tokio::sync::oneshot;

use crate::args::CmdArgs;
use crate::cache::Cache;
use crate::error::{Error, Result};
use crate::pubsub::PubSubQueue;
use crate::resp::Limits;
use crate::trace as tracing;
use crate::value::Value;

pub(crate) use driver::{quote, Driver, Liveness};
use transport::Transport;
pub(crate) use wait::{await_batch, await_reply};

/// Where a reply (or a run of replies) goes.
pub(crate) enum Slot {
    /// One command's reply.
    One(oneshot::Sender<Result<Value>>),
    /// A batch (pipeline): `n` replies, collected in order. With
    /// `stop_at_error`, an error reply ends it early: a (un)subscribe the
    /// server refuses answers with one error, not one frame per channel.
    Many { n: usize, got: Vec<Value>, stop_at_error: bool, tx: oneshot::Sender<Result<Vec<Value>>> },
    /// A command the server does not answer (sent while `CLIENT REPLY` is
    /// off or skipping): it keeps its bytes' place in the output, and is
    /// passed over when replies are handed out.
    Unanswered,
    /// `CLIENT CACHING yes` and the read it is for: two replies, the
    /// second for the caller. Should the first be an error, the caller
    /// gets that instead (then the read was not tracked).
    Pair { first: Option<Result<Value>>, tx: oneshot::Sender<Result<Value>> },
}

impl Slot {
    fn fail(self, err: &Error) {
        match self {
            Slot::One(tx) => drop(tx.send(Err(err.clone()))),
            Slot::Many { tx, .. } => drop(tx.send(Err(err.clone()))),
            Slot::Pair { tx, .. } => drop(tx.send(Err(err.clone()))),
            Slot::Unanswered => {}
        }
    }

    /// Whether its caller has given up (timed out, or its future dropped).
    fn abandoned(&self) -> bool {
        match self {
            Slot::One(tx) => tx.is_closed(),
            Slot::Many { tx, .. } => tx.is_closed(),
            Slot::Pair { tx, .. } => tx.is_closed(),
            Slot::Unanswered => false,
        }
    }
}

/// A reply slot and where its command's bytes start in the connection's
/// output, counted from the first byte ever queued.
pub(crate) struct Queued {
    pub(crate) start: u64,
    pub(crate) slot: Slot,
}

/// Commands already encoded as RESP arrays, back to back, possibly in
/// several parts, and how many commands they hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frames<'a> {
    pub(crate) parts: &'a [&'a [u8]],
    pub(crate) n: usize,
}

/// State shared between the callers and the driver of one connection.
pub(crate) struct State {
    /// Encoded commands not yet taken by the driver.
    pub(crate) out: BytesMut,
    /// How many bytes the driver has taken from `out` so far: `out` holds
    /// the bytes from `taken` on.
    pub(crate) taken: u64,
    /// The most `out` may hold before new commands are refused
    /// ([`Limits::max_queued_bytes`]).
    max_queued: usize,
    /// One entry per command (or batch) written or queued, oldest first.
    pub(crate) slots: VecDeque<Queued>,
    /// The driver's waker, taken by whoever queues bytes while the driver
    /// sleeps.
    pub(crate) waker: Option<Waker>,
    /// The driver is running and looks at `out` again before it sleeps: no
    /// need to wake it (a wake-up while it runs makes the runtime reschedule
    /// it at once, and rouse another worker thread to do so).
    pub(crate) busy: bool,
    /// Set once the connection is dead or closing; new commands get it.
    pub(crate) closed: Option<Error>,
    /// The queue pub/sub messages read here go to, while subscribed.
    pub(crate) pubsub: Option<PubSubQueue>,
    /// When bytes last arrived (or the connection opened), as the driver
    /// last published it: to tell a dead connection from a slow command.
    pub(crate) last_read: tokio::time::Instant,
    /// The owner stopped sending here (see [`Connection::retire_if_silent`]):
    /// close once no reply is awaited.
    pub(crate) retiring: bool,
    /// The driver has ended and dropped the socket.
    finished: bool,
    /// Callers of [`Connection::close_and_wait`] waiting for that.
    finish_waiters: Vec<Waker>,
    /// Where the invalidations read here go (a client-side cache).
    pub(crate) feed: Option<Feed>,
    /// A connection this one keeps open while it lives: the `REDIRECT`
    /// subscriber that receives its invalidations (RESP2). Never dropped
    /// under this state's lock.
    companion: Option<Connection>,
}

/// A client-side cache fed by a connection's invalidations.
pub(crate) struct Feed {
    pub(crate) cache: Arc<Cache>,
    /// The connection whose reads the invalidations are for.
    pub(crate) tracked: u64,
    /// RESP2 subscriber: invalidations come as arrays, not pushes.
    pub(crate) subscriber: bool,
    /// The tracked connection, when this one is its `REDIRECT` subscriber:
    /// without its invalidations it must not go on, and is closed.
    pub(crate) tracked_conn: Option<WeakConnection>,
}

impl Feed {
    /// Hands an invalidation to the cache; `false` when `v` is none.
    pub(crate) fn take(&self, v: &Value) -> bool {
        let out_of_band = matches!(v, Value::Push(_)) || (self.subscriber && matches!(v, Value::Array(_)));
        if !out_of_band {
            return false;
        }
        match crate::pubsub::classify(v, self.subscriber) {
            crate::pubsub::Incoming::Message(m) if m.kind == crate::pubsub::MessageKind::Invalidate => {
                self.cache.invalidate(m.invalidated.as_deref());
                true
            }
            // Anything else published on the invalidation channel (by
            // anyone: it is a channel like others) is no reply.
            crate::pubsub::Incoming::Message(_) => self.subscriber,
            _ => false,
        }
    }

    /// The invalidations stop: the cache forgets what it cannot trust.
    fn lost(self) {
        self.cache.lost(self.tracked);
        if let Some(tracked) = self.tracked_conn.and_then(|w| w.upgrade()) {
            tracked.close(Error::Closed("the invalidation connection"));
        }
    }
}

impl State {
    /// Fails every queued and in-flight command with `err`, and marks the
    /// connection closed (keeping an earlier cause). Returns the slots to
    /// fail outside the lock.
    fn shut(&mut self, err: &Error) -> VecDeque<Queued> {
        if self.closed.is_none() {
            if let Some(queue) = self.pubsub.take() {
                // The user closing it ends its subscriptions; a failure
                // interrupts them (a re-subscriber takes over).
                let cause = (!matches!(err, Error::Closed(_))).then(|| err.clone());
                queue.lock().close(cause);
            }
            self.closed = Some(err.clone());
            if let Some(feed) = self.feed.take() {
                feed.lost();
            }
        }
        std::mem::take(&mut self.slots)
    }

    /// Takes the commands whose callers gave up out of `out` (not yet taken
    /// by the driver, so not one byte of them is sent). Costs a walk of the
    /// queued slots, so it runs only when output backs up: when `out` is
    /// full, and when the driver takes `out` after the socket refused bytes.
    pub(crate) fn purge_unsent(&mut self) {
        let taken = self.taken;
        let first = self.slots.partition_point(|q| q.start < taken);
        if !self.slots.range(first..).any(|q| q.slot.abandoned()) {
            return;
        }
        let old = std::mem::take(&mut self.out);
        let unsent: Vec<Queued> = self.slots.drain(first..).collect();
        let ends: Vec<u64> = unsent.iter().skip(1).map(|q| q.start).chain([taken + old.len() as u64]).collect();
        let mut out = BytesMut::with_capacity(old.len());
        let mut purged = 0;
        for (q, end) in unsent.into_iter().zip(ends) {
            if q.slot.abandoned() {
                purged += 1;
                continue;
            }
            let start = taken + out.len() as u64;
            out.extend_from_slice(&old[(q.start - taken) as usize..(end - taken) as usize]);
            self.slots.push_back(Queued { start, slot: q.slot });
        }
        tracing::debug!(purged, "dropped commands given up before they were sent");
        self.out = out;
    }
}

/// A handle to one open connection, and one of its owners: the connection
/// closes when the last handle goes. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Connection {
    owner: Arc<Owner>,
    /// Sequence number of the connection for this client, for logs.
    pub(crate) id: u64,
}

/// A handle that does not own the connection: it reaches it (to close
/// it) only while an owner has it open.
#[derive(Clone)]
pub(crate) struct WeakConnection {
    owner: std::sync::Weak<Owner>,
    pub(crate) id: u64,
}

impl WeakConnection {
    /// The connection, if an owner still holds it.
    pub(crate) fn upgrade(&self) -> Option<Connection> {
        Some(Connection { owner: self.owner.upgrade()?, id: self.id })
    }
}

/// Closes the connection when the last [`Connection`] handle is dropped.
struct Owner {
    shared: Arc<Mutex<State>>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        close(&self.shared, Error::Closed("connection"));
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("id", &self.id).field("open", &!self.is_closed()).finish()
    }
}

impl Connection {
    /// Starts a driver for `transport` and returns the handle callers use.
    /// The driver checks `liveness` by itself: only for connections no
    /// caller can leave inside a `MULTI` or blocked (a heartbeat `PING`
    /// would be queued in the transaction; `BLPOP 0` rightly reads nothing).
    ///
    /// Must be called within a tokio runtime.
    pub(crate) fn start(
        transport: Transport,
        limits: Limits,
        write_timeout: Option<std::time::Duration>,
        liveness: Liveness,
        id: u64,
    ) -> Self {
        let shared = Arc::new(Mutex::new(State {
            out: BytesMut::with_capacity(16 * 1024),
            taken: 0,
            max_queued: limits.max_queued_bytes,
            slots: VecDeque::new(),
            waker: None,
            busy: false,
            closed: None,
            pubsub: None,
            last_read: tokio::time::Instant::now(),
            retiring: false,
            finished: false,
            finish_waiters: Vec::new(),
            feed: None,
            companion: None,
        }));
        tokio::spawn(Driver::new(transport, Arc::clone(&shared), limits, write_timeout, liveness, id));
        Connection { owner: Arc::new(Owner { shared }), id }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.owner.shared)
    }

    /// A handle that does not keep the connection open.
    pub(crate) fn downgrade(&self) -> WeakConnection {
        WeakConnection { owner: Arc::downgrade(&self.owner), id: self.id }
    }

    /// Whether both handles are to the same connection.
    pub(crate) fn same(&self, other: &Connection) -> bool {
        Arc::ptr_eq(&self.owner, &other.owner)
    }

    /// True once the connection has failed or been closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed.is_some()
    }

    /// Queues one command; its reply arrives on the returned receiver.
    ///
    /// # Errors
    /// The error that closed the connection, if it is closed: the command was
    /// not sent, so retrying it on a new connection is safe.
    pub(crate) fn send(&self, cmd: &CmdArgs) -> Result<oneshot::Receiver<Result<Value>>> {
        let (tx, rx) = oneshot::channel();
        self.enqueue(|out| cmd.write_frame(out), Slot::One(tx))?;
        Ok(rx)
    }

    /// Queues `CLIENT CACHING yes` and then `cmd`, back to back, so the
    /// server tracks the keys `cmd` reads (`CLIENT TRACKING ... OPTIN`);
    /// `cmd`'s reply arrives on the returned receiver.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub(crate) fn send_opted_in(&self, cmd: &CmdArgs) -> Result<oneshot::Receiver<Result<Value>>> {
        const CACHING_YES: &[u8] = b"*3\r\n$6\r\nCLIENT\r\n$7\r\nCACHING\r\n$3\r\nyes\r\n";
        let (tx, rx) = oneshot::channel();
        // One slot for both: nobody else's command can come in between.
        self.enqueue(
            |out| {
                out.extend_from_slice(CACHING_YES);
                cmd.write_frame(out);
            },
            Slot::Pair { first: None, tx },
        )?;
        Ok(rx)
    }

    /// Sends the invalidations read here to a cache from now on.
    pub(crate) fn attach_feed(&self, feed: Feed) {
        self.lock().feed = Some(feed);
    }

    /// Keeps `other` open as long as this connection lives.
    pub(crate) fn keep(&self, other: Connection) {
        let previous = self.lock().companion.replace(other);
        drop(previous);
    }

    /// Queues a command the server will not answer (sent while `CLIENT
    /// REPLY` is off or skipping): no reply slot, so the next reply still
    /// goes to the command that gets it.
    ///
    /// # Errors
    /// As [`send`](Self::send).
    pub(crate) fn send_unanswered(&self, cmd: &CmdArgs) -> Result<()> {
        self.enqueue(|out| cmd.write_frame(out), Slot::Unanswered)
    }

    /// Queues commands already encoded back to back (a pipeline's buffer,
    /// between `MULTI` and `EXEC` for a transaction); their replies arrive
    /// together.
    pub(crate) fn send_frames(&self, frames: Frames<'_>) -> Result<oneshot::Receiver<Result<Vec<Value>>>> {
        let (tx, rx) = oneshot::channel();
        if frames.n == 0 {
            drop(tx.send(Ok(Vec::new())));
            return Ok(rx);
        }
        let slot = Slot::Many { n: frames.n, got: Vec::with_capacity(frames.n), stop_at_error: false, tx };
        self.enqueue(
            |out| {
                out.reserve(frames.parts.iter().map(|p| p.len()).sum());
                for part in frames.parts {
                    out.extend_from_slice(part);
                }
            },
            slot,
        )?;
        Ok(rx)
    }

    fn enqueue(&self, write: impl FnOnce(&mut BytesMut), slot: Slot) -> Result<()> {
        let waker = {
            let mut st = self.lock();
            if let Some(err) = &st.closed {
                return Err(err.clone());
            }
            if st.out.len() >= st.max_queued {
                // The server is not reading: refuse rather than grow without bound.
                st.purge_unsent();
                if st.out.len() >= st.max_queued {
                    return Err(Error::OutputFull { queued: st.out.len(), limit: st.max_queued });
                }
            }
            let start = st.taken + st.out.len() as u64;
            write(&mut st.out);
            st.slots.push_back(Queued { start, slot });
            if st.busy {
                None
            } else {
                st.waker.take()
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// After a read timeout of `waited`: retires the connection if nothing
    /// at all was read on it in that time, and says whether it did. A
    /// healthy server answers in order, so no byte for a whole timeout means
    /// it answers nobody (it is stopped, or the path to it is gone): the
    /// owner should send new commands on a new connection instead, lest
    /// every caller time out in turn on a half-open one. The commands
    /// already in flight here keep waiting, each within its own bound, and
    /// get their replies if the server comes back; the connection closes
    /// once the last is answered, or when the driver's unresponsiveness
    /// check (or TCP keepalive) ends it. Its owner keeps it until then.
    pub(crate) fn retire_if_silent(&self, waited: std::time::Duration) -> bool {
        let waker = {
            let mut st = self.lock();
            if st.last_read.elapsed() < waited || st.closed.is_some() {
                return false;
            }
            st.retiring = true;
            st.waker.take()
        };
        tracing::warn!(connection = self.id, ?waited, "nothing read for a whole read timeout; retiring the connection");
        // The driver closes it once nothing is in flight; maybe now.
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    /// Delivers this connection's pub/sub messages to `queue` from now on.
    pub(crate) fn attach_pubsub(&self, queue: &PubSubQueue) {
        self.lock().pubsub.get_or_insert_with(|| queue.clone());
    }

    /// Stops delivering pub/sub messages (after the last unsubscribe).
    pub(crate) fn detach_pubsub(&self) {
        self.lock().pubsub = None;
    }

    /// Queues a command that the server answers with `n` frames (a
    /// (un)subscribe of `n` channels); they arrive together.
    pub(crate) fn send_expecting(&self, cmd: &CmdArgs, n: usize) -> Result<oneshot::Receiver<Result<Vec<Value>>>> {
        let (tx, rx) = oneshot::channel();
        let slot = Slot::Many { n, got: Vec::with_capacity(n), stop_at_error: true, tx };
        self.enqueue(|out| cmd.write_frame(out), slot)?;
        Ok(rx)
    }

    /// Closes the connection: commands in flight and later ones get `err`.
    /// A pub/sub queue attached to it is closed too (with `err` as its cause
    /// unless the user closed the connection). The socket closes when the
    /// driver next runs; see [`close_and_wait`](Self::close_and_wait).
    pub(crate) fn close(&self, err: Error) {
        close(&self.owner.shared, err);
    }

    /// Closes the connection and waits until its driver has ended and
    /// closed the socket (at once if its runtime is gone).
    pub(crate) async fn close_and_wait(&self, err: Error) {
        self.close(err);
        std::future::poll_fn(|cx| {
            let mut st = self.lock();
            if st.finished {
                return Poll::Ready(());
            }
            st.finish_waiters.push(cx.waker().clone());
            Poll::Pending
        })
        .await;
    }
}

fn close(shared: &Mutex<State>, err: Error) {
    let (slots, waker) = {
        let mut st = lock(shared);
        if st.closed.is_some() {
            return;
        }
        (st.shut(&err), st.waker.take())
    };
    for q in slots {
        q.slot.fail(&err);
    }
    if let Some(w) = waker {
        w.wake();
    }
}

/// Marks the connection finished when its driver goes, however it goes (its
/// future completed, or dropped with its runtime): the last field of the
/// driver, dropped after the socket.
pub(crate) struct Finish(pub(crate) Arc<Mutex<State>>);

impl Drop for Finish {
    fn drop(&mut self) {
        let (slots, waiters) = {
            let mut st = lock(&self.0);
            let slots = st.shut(&Error::Closed("connection"));
            st.finished = true;
            (slots, std::mem::take(&mut st.finish_waiters))
        };
        for q in slots {
            q.slot.fail(&Error::Closed("connection"));
        }
        for w in waiters {
            w.wake();
        }
    }
}

/// Locks the state, recovering from poisoning: the state is consistent after
/// every statement that mutates it, so a panic elsewhere cannot corrupt it.
pub(crate) fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
