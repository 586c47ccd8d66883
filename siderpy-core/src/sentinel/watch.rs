//! The task that follows failovers: subscribed to `+switch-master` on every
//! sentinel (the first to announce a switch wins; a lost subscription is
//! made again), and asking the sentinels every poll interval in case an
//! event was missed, or every [`FAST_POLL`] while clients cannot reach the
//! master they were given.
//!
//! It holds the clients' shared state only weakly, and ends when the last
//! handle drops it (its `stop` channel closes): the subscribed connections,
//! owned by its listeners, close with it.

use std::sync::Weak;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use crate::client::Redis;
use crate::commands::ConnectionCommands;
use crate::info::Addr;
use crate::trace as tracing;

use super::Shared;

/// The event a sentinel publishes when it has switched a master.
const SWITCH_MASTER: &str = "+switch-master";

/// How often the sentinels are asked while the master's address is in
/// doubt (a client could not reach it, or found it in the wrong role): a
/// failover is then under way, and its end should be seen at once.
pub(super) const FAST_POLL: Duration = Duration::from_millis(100);

pub(super) async fn watch(shared: Weak<Shared>, mut stop: oneshot::Receiver<()>) {
    let Some(count) = shared.upgrade().map(|s| s.sentinels.len()) else { return };
    // Events are rare: a switch per sentinel at most, between two reads.
    let (tx, mut events) = mpsc::channel(count.max(1) * 4);
    // Dropped with this task: every listener ends (aborted) with it.
    let mut listeners = JoinSet::new();
    for at in 0..count {
        listeners.spawn(listen(shared.clone(), at, tx.clone()));
    }
    drop(tx);
    loop {
        let Some(pause) = shared.upgrade().map(|s| if s.lock().fresh { s.poll_interval } else { FAST_POLL }) else {
            return;
        };
        let doubt = async {
            match shared.upgrade() {
                Some(s) => {
                    let doubt = s.doubt.clone();
                    drop(s);
                    doubt.notified().await
                }
                None => std::future::pending().await,
            }
        };
        let poll = tokio::select! {
            _ = &mut stop => return,
            Some(addr) = events.recv() => {
                let Some(shared) = shared.upgrade() else { return };
                tracing::info!(master = %shared.name, to = %addr, "+switch-master");
                shared.set_master(addr);
                false
            }
            () = doubt => true,
            () = tokio::time::sleep(pause) => true,
        };
        if poll {
            let Some(shared) = shared.upgrade() else { return };
            // Each sentinel's answer is bounded by the sentinel timeout.
            let asked = tokio::select! {
                _ = &mut stop => return,
                asked = shared.discover_master() => asked,
            };
            if let Ok(addr) = asked {
                shared.set_master(addr);
            }
        }
    }
}

/// Listens for [`SWITCH_MASTER`] on the `at`-th sentinel, subscribing
/// again (every poll interval) when the subscription fails; sends the new
/// addresses of this master to `events`.
async fn listen(shared: Weak<Shared>, at: usize, events: mpsc::Sender<Addr>) {
    loop {
        let Some((handle, name, timeout, pause)) = shared.upgrade().map(|s| {
            // A handle of its own: subscribing moves it to a connection it owns.
            (s.sentinels[at].1.clone(), s.name.clone(), s.timeout, s.poll_interval)
        }) else {
            return;
        };
        match tokio::time::timeout(timeout, handle.subscribe(SWITCH_MASTER)).await {
            Ok(Ok(_)) => {
                let queue = handle.pubsub_queue();
                while let Ok(message) = queue.recv().await {
                    if let Some(addr) = switched_to(&message.payload, &name) {
                        if events.send(addr).await.is_err() {
                            return;
                        }
                    }
                }
                tracing::debug!(sentinel = at, "the subscription to a sentinel ended");
            }
            Ok(Err(e)) => tracing::debug!(sentinel = at, error = %e, "could not subscribe to +switch-master"),
            Err(_) => tracing::debug!(sentinel = at, "subscribing to +switch-master timed out"),
        }
        drop::<Redis>(handle);
        tokio::time::sleep(pause).await;
    }
}

/// The new address in a `+switch-master` payload
/// (`<name> <old-ip> <old-port> <new-ip> <new-port>`) for master `name`.
fn switched_to(payload: &[u8], name: &str) -> Option<Addr> {
    let text = std::str::from_utf8(payload).ok()?;
    let words: Vec<&str> = text.split(' ').collect();
    match words.as_slice() {
        [n, _, _, host, port] if *n == name => Some(Addr::Tcp { host: (*host).to_owned(), port: port.parse().ok()? }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_switch_master_for_its_own_master_only() {
        let to = switched_to(b"mymaster 127.0.0.1 6379 127.0.0.1 6380", "mymaster");
        assert_eq!(to, Some(Addr::Tcp { host: "127.0.0.1".into(), port: 6380 }));
        assert_eq!(switched_to(b"other 127.0.0.1 6379 127.0.0.1 6380", "mymaster"), None);
        assert_eq!(switched_to(b"mymaster 127.0.0.1 6379 127.0.0.1", "mymaster"), None);
        assert_eq!(switched_to(b"mymaster 1 2 h port", "mymaster"), None);
    }
}
