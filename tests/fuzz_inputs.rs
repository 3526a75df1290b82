//! Replays every committed fuzz input through the same property checks the fuzz targets run
//! (`fuzz/checks.rs`): the seeds (fixtures/npy, fixtures/caches, fuzz/seeds/) and every input
//! a fuzzer once crashed on (fixtures/fuzz/<target>/, one file per finding, named after it).
//! So a fixed fuzz finding stays fixed without cargo-fuzz or a nightly toolchain.
//! The ONNX reader's inputs are replayed by scripts/test.d/40-fuzz-onnx-replay.sh (C++).

use std::path::{Path, PathBuf};

#[path = "../fuzz/checks.rs"]
mod checks;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every regular file under `dirs` (recursively), sorted; missing folders are skipped.
fn files(dirs: &[&str]) -> Vec<PathBuf> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(d) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.is_file() {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    for d in dirs {
        walk(&root().join(d), &mut out);
    }
    out.sort();
    out
}

/// Runs `check` on each file, naming the file when a check panics.
fn replay(dirs: &[&str], min_files: usize, check: impl Fn(&[u8])) {
    let all = files(dirs);
    assert!(
        all.len() >= min_files,
        "expected at least {min_files} inputs under {dirs:?}, found {}",
        all.len()
    );
    for p in &all {
        let data = std::fs::read(p).unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&data)));
        assert!(r.is_ok(), "property check failed on {}", p.display());
    }
}

const NPY: &[&str] = &["fixtures/npy", "fuzz/seeds/npy", "fixtures/fuzz/npy"];
const CACHE: &[&str] = &["fixtures/caches", "fuzz/seeds/cache", "fixtures/fuzz/cache"];

#[test]
fn npy_header_inputs() {
    replay(NPY, 20, checks::npy_header);
}

#[test]
fn npy_bytes_inputs() {
    replay(NPY, 20, checks::npy_bytes);
}

#[test]
fn npy_open_inputs() {
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz_inputs_npy_open.npy");
    replay(NPY, 20, |d| checks::npy_open(d, &scratch));
    let _ = std::fs::remove_file(&scratch);
}

#[test]
fn cache_parse_inputs() {
    replay(CACHE, 40, checks::cache_parse);
}

/// The replay is not vacuous: a failing check on any file fails the test.
#[test]
fn replay_fails_when_a_check_fails() {
    let r = std::panic::catch_unwind(|| {
        replay(NPY, 1, |d| {
            assert!(!d.starts_with(b"\x93NUMPY"), "a .npy file")
        })
    });
    assert!(r.is_err());
}
