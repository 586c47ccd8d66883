//! The `tracing` events siderpy emits (connects, reconnects, redirections),
//! or nothing without the `tracing` feature. Modules that log import this
//! as `tracing` and call `tracing::debug!(...)` either way.

#[cfg(feature = "tracing")]
pub(crate) use tracing::{debug, info, warn};

#[cfg(not(feature = "tracing"))]
mod off {
    /// Expands to nothing: the `tracing` feature is off.
    macro_rules! off {
        ($($event:tt)*) => {
            ()
        };
    }
    pub(crate) use off as debug;
    pub(crate) use off as info;
    pub(crate) use off as warn;
}
#[cfg(not(feature = "tracing"))]
pub(crate) use off::{debug, info, warn};
