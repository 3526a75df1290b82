//! `cache::parse` on arbitrary bytes: never panics; an accepted cache survives the canonical
//! write-back unchanged (see `checks::cache_parse`).
#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::cache_parse(data));
