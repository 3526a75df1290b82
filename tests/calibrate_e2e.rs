//! End-to-end tests of `trtq-lite calibrate` (issue 5): the built binary, run as a user runs
//! it, against trtsim (the TensorRT simulator, 8.x and 10.x ABIs, target/test-libs/trtsim/{8,10})
//! and hostcuda (the host-memory libcuda stand-in), with .npy data written by each test.
//!
//! trtsim records what crossed the ABI in its plan (text: flags, pools, device, profiles,
//! calibration source, algorithm, batch count) and, with TRTSIM_TRACE, in a trace file (every
//! getBatch, an FNV-1a checksum of each batch's bytes read back through libcuda, cache reads
//! and writes). The tests check those facts, not just exit codes.
//!
//! Every run is a child process, so tests run in parallel threads without sharing trtsim's
//! per-process knobs. The GPU variant at the end is `#[ignore]`d; see its message.
//!
//! Paths: `TRTQ_TEST_ROOT` (the repository, default this crate's folder) and `TRTQ_TEST_BIN`
//! (the trtq-lite binary, default the one cargo built) let the test binary run on a machine
//! where it was not built (the GPU host has no Rust); the test libraries are then taken as
//! found there.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;
use support::{f32_bytes, f64_bytes, write_npy, Scratch};

// ---- environment -------------------------------------------------------------------------

fn root() -> PathBuf {
    match std::env::var_os("TRTQ_TEST_ROOT") {
        Some(r) if !r.is_empty() => PathBuf::from(r),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")),
    }
}

fn bin() -> PathBuf {
    match std::env::var_os("TRTQ_TEST_BIN") {
        Some(b) if !b.is_empty() => PathBuf::from(b),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_trtq-lite")),
    }
}

/// target/test-libs: built once per test run, except under `TRTQ_TEST_ROOT` (a copied tree on
/// a GPU host, with its libraries built elsewhere).
fn test_libs() -> PathBuf {
    if std::env::var_os("TRTQ_TEST_ROOT").is_some() {
        root().join("target/test-libs")
    } else {
        support::built_test_libs()
    }
}

fn trtsim(major: u32) -> PathBuf {
    test_libs().join(format!("trtsim/{major}"))
}

fn hostcuda() -> PathBuf {
    test_libs().join("hostcuda/libcuda.so.1")
}

fn model(name: &str) -> PathBuf {
    root().join("fixtures/onnx").join(name)
}

const MAJORS: [u32; 2] = [8, 10];

/// The version trtsim reports by default for each ABI major.
fn default_code(major: u32) -> u64 {
    if major == 8 {
        8601
    } else {
        100300
    }
}

// ---- running the binary ----------------------------------------------------------------

#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn ok(&self) -> &Out {
        assert_eq!(self.code, 0, "expected success; stderr:\n{}", self.stderr);
        self
    }
    fn fails(&self, code: i32) -> &Out {
        assert_eq!(
            self.code, code,
            "expected exit {code}; stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
    fn says(&self, what: &str) -> &Out {
        assert!(
            self.stderr.contains(what),
            "stderr lacks {what:?}:\n{}",
            self.stderr
        );
        self
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

fn output(mut c: Command) -> Out {
    let o = c.output().expect("run trtq-lite");
    Out {
        code: o.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// A command with none of the knobs of the caller's environment.
fn clean(mut c: Command) -> Command {
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("TRTSIM_") || k.starts_with("TRTQ_") || k.starts_with("HOSTCUDA_") {
            c.env_remove(k.as_ref());
        }
    }
    c
}

/// One `calibrate` invocation in a scratch folder: cache `c.cache`, engine `m.engine`, trace
/// `trace.txt` there unless changed.
#[derive(Clone)]
struct Cal {
    dir: PathBuf,
    model: PathBuf,
    batch: usize,
    data: Vec<String>,
    cache: PathBuf,
    engine: PathBuf,
    args: Vec<String>,
    env: Vec<(String, String)>,
    nvinfer: Option<PathBuf>,
    cuda: Option<PathBuf>,
}

impl Cal {
    fn new(t: &Scratch, major: u32, model_name: &str, batch: usize) -> Cal {
        Cal {
            dir: t.0.clone(),
            model: model(model_name),
            batch,
            data: Vec::new(),
            cache: t.path("c.cache"),
            engine: t.path("m.engine"),
            args: Vec::new(),
            env: Vec::new(),
            nvinfer: Some(trtsim(major)),
            cuda: Some(hostcuda()),
        }
    }
    fn data(mut self, d: &Path) -> Cal {
        self.data.push(d.display().to_string());
        self
    }
    fn data_for(mut self, name: &str, d: &Path) -> Cal {
        self.data.push(format!("{name}={}", d.display()));
        self
    }
    fn arg(mut self, a: &str) -> Cal {
        self.args.extend(a.split(' ').map(str::to_string));
        self
    }
    fn env(mut self, k: &str, v: &str) -> Cal {
        self.env.push((k.into(), v.into()));
        self
    }
    fn trace(&self) -> PathBuf {
        self.dir.join("trace.txt")
    }
    fn command(&self) -> Command {
        let mut c = clean(Command::new(bin()));
        c.arg("calibrate").arg(&self.model);
        for d in &self.data {
            c.arg("--data").arg(d);
        }
        c.arg("--batch-size").arg(self.batch.to_string());
        c.arg("--cache")
            .arg(&self.cache)
            .arg("--engine")
            .arg(&self.engine);
        if let Some(n) = &self.nvinfer {
            c.arg("--nvinfer").arg(n);
        }
        if let Some(l) = &self.cuda {
            c.arg("--cuda-lib").arg(l);
        }
        c.args(&self.args);
        c.env("TRTSIM_TRACE", self.trace());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }
    /// Runs it (a fresh trace each time).
    fn run(&self) -> Out {
        let _ = std::fs::remove_file(self.trace());
        output(self.command())
    }
    /// Runs it with `--json`, expecting success.
    fn json(&self) -> Value {
        let o = self.clone().arg("--json").run();
        o.ok();
        o.json()
    }
    fn trace_text(&self) -> String {
        std::fs::read_to_string(self.trace()).unwrap_or_default()
    }
    /// The FNV-1a hash of every batch trtsim read, in order.
    fn traced_fnvs(&self) -> Vec<u64> {
        traced_batches(&self.trace_text())
            .iter()
            .map(|b| b.fnv)
            .collect()
    }
    fn plan(&self) -> String {
        let t = String::from_utf8(std::fs::read(&self.engine).expect("read engine"))
            .expect("a trtsim plan is text");
        assert!(t.starts_with("TRTSIM-PLAN 1\n"), "{t}");
        t
    }
}

fn plan_line<'a>(plan: &'a str, key: &str) -> &'a str {
    plan.lines()
        .find(|l| l.starts_with(&format!("{key} ")))
        .unwrap_or_else(|| panic!("no '{key}' line in plan:\n{plan}"))
}

fn inspect_cache(path: &Path) -> Value {
    let mut c = clean(Command::new(bin()));
    c.arg("inspect-cache").arg(path).arg("--json");
    let o = output(c);
    o.ok();
    o.json()
}

/// (trt_version_code, algorithm) of a cache file, as inspect-cache reads its header.
fn cache_header(path: &Path) -> (u64, String) {
    let v = inspect_cache(path);
    assert_eq!(v["format"], "trt", "{v}");
    (
        v["trt_version_code"].as_u64().expect("version code"),
        v["algorithm"].as_str().expect("algorithm").to_string(),
    )
}

// ---- trace -------------------------------------------------------------------------------

/// One "batch K input I NAME bytes=N fnv=H ..." line of trtsim's trace.
#[derive(Debug, PartialEq)]
struct TracedBatch {
    batch: usize,
    input: String,
    bytes: usize,
    fnv: u64,
}

fn traced_batches(trace: &str) -> Vec<TracedBatch> {
    trace
        .lines()
        .filter(|l| l.starts_with("batch "))
        .map(|l| {
            let w: Vec<&str> = l.split(' ').collect();
            let field = |p: &str| {
                w.iter()
                    .find_map(|x| x.strip_prefix(p))
                    .unwrap_or_else(|| panic!("no {p} in {l}"))
            };
            TracedBatch {
                batch: w[1].parse().unwrap(),
                input: w[4].to_string(),
                bytes: field("bytes=").parse().unwrap(),
                fnv: u64::from_str_radix(field("fnv="), 16).unwrap(),
            }
        })
        .collect()
}

fn get_batch_calls(trace: &str) -> usize {
    trace.lines().filter(|l| l.starts_with("getBatch ")).count()
}

/// FNV-1a, 64 bit: what trtsim's trace prints for each batch.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

// ---- data ----------------------------------------------------------------------------------

const IMG: [usize; 3] = [3, 64, 64];

/// Pseudo-random values in [0, 1), different for every (seed, index): data that looks like
/// normalised images and makes every batch's checksum distinct.
fn values(seed: u64, n: usize) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32
        })
        .collect()
}

/// Writes f32 sample files into `dir` (named so sorted order is the order given), file f
/// holding `layout[f]` samples of `shape`: 0 means one sample without a leading dimension.
/// Returns every sample's bytes, in order.
fn write_f32_set(dir: &Path, layout: &[usize], shape: &[usize], seed: u64) -> Vec<u8> {
    let elems: usize = shape.iter().product();
    let mut all = Vec::new();
    for (f, &n) in layout.iter().enumerate() {
        let count = n.max(1);
        let bytes = f32_bytes(values(seed * 1000 + f as u64, count * elems));
        let full: Vec<usize> = if n == 0 {
            shape.to_vec()
        } else {
            std::iter::once(n).chain(shape.iter().copied()).collect()
        };
        write_npy(&dir.join(format!("s_{f:04}.npy")), "<f4", &full, &bytes);
        all.extend(bytes);
    }
    all
}

/// `n` one-sample image files.
fn images(dir: &Path, n: usize) -> Vec<u8> {
    write_f32_set(dir, &vec![0; n], &IMG, 1)
}

/// The checksums of the full batches of `samples` (batch `b` samples of `sample_bytes`).
fn expected_fnvs(samples: &[u8], sample_bytes: usize, b: usize) -> Vec<u64> {
    samples.chunks_exact(sample_bytes * b).map(fnv1a).collect()
}

/// Names and bytes of every file in a folder (to show a failed run left nothing behind).
fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.file_name().unwrap() != "trace.txt")
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Writes a stale engine and a (valid, non-matching) cache that a failing run must leave
/// exactly as they are.
fn existing_outputs(c: &Cal) {
    std::fs::write(&c.engine, b"an engine from an earlier run\n").unwrap();
    std::fs::write(
        &c.cache,
        b"TRT-8501-EntropyCalibration2\nimages: 3c010a14\noutput0: 3c010a14\n",
    )
    .unwrap();
}

fn file_id(p: &Path) -> (u64, std::time::SystemTime, Vec<u8>) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(p).unwrap();
    (m.ino(), m.modified().unwrap(), std::fs::read(p).unwrap())
}

// ---- models and data layouts ------------------------------------------------------------------

#[test]
fn static_batch_model_on_both_abis() {
    for major in MAJORS {
        let t = Scratch::new("e2e-static");
        let samples = images(&t.path("data"), 5);
        let c = Cal::new(&t, major, "yolo_static.onnx", 1).data(&t.path("data"));
        let j = c.json();
        assert_eq!(j["batches"], 5, "{j}");
        assert_eq!(j["samples_dropped"], 0, "{j}");
        assert_eq!(j["abi"], if major == 8 { "trt8" } else { "trt10" }, "{j}");
        assert_eq!(j["trt_version_code"], default_code(major), "{j}");
        assert_eq!(j["cache"]["action"], "written", "{j}");
        let plan = c.plan();
        assert_eq!(
            plan_line(&plan, "calibration"),
            "calibration calibration EntropyCalibration2 batches 5"
        );
        assert_eq!(
            plan_line(&plan, "input"),
            "input images FLOAT 1x3x64x64",
            "{plan}"
        );
        assert!(
            !plan.contains("\nprofile "),
            "a static model has no profile:\n{plan}"
        );
        assert_eq!(
            cache_header(&c.cache),
            (default_code(major), "EntropyCalibration2".into())
        );
        let got = c.traced_fnvs();
        assert_eq!(got, expected_fnvs(&samples, 3 * 64 * 64 * 4, 1));
    }
}

#[test]
fn dynamic_batch_model_gets_a_profile_and_drops_the_partial_batch() {
    for major in MAJORS {
        let t = Scratch::new("e2e-dyn");
        images(&t.path("data"), 10);
        let c = Cal::new(&t, major, "yolo_dynamic.onnx", 4).data(&t.path("data"));
        let o = c.clone().arg("--json").run();
        o.ok()
            .says("engine profile min 1x3x64x64, opt 4x3x64x64, max 4x3x64x64")
            .says("10 samples: 2 batches of 4 used, 2 dropped")
            .says("calibrating: batch 2/2 | ");
        // Plain progress lines (stderr is not a terminal): rate, bandwidth, ETA.
        let line = o
            .stderr
            .lines()
            .find(|l| l.starts_with("calibrating: batch 2/2"))
            .unwrap();
        assert!(
            line.contains(" samples/s | ") && line.contains(" GB/s | ETA ") && !line.contains('\r'),
            "{line}"
        );
        let j = o.json();
        assert_eq!(j["batches"], 2, "{j}");
        assert_eq!(j["samples_used"], 8, "{j}");
        assert_eq!(j["samples_dropped"], 2, "{j}");
        let plan = c.plan();
        assert_eq!(
            plan_line(&plan, "profile"),
            "profile 0 images min 1x3x64x64 opt 4x3x64x64 max 4x3x64x64"
        );
        assert_eq!(plan_line(&plan, "input"), "input images FLOAT -1x3x64x64");
        let tr = c.trace_text();
        assert!(tr.contains("IBuilderConfig::setCalibrationProfile"), "{tr}");
        let b = traced_batches(&tr);
        assert_eq!(b.len(), 2, "{tr}");
        assert!(b.iter().all(|x| x.bytes == 4 * 3 * 64 * 64 * 4), "{b:?}");
        // TensorRT asked a third time and heard "no more".
        assert!(tr.contains("getBatch 2 -> false"), "{tr}");
    }
}

#[test]
fn two_input_model() {
    for major in MAJORS {
        let t = Scratch::new("e2e-two");
        let left = write_f32_set(&t.path("left"), &[2, 0, 1], &[3, 32, 32], 7);
        let right = write_f32_set(&t.path("right"), &[0, 0, 0, 0], &[1, 32, 32], 8);
        let c = Cal::new(&t, major, "two_inputs.onnx", 1)
            .data_for("right", &t.path("right"))
            .data_for("left", &t.path("left"));
        let j = c.json();
        assert_eq!(j["batches"], 4, "{j}");
        let b = traced_batches(&c.trace_text());
        let l: Vec<u64> = b
            .iter()
            .filter(|x| x.input == "left")
            .map(|x| x.fnv)
            .collect();
        let r: Vec<u64> = b
            .iter()
            .filter(|x| x.input == "right")
            .map(|x| x.fnv)
            .collect();
        assert_eq!(l, expected_fnvs(&left, 3 * 32 * 32 * 4, 1));
        assert_eq!(r, expected_fnvs(&right, 32 * 32 * 4, 1));
        let v = inspect_cache(&c.cache);
        let names: Vec<&str> = v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert!(names.contains(&"left") && names.contains(&"right"), "{v}");
    }
}

/// The bytes trtsim read back from "device" memory, batch by batch, are the .npy payloads in
/// order, whatever the file layout and feed path.
#[test]
fn batches_trtsim_saw_equal_the_data_fed() {
    // 1, 3, one without a leading dim, 5, 1 (leading 1), 2 samples: 13 samples, batches of 3
    // cross file boundaries; 1 sample dropped.
    let layout = [1, 3, 0, 5, 1, 2];
    let sb = 3 * 64 * 64 * 4;
    for (major, feed, env) in [
        (10, "staged", None),
        (8, "auto", None),
        (10, "mapped", Some(("HOSTCUDA_INTEGRATED", "1"))),
    ] {
        let t = Scratch::new("e2e-bytes");
        let samples = write_f32_set(&t.path("data"), &layout, &IMG, 3);
        let mut c = Cal::new(&t, major, "yolo_dynamic.onnx", 3)
            .data(&t.path("data"))
            .arg(&format!("--feed {feed}"));
        if let Some((k, v)) = env {
            c = c.env(k, v);
        }
        let j = c.json();
        assert_eq!(j["batches"], 4, "{j}");
        assert_eq!(j["samples_dropped"], 1, "{j}");
        if feed != "auto" {
            assert_eq!(j["feed_path"], feed, "{j}");
        }
        let got = c.traced_fnvs();
        assert_eq!(got, expected_fnvs(&samples, sb, 3), "{major} {feed}");
    }
    // One big file: batches are contiguous, so the registered path applies.
    let t = Scratch::new("e2e-bytes-big");
    let samples = write_f32_set(&t.path("data"), &[12], &IMG, 4);
    let c = Cal::new(&t, 10, "yolo_dynamic.onnx", 4)
        .data(&t.path("data/s_0000.npy"))
        .arg("--feed registered");
    let j = c.json();
    assert_eq!(j["feed_path"], "registered", "{j}");
    let got = c.traced_fnvs();
    assert_eq!(got, expected_fnvs(&samples, sb, 4));
}

/// A text file listing .npy paths: fed in the listed order, not the sorted one.
#[test]
fn list_file_source_is_fed_in_listed_order() {
    let t = Scratch::new("e2e-list");
    write_f32_set(&t.path("data"), &[0, 2, 0, 1], &IMG, 9);
    let sb = 3 * 64 * 64 * 4;
    let mut listed = Vec::new();
    let mut text = String::from("# calibration files, newest first\n");
    for f in ["s_0003.npy", "s_0001.npy", "s_0000.npy", "s_0002.npy"] {
        let p = t.path("data").join(f);
        let b = std::fs::read(&p).unwrap();
        let header = 10 + u16::from_le_bytes([b[8], b[9]]) as usize;
        listed.extend_from_slice(&b[header..]);
        text.push_str(&format!("{}\n", p.display()));
    }
    std::fs::write(t.path("list.txt"), text).unwrap();
    let c = Cal::new(&t, 8, "yolo_dynamic.onnx", 1).data(&t.path("list.txt"));
    let j = c.json();
    assert_eq!(j["batches"], 5, "{j}");
    let got = c.traced_fnvs();
    assert_eq!(got, expected_fnvs(&listed, sb, 1));
}

/// Failures of the driver or the device during the run: exit 1 (2 for a device that does
/// not exist), the CUDA call named, the existing engine and cache untouched.
#[test]
fn cuda_failures_during_the_run_write_nothing() {
    let t = Scratch::new("e2e-cuda-fail");
    images(&t.path("data"), 10);
    let c = Cal::new(&t, 10, "yolo_dynamic.onnx", 2)
        .data(&t.path("data"))
        .arg("--feed staged");
    for (c, code, says) in [
        (c.clone().arg("--device 1"), 2, "--device 1"),
        (
            c.clone().env("HOSTCUDA_INIT_ERROR", "100"),
            1,
            "cuInit(0) failed: CUDA_ERROR_NO_DEVICE (100)",
        ),
        (
            c.clone().env("HOSTCUDA_OOM_AFTER", "0"),
            1,
            "CUDA_ERROR_OUT_OF_MEMORY",
        ),
        // A copy fails after the first batches were fed: mid-calibration.
        (
            c.clone().env("HOSTCUDA_HTOD_FAIL_AFTER", "3"),
            1,
            // Batches of 98,304 bytes go in staging chunks of 64 KiB and 32 KiB; the 4th copy fails.
            "cuMemcpyHtoDAsync_v2(32768 bytes) failed: CUDA_ERROR_ILLEGAL_ADDRESS",
        ),
    ] {
        existing_outputs(&c);
        let before = listing(&t.0);
        c.run().fails(code).says(says);
        assert_eq!(listing(&t.0), before, "{says}");
    }
    // The trace of that last run: calibration had started and stopped early.
    let tr = std::fs::read_to_string(t.path("trace.txt")).unwrap();
    assert!((1..5).contains(&traced_batches(&tr).len()), "{tr}");
}

/// TensorRT asking again after "no more batches" hears "no more" again.
#[test]
fn get_batch_after_the_end_is_answered_false() {
    let t = Scratch::new("e2e-after-false");
    images(&t.path("data"), 6);
    for extra in ["", "--max-batches 2"] {
        let mut c = Cal::new(&t, 10, "yolo_dynamic.onnx", 2)
            .data(&t.path("data"))
            .arg("--recalibrate")
            .env("TRTSIM_FAIL", "getbatch_after_false");
        if !extra.is_empty() {
            c = c.arg(extra);
        }
        let j = c.json();
        let n = if extra.is_empty() { 3 } else { 2 };
        assert_eq!(j["batches"], n, "{j}");
        let tr = c.trace_text();
        assert!(tr.contains(&format!("getBatch {n} -> false")), "{tr}");
        assert!(tr.contains("getBatch after false -> false"), "{tr}");
    }
}

/// f64 data for an f32 input is refused, and fed converted with --convert.
#[test]
fn f64_data_only_with_convert() {
    let t = Scratch::new("e2e-convert");
    let elems = 3 * 64 * 64;
    let vals: Vec<f64> = values(5, 2 * elems).iter().map(|&v| v as f64).collect();
    write_npy(
        &t.path("d.npy"),
        "<f8",
        &[2, 3, 64, 64],
        &f64_bytes(vals.clone()),
    );
    let c = Cal::new(&t, 10, "yolo_dynamic.onnx", 2).data(&t.path("d.npy"));
    c.run()
        .fails(2)
        .says("d.npy: holds float64 data but input 'images' takes float32")
        .says("--convert");
    assert!(!c.engine.exists() && !c.cache.exists());
    let j = c.clone().arg("--convert").json();
    assert_eq!(j["batches"], 1, "{j}");
    let want = f32_bytes(vals.iter().map(|&v| v as f32));
    let got = c.traced_fnvs();
    assert_eq!(got, vec![fnv1a(&want)]);
}

// ---- algorithms ------------------------------------------------------------------------------

#[test]
fn every_algorithm_writes_its_cache_header() {
    for major in MAJORS {
        for (algo, header) in [
            ("entropy2", "EntropyCalibration2"),
            ("minmax", "MinMaxCalibration"),
            ("entropy", "EntropyCalibration"),
            ("legacy", "LegacyCalibration"),
        ] {
            let t = Scratch::new("e2e-algo");
            images(&t.path("data"), 4);
            let c = Cal::new(&t, major, "yolo_dynamic.onnx", 2)
                .data(&t.path("data"))
                .arg(&format!("--algo {algo}"));
            let j = c.json();
            assert_eq!(j["algorithm"], header, "{j}");
            assert_eq!(j["batches"], 2, "{j}");
            assert_eq!(cache_header(&c.cache), (default_code(major), header.into()));
            assert_eq!(
                plan_line(&c.plan(), "calibration"),
                format!("calibration calibration {header} batches 2")
            );
            let tr = c.trace_text();
            let algo_code = match algo {
                "legacy" => 0,
                "entropy" => 1,
                "entropy2" => 2,
                _ => 3,
            };
            assert!(
                tr.contains(&format!("calibrator algorithm={algo_code}")),
                "{tr}"
            );
            if algo == "legacy" {
                // The legacy calibrator's parameters reached TensorRT (defaults).
                assert!(
                    tr.contains("legacy quantile=0.99990000000000001 regression_cutoff=1"),
                    "{tr}"
                );
            }
        }
    }
    // Non-default legacy parameters.
    let t = Scratch::new("e2e-legacy");
    images(&t.path("data"), 2);
    let c = Cal::new(&t, 10, "yolo_dynamic.onnx", 2)
        .data(&t.path("data"))
        .arg("--algo legacy --quantile 0.5 --regression-cutoff 0.25");
    c.run().ok();
    assert!(
        c.trace_text()
            .contains("legacy quantile=0.5 regression_cutoff=0.25"),
        "{}",
        c.trace_text()
    );
    let o = Cal::new(&t, 10, "yolo_dynamic.onnx", 2)
        .data(&t.path("data"))
        .arg("--algo percentile")
        .run();
    o.fails(2).says("entropy2, minmax, entropy or legacy");
}

// ---- the existing cache -----------------------------------------------------------------------

#[test]
fn cache_is_reused_then_forced_and_never_rewritten_unchanged() {
    for major in MAJORS {
        let t = Scratch::new("e2e-reuse");
        images(&t.path("data"), 6);
        let c = Cal::new(&t, major, "yolo_dynamic.onnx", 2).data(&t.path("data"));
        let j = c.json();
        assert_eq!(j["cache"]["action"], "written", "{j}");
        assert_eq!(j["batches"], 3, "{j}");
        let first = file_id(&c.cache);
        std::thread::sleep(std::time::Duration::from_millis(20));

        // Second run: the cache matches; TensorRT takes it and asks for no batch.
        let o = c.clone().arg("--json").run();
        o.ok().says("reusing it");
        let j = o.json();
        assert_eq!(j["cache"]["action"], "reused", "{j}");
        assert_eq!(j["batches"], 0, "{j}");
        let tr = c.trace_text();
        assert_eq!(get_batch_calls(&tr), 0, "{tr}");
        assert!(tr.contains("readCalibrationCache ptr=set"), "{tr}");
        assert!(
            plan_line(&c.plan(), "calibration").starts_with("calibration cache "),
            "{}",
            c.plan()
        );
        assert_eq!(file_id(&c.cache), first, "a reused cache is not touched");

        // TensorRT hands a cache it took back to writeCalibrationCache: still "reused", and
        // the file is not rewritten.
        let wb = c.clone().env("TRTSIM_CACHE_WRITEBACK", "1");
        let j = wb.json();
        assert!(wb.trace_text().contains("write-back of the cache read"));
        assert_eq!(j["cache"]["action"], "reused", "{j}");
        assert_eq!(j["batches"], 0, "{j}");
        assert_eq!(
            file_id(&c.cache),
            first,
            "a cache written back is not rewritten"
        );

        // No data needed while the cache is reused.
        let mut nodata = c.clone();
        nodata.data.clear();
        assert_eq!(nodata.json()["cache"]["action"], "reused");

        // --recalibrate: batches again, same data so the same cache: not rewritten.
        let o = c.clone().arg("--recalibrate --json").run();
        o.ok().says("--recalibrate");
        let j = o.json();
        assert_eq!(j["batches"], 3, "{j}");
        assert_eq!(j["cache"]["action"], "unchanged", "{j}");
        assert!(c.trace_text().contains("readCalibrationCache ptr=null"));
        assert_eq!(
            file_id(&c.cache),
            first,
            "an unchanged cache is not rewritten"
        );

        // Without a cache and without data there is nothing to calibrate from.
        std::fs::remove_file(&c.cache).unwrap();
        nodata.run().fails(2).says("--data is required");
        assert!(!c.cache.exists());
    }
}

#[test]
fn cache_of_another_version_is_rejected_and_replaced() {
    let t = Scratch::new("e2e-rej-version");
    images(&t.path("data"), 4);
    let c = Cal::new(&t, 10, "yolo_dynamic.onnx", 2).data(&t.path("data"));
    c.clone().env("TRTSIM_VERSION", "100300").run().ok();
    assert_eq!(cache_header(&c.cache).0, 100300);
    let o = c
        .clone()
        .env("TRTSIM_VERSION", "101600")
        .arg("--json")
        .run();
    o.ok()
        .says("not reusing")
        .says("written by TensorRT 10.3.0")
        .says("the loaded TensorRT is 10.16.0");
    let j = o.json();
    assert_eq!(j["batches"], 2, "{j}");
    assert_eq!(j["cache"]["action"], "written", "{j}");
    assert_eq!(
        cache_header(&c.cache),
        (101600, "EntropyCalibration2".into())
    );
    // trtsim was never handed the stale cache.
    assert!(c.trace_text().contains("readCalibrationCache ptr=null"));
}

#[test]
fn cache_of_another_algorithm_is_rejected_and_replaced() {
    let t = Scratch::new("e2e-rej-algo");
    images(&t.path("data"), 4);
    let c = Cal::new(&t, 8, "yolo_dynamic.onnx", 2).data(&t.path("data"));
    c.run().ok();
    let o = c.clone().arg("--algo minmax --json").run();
    o.ok()
        .says("not reusing")
        .says("EntropyCalibration2")
        .says("MinMaxCalibration");
    let j = o.json();
    assert_eq!(j["batches"], 2, "{j}");
    assert_eq!(cache_header(&c.cache), (8601, "MinMaxCalibration".into()));
}

#[test]
fn cache_without_the_input_entry_is_rejected_and_replaced() {
    let t = Scratch::new("e2e-rej-names");
    images(&t.path("data"), 4);
    let c = Cal::new(&t, 10, "yolo_dynamic.onnx", 2).data(&t.path("data"));
    std::fs::write(
        &c.cache,
        "TRT-100300-EntropyCalibration2\nfeatures: 3c010a14\noutput0: 3c010a14\n",
    )
    .unwrap();
    let o = c.clone().arg("--json").run();
    o.ok()
        .says("not reusing")
        .says("no entry for network input images");
    assert_eq!(o.json()["batches"], 2);
    assert_eq!(o.json()["cache"]["action"], "written");
    let v = inspect_cache(&c.cache);
    assert_eq!(v["entries"][0]["name"], "images", "{v}");
}

#[test]
fn a_file_that_is_not_a_cache_is_refused_unless_recalibrating() {
    let t = Scratch::new("e2e-notcache");
    images(&t.path("data"), 2);
    let c = Cal::new(&t, 10, "yolo_dynamic.onnx", 2).data(&t.path("data"));
    std::fs::write(&c.cache, "my notes, not a cache\n").unwrap();
    c.run().fails(2).says("c.cache").says("--recalibrate");
    assert_eq!(std::fs::read(&c.cache).unwrap(), b"my notes, not a cache\n");
    assert!(!c.engine.exists());
    c.clone().arg("--recalibrate").run().ok();
    assert_eq!(cache_header(&c.cache).0, 100300);
}

/// A cache from TensorRT 8.6 is refused by 10.3; `inspect-cache --retarget 100300` makes a
/// copy that 10.3 then takes without calibrating.
#[test]
fn retargeted_cache_is_reused_by_another_version() {
    let t = Scratch::new("e2e-retarget");
    images(&t.path("data"), 4);
    let c8 = Cal::new(&t, 8, "yolo_dynamic.onnx", 2).data(&t.path("data"));
    c8.run().ok();
    assert_eq!(
        cache_header(&c8.cache),
        (8601, "EntropyCalibration2".into())
    );

    let mut c10 = Cal::new(&t, 10, "yolo_dynamic.onnx", 2).data(&t.path("data"));
    c10.cache = t.path("c10.cache");
    let mut r = clean(Command::new(bin()));
    r.arg("inspect-cache")
        .arg(&c8.cache)
        .args(["--retarget", "100300", "-o"])
        .arg(&c10.cache);
    output(r).ok();
    assert_eq!(
        cache_header(&c10.cache),
        (100300, "EntropyCalibration2".into())
    );
    let before = file_id(&c10.cache);
    let j = c10.json();
    assert_eq!(j["cache"]["action"], "reused", "{j}");
    assert_eq!(j["batches"], 0, "{j}");
    assert_eq!(get_batch_calls(&c10.trace_text()), 0);
    assert_eq!(file_id(&c10.cache), before);
    // The scales came from the 8.6 calibration.
    let s8 = inspect_cache(&c8.cache)["entries"].clone();
    let s10 = inspect_cache(&c10.cache)["entries"].clone();
    assert_eq!(s8, s10);

    // The original, not retargeted, is refused by 10.3 for its version.
    let mut orig = c10.clone();
    orig.cache = c8.cache.clone();
    orig.run()
        .ok()
        .says("written by TensorRT 8.6.1")
        .says("the loaded TensorRT is 10.3.0");
}

// ---- bad data (issue 3's cases): exit 2, named, nothing written or changed ---------------------

/// Runs `c` twice, expecting exit 2 with every one of `says` in the message and no
/// calibration started: first with no outputs (none is created), then with an existing engine
/// and cache (the folder stays exactly as it was: both untouched, no temporary files).
fn refused(c: &Cal, says: &[&str]) {
    let _ = std::fs::remove_file(&c.engine);
    let _ = std::fs::remove_file(&c.cache);
    for existing in [false, true] {
        if existing {
            existing_outputs(c);
        }
        let before = listing(&c.dir);
        let o = c.run();
        o.fails(2);
        for s in says {
            o.says(s);
        }
        let tr = c.trace_text();
        assert!(!tr.contains("buildSerializedNetwork"), "{tr}");
        assert_eq!(listing(&c.dir), before, "the folder changed");
        assert_eq!(c.engine.exists(), existing);
        assert_eq!(c.cache.exists(), existing);
    }
}

#[test]
fn bad_data_is_refused_before_calibration() {
    let sb = 3 * 64 * 64 * 4;
    let ok = |t: &Scratch| {
        images(&t.path("good"), 4);
        t.path("good")
    };

    // Wrong dtype: int8 data for a float32 input (no conversion offered).
    let t = Scratch::new("e2e-bad-dtype");
    write_npy(
        &t.path("d/a.npy"),
        "|i1",
        &[2, 3, 64, 64],
        &vec![1u8; 2 * 3 * 64 * 64],
    );
    refused(
        &Cal::new(&t, 10, "yolo_dynamic.onnx", 2).data(&t.path("d")),
        // The source is named (a folder here), with both dtypes.
        &[
            &format!("{}: holds int8 data", t.path("d").display()),
            "'images' takes float32",
        ],
    );

    // Wrong shape.
    let t = Scratch::new("e2e-bad-shape");
    write_f32_set(&t.path("d"), &[0, 0], &[3, 32, 32], 1);
    refused(
        &Cal::new(&t, 8, "yolo_dynamic.onnx", 2).data(&t.path("d")),
        &["s_0001.npy", "(3, 32, 32)", "'images'"],
    );

    // Truncated payload: the header promises 2 samples, 1.5 follow.
    let t = Scratch::new("e2e-bad-trunc");
    images(&t.path("d"), 2);
    write_npy(
        &t.path("d/s_0002.npy"),
        "<f4",
        &[2, 3, 64, 64],
        &vec![0u8; sb * 3 / 2],
    );
    refused(
        &Cal::new(&t, 10, "yolo_dynamic.onnx", 2).data(&t.path("d")),
        &["s_0002.npy", "98304 bytes", "73728"],
    );

    // Truncated inside the header.
    let t = Scratch::new("e2e-bad-header-cut");
    images(&t.path("d"), 2);
    let whole = std::fs::read(t.path("d/s_0000.npy")).unwrap();
    std::fs::write(t.path("d/s_0001.npy"), &whole[..40]).unwrap();
    refused(
        &Cal::new(&t, 10, "yolo_dynamic.onnx", 2).data(&t.path("d")),
        &["s_0001.npy"],
    );

    // A header whose length field points past the end of the file.
    let t = Scratch::new("e2e-bad-header-len");
    images(&t.path("d"), 2);
    let mut lying = std::fs::read(t.path("d/s_0000.npy")).unwrap();
    lying[8..10].copy_from_slice(&60000u16.to_le_bytes());
    std::fs::write(t.path("d/s_0000.npy"), &lying).unwrap();
    refused(
        &Cal::new(&t, 8, "yolo_dynamic.onnx", 2).data(&t.path("d")),
        &["s_0000.npy"],
    );

    // A header that is not a .npy header dict at all.
    let t = Scratch::new("e2e-bad-header-dict");
    images(&t.path("d"), 2);
    let mut junk = b"\x93NUMPY\x01\x00".to_vec();
    let h = format!("{{'shape': (3, 64, 64)}}{}\n", " ".repeat(64 - 10 - 23 - 1));
    junk.extend((h.len() as u16).to_le_bytes());
    junk.extend(h.as_bytes());
    junk.extend(vec![0u8; sb]);
    std::fs::write(t.path("d/s_0001.npy"), &junk).unwrap();
    refused(
        &Cal::new(&t, 10, "yolo_dynamic.onnx", 2).data(&t.path("d")),
        &["s_0001.npy", "descr"],
    );

    // Too few samples for one batch.
    let t = Scratch::new("e2e-bad-few");
    images(&t.path("d"), 3);
    refused(
        &Cal::new(&t, 10, "yolo_dynamic.onnx", 4).data(&t.path("d")),
        &["3 sample(s), fewer than one batch of 4"],
    );

    // Two inputs whose sources disagree on the number of samples.
    let t = Scratch::new("e2e-bad-counts");
    write_f32_set(&t.path("l"), &[3], &[3, 32, 32], 1);
    write_f32_set(&t.path("r"), &[2], &[1, 32, 32], 2);
    refused(
        &Cal::new(&t, 10, "two_inputs.onnx", 1)
            .data_for("left", &t.path("l"))
            .data_for("right", &t.path("r")),
        &["disagree", "left=", "has 3", "right=", "has 2"],
    );

    // A two-input model with sources not named NAME=.
    let t = Scratch::new("e2e-bad-noname");
    write_f32_set(&t.path("l"), &[3], &[3, 32, 32], 1);
    write_f32_set(&t.path("r"), &[3], &[1, 32, 32], 2);
    refused(
        &Cal::new(&t, 8, "two_inputs.onnx", 1)
            .data(&t.path("l"))
            .data(&t.path("r")),
        &["NAME=SOURCE", "left", "right"],
    );
    // ... or one input without data.
    refused(
        &Cal::new(&t, 8, "two_inputs.onnx", 1).data_for("left", &t.path("l")),
        &["no data given for input 'right'"],
    );

    // An input name the network does not have.
    let t = Scratch::new("e2e-bad-name");
    let good = ok(&t);
    refused(
        &Cal::new(&t, 10, "yolo_dynamic.onnx", 2).data_for("image", &good),
        &["no input named 'image'", "images"],
    );

    // A source that does not exist.
    let t = Scratch::new("e2e-bad-missing");
    refused(
        &Cal::new(&t, 10, "yolo_dynamic.onnx", 2).data(&t.path("nowhere")),
        &["nowhere", "no such file"],
    );
}

// ---- libraries, TensorRT and the build --------------------------------------------------------

#[test]
fn missing_libraries_list_every_path_tried() {
    let t = Scratch::new("e2e-nolib");
    images(&t.path("data"), 2);
    let mut c = Cal::new(&t, 10, "yolo_dynamic.onnx", 2).data(&t.path("data"));
    c.nvinfer = Some(PathBuf::from("/nonexistent"));
    let o = c.run();
    o.fails(1).says("could not load libnvinfer");
    for n in [
        "libnvinfer.so.10",
        "libnvinfer.so.8",
        "libnvinfer.so.11",
        "libnvinfer.so:",
    ] {
        o.says(&format!("/nonexistent/{n}"));
    }
    // The environment variable instead of the flag.
    c.nvinfer = None;
    let o = c.clone().env("TRTQ_NVINFER_DIR", "/nonexistent2").run();
    o.fails(1).says("/nonexistent2/libnvinfer.so.10");

    // libnvinfer without its parser beside it.
    let lone = t.path("lone");
    std::fs::create_dir_all(&lone).unwrap();
    std::os::unix::fs::symlink(
        trtsim(10).join("libnvinfer.so.10"),
        lone.join("libnvinfer.so.10"),
    )
    .unwrap();
    c.nvinfer = Some(lone.clone());
    let o = c.run();
    o.fails(1)
        .says(&format!("{}", lone.join("libnvonnxparser.so.10").display()))
        .says(&format!("{}", lone.join("libnvonnxparser.so").display()));

    let mut c = Cal::new(&t, 10, "yolo_dynamic.onnx", 2).data(&t.path("data"));
    c.cuda = Some(PathBuf::from("/nonexistent/libcuda.so.1"));
    c.run()
        .fails(1)
        .says("could not load libcuda")
        .says("/nonexistent/libcuda.so.1")
        .says("--cuda-lib");
    c.cuda = None;
    c.clone()
        .env("TRTQ_LIBCUDA", "/nonexistent3/libcuda.so.1")
        .run()
        .fails(1)
        .says("/nonexistent3/libcuda.so.1");
    assert!(!c.engine.exists() && !c.cache.exists());
}

#[test]
fn tensorrt_11_is_refused_for_explicit_quantization() {
    let t = Scratch::new("e2e-trt11");
    images(&t.path("data"), 2);
    let c = Cal::new(&t, 10, "yolo_dynamic.onnx", 2)
        .data(&t.path("data"))
        .env("TRTSIM_VERSION", "110000");
    existing_outputs(&c);
    let before = listing(&t.0);
    c.run()
        .fails(1)
        .says("TensorRT 11")
        .says("explicit quantization")
        .says("11.0.0");
    assert_eq!(listing(&t.0), before);
    assert!(!c.trace_text().contains("createInferBuilder"));
}

#[test]
fn parser_errors_name_the_file_and_node() {
    for major in MAJORS {
        let t = Scratch::new("e2e-parse");
        images(&t.path("data"), 2);
        let c = Cal::new(&t, major, "unsupported_op.onnx", 2).data(&t.path("data"));
        existing_outputs(&c);
        let before = listing(&t.0);
        c.run()
            .fails(2)
            .says("unsupported_op.onnx")
            .says("NoSuchOp")
            .says("node 1");
        assert_eq!(listing(&t.0), before);
        for bad in ["truncated.onnx", "no_graph.onnx"] {
            let mut b = c.clone();
            b.model = model(bad);
            b.run().fails(2).says(bad).says("parser");
            assert_eq!(listing(&t.0), before);
        }
        let mut b = c.clone();
        b.model = t.path("absent.onnx");
        b.run().fails(2).says("absent.onnx");
    }
}

/// Integer and bool network inputs have no .npy dtype to calibrate from: refused by name.
#[test]
fn integer_inputs_are_refused_by_name() {
    for major in MAJORS {
        let t = Scratch::new("e2e-int");
        images(&t.path("data"), 2);
        let c = Cal::new(&t, major, "int_input.onnx", 2)
            .data_for("tokens", &t.path("data"))
            .data_for("mask", &t.path("data"));
        let tokens = if major == 8 { "int32" } else { "int64" };
        refused(
            &c,
            &[
                &format!("network input 'tokens' is {tokens}"),
                "network input 'mask' is bool",
            ],
        );
    }
}

#[test]
fn a_failed_build_writes_nothing() {
    for major in MAJORS {
        let t = Scratch::new("e2e-buildfail");
        images(&t.path("data"), 4);
        let c = Cal::new(&t, major, "yolo_dynamic.onnx", 2)
            .data(&t.path("data"))
            .env("TRTSIM_FAIL", "build");
        c.run().fails(1).says("build failure injected");
        assert!(!c.engine.exists() && !c.cache.exists());
        assert_eq!(listing(&t.0).len(), 0, "{:?}", listing(&t.0));
        existing_outputs(&c);
        let before = listing(&t.0);
        c.run().fails(1);
        assert_eq!(listing(&t.0), before);
    }
    // A build that fails after calibration (too small a workspace): the calibrated cache
    // is not written either.
    let t = Scratch::new("e2e-buildfail-ws");
    images(&t.path("data"), 4);
    let c = Cal::new(&t, 10, "yolo_dynamic.onnx", 2)
        .data(&t.path("data"))
        .arg("--workspace 1K");
    c.run().fails(1).says("Insufficient workspace");
    assert!(!c.engine.exists() && !c.cache.exists());
}

#[test]
fn tensorrt_writing_no_cache_is_said() {
    let t = Scratch::new("e2e-nowrite");
    images(&t.path("data"), 4);
    let c = Cal::new(&t, 10, "yolo_dynamic.onnx", 2)
        .data(&t.path("data"))
        .env("TRTSIM_FAIL", "no_writecache");
    let o = c.clone().arg("--json").run();
    o.ok().says("TensorRT wrote no calibration cache");
    assert_eq!(o.json()["cache"]["action"], "none");
    assert!(c.engine.exists() && !c.cache.exists());
}

// ---- Ctrl-C ----------------------------------------------------------------------------------

#[test]
fn ctrl_c_aborts_cleanly_and_writes_nothing() {
    use std::io::{BufRead, BufReader};
    for major in MAJORS {
        let t = Scratch::new("e2e-sigint");
        images(&t.path("data"), 40);
        let c = Cal::new(&t, major, "yolo_dynamic.onnx", 2)
            .data(&t.path("data"))
            .arg("--recalibrate")
            .env("TRTSIM_BATCH_DELAY_MS", "200");
        existing_outputs(&c);
        let before = listing(&t.0);
        let mut cmd = c.command();
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn trtq-lite");
        let mut err = BufReader::new(child.stderr.take().unwrap());
        let mut seen = String::new();
        let mut line = String::new();
        while !seen.contains("calibrating: batch 1/") {
            line.clear();
            if err.read_line(&mut line).unwrap() == 0 {
                break;
            }
            seen.push_str(&line);
        }
        assert!(seen.contains("calibrating: batch 1/20"), "{seen}");
        let st = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(st.success());
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut err, &mut rest).unwrap();
        let status = child.wait().unwrap();
        seen.push_str(&rest);
        assert_eq!(status.code(), Some(130), "{seen}");
        assert!(seen.contains("interrupted"), "{seen}");
        assert_eq!(listing(&t.0), before, "{seen}");
        // TensorRT was told "no more batches" well before the 20th.
        let tr = c.trace_text();
        let n = traced_batches(&tr).len();
        assert!((1..20).contains(&n), "{n} batches:\n{tr}");
        assert!(tr.contains(&format!("getBatch {n} -> false")), "{tr}");
    }
}

// ---- output paths ---------------------------------------------------------------------------

#[test]
fn unwritable_output_folder_is_found_before_calibration() {
    let t = Scratch::new("e2e-unwritable");
    images(&t.path("data"), 2);
    std::fs::write(t.path("file.txt"), b"a file, not a folder\n").unwrap();
    let base = Cal::new(&t, 10, "yolo_dynamic.onnx", 2).data(&t.path("data"));
    // Tests run as root, where permission bits do not stop writes: use a path under a
    // regular file, and one in /proc.
    for (engine, cache, bad) in [
        (
            t.path("file.txt/x.engine"),
            t.path("c.cache"),
            "file.txt/x.engine",
        ),
        (
            t.path("m.engine"),
            t.path("file.txt/x.cache"),
            "file.txt/x.cache",
        ),
        (
            PathBuf::from("/proc/trtq-e2e.engine"),
            t.path("c.cache"),
            "/proc/trtq-e2e.engine",
        ),
    ] {
        let mut c = base.clone();
        c.engine = engine;
        c.cache = cache;
        let o = c.run();
        // An output path the user got wrong: a usage problem or a file-system failure, but
        // never a success.
        assert!(o.code == 1 || o.code == 2, "{o:?}");
        o.says("output folder").says(bad);
        assert!(!o.stderr.contains("calibrating"), "{}", o.stderr);
        // Found before TensorRT was even loaded.
        assert!(!c.trace().exists());
        assert_eq!(
            std::fs::read(t.path("file.txt")).unwrap(),
            b"a file, not a folder\n"
        );
        assert!(!t.path("m.engine").exists() && !t.path("c.cache").exists());
    }
    // A folder given as the engine file, and the same file for both.
    let mut c = base.clone();
    c.engine = t.path("data");
    c.run().fails(2).says("is a folder");
    let mut c = base.clone();
    c.engine = c.cache.clone();
    c.run().fails(2).says("the same file");
    // ... also under another spelling: through `..`, or a symlinked folder.
    std::fs::create_dir_all(t.path("sub")).unwrap();
    std::os::unix::fs::symlink(&t.0, t.path("link")).unwrap();
    for other in [t.path("sub/../c.cache"), t.path("link/c.cache")] {
        let mut c = base.clone();
        c.engine = other;
        c.run().fails(2).says("name the same file");
    }
    // An output onto the model.
    std::fs::copy(model("yolo_dynamic.onnx"), t.path("model.onnx")).unwrap();
    let mut c = base.clone();
    c.model = t.path("model.onnx");
    c.engine = t.path("sub/../model.onnx");
    c.run().fails(2).says("would destroy the model");
    assert_eq!(
        std::fs::read(t.path("model.onnx")).unwrap(),
        std::fs::read(model("yolo_dynamic.onnx")).unwrap()
    );
    assert!(!c.cache.exists());
}

// ---- shapes and build options -------------------------------------------------------------------

#[test]
fn dynamic_input_profile_from_the_shape_flags() {
    for major in MAJORS {
        let t = Scratch::new("e2e-shapes");
        let samples = images(&t.path("data"), 8);
        let c = Cal::new(&t, major, "yolo_dynamic.onnx", 4)
            .data(&t.path("data"))
            .arg("--shapes images:4x3x64x64 --min-shapes images:2x3x64x64 --max-shapes images:16x3x64x64");
        let o = c.clone().arg("--json").run();
        o.ok();
        assert!(
            !o.stderr.contains("engine profile min"),
            "no defaults said:\n{}",
            o.stderr
        );
        assert_eq!(
            plan_line(&c.plan(), "profile"),
            "profile 0 images min 2x3x64x64 opt 4x3x64x64 max 16x3x64x64"
        );
        // The engine profile, then the calibration profile (every selector at the batch).
        let tr = c.trace_text();
        let dims: Vec<&str> = tr
            .lines()
            .filter(|l| l.starts_with("IOptimizationProfile::setDimensions images"))
            .map(|l| l.rsplit(' ').next().unwrap())
            .collect();
        assert_eq!(
            dims,
            [
                "2x3x64x64",
                "4x3x64x64",
                "16x3x64x64",
                "4x3x64x64",
                "4x3x64x64",
                "4x3x64x64"
            ],
            "{tr}"
        );
        assert!(tr.contains("IBuilderConfig::setCalibrationProfile"), "{tr}");
        let got: Vec<u64> = traced_batches(&tr).iter().map(|b| b.fnv).collect();
        assert_eq!(got, expected_fnvs(&samples, 3 * 64 * 64 * 4, 4));
    }
}

/// Dynamic height and width: --shapes is required and gives the sample shape.
#[test]
fn dynamic_height_and_width_need_shapes() {
    for major in MAJORS {
        let t = Scratch::new("e2e-hw");
        let samples = images(&t.path("data"), 4);
        let c = Cal::new(&t, major, "yolo_dynamic_hw.onnx", 2).data(&t.path("data"));
        refused(
            &c,
            &[
                "'images' has dynamic dimensions (-1x3x-1x-1)",
                "--shapes images:2x3x",
            ],
        );
        // The data's 3x64x64 must agree with the calibration shape.
        refused(
            &c.clone().arg("--shapes images:2x3x32x32"),
            &["(3, 64, 64) does not fit input 'images'"],
        );
        let ok = c
            .clone()
            .arg("--shapes images:2x3x64x64 --min-shapes images:1x3x32x32 --max-shapes images:4x3x128x128");
        ok.run().ok();
        assert_eq!(
            plan_line(&ok.plan(), "profile"),
            "profile 0 images min 1x3x32x32 opt 2x3x64x64 max 4x3x128x128"
        );
        assert_eq!(
            plan_line(&ok.plan(), "input"),
            "input images FLOAT -1x3x-1x-1"
        );
        let got = ok.traced_fnvs();
        assert_eq!(got, expected_fnvs(&samples, 3 * 64 * 64 * 4, 2));
    }
}

#[test]
fn shape_errors_are_usage_errors() {
    let t = Scratch::new("e2e-shape-err");
    images(&t.path("data"), 8);
    let dynamic = Cal::new(&t, 10, "yolo_dynamic.onnx", 4).data(&t.path("data"));
    let stat = Cal::new(&t, 10, "yolo_static.onnx", 4).data(&t.path("data"));
    for (c, flags, says) in [
        (
            &dynamic,
            "--shapes images:8x3x64x64",
            "has batch 8, but --batch-size is 4",
        ),
        (
            &dynamic,
            "--shapes images:4x3x64x64 --min-shapes images:8x3x64x64",
            "min <= opt <= max",
        ),
        (
            &dynamic,
            "--max-shapes images:2x3x64x64",
            "min <= opt <= max",
        ),
        (&dynamic, "--shapes images:4x3x32x32", "does not fit"),
        (&dynamic, "--shapes image:4x3x64x64", "not a network input"),
        (&dynamic, "--shapes images:4x3x0x64", "positive integers"),
        (&dynamic, "--min-shapes images", "NAME:BxCxHxW"),
        (&stat, "--shapes images:4x3x64x64", "static shape"),
        (&stat, "", "use --batch-size 1"),
    ] {
        let c = if flags.is_empty() {
            c.clone()
        } else {
            c.clone().arg(flags)
        };
        refused(&c, &[says]);
    }
}

#[test]
fn max_batches_fp16_and_workspace_reach_tensorrt() {
    for major in MAJORS {
        let t = Scratch::new("e2e-opts");
        images(&t.path("data"), 10);
        let plain = Cal::new(&t, major, "yolo_dynamic.onnx", 2).data(&t.path("data"));
        let j = plain.json();
        assert_eq!(j["batches"], 5, "{j}");
        let p = plain.plan();
        assert_eq!(plan_line(&p, "fp16"), "fp16 0");
        assert_eq!(plan_line(&p, "int8"), "int8 1");
        // kINT8 = bit 1.
        assert_eq!(plan_line(&p, "builder_flags"), "builder_flags 0x2");
        assert!(!p.contains("memory_pool"), "{p}");

        let c = plain
            .clone()
            .arg("--max-batches 2 --fp16 --workspace 1G --recalibrate");
        let o = c.clone().arg("--json").run();
        o.ok().says("--max-batches 2: 4 sample(s) used");
        let j = o.json();
        assert_eq!(j["batches"], 2, "{j}");
        assert_eq!(j["samples_used"], 4, "{j}");
        assert_eq!(j["samples_dropped"], 6, "{j}");
        let tr = c.trace_text();
        assert_eq!(traced_batches(&tr).len(), 2, "{tr}");
        assert!(tr.contains("getBatch 2 -> false"), "{tr}");
        let p = c.plan();
        assert_eq!(plan_line(&p, "fp16"), "fp16 1");
        // kFP16 = bit 0, kINT8 = bit 1.
        assert_eq!(plan_line(&p, "builder_flags"), "builder_flags 0x3");
        assert_eq!(plan_line(&p, "memory_pool"), "memory_pool 0 1073741824");
        assert_eq!(
            plan_line(&p, "calibration"),
            "calibration calibration EntropyCalibration2 batches 2"
        );
    }
    let t = Scratch::new("e2e-opts-bad");
    images(&t.path("data"), 2);
    let c = Cal::new(&t, 10, "yolo_dynamic.onnx", 2).data(&t.path("data"));
    for (flags, says) in [
        ("--workspace 4X", "bad size"),
        ("--max-batches 0", "--max-batches must be at least 1"),
        ("--log-level loud", "--log-level"),
        ("--feed teleport", "teleport"),
    ] {
        refused(&c.clone().arg(flags), &[says]);
    }
    let mut c0 = c.clone();
    c0.batch = 0;
    refused(&c0, &["--batch-size must be at least 1"]);
}

#[test]
fn dla_core_options() {
    for major in MAJORS {
        let t = Scratch::new("e2e-dla");
        images(&t.path("data"), 4);
        let c = Cal::new(&t, major, "yolo_dynamic.onnx", 2).data(&t.path("data"));
        // A system with DLA cores: the build targets core 1.
        let on = c
            .clone()
            .arg("--dla-core 1 --gpu-fallback")
            .env("TRTSIM_DLA_CORES", "2");
        on.run().ok();
        let p = on.plan();
        assert_eq!(plan_line(&p, "device"), "device DLA:1");
        assert_eq!(plan_line(&p, "dla_core"), "dla_core 1");
        assert_eq!(plan_line(&p, "gpu_fallback"), "gpu_fallback 1");
        // No DLA: falls back to the GPU with --gpu-fallback, fails without it.
        let fb = c.clone().arg("--dla-core 0 --gpu-fallback --recalibrate");
        fb.run().ok().says("fall back to the GPU");
        assert_eq!(plan_line(&fb.plan(), "device"), "device GPU (DLA fallback)");
        std::fs::remove_file(&c.engine).unwrap();
        std::fs::remove_file(&c.cache).unwrap();
        c.clone()
            .arg("--dla-core 0")
            .run()
            .fails(1)
            .says("DLA core 0 was requested");
        assert!(!c.engine.exists() && !c.cache.exists());
    }
    let t = Scratch::new("e2e-dla-usage");
    images(&t.path("data"), 2);
    let c = Cal::new(&t, 10, "yolo_dynamic.onnx", 2).data(&t.path("data"));
    refused(
        &c.clone().arg("--dla-core 0 --algo minmax"),
        &["--dla-core works only with --algo entropy2"],
    );
    refused(&c.clone().arg("--gpu-fallback"), &["only with --dla-core"]);
}

#[test]
fn json_summary_fields() {
    let t = Scratch::new("e2e-json");
    images(&t.path("data"), 7);
    let c = Cal::new(&t, 10, "yolo_dynamic.onnx", 2).data(&t.path("data"));
    let o = c.clone().arg("--json").run();
    o.ok();
    let j = o.json();
    let keys: Vec<&str> = j.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    for k in [
        "model",
        "trt_version",
        "trt_version_code",
        "abi",
        "simulator",
        "nvinfer",
        "gpu",
        "algorithm",
        "batch_size",
        "batches",
        "samples_used",
        "samples_dropped",
        "calibration_s",
        "wait_s",
        "feed_wait_s",
        "feed_path",
        "feed_gbps",
        "build_s",
        "cache",
        "engine",
    ] {
        assert!(keys.contains(&k), "no {k} in {j}");
    }
    assert_eq!(j["model"], model("yolo_dynamic.onnx").display().to_string());
    assert_eq!(j["trt_version"], "10.3.0");
    assert_eq!(j["trt_version_code"], 100300);
    assert_eq!(j["abi"], "trt10");
    assert_eq!(j["simulator"], true);
    assert_eq!(
        j["nvinfer"],
        trtsim(10).join("libnvinfer.so.10").display().to_string()
    );
    assert!(j["gpu"].as_str().unwrap().contains("hostcuda"), "{j}");
    assert_eq!(j["algorithm"], "EntropyCalibration2");
    assert_eq!(j["batch_size"], 2);
    assert_eq!(j["batches"], 3);
    assert_eq!(j["samples_used"], 6);
    assert_eq!(j["samples_dropped"], 1);
    for k in [
        "calibration_s",
        "wait_s",
        "feed_wait_s",
        "feed_gbps",
        "build_s",
    ] {
        let v = j[k]
            .as_f64()
            .unwrap_or_else(|| panic!("{k} not a number: {j}"));
        assert!(v >= 0.0, "{k} {v}");
    }
    assert!(j["wait_s"].as_f64() <= j["calibration_s"].as_f64(), "{j}");
    assert!(
        ["staged", "registered", "mapped"].contains(&j["feed_path"].as_str().unwrap()),
        "{j}"
    );
    assert_eq!(j["cache"]["path"], c.cache.display().to_string());
    assert_eq!(j["cache"]["action"], "written");
    assert_eq!(j["engine"]["path"], c.engine.display().to_string());
    assert_eq!(
        j["engine"]["bytes"].as_u64().unwrap(),
        std::fs::metadata(&c.engine).unwrap().len()
    );
    // stdout holds only the JSON document; the simulator is said on stderr.
    o.says("is trtsim");
    // Without --json: the text summary.
    let o = c.clone().arg("--recalibrate").run();
    o.ok();
    for s in [
        "TensorRT 10.3.0 (10.x ABI), trtsim simulator",
        "algorithm:    EntropyCalibration2",
        "batches:      3 x 2 samples (6 used, 1 dropped)",
        "cache:        ",
        "(unchanged)",
        "engine:       ",
    ] {
        assert!(o.stdout.contains(s), "no {s:?} in\n{}", o.stdout);
    }
}

#[test]
fn log_level_passes_tensorrt_messages() {
    let t = Scratch::new("e2e-log");
    images(&t.path("data"), 2);
    let c = Cal::new(&t, 10, "yolo_dynamic.onnx", 2).data(&t.path("data"));
    let o = c.run();
    o.ok();
    assert!(!o.stderr.contains("[TensorRT]"), "{}", o.stderr);
    c.clone()
        .arg("--log-level info --recalibrate")
        .run()
        .ok()
        .says("[TensorRT] info: Calibration completed: 1 batches.");
    let o = c
        .clone()
        .arg("--log-level verbose --recalibrate --quiet")
        .run();
    o.ok().says("[TensorRT] verbose: Calibrated batch 0.");
    assert!(
        !o.stderr.contains("calibrating: batch"),
        "--quiet:\n{}",
        o.stderr
    );
}

// ---- on a real GPU ------------------------------------------------------------------------------

/// The same flow with the NVIDIA driver's libcuda: our feed copies into real device memory,
/// trtsim reads each batch back with cuMemcpyDtoH_v2 and checksums it.
#[test]
#[ignore = "needs an NVIDIA GPU: `cargo test --test calibrate_e2e -- --ignored gpu` on a host with the \
driver (TRTQ_TEST_LIBCUDA=PATH instead of libcuda.so.1); without Rust there, carry the test binary \
(`cargo test --test calibrate_e2e --no-run` prints it), target/debug/trtq-lite and target/test-libs, \
and run `TRTQ_TEST_ROOT=$PWD TRTQ_TEST_BIN=target/debug/trtq-lite ./calibrate_e2e-HASH --ignored gpu` \
in the repository root; bench/calibrate_gpu.py runs the same flow at 3x640x640 with Python only"]
fn gpu_calibrate_with_real_libcuda_through_trtsim() {
    let libcuda = std::env::var("TRTQ_TEST_LIBCUDA").unwrap_or_else(|_| "libcuda.so.1".into());
    for major in MAJORS {
        let t = Scratch::new("e2e-gpu");
        // Per-sample files and one big file: the staged and the registered paths.
        let per_sample = write_f32_set(&t.path("files"), &vec![0; 64], &IMG, 11);
        let big = write_f32_set(&t.path("big"), &[64], &IMG, 12);
        for (src, samples, feed) in [
            (t.path("files"), &per_sample, "staged"),
            (t.path("files"), &per_sample, "auto"),
            (t.path("big/s_0000.npy"), &big, "auto"),
            (t.path("big/s_0000.npy"), &big, "registered"),
        ] {
            let mut c = Cal::new(&t, major, "yolo_dynamic.onnx", 8)
                .data(&src)
                .arg(&format!("--feed {feed} --recalibrate"))
                .env("TRTSIM_LIBCUDA", &libcuda);
            c.cuda = Some(PathBuf::from(&libcuda));
            let o = c.clone().arg("--json").run();
            o.ok();
            let j = o.json();
            eprintln!("{major} {feed}: {j}");
            assert!(!j["gpu"].as_str().unwrap().contains("hostcuda"), "{j}");
            assert_eq!(j["batches"], 8, "{j}");
            if feed != "auto" {
                assert_eq!(j["feed_path"], feed, "{j}");
            }
            let got = c.traced_fnvs();
            assert_eq!(
                got,
                expected_fnvs(samples, 3 * 64 * 64 * 4, 8),
                "{major} {feed}"
            );
            assert_eq!(cache_header(&c.cache).0, default_code(major));
        }
    }
}
