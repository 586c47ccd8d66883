//! `FromValue` conversions of whatever the decoder makes of the input.
#![no_main]
#![forbid(unsafe_code)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| siderpy_fuzz::convert(data));
