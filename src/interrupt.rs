//! Ctrl-C handling without a crate: a SIGINT handler that only sets an atomic flag. The
//! calibrator checks the flag between batches and answers TensorRT "no more batches", the
//! build is then treated as aborted and nothing is written (exit code 130).
//!
//! A second Ctrl-C restores the default action, so a stuck native call can still be killed.

use std::os::raw::c_int;
use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

const SIGINT: c_int = 2;
const SIG_DFL: usize = 0;

extern "C" {
    // glibc's signal() installs a BSD-semantics handler (SA_RESTART, not reset on delivery).
    fn signal(signum: c_int, handler: usize) -> usize;
}

extern "C" fn on_sigint(_: c_int) {
    // Only async-signal-safe work here: an atomic store and signal().
    if INTERRUPTED.swap(true, Ordering::SeqCst) {
        return;
    }
    // SAFETY: signal() is async-signal-safe; SIG_DFL is a valid disposition.
    unsafe {
        signal(SIGINT, SIG_DFL);
    }
}

/// Install the handler (idempotent).
pub fn install() {
    // SAFETY: `on_sigint` is an `extern "C" fn(c_int)` doing only async-signal-safe work.
    unsafe {
        signal(SIGINT, on_sigint as extern "C" fn(c_int) as usize);
    }
}

/// True once Ctrl-C was pressed (or [`raise_for_test`] was called).
pub fn requested() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Set the flag as a SIGINT would (for in-process tests; the end-to-end tests send a real SIGINT).
pub fn raise_for_test() {
    INTERRUPTED.store(true, Ordering::SeqCst);
}
