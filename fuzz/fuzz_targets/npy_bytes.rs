//! `npy::check_bytes`, the whole-file validation `NpyFile::open` runs on the mapped file, on
//! arbitrary bytes: never panics; it accepts exactly the promised data and agrees with
//! `parse_header` (see `checks::npy_bytes`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::npy_bytes(data));
