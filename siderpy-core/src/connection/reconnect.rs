//! When to try connecting again: exponential backoff with jitter.
//!
//! While the server is down, every call that finds no connection would try
//! to connect on its own: thousands of callers, thousands of attempts, each
//! costing a connect timeout or a refused SYN, and callers failing one after
//! another for as long as it takes. Instead one failed attempt marks the
//! server down until the next attempt is due; calls in between fail at once
//! with [`Error::Unavailable`], saying why and when the next attempt is.

use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::error::Error;

/// How a client paces its attempts to connect after one failed.
///
/// After `n` failed attempts in a row the next may start after
/// `min(cap, base × 2ⁿ⁻¹)`, less a random part of up to half of it (so that
/// many clients of one server do not all come back at the same instant).
/// The first attempt after a connection was lost is never delayed. A
/// success starts the count over. With [`give_up_after`](Self::give_up_after),
/// the client stops trying after that many failures in a row, until
/// [`Redis::close`](crate::Redis::close).
///
/// Only failures to reach the server count (I/O, TLS, timeouts); a server
/// that answers the handshake, with a refusal (`WRONGPASS`) or with
/// something else, is reported as it is, every time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    give_up_after: Option<u32>,
}

impl Default for Backoff {
    /// 100 ms doubling to 2 s, never giving up: a restarted server is
    /// found within about 2 s, and a down one costs a client at most one
    /// attempt every second or so.
    fn default() -> Self {
        Backoff { base: Duration::from_millis(100), cap: Duration::from_secs(2), give_up_after: None }
    }
}

impl Backoff {
    /// A pause of `base` after the first failure, doubling after each
    /// further one up to `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Backoff { base, cap: cap.max(base), give_up_after: None }
    }

    /// Stops trying after `failures` failed attempts in a row: calls then
    /// fail with [`Error::Unavailable`] and no next attempt, until
    /// [`Redis::close`](crate::Redis::close).
    pub fn give_up_after(mut self, failures: u32) -> Self {
        self.give_up_after = Some(failures.max(1));
        self
    }

    /// The longest pause after `failures` failures in a row (`failures` ≥ 1).
    fn ceiling(&self, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        self.base.saturating_mul(1 << doublings).min(self.cap)
    }
}

/// The reconnect state of one client.
#[derive(Debug, Default)]
pub(crate) struct Reconnect {
    backoff: Backoff,
    state: Mutex<Down>,
}

#[derive(Debug, Default)]
struct Down {
    /// Failed attempts in a row.
    failures: u32,
    /// No attempt before this.
    next: Option<Instant>,
    /// Why the last attempt failed.
    last: Option<Error>,
}

impl Reconnect {
    pub(crate) fn new(backoff: Backoff) -> Self {
        Reconnect { backoff, state: Mutex::default() }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Down> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Ok` when an attempt to connect may start now; otherwise the error
    /// to fail the call with.
    pub(crate) fn check(&self) -> Result<(), Error> {
        let st = self.state();
        let Some(last) = &st.last else { return Ok(()) };
        let gave_up = self.backoff.give_up_after.is_some_and(|n| st.failures >= n);
        let retry_in = match st.next {
            _ if gave_up => None,
            Some(next) => match next.checked_duration_since(Instant::now()) {
                Some(wait) if !wait.is_zero() => Some(wait),
                _ => return Ok(()),
            },
            None => return Ok(()),
        };
        Err(Error::Unavailable { cause: Box::new(last.clone()), retry_in })
    }

    /// Records the outcome of an attempt to connect.
    pub(crate) fn record<T>(&self, outcome: &Result<T, Error>) {
        let mut st = self.state();
        match outcome {
            Ok(_) => *st = Down::default(),
            // The server answered: it is up, whatever it said (a refusal,
            // or bytes that are not the handshake's reply).
            Err(Error::Redis(_) | Error::Handshake { .. } | Error::Protocol(_)) => *st = Down::default(),
            Err(e) if !e.is_connection_error() => *st = Down::default(),
            Err(e) => {
                st.failures += 1;
                let ceiling = self.backoff.ceiling(st.failures);
                let pause = ceiling - ceiling.mul_f64(jitter() / 2.0);
                st.next = Some(Instant::now() + pause);
                st.last = Some(match e {
                    // Not nested: the cause of the cause is what happened.
                    Error::Unavailable { cause, .. } => (**cause).clone(),
                    e => e.clone(),
                });
            }
        }
    }

    /// Forgets past failures: the next call tries at once.
    pub(crate) fn reset(&self) {
        *self.state() = Down::default();
    }
}

/// A number in `[0, 1)`, different on every call; for spreading pauses,
/// not for anything that needs real randomness.
fn jitter() -> f64 {
    // Each `RandomState` is seeded anew; hashing a counter mixes further.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused() -> Error {
        Error::io(std::io::ErrorKind::ConnectionRefused.into())
    }

    #[test]
    fn pauses_double_up_to_the_cap() {
        let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let ceilings: Vec<u128> = (1..=6).map(|n| b.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_failure_makes_calls_fail_fast_until_the_next_attempt_is_due() {
        let r = Reconnect::new(Backoff::new(Duration::from_millis(200), Duration::from_secs(1)));
        assert!(r.check().is_ok(), "nothing failed yet");
        r.record::<()>(&Err(refused()));
        match r.check() {
            Err(Error::Unavailable { cause, retry_in: Some(wait) }) => {
                assert!(matches!(*cause, Error::Io(_)));
                // Jitter takes up to half off the 200 ms.
                assert!(wait <= Duration::from_millis(200) && wait >= Duration::from_millis(80), "{wait:?}");
            }
            other => panic!("{other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(210)).await;
        assert!(r.check().is_ok(), "the next attempt is due");
        r.record(&Ok(()));
        assert!(r.check().is_ok());
    }

    #[test]
    fn server_refusals_do_not_count_and_giving_up_is_final_until_reset() {
        let r = Reconnect::new(Backoff::new(Duration::ZERO, Duration::ZERO).give_up_after(2));
        let wrongpass = Error::Redis(crate::error::ServerError::new("WRONGPASS no".into()));
        r.record::<()>(&Err(wrongpass));
        assert!(r.check().is_ok());
        r.record::<()>(&Err(refused()));
        assert!(r.check().is_ok(), "a zero pause: the next attempt is due at once");
        r.record::<()>(&Err(refused()));
        assert!(matches!(r.check(), Err(Error::Unavailable { retry_in: None, .. })));
        r.reset();
        assert!(r.check().is_ok());
    }

    #[test]
    fn jitter_spreads() {
        let draws: Vec<f64> = (0..100).map(|_| jitter()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        assert!(draws.iter().any(|d| *d < 0.5) && draws.iter().any(|d| *d >= 0.5));
    }
}
