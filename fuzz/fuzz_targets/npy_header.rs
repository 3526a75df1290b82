//! `npy::parse_header` on arbitrary bytes: never panics; an accepted header is
//! self-consistent (see `checks::npy_header`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::npy_header(data));
