//! `NpyFile::open` end to end on arbitrary file contents: written to a scratch file (under
//! /dev/shm when it exists), mapped, validated and read through the typed zero-copy view
//! (see `checks::npy_open`). Runs under AddressSanitizer: this is the unsafe path.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

#[path = "../checks.rs"]
mod checks;

fn scratch() -> &'static PathBuf {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        let dir = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("trtq-fuzz-npy-open-{}.npy", std::process::id()))
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::npy_open(data, scratch()));
