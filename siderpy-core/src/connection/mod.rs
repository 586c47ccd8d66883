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
//! arrives in order and is discarded, so nobody else's reply shifts.

mod driver;
pub(crate) mod transport;
mod wait;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

use bytes::BytesMut;
use tokio::sync::oneshot;

use crate::args::CmdArgs;
use crate::error::{Error, Result};
use crate::pubsub::PubSubQueue;
use crate::resp::Limits;
use crate::value::Value;

pub(crate) use driver::Driver;
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
}

impl Slot {
    fn fail(self, err: &Error) {
        match self {
            Slot::One(tx) => drop(tx.send(Err(err.clone()))),
            Slot::Many { tx, .. } => drop(tx.send(Err(err.clone()))),
        }
    }
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
    /// One entry per command (or batch) written or queued, oldest first.
    pub(crate) slots: VecDeque<Slot>,
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
}

/// A handle to one open connection. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Connection {
    shared: Arc<Mutex<State>>,
    /// Sequence number of the connection for this client, for logs.
    pub(crate) id: u64,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("id", &self.id).field("open", &!self.is_closed()).finish()
    }
}

impl Connection {
    /// Starts a driver for `transport` and returns the handle callers use.
    ///
    /// Must be called within a tokio runtime.
    pub(crate) fn start(
        transport: Transport,
        limits: Limits,
        write_timeout: Option<std::time::Duration>,
        id: u64,
    ) -> Self {
        let shared = Arc::new(Mutex::new(State {
            out: BytesMut::with_capacity(16 * 1024),
            slots: VecDeque::new(),
            waker: None,
            busy: false,
            closed: None,
            pubsub: None,
        }));
        tokio::spawn(Driver::new(transport, Arc::clone(&shared), limits, write_timeout, id));
        Connection { shared, id }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.shared)
    }

    /// Whether both handles are to the same connection.
    pub(crate) fn same(&self, other: &Connection) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
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
            write(&mut st.out);
            st.slots.push_back(slot);
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
    /// unless the user closed the connection).
    pub(crate) fn close(&self, err: Error) {
        let (slots, waker) = {
            let mut st = self.lock();
            if st.closed.is_some() {
                return;
            }
            if let Some(queue) = st.pubsub.take() {
                let cause = (!matches!(err, Error::Closed(_))).then(|| err.clone());
                queue.lock().close(cause);
            }
            st.closed = Some(err.clone());
            (std::mem::take(&mut st.slots), st.waker.take())
        };
        for slot in slots {
            slot.fail(&err);
        }
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// Locks the state, recovering from poisoning: the state is consistent after
/// every statement that mutates it, so a panic elsewhere cannot corrupt it.
pub(crate) fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
