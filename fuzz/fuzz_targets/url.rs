//! `parse_url` on any text.
#![no_main]
#![forbid(unsafe_code)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| siderpy_fuzz::url(data));
