//! Helpers shared by the integration tests: writing .npy files (no NumPy needed), scratch
//! folders, and the hostcuda stand-in's path and introspection.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// A scratch folder removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("trtq-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Scratch(p)
    }
    pub fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes a version 1.0 .npy with `descr` and `shape` holding `data` (not checked).
pub fn write_npy(path: &Path, descr: &str, shape: &[usize], data: &[u8]) {
    let shp = trtq_lite::npy::shape_str(shape);
    let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shp}, }}");
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(' ');
    }
    h.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((h.len() as u16).to_le_bytes());
    out.extend(h.as_bytes());
    out.extend(data);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(path, out).unwrap();
}

pub fn f32_bytes(v: impl IntoIterator<Item = f32>) -> Vec<u8> {
    v.into_iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub fn f64_bytes(v: impl IntoIterator<Item = f64>) -> Vec<u8> {
    v.into_iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Writes `files` f32 files of `per_file` samples of `shape` (leading dim omitted when
/// per_file is None), sample k's values being k*1000 + element index.
pub fn write_samples(dir: &Path, files: usize, per_file: Option<usize>, shape: &[usize]) {
    let elems: usize = shape.iter().product();
    let mut k = 0;
    for f in 0..files {
        let n = per_file.unwrap_or(1);
        let vals = (0..n).flat_map(|s| (0..elems).map(move |e| ((k + s) * 1000 + e) as f32));
        let full: Vec<usize> = match per_file {
            Some(n) => std::iter::once(n).chain(shape.iter().copied()).collect(),
            None => shape.to_vec(),
        };
        write_npy(
            &dir.join(format!("s_{f:04}.npy")),
            "<f4",
            &full,
            &f32_bytes(vals),
        );
        k += n;
    }
}

/// The value of element `e` of global sample `k` in [`write_samples`] data.
pub fn sample_value(k: usize, e: usize) -> f32 {
    (k * 1000 + e) as f32
}

/// The folder of the stand-in libraries: target/test-libs, or TRTQ_TEST_LIBS when set (the
/// aarch64 smoke test runs these tests under qemu against target/test-libs/aarch64, with
/// TARGET_TRIPLE set so a rebuild below builds that architecture; scripts/aarch64-smoke.sh).
pub fn test_libs() -> PathBuf {
    match std::env::var_os("TRTQ_TEST_LIBS") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/test-libs"),
    }
}

/// [`test_libs`] after running scripts/build-test-libs.sh, once per test process (it rebuilds
/// only what changed), so `cargo test` alone has trtsim and hostcuda.
pub fn built_test_libs() -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/build-test-libs.sh");
        let st = std::process::Command::new("bash")
            .arg(script)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run scripts/build-test-libs.sh");
        assert!(st.success(), "scripts/build-test-libs.sh failed");
    });
    test_libs()
}

/// target/test-libs/hostcuda/libcuda.so.1 (built by scripts/build-test-libs.sh; built here too
/// if missing so `cargo test` alone works).
pub fn hostcuda() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let lib = test_libs().join("hostcuda/libcuda.so.1");
    static BUILD: std::sync::Once = std::sync::Once::new();
    BUILD.call_once(|| {
        let st = std::process::Command::new("bash")
            .arg(root.join("tests/support/hostcuda/build.sh"))
            .status()
            .expect("running tests/support/hostcuda/build.sh");
        assert!(st.success(), "building hostcuda failed");
    });
    assert!(lib.exists(), "{} missing", lib.display());
    lib
}

/// hostcuda's test-only entry points, resolved from the same library the driver loaded.
pub struct Introspect {
    _lib: libloading::Library,
    pub live_allocations: unsafe extern "C" fn() -> i32,
    pub htod_bytes: unsafe extern "C" fn() -> u64,
    pub registered_bytes: unsafe extern "C" fn() -> u64,
    pub ctx_depth: unsafe extern "C" fn() -> i32,
    pub primary_refs: unsafe extern "C" fn(i32) -> i32,
    pub violations: unsafe extern "C" fn() -> u64,
    pub batch_calls: unsafe extern "C" fn() -> u64,
    set: unsafe extern "C" fn(*const std::ffi::c_char, i64) -> i32,
}

impl Introspect {
    pub fn new() -> Introspect {
        // SAFETY: hostcuda is our own test library; the declared types match its C prototypes.
        unsafe {
            let lib = libloading::Library::new(hostcuda()).unwrap();
            let live_allocations = *lib.get(b"hostcuda_live_allocations\0").unwrap();
            let htod_bytes = *lib.get(b"hostcuda_htod_bytes\0").unwrap();
            let registered_bytes = *lib.get(b"hostcuda_registered_bytes\0").unwrap();
            let ctx_depth = *lib.get(b"hostcuda_ctx_depth\0").unwrap();
            let primary_refs = *lib.get(b"hostcuda_primary_refs\0").unwrap();
            let set = *lib.get(b"hostcuda_set\0").unwrap();
            let violations = *lib.get(b"hostcuda_violations\0").unwrap();
            let batch_calls = *lib.get(b"hostcuda_batch_calls\0").unwrap();
            Introspect {
                _lib: lib,
                live_allocations,
                htod_bytes,
                registered_bytes,
                ctx_depth,
                primary_refs,
                violations,
                batch_calls,
                set,
            }
        }
    }
    pub fn live(&self) -> i32 {
        // SAFETY: no arguments; reads a counter under hostcuda's lock.
        unsafe { (self.live_allocations)() }
    }
    /// cuMemcpyBatchAsync calls that copied, so far.
    pub fn batches(&self) -> u64 {
        // SAFETY: no arguments; reads a counter under hostcuda's lock.
        unsafe { (self.batch_calls)() }
    }
    pub fn set(&self, knob: &str, v: i64) {
        let c = std::ffi::CString::new(knob).unwrap();
        // SAFETY: a NUL-terminated knob name and a value.
        assert_eq!(
            unsafe { (self.set)(c.as_ptr(), v) },
            0,
            "unknown knob {knob}"
        );
    }
}

/// A Command for a test-built executable: through TRTQ_TEST_RUNNER when set (the aarch64
/// smoke test runs the tests under qemu-user without binfmt_misc, where the host cannot exec
/// an aarch64 file itself), else directly.
pub fn command(exe: impl AsRef<Path>) -> std::process::Command {
    let runner = std::env::var("TRTQ_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(emulator) => {
            let mut c = std::process::Command::new(emulator);
            c.args(words).arg(exe.as_ref());
            c
        }
        None => std::process::Command::new(exe.as_ref()),
    }
}
