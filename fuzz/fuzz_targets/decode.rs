//! The RESP decoder, fed whole and in pieces: both must agree.
#![no_main]
#![forbid(unsafe_code)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| siderpy_fuzz::decode(data));
