//! The task that owns a connection's socket.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::mem;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::AsyncWrite;
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep};

use super::transport::Transport;
use super::{lock, Finish, Queued, Slot, State};
use crate::error::{Error, Timeout};
use crate::pubsub::{self, Family, Incoming, MessageKind, PubSubQueue, QueueState};
use crate::resp::{Decoder, Limits};
use crate::trace as tracing;
use crate::value::Value;

/// How much to read at a time when no frame says it needs more.
const READ_CHUNK: usize = 16 * 1024;

/// The most to reserve ahead of a read on a frame's word alone: a server
/// announcing a 512 MiB bulk in 14 bytes gets the room as the bytes come
/// (the buffer grows by doubling), not all at once.
const MAX_RESERVE: usize = 4 * 1024 * 1024;

/// Past this size a reply being read gets exactly the room it needs.
const BIG_FRAME: usize = 64 * 1024;

/// Rounds of read/write work before yielding to other tasks.
const BUDGET: usize = 32;

/// An idle buffer keeps at most this much room: a large value's room is
/// given back once it is written or read, not kept until the connection closes.
const MAX_IDLE_CAPACITY: usize = 4 * READ_CHUNK;

/// Writes queued commands and dispatches replies until the connection
/// fails or is closed. A hand-written future so one task can wait on the
/// socket's readability, its writability and new work at the same time.
pub(crate) struct Driver {
    io: Transport,
    shared: Arc<Mutex<State>>,
    decoder: Decoder,
    rbuf: BytesMut,
    /// Bytes taken from the shared buffer, being written.
    wbuf: BytesMut,
    /// Whether written bytes may still sit in a TLS buffer.
    needs_flush: bool,
    write_timeout: Option<Duration>,
    /// Armed while the socket refuses bytes we have to write.
    write_deadline: Option<Pin<Box<Sleep>>>,
    /// Frames decoded and not yet handed out (kept to reuse its allocation).
    replies: Vec<Value>,
    /// Slots completed by a dispatch, woken once the lock is released.
    done: Vec<(Slot, Option<Value>)>,
    /// Callers woken since the driver last yielded.
    woken: usize,
    /// When bytes last arrived: set once per read, published to the shared
    /// state at the driver's next look at it.
    last_read: Instant,
    liveness: Option<Watch>,
    /// Some bytes have reached the socket: a reply before that answers no
    /// command (a server that greets, say).
    sent_any: bool,
    /// The socket refused bytes since `out` was last taken: commands given
    /// up meanwhile are purged before the next take.
    stalled: bool,
    id: u64,
    /// Last, so that it is dropped after the socket: marks the connection
    /// finished (and closed, if it was not) however the driver goes.
    _finish: Finish,
}

/// What the driver of a shared connection checks on its own, on one timer
/// rearmed at most once per period (never per command).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Liveness {
    /// `PING` when nothing was read for this long; no byte back within as
    /// long again means the connection is dead.
    pub(crate) heartbeat: Option<Duration>,
    /// Commands waited this long with nothing at all read: dead.
    pub(crate) unresponsive: Option<Duration>,
}

/// The state of the [`Liveness`] checks.
struct Watch {
    settings: Liveness,
    timer: Pin<Box<Sleep>>,
    /// When the unanswered heartbeat `PING` went out, if one did.
    ping_sent: Option<Instant>,
    ping_reply: Option<oneshot::Receiver<crate::error::Result<Value>>>,
    /// Since when commands were seen waiting with nothing read (as of the
    /// first check that saw it).
    quiet_since: Option<Instant>,
}

/// How many unresponsiveness checks per `unresponsive` period: a dead
/// connection is found between one period and a quarter more.
const CHECKS_PER_PERIOD: u32 = 4;

/// A `PING` as the heartbeat sends it.
const PING: &[u8] = b"*1\r\n$4\r\nPING\r\n";

impl Driver {
    pub(crate) fn new(
        io: Transport,
        shared: Arc<Mutex<State>>,
        limits: Limits,
        write_timeout: Option<Duration>,
        liveness: Liveness,
        id: u64,
    ) -> Self {
        let now = Instant::now();
        let check = liveness.unresponsive.map(|limit| limit / CHECKS_PER_PERIOD);
        let first = [liveness.heartbeat, check].into_iter().flatten().min();
        let liveness = first.map(|first| Watch {
            settings: liveness,
            timer: Box::pin(tokio::time::sleep_until(now + first)),
            ping_sent: None,
            ping_reply: None,
            quiet_since: None,
        });
        Driver {
            io,
            _finish: Finish(Arc::clone(&shared)),
            shared,
            decoder: Decoder::new(limits),
            rbuf: BytesMut::with_capacity(READ_CHUNK),
            wbuf: BytesMut::with_capacity(READ_CHUNK),
            needs_flush: false,
            write_timeout,
            write_deadline: None,
            replies: Vec::new(),
            done: Vec::new(),
            woken: 0,
            last_read: now,
            liveness,
            sent_any: false,
            stalled: false,
            id,
        }
    }

    /// Writes as much as the socket takes. `Ok(true)` if anything was written.
    fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Result<bool, Error> {
        let mut progressed = false;
        while !self.wbuf.is_empty() {
            match Pin::new(&mut self.io).poll_write(cx, &self.wbuf) {
                Poll::Ready(Ok(0)) => return Err(Error::io(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.wbuf.advance(n);
                    self.needs_flush = true;
                    progressed = true;
                }
                Poll::Ready(Err(e)) => return Err(Error::io(e)),
                Poll::Pending => {
                    self.stalled = true;
                    break;
                }
            }
        }
        self.sent_any |= progressed;
        if self.wbuf.is_empty() {
            self.wbuf.clear();
            if self.wbuf.capacity() > MAX_IDLE_CAPACITY {
                self.wbuf = BytesMut::with_capacity(READ_CHUNK);
            }
            self.write_deadline = None;
            if self.needs_flush {
                match Pin::new(&mut self.io).poll_flush(cx) {
                    Poll::Ready(Ok(())) => self.needs_flush = false,
                    Poll::Ready(Err(e)) => return Err(Error::io(e)),
                    Poll::Pending => {}
                }
            }
        } else if progressed {
            self.write_deadline = None;
        }
        if !self.wbuf.is_empty() && !progressed {
            if let Some(limit) = self.write_timeout {
                let deadline = self.write_deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                if deadline.as_mut().poll(cx).is_ready() {
                    return Err(Error::Timeout(Timeout::Write));
                }
            }
        }
        Ok(progressed)
    }

    /// Reads what the socket has into the read buffer. `Ok(true)` if anything was read.
    fn poll_read_in(&mut self, cx: &mut Context<'_>) -> Result<bool, Error> {
        // A large reply (its length known from its header) gets exactly the
        // room it still needs: asking for a whole READ_CHUNK near its end
        // would make the buffer double (a 1 MiB GET peaking at 3 MiB).
        let need = self.decoder.bytes_needed();
        let missing = need.saturating_sub(self.rbuf.len());
        let want = if missing > 0 && need > BIG_FRAME { missing } else { missing.max(READ_CHUNK) };
        let want = want.min(MAX_RESERVE);
        self.rbuf.reserve(want);
        match tokio_util::io::poll_read_buf(Pin::new(&mut self.io), cx, &mut self.rbuf) {
            Poll::Ready(Ok(0)) => {
                let msg = if self.rbuf.is_empty() {
                    "the server closed the connection"
                } else {
                    "the server closed the connection in the middle of a reply"
                };
                Err(Error::io(io::Error::new(io::ErrorKind::UnexpectedEof, msg)))
            }
            Poll::Ready(Ok(_)) => {
                self.last_read = Instant::now();
                Ok(true)
            }
            Poll::Ready(Err(e)) => Err(Error::io(e)),
            Poll::Pending => Ok(false),
        }
    }

    /// The [`Liveness`] checks, when their timer fires: a heartbeat `PING`
    /// that got no byte back in a whole period, or commands that waited a
    /// whole period (between two checks) with nothing at all read, make the
    /// connection dead; on an idle connection quiet for a heartbeat period,
    /// queues a `PING` (its reply goes nowhere) and returns `Ok(true)`.
    /// Runs only when the driver is about to sleep.
    fn poll_liveness(&mut self, cx: &mut Context<'_>) -> Result<bool, Error> {
        let Some(watch) = &mut self.liveness else { return Ok(false) };
        let mut queued = false;
        while watch.timer.as_mut().poll(cx).is_ready() {
            let now = Instant::now();
            let st = lock(&self.shared);
            let waiting = !st.slots.is_empty();
            drop(st);
            let mut due = now + Duration::from_secs(3600);
            if let Some(every) = watch.settings.heartbeat {
                match watch.ping_sent {
                    Some(sent) if self.last_read < sent && now >= sent + every => {
                        tracing::warn!(connection = self.id, "heartbeat unanswered; closing the connection");
                        return Err(Error::Timeout(Timeout::Unresponsive));
                    }
                    Some(sent) if self.last_read < sent => due = due.min(sent + every),
                    _ => {
                        watch.ping_sent = None;
                        watch.ping_reply = None;
                        if !waiting && now >= self.last_read + every {
                            let mut st = lock(&self.shared);
                            if st.out.is_empty() && st.closed.is_none() && st.slots.is_empty() {
                                let start = st.taken + st.out.len() as u64;
                                st.out.extend_from_slice(PING);
                                let (tx, rx) = oneshot::channel();
                                st.slots.push_back(Queued { start, slot: Slot::One(tx) });
                                // Held, so the PING counts as wanted, not
                                // given up; its reply itself is not needed.
                                watch.ping_reply = Some(rx);
                                watch.ping_sent = Some(now);
                                queued = true;
                            }
                        }
                        // In flight, commands have their own bounds; a PING
                        // would only queue behind them. Look again later.
                        let quiet_until = self.last_read + every;
                        due = due.min(if quiet_until > now { quiet_until } else { now + every });
                    }
                }
            }
            if let Some(limit) = watch.settings.unresponsive {
                watch.quiet_since = match watch.quiet_since {
                    _ if !waiting => None,
                    Some(since) if self.last_read < since => {
                        if now >= since + limit {
                            tracing::warn!(connection = self.id, ?limit, "commands waited with nothing read; closing");
                            return Err(Error::Timeout(Timeout::Unresponsive));
                        }
                        Some(since)
                    }
                    _ => Some(now),
                };
                due = due.min(now + limit / CHECKS_PER_PERIOD);
            }
            watch.timer.as_mut().reset(due);
        }
        Ok(queued)
    }

    /// Hands the decoded replies to their slots, oldest first, under one
    /// lock of the state (and one of the pub/sub queue, when one is attached).
    fn dispatch(&mut self) -> Result<(), Error> {
        let Driver { shared, replies, done, woken, sent_any, id, .. } = self;
        let mut result = Ok(());
        if !*sent_any {
            if let Some(v) = replies.first() {
                // Taken as a reply, it would shift every reply after it.
                return Err(Error::protocol(format!("the server sent {} before any command", quote(v))));
            }
        }
        {
            let mut st = lock(shared);
            let queue = st.pubsub.clone();
            let mut q = queue.as_ref().map(PubSubQueue::lock);
            for v in replies.drain(..) {
                // Invalidations for a client-side cache (`st.feed`) are taken
                // in the order they are read, between the replies around
                // them; looked for only where no reply can be (a push, or
                // a frame with no command waiting: the RESP2 subscriber's
                // messages), so replies pay nothing for it.
                let v = match &mut q {
                    Some(_) if st.feed.as_ref().is_some_and(|feed| feed.take(&v)) => continue,
                    Some(q) => match route_pubsub(q, &st.slots, v, *id) {
                        Some(v) => v,
                        None => continue,
                    },
                    // Out-of-band, and no queue to take it: never a reply.
                    None if matches!(v, Value::Push(_)) => {
                        if !st.feed.as_ref().is_some_and(|feed| feed.take(&v)) {
                            unqueued_push(&v, *id);
                        }
                        continue;
                    }
                    None => v,
                };
                // Commands the server does not answer (`CLIENT REPLY`) get nothing.
                while matches!(st.slots.front().map(|q| &q.slot), Some(Slot::Unanswered)) {
                    st.slots.pop_front();
                }
                let state = &mut *st;
                match state.slots.front_mut().map(|q| &mut q.slot) {
                    None if state.feed.as_ref().is_some_and(|feed| feed.take(&v)) => {}
                    None => {
                        // Replies before this one still reach their callers.
                        result = Err(Error::protocol(match v {
                            // A server refusing a new client (`max number of
                            // clients reached`) says why before the command
                            // is even queued: keep its words.
                            Value::Error(e) => format!("the server sent an error before any command: {e}"),
                            _ => "the server sent a reply to a command that was never sent".to_owned(),
                        }));
                        break;
                    }
                    Some(Slot::Many { n, got, stop_at_error, .. }) => {
                        let end = *stop_at_error && matches!(v, Value::Error(_));
                        got.push(v);
                        if got.len() == *n || end {
                            done.push((st.slots.pop_front().expect("front exists").slot, None));
                        }
                    }
                    Some(Slot::One(_)) => done.push((st.slots.pop_front().expect("front exists").slot, Some(v))),
                    Some(Slot::Pair { first: first @ None, .. }) => *first = Some(Ok(v)),
                    Some(Slot::Pair { .. }) => done.push((st.slots.pop_front().expect("front exists").slot, Some(v))),
                    Some(Slot::Unanswered) => unreachable!("passed over above"),
                }
            }
        }
        replies.clear();
        *woken += done.len();
        // Wake callers outside the lock.
        for (slot, v) in done.drain(..) {
            match (slot, v) {
                (Slot::One(tx), Some(v)) => drop(tx.send(Ok(v))),
                (Slot::Pair { first, tx }, Some(v)) => drop(tx.send(match first {
                    Some(Ok(Value::Error(e))) => Err(Error::Redis(e)),
                    _ => Ok(v),
                })),
                (Slot::Many { got, tx, .. }, _) => drop(tx.send(Ok(got))),
                (Slot::One(_) | Slot::Pair { .. }, None) => unreachable!("single slots always carry their reply"),
                (Slot::Unanswered, _) => unreachable!("never done"),
            }
        }
        result
    }

    /// Whether to leave the socket unread for now: the pub/sub queue is
    /// full and no command waits for a reply (see the full-queue policy in
    /// [`crate::pubsub`]). Registers the driver to be woken when it drains.
    fn reading_paused(&self, cx: &Context<'_>) -> bool {
        let st = lock(&self.shared);
        let Some(queue) = &st.pubsub else { return false };
        let mut q = queue.lock();
        if q.is_full() && st.slots.is_empty() {
            q.pause_driver(cx.waker());
            true
        } else {
            false
        }
    }

    /// Decodes the whole frames in the read buffer and hands them out.
    /// Returns `Ok(false)` when it stopped because the pub/sub queue is full:
    /// then the rest stays buffered, and the socket unread, until a reader
    /// makes room.
    ///
    /// With a bounded pub/sub queue attached, frames are handed out one at a
    /// time so the queue's bound holds exactly; otherwise in one batch.
    fn drain_frames(&mut self, cx: &Context<'_>, one_at_a_time: bool) -> Result<bool, Error> {
        loop {
            if one_at_a_time && self.reading_paused(cx) {
                return Ok(false);
            }
            match self.decoder.decode(&mut self.rbuf) {
                Ok(Some(v)) => {
                    self.replies.push(v);
                    if one_at_a_time {
                        self.dispatch()?;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    // Replies before the garbage still reach their callers.
                    self.dispatch()?;
                    return Err(e);
                }
            }
        }
        if !self.replies.is_empty() {
            self.dispatch()?;
        }
        if self.rbuf.is_empty() && self.rbuf.capacity() > MAX_IDLE_CAPACITY {
            self.rbuf = BytesMut::with_capacity(READ_CHUNK);
        }
        Ok(true)
    }

    fn step(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        for _ in 0..BUDGET {
            let one_at_a_time = {
                let mut st = lock(&self.shared);
                if st.closed.is_some() {
                    return Poll::Ready(Ok(()));
                }
                if st.retiring && st.slots.is_empty() {
                    // Retired, and nobody waits for a reply any more.
                    st.closed = Some(Error::Closed("connection"));
                    return Poll::Ready(Ok(()));
                }
                st.busy = true;
                st.last_read = self.last_read;
                if self.wbuf.is_empty() && !st.out.is_empty() {
                    if mem::take(&mut self.stalled) {
                        st.purge_unsent();
                    }
                    mem::swap(&mut self.wbuf, &mut st.out);
                    st.taken += self.wbuf.len() as u64;
                }
                st.pubsub.as_ref().is_some_and(PubSubQueue::is_bounded)
            };
            let wrote = self.poll_write_out(cx)?;
            let mut read = false;
            if self.drain_frames(cx, one_at_a_time)? {
                read = self.poll_read_in(cx)?;
                if read {
                    self.drain_frames(cx, one_at_a_time)?;
                }
            }
            if mem::take(&mut self.woken) > 1 {
                // Several callers were just woken, and most will send again
                // at once: yield (staying busy, so they need not wake us) to
                // let them queue their commands first, then write them all
                // in one go. Woken by a caller instead, the driver would run
                // right after the first one and write its command alone.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            if !wrote && !read && !self.poll_liveness(cx)? && self.sleep(cx) {
                return Poll::Pending;
            }
        }
        // Plenty done: let other tasks run, then carry on.
        self.sleep(cx);
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Registers to be woken for new commands, unless some came in (or the
    /// connection was closed) since the last look: then `false`, and the
    /// caller goes round again.
    fn sleep(&mut self, cx: &Context<'_>) -> bool {
        let mut st = lock(&self.shared);
        if st.closed.is_some() || (st.retiring && st.slots.is_empty()) || (self.wbuf.is_empty() && !st.out.is_empty()) {
            return false;
        }
        st.busy = false;
        st.last_read = self.last_read;
        match &st.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => st.waker = Some(cx.waker().clone()),
        }
        true
    }
}

/// Takes pub/sub traffic out of the reply stream: messages go to the queue,
/// other pushes are dropped, and confirmations (replies to the (un)subscribe
/// commands) update what the queue is subscribed to. Returns what is left
/// for the command at the head of the queue, if anything.
fn route_pubsub(q: &mut QueueState, slots: &VecDeque<Queued>, v: Value, id: u64) -> Option<Value> {
    let v = q.monitor_line(v, answered_waiting(slots))?;
    let subscribed = q.subscriptions() > 0;
    // In RESP2 a confirmation is a plain array: read arrays as pub/sub
    // frames while subscribed, or while a (un)subscribe waits for its own.
    let answered = slots.iter().map(|q| &q.slot).find(|s| !matches!(s, Slot::Unanswered));
    let confirming = matches!(answered, Some(Slot::Many { stop_at_error: true, .. }));
    match pubsub::classify(&v, subscribed || confirming) {
        Incoming::Message(m) => {
            if m.kind == MessageKind::Unknown {
                tracing::warn!(connection = id, frame = ?m.frame, "an out-of-band message of an unknown kind: queued as Unknown");
            }
            q.push(m);
            None
        }
        Incoming::Confirmation { family: Family::Shard, subscribe: false, channel: Some(channel) } if !confirming => {
            // No SUNSUBSCRIBE asked for this: the server dropped a shard
            // channel whose slot left this node (cluster resharding).
            q.shard_channel_moved(channel);
            None
        }
        Incoming::Confirmation { family, subscribe, channel } => {
            if q.confirm(family, subscribe, channel) {
                q.close(None);
            }
            Some(v)
        }
        Incoming::Reply if subscribed => Some(pong_as_reply(v)),
        Incoming::Reply => Some(v),
    }
}

/// Whether a command waits for a reply (commands sent while `CLIENT
/// REPLY` is off wait for none).
fn answered_waiting(slots: &VecDeque<Queued>) -> bool {
    slots.iter().any(|q| !matches!(q.slot, Slot::Unanswered))
}

/// A push read where no pub/sub queue takes messages (a connection with
/// `CLIENT TRACKING` on and no subscriber, say): logged, and dropped.
fn unqueued_push(v: &Value, id: u64) {
    match pubsub::classify(v, false) {
        Incoming::Message(m) if m.kind == MessageKind::Invalidate => {
            tracing::debug!(connection = id, keys = ?m.invalidated, "an invalidation with no queue to take it: dropped");
        }
        _ => tracing::warn!(connection = id, frame = ?v, "a push with no queue to take it: dropped"),
    }
}

/// A frame the server sent, shortened for an error message.
pub(crate) fn quote(v: &Value) -> String {
    const MAX: usize = 120;
    let text = match v {
        Value::Simple(b) | Value::Bulk(b) => format!("{:?}", String::from_utf8_lossy(b)),
        Value::Error(e) => format!("the error {e:?}"),
        other => format!("{other:?}"),
    };
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}

/// In RESP2 subscribed mode the server answers `PING` with
/// `["pong", message]`; give the caller what `PING` answers otherwise.
fn pong_as_reply(v: Value) -> Value {
    match v {
        Value::Array(mut items)
            if items.len() == 2 && items[0].as_bytes().is_some_and(|k| k.eq_ignore_ascii_case(b"pong")) =>
        {
            match items.pop() {
                Some(Value::Bulk(msg)) if !msg.is_empty() => Value::Bulk(msg),
                _ => Value::Simple(bytes::Bytes::from_static(b"PONG")),
            }
        }
        v => v,
    }
}

impl Future for Driver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        match this.step(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => {
                tracing::debug!(connection = this.id, "connection closed");
                Poll::Ready(())
            }
            Poll::Ready(Err(err)) => {
                tracing::warn!(connection = this.id, error = %err, "connection failed");
                let slots = lock(&this.shared).shut(&err);
                for q in slots {
                    q.slot.fail(&err);
                }
                Poll::Ready(())
            }
        }
    }
}
