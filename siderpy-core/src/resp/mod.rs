//! The RESP2/RESP3 codec: bytes in, [`Value`](crate::Value)s out, and
//! commands encoded as arrays of bulk strings.
//!
//! Nothing here knows about sockets or tokio, so the codec can be fuzzed and
//! benchmarked on its own.

mod decode;
mod encode;

pub use decode::{Decoder, Limits};
pub use encode::{write_array_header, write_bulk, write_command};
