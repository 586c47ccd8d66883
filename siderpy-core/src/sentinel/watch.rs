//! The task that follows failovers: subscribed to `+switch-master` on one
//! sentinel at a time (the next one when it fails), and asking the
//! sentinels every poll interval in case an event was missed.
//!
//! It holds the clients' shared state only weakly, and ends when the last
//! handle drops it (its `stop` channel closes): the subscribed connection,
//! which it owns, closes with it.

use std::sync::Weak;

use tokio::sync::oneshot;
use tokio::time::MissedTickBehavior;

use crate::commands::ConnectionCommands;
use crate::info::Addr;
use crate::pubsub::PubSubQueue;
use crate::trace as tracing;

use super::Shared;

/// The event a sentinel publishes when it has switched a master.
const SWITCH_MASTER: &str = "+switch-master";

pub(super) async fn watch(shared: Weak<Shared>, mut stop: oneshot::Receiver<()>) {
    let Some(poll_interval) = shared.upgrade().map(|s| s.poll_interval) else { return };
    let mut poll = tokio::time::interval(poll_interval);
    poll.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // The subscribed handle (which owns its connection) and its queue.
    let mut subscribed: Option<(crate::client::Redis, PubSubQueue)> = None;
    let mut turn = 0usize;
    loop {
        let event = async {
            match &subscribed {
                Some((_, queue)) => queue.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut stop => return,
            message = event => match message {
                Ok(message) => {
                    let Some(shared) = shared.upgrade() else { return };
                    if let Some(addr) = switched_to(&message.payload, &shared.name) {
                        tracing::info!(master = %shared.name, to = %addr, "+switch-master");
                        shared.set_master(addr);
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "the subscription to a sentinel ended; trying the next");
                    subscribed = None;
                    turn += 1;
                }
            },
            _ = poll.tick() => {
                let Some(shared) = shared.upgrade() else { return };
                // The sentinels' answer, bounded by their timeout each.
                let asked = tokio::select! {
                    _ = &mut stop => return,
                    asked = shared.discover_master() => asked,
                };
                if let Ok(addr) = asked {
                    shared.set_master(addr);
                }
                if subscribed.is_none() {
                    subscribed = tokio::select! {
                        _ = &mut stop => return,
                        s = subscribe(&shared, turn) => s,
                    };
                    if subscribed.is_none() {
                        turn += 1;
                    }
                }
            }
        }
    }
}

/// Subscribes to [`SWITCH_MASTER`] on the `turn`-th sentinel (modulo
/// their number), within the sentinel timeout.
async fn subscribe(shared: &Shared, turn: usize) -> Option<(crate::client::Redis, PubSubQueue)> {
    let (addr, client) = &shared.sentinels[turn % shared.sentinels.len()];
    // A handle of its own: subscribing moves it to a connection it owns.
    let handle = client.clone();
    match tokio::time::timeout(shared.timeout, handle.subscribe(SWITCH_MASTER)).await {
        Ok(Ok(_)) => {
            tracing::debug!(sentinel = %addr, "subscribed to +switch-master");
            let queue = handle.pubsub_queue();
            Some((handle, queue))
        }
        Ok(Err(e)) => {
            tracing::debug!(sentinel = %addr, error = %e, "could not subscribe to +switch-master");
            None
        }
        Err(_) => None,
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
