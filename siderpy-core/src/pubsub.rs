//! Pub/sub: the message queue a subscribed handle reads from.
//!
//! Subscribing pins the handle to a connection of its own (see
//! [`Redis`](crate::Redis), which also re-subscribes); that connection's driver puts every
//! `message`/`pmessage`/`smessage` it reads into the handle's
//! [`PubSubQueue`], and routes the (un)subscribe confirmations to the calls
//! that asked for them.
//!
//! # The full-queue policy
//! The queue holds at most `pubsub_queue_maxsize` messages (unbounded by
//! default). When it is full the driver stops reading the socket, so the
//! server buffers further messages (backpressure; nothing is dropped). While a
//! command is waiting for its reply on that connection (`UNSUBSCRIBE`,
//! `PING`...), the driver reads on regardless and queues messages past the
//! limit, so those commands return promptly even when nobody drains the
//! queue. `close()` never waits on the queue.

use std::collections::{HashSet, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

use crate::args::CmdArgs;
use crate::error::{Error, Result};
use crate::value::Value;

/// Which kind of subscription delivered a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// To a channel (`SUBSCRIBE`).
    Message,
    /// To a pattern (`PSUBSCRIBE`); [`Message::pattern`] is set.
    PMessage,
    /// To a shard channel (`SSUBSCRIBE`).
    SMessage,
    /// Client-side caching: keys whose cached values are stale
    /// ([`Message::invalidated`]). Sent to a connection with `CLIENT
    /// TRACKING` on (a RESP3 `invalidate` push), or published on
    /// [`INVALIDATE_CHANNEL`] to the subscriber named by `CLIENT TRACKING
    /// ... REDIRECT <id>`. [`Message::channel`] is that channel.
    Invalidate,
    /// A push (or, while subscribed on RESP2, a message) of a shape this
    /// version does not know, kept whole in [`Message::frame`]; it is also
    /// logged (a `tracing` warning). It is never taken as a reply.
    Unknown,
    /// A line of `MONITOR` output, in [`Message::payload`]; only on the
    /// connection of a [`Monitor`](crate::Monitor), which parses it.
    Monitor,
}

/// The channel invalidation messages are published on (`CLIENT TRACKING
/// ... REDIRECT`), and the [`Message::channel`] of every
/// [`MessageKind::Invalidate`] message.
pub const INVALIDATE_CHANNEL: &[u8] = b"__redis__:invalidate";

/// One published message, or another out-of-band message from the server
/// (see [`MessageKind`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// How it was subscribed to.
    pub kind: MessageKind,
    /// The channel it was published to.
    pub channel: Bytes,
    /// The pattern that matched, for [`MessageKind::PMessage`].
    pub pattern: Option<Bytes>,
    /// What was published; empty for [`MessageKind::Invalidate`] and
    /// [`MessageKind::Unknown`].
    pub payload: Bytes,
    /// For [`MessageKind::Invalidate`]: the keys whose cached values are
    /// stale, or `None` when every key is (the server flushed its data).
    pub invalidated: Option<Vec<Bytes>>,
    /// For [`MessageKind::Unknown`]: the frame as the server sent it.
    pub frame: Option<Value>,
}

impl Message {
    fn published(kind: MessageKind, channel: Bytes, pattern: Option<Bytes>, payload: Bytes) -> Self {
        Message { kind, channel, pattern, payload, invalidated: None, frame: None }
    }

    /// An invalidation of `keys` (`Nil`: every key); `None` when `keys` is
    /// neither a list of keys nor nil.
    fn invalidation(pattern: Option<Bytes>, keys: &Value) -> Option<Self> {
        let invalidated = match keys {
            Value::Nil => None,
            Value::Array(keys) | Value::Set(keys) => {
                Some(keys.iter().map(|k| k.as_bytes().cloned()).collect::<Option<_>>()?)
            }
            _ => return None,
        };
        Some(Message {
            kind: MessageKind::Invalidate,
            channel: Bytes::from_static(INVALIDATE_CHANNEL),
            pattern,
            payload: Bytes::new(),
            invalidated,
            frame: None,
        })
    }

    /// A frame of a shape this version does not know, kept whole.
    pub(crate) fn unknown(frame: Value) -> Self {
        let channel = match &frame {
            Value::Push(items) | Value::Array(items) => items.first().and_then(Value::as_bytes).cloned(),
            _ => None,
        };
        Message {
            kind: MessageKind::Unknown,
            channel: channel.unwrap_or_default(),
            pattern: None,
            payload: Bytes::new(),
            invalidated: None,
            frame: Some(frame),
        }
    }
}

/// The families of subscriptions the server counts separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Channel,
    Pattern,
    Shard,
}

impl Family {
    /// The family a (un)subscribe command or confirmation belongs to, and
    /// whether it subscribes.
    pub(crate) fn of(kind: &[u8]) -> Option<(Family, bool)> {
        // Asked for every command sent: compare in place, allocating nothing.
        const KINDS: [(&[u8], Family, bool); 6] = [
            (b"subscribe", Family::Channel, true),
            (b"unsubscribe", Family::Channel, false),
            (b"psubscribe", Family::Pattern, true),
            (b"punsubscribe", Family::Pattern, false),
            (b"ssubscribe", Family::Shard, true),
            (b"sunsubscribe", Family::Shard, false),
        ];
        KINDS
            .iter()
            .find(|(name, ..)| name.eq_ignore_ascii_case(kind))
            .map(|&(_, family, subscribe)| (family, subscribe))
    }
}

/// What a frame read on a pub/sub connection is.
pub(crate) enum Incoming {
    /// A published message, an invalidation, or an unknown push: it goes
    /// to the queue.
    Message(Message),
    /// A (un)subscribe confirmation: a reply to the command at the head.
    Confirmation { family: Family, subscribe: bool, channel: Option<Bytes> },
    /// An ordinary reply.
    Reply,
}

fn bytes_of(v: &Value) -> Option<&Bytes> {
    v.as_bytes()
}

/// The message kinds of pub/sub frames (`["message", channel, payload]`...).
const MESSAGE: &[u8] = b"message";
const PMESSAGE: &[u8] = b"pmessage";
const SMESSAGE: &[u8] = b"smessage";
/// The RESP3 push of `CLIENT TRACKING` (`[invalidate, keys]`).
const INVALIDATE: &[u8] = b"invalidate";

/// Classifies a frame. `subscribed` says whether a RESP2 connection is in
/// subscribed mode, where arrays can be messages; RESP3 marks them as pushes.
///
/// Every push is out-of-band (never a reply): what is not a message, a
/// confirmation or an invalidation is [`MessageKind::Unknown`]. On RESP2 an
/// array is a reply unless it names a message kind.
pub(crate) fn classify(frame: &Value, subscribed: bool) -> Incoming {
    let items = match frame {
        Value::Push(items) => items,
        Value::Array(items) if subscribed => items,
        _ => return Incoming::Reply,
    };
    let push = matches!(frame, Value::Push(_));
    let kind = items.first().and_then(bytes_of).map(|b| &b[..]);
    // A message whose payload is no string: on the invalidation channel,
    // the keys of an invalidation (an array, or nil for "every key").
    let publish = |kind, channel: &Value, pattern: Option<&Value>, payload: &Value| {
        let channel = bytes_of(channel)?;
        let pattern = match pattern {
            Some(p) => Some(bytes_of(p)?.clone()),
            None => None,
        };
        match bytes_of(payload) {
            Some(payload) => Some(Message::published(kind, channel.clone(), pattern, payload.clone())),
            None if channel[..] == *INVALIDATE_CHANNEL => Message::invalidation(pattern, payload),
            None => None,
        }
    };
    let known = matches!(kind, Some(MESSAGE | PMESSAGE | SMESSAGE | INVALIDATE));
    let parsed = match (kind, items.as_slice()) {
        (Some(MESSAGE), [_, ch, payload]) => publish(MessageKind::Message, ch, None, payload),
        (Some(SMESSAGE), [_, ch, payload]) => publish(MessageKind::SMessage, ch, None, payload),
        (Some(PMESSAGE), [_, pattern, ch, payload]) => publish(MessageKind::PMessage, ch, Some(pattern), payload),
        (Some(INVALIDATE), [_, keys]) if push => Message::invalidation(None, keys),
        (Some(kind), [_, channel, Value::Int(_)]) => {
            if let Some((family, subscribe)) = Family::of(kind) {
                let channel = bytes_of(channel).cloned();
                return Incoming::Confirmation { family, subscribe, channel };
            }
            None
        }
        _ => None,
    };
    match parsed {
        Some(m) => Incoming::Message(m),
        // Rare: the frame is kept whole, for the user to look at.
        None if push || known => Incoming::Message(Message::unknown(frame.clone())),
        None => Incoming::Reply,
    }
}

/// The queue of messages for one handle, and what it is subscribed to.
///
/// Cheap to clone: clones read from the same queue. It is also a
/// [`Stream`](futures_core::Stream) of messages.
#[derive(Clone)]
pub struct PubSubQueue {
    shared: Arc<Mutex<QueueState>>,
}

impl std::fmt::Debug for PubSubQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.lock();
        f.debug_struct("PubSubQueue")
            .field("len", &st.messages.len())
            .field("maxsize", &st.maxsize)
            .field("channels", &st.channels.len())
            .field("patterns", &st.patterns.len())
            .field("shard_channels", &st.shards.len())
            .field("closed", &st.closed.is_some())
            .finish()
    }
}

pub(crate) struct QueueState {
    messages: VecDeque<Message>,
    maxsize: Option<usize>,
    /// Set when the queue closes; the cause when the connection failed.
    closed: Option<Option<Error>>,
    readers: Vec<Waker>,
    /// The driver paused reading because the queue was full.
    driver: Option<Waker>,
    pub(crate) channels: HashSet<Bytes>,
    pub(crate) patterns: HashSet<Bytes>,
    pub(crate) shards: HashSet<Bytes>,
    /// With re-subscribing on: told when the connection fails, instead of
    /// the queue closing.
    interruptions: Option<Arc<tokio::sync::Notify>>,
    /// For a cluster subscriber: told when the server drops shard channels
    /// whose slot moved (listed in `moved_shards`), to subscribe again where
    /// the slot went.
    moves: Option<Arc<tokio::sync::Notify>>,
    moved_shards: Vec<Bytes>,
    /// The queue of a `MONITOR` connection: simple strings arriving while
    /// no command waits are monitor lines.
    monitor: bool,
    /// Not closed by the last unsubscribe (see [`keep_open`](Self::keep_open)).
    keep_open: bool,
}

impl PubSubQueue {
    pub(crate) fn new(maxsize: Option<usize>) -> Self {
        PubSubQueue {
            shared: Arc::new(Mutex::new(QueueState {
                messages: VecDeque::new(),
                maxsize,
                closed: None,
                readers: Vec::new(),
                driver: None,
                channels: HashSet::new(),
                patterns: HashSet::new(),
                shards: HashSet::new(),
                interruptions: None,
                moves: None,
                moved_shards: Vec::new(),
                monitor: false,
                keep_open: false,
            })),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A queue for the lines of a `MONITOR` connection.
    pub(crate) fn for_monitor(maxsize: Option<usize>) -> Self {
        let queue = PubSubQueue::new(maxsize);
        queue.lock().monitor = true;
        queue
    }

    /// Whether the queue has a bound (`pubsub_queue_maxsize`).
    pub(crate) fn is_bounded(&self) -> bool {
        self.lock().maxsize.is_some()
    }

    /// Waits for the next message.
    ///
    /// # Errors
    /// [`Error::QueueClosed`] once the queue is closed and drained: after the
    /// last unsubscribe, `close()`, or a connection failure (its `cause`).
    /// Subscribing again reopens it.
    pub async fn recv(&self) -> Result<Message> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The next message if one is queued, without waiting.
    ///
    /// # Errors
    /// [`Error::QueueClosed`] when the queue is closed and drained.
    pub fn try_recv(&self) -> Result<Option<Message>> {
        let mut st = self.lock();
        match st.pop() {
            Some(m) => Ok(Some(m)),
            None => match &st.closed {
                Some(cause) => Err(Error::QueueClosed { cause: cause.clone().map(Box::new) }),
                None => Ok(None),
            },
        }
    }

    /// Turns connection failures into interruptions a re-subscriber handles.
    pub(crate) fn watch_interruptions(&self) -> Arc<tokio::sync::Notify> {
        let notify = Arc::new(tokio::sync::Notify::new());
        self.lock().interruptions = Some(Arc::clone(&notify));
        notify
    }

    /// Has shard channels the server drops (their slot moved) reported,
    /// instead of ending those subscriptions: see
    /// [`take_moved_shards`](QueueState::take_moved_shards).
    pub(crate) fn follow_moved_shards(&self) -> Arc<tokio::sync::Notify> {
        let notify = Arc::new(tokio::sync::Notify::new());
        self.lock().moves = Some(Arc::clone(&notify));
        notify
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed.is_some()
    }

    /// Messages waiting to be read.
    pub fn len(&self) -> usize {
        self.lock().messages.len()
    }

    /// True when no message is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Result<Message>> {
        let mut st = self.lock();
        if let Some(m) = st.pop() {
            return Poll::Ready(Ok(m));
        }
        if let Some(cause) = &st.closed {
            return Poll::Ready(Err(Error::QueueClosed { cause: cause.clone().map(Box::new) }));
        }
        if !st.readers.iter().any(|w| w.will_wake(cx.waker())) {
            st.readers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl QueueState {
    fn pop(&mut self) -> Option<Message> {
        let was_full = self.is_full();
        let m = self.messages.pop_front()?;
        if was_full && !self.is_full() {
            if let Some(w) = self.driver.take() {
                w.wake();
            }
        }
        Some(m)
    }

    fn wake_readers(&mut self) {
        for w in self.readers.drain(..) {
            w.wake();
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.maxsize.is_some_and(|max| self.messages.len() >= max)
    }

    /// Registers the driver to be woken when a reader makes room.
    pub(crate) fn pause_driver(&mut self, waker: &Waker) {
        self.driver = Some(waker.clone());
    }

    pub(crate) fn push(&mut self, m: Message) {
        self.messages.push_back(m);
        self.wake_readers();
    }

    /// Takes `frame` as a monitor line, if this is a monitor's queue and it
    /// is one (a simple string no command waits for); gives it back if not.
    pub(crate) fn monitor_line(&mut self, frame: Value, awaited: bool) -> Option<Value> {
        match frame {
            Value::Simple(line) if self.monitor && !awaited => {
                self.push(Message::published(MessageKind::Monitor, Bytes::new(), None, line));
                None
            }
            frame => Some(frame),
        }
    }

    /// Keeps the queue open after the last unsubscribe: it also takes the
    /// connection's invalidations (`CLIENT TRACKING`).
    pub(crate) fn keep_open(&mut self) {
        self.keep_open = true;
    }

    /// Records a confirmation; returns true when it ended the last
    /// subscription (and the queue is to close with it).
    pub(crate) fn confirm(&mut self, family: Family, subscribe: bool, channel: Option<Bytes>) -> bool {
        let set = match family {
            Family::Channel => &mut self.channels,
            Family::Pattern => &mut self.patterns,
            Family::Shard => &mut self.shards,
        };
        match (subscribe, channel) {
            (true, Some(ch)) => {
                set.insert(ch);
                self.closed = None;
            }
            (false, Some(ch)) => {
                set.remove(&ch);
            }
            (false, None) => set.clear(),
            (true, None) => {}
        }
        !subscribe && self.subscriptions() == 0 && !self.keep_open
    }

    /// The server dropped `channel` because its slot left the node: a
    /// queue that follows moves keeps it for re-subscribing; otherwise the
    /// subscription just ends (closing the queue if it was the last).
    pub(crate) fn shard_channel_moved(&mut self, channel: Bytes) {
        if !self.shards.remove(&channel) {
            return;
        }
        match &self.moves {
            Some(notify) => {
                self.moved_shards.push(channel);
                notify.notify_one();
            }
            None if self.subscriptions() == 0 => self.close(None),
            None => {}
        }
    }

    /// The shard channels dropped by their server since the last call.
    pub(crate) fn take_moved_shards(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.moved_shards)
    }

    /// Opens the queue again for a new subscription.
    pub(crate) fn reopen(&mut self) {
        self.closed = None;
    }

    /// How many subscriptions of every family are open.
    pub(crate) fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len() + self.shards.len()
    }

    /// How many confirmations an unsubscribe of `family` with no arguments
    /// will bring: one per subscription, or a single one when there is none.
    pub(crate) fn unsubscribe_all_replies(&self, family: Family) -> usize {
        let n = match family {
            Family::Channel => self.channels.len(),
            Family::Pattern => self.patterns.len(),
            Family::Shard => self.shards.len(),
        };
        n.max(1)
    }

    /// Closes the queue; readers drain it, then get `QueueClosed` with
    /// `cause`. A connection failure (`cause` set) while re-subscribing is
    /// on only interrupts it: the re-subscriber is told, and the queue and
    /// its subscriptions stay as they are.
    pub(crate) fn close(&mut self, cause: Option<Error>) {
        if let (Some(_), Some(notify)) = (&cause, &self.interruptions) {
            if self.subscriptions() > 0 {
                notify.notify_one();
                return;
            }
        }
        self.force_close(cause);
    }

    /// Closes the queue whatever the re-subscribing setting.
    pub(crate) fn force_close(&mut self, cause: Option<Error>) {
        if self.closed.is_none() {
            self.closed = Some(cause);
        }
        self.channels.clear();
        self.patterns.clear();
        self.shards.clear();
        self.wake_readers();
        if let Some(w) = self.driver.take() {
            w.wake();
        }
        if let Some(notify) = &self.interruptions {
            notify.notify_one();
        }
    }

    /// The commands that restore every subscription, each with how many
    /// confirmations it brings.
    pub(crate) fn resubscribe_commands(&self) -> Vec<(CmdArgs, usize)> {
        [("SUBSCRIBE", &self.channels), ("PSUBSCRIBE", &self.patterns), ("SSUBSCRIBE", &self.shards)]
            .into_iter()
            .filter(|(_, set)| !set.is_empty())
            .map(|(name, set)| {
                let mut cmd = CmdArgs::with_name(name);
                cmd.multiple(1, None, set.iter());
                (cmd, set.len())
            })
            .collect()
    }
}

impl futures_core::Stream for PubSubQueue {
    type Item = Result<Message>;

    /// Ends (`None`) when the queue closes normally; a connection failure is
    /// one last `Err` item carrying the cause.
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.poll_recv(cx) {
            Poll::Ready(Ok(m)) => Poll::Ready(Some(Ok(m))),
            Poll::Ready(Err(Error::QueueClosed { cause: None })) => Poll::Ready(None),
            Poll::Ready(Err(e)) => {
                // Report the failure once, then end.
                self.lock().closed = Some(None);
                Poll::Ready(Some(Err(e)))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// How many times a failed pub/sub connection is re-established before its
/// queue closes, when [re-subscribing](crate::RedisBuilder::resubscribe) is on.
pub const RESUBSCRIBE_ATTEMPTS: u32 = 20;
#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::Bulk(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn message(frame: Value, subscribed: bool) -> Message {
        match classify(&frame, subscribed) {
            Incoming::Message(m) => m,
            _ => panic!("{frame:?} is not a message"),
        }
    }

    #[test]
    fn invalidations_are_typed_messages() {
        let keys = Value::Array(vec![bulk("a"), bulk("b")]);
        // RESP2, subscribed to the channel CLIENT TRACKING ... REDIRECT publishes on.
        let resp2 = Value::Array(vec![bulk("message"), bulk("__redis__:invalidate"), keys.clone()]);
        let m = message(resp2, true);
        assert_eq!(m.kind, MessageKind::Invalidate);
        assert_eq!(m.channel, Bytes::from_static(INVALIDATE_CHANNEL));
        assert_eq!(m.invalidated, Some(vec![Bytes::from("a"), Bytes::from("b")]));
        // RESP3 tracking push; nil means every key (a flush).
        let m = message(Value::Push(vec![bulk("invalidate"), keys]), false);
        assert_eq!((m.kind, m.invalidated.map(|k| k.len())), (MessageKind::Invalidate, Some(2)));
        let m = message(Value::Push(vec![bulk("invalidate"), Value::Nil]), false);
        assert_eq!((m.kind, m.invalidated), (MessageKind::Invalidate, None));
        let m = message(Value::Push(vec![bulk("message"), bulk("__redis__:invalidate"), Value::Nil]), true);
        assert_eq!(m.kind, MessageKind::Invalidate);
    }

    #[test]
    fn unknown_pushes_are_kept_never_replies() {
        let odd = Value::Push(vec![bulk("something-new"), Value::Int(1), bulk("x")]);
        let m = message(odd.clone(), false);
        assert_eq!((m.kind, m.channel.as_ref(), m.frame), (MessageKind::Unknown, &b"something-new"[..], Some(odd)));
        // A message whose payload is no string, off the invalidation channel.
        let odd = Value::Array(vec![bulk("message"), bulk("ch"), Value::Array(vec![])]);
        assert_eq!(message(odd, true).kind, MessageKind::Unknown);
        // A message kind of the wrong arity.
        assert_eq!(message(Value::Array(vec![bulk("message"), bulk("ch")]), true).kind, MessageKind::Unknown);
        // RESP2 arrays that name no message kind are replies (PING's `pong`).
        assert!(matches!(classify(&Value::Array(vec![bulk("pong"), bulk("")]), true), Incoming::Reply));
        assert!(matches!(
            classify(&Value::Array(vec![bulk("message"), bulk("ch"), bulk("p")]), false),
            Incoming::Reply
        ));
    }

    #[test]
    fn published_messages_and_confirmations() {
        let m = message(Value::Push(vec![bulk("pmessage"), bulk("p*"), bulk("pa"), bulk("hi")]), false);
        assert_eq!((m.kind, m.pattern, m.payload), (MessageKind::PMessage, Some(Bytes::from("p*")), Bytes::from("hi")));
        let c = classify(&Value::Array(vec![bulk("ssubscribe"), bulk("s"), Value::Int(1)]), true);
        assert!(matches!(c, Incoming::Confirmation { family: Family::Shard, subscribe: true, channel: Some(_) }));
    }
}
