//! The shim and the `trt` module against trtsim, the TensorRT simulator built from our own
//! declarations (target/test-libs/trtsim/{8,10}; built here through
//! scripts/build-test-libs.sh, incrementally). Device memory comes from hostcuda, the
//! host-memory libcuda stand-in, which trtsim reads batches through (TRTSIM_LIBCUDA).
//!
//! trtsim's plan is text that records what crossed the ABI (builder flags, network flags,
//! memory pools, device, profiles, calibration algorithm, batch count, scales), so the
//! tests check those values, not just "a plan came back".
//!
//! trtsim reads its knobs (TRTSIM_VERSION, cached per process; TRTSIM_TRACE; TRTSIM_FAIL)
//! from the environment, so tests that set them take `LOCK`, and tests that need another
//! simulated version run this binary again as a child process (`child` below).

use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use trtq_lite::error::Error;
use trtq_lite::trt::{
    Abi, Algorithm, BuildOptions, Calibrator, DataType, Profile, Session, Severity, ShapeRange,
    Trt, TRT11_MESSAGE,
};

mod support;
use support::test_libs;

static LOCK: Mutex<()> = Mutex::new(());

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn hostcuda_path() -> PathBuf {
    test_libs().join("hostcuda/libcuda.so.1")
}

/// Builds the stand-in libraries once per test run, takes the lock and points trtsim at
/// hostcuda.
fn setup() -> MutexGuard<'static, ()> {
    support::built_test_libs();
    let g = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    std::env::set_var("TRTSIM_LIBCUDA", hostcuda_path());
    std::env::remove_var("TRTSIM_FAIL");
    std::env::remove_var("TRTSIM_TRACE");
    std::env::remove_var("TRTSIM_DLA_CORES");
    g
}

fn dir(major: u32) -> PathBuf {
    test_libs().join(format!("trtsim/{major}"))
}

fn fixture(name: &str) -> (Vec<u8>, PathBuf) {
    let p = root().join("fixtures/onnx").join(name);
    (std::fs::read(&p).expect("read fixture"), p)
}

type Log = std::sync::Arc<Mutex<Vec<(Severity, String)>>>;

fn session<'t>(trt: &'t Trt, log: &Log) -> Session<'t> {
    let l = log.clone();
    Session::new(
        trt,
        Severity::Verbose,
        Box::new(move |s, m| l.lock().unwrap().push((s, m.to_string()))),
    )
    .expect("session")
}

fn parsed<'t>(trt: &'t Trt, log: &Log, model: &str) -> Session<'t> {
    let mut s = session(trt, log);
    let (bytes, path) = fixture(model);
    s.parse_onnx(&bytes, &path).expect("parse");
    s
}

fn plan_text(plan: &[u8]) -> String {
    let t = String::from_utf8(plan.to_vec()).expect("trtsim plans are text");
    assert!(t.starts_with("TRTSIM-PLAN 1\n"), "{t}");
    t
}

fn plan_line<'a>(plan: &'a str, key: &str) -> &'a str {
    plan.lines()
        .find(|l| l.starts_with(&format!("{key} ")))
        .unwrap_or_else(|| panic!("no '{key}' line in plan:\n{plan}"))
}

// ---- hostcuda: device memory for calibration batches ----

type CuResult = i32;
struct HostCuda {
    cu_init: unsafe extern "C" fn(u32) -> CuResult,
    cu_device_get: unsafe extern "C" fn(*mut i32, i32) -> CuResult,
    cu_ctx_create: unsafe extern "C" fn(*mut *mut c_void, u32, i32) -> CuResult,
    cu_ctx_destroy: unsafe extern "C" fn(*mut c_void) -> CuResult,
    cu_mem_alloc: unsafe extern "C" fn(*mut u64, usize) -> CuResult,
    cu_mem_free: unsafe extern "C" fn(u64) -> CuResult,
    cu_htod: unsafe extern "C" fn(u64, *const c_void, usize) -> CuResult,
    _lib: libloading::Library,
}

impl HostCuda {
    fn load() -> HostCuda {
        // SAFETY: the test stand-in's initialisers have no requirements; the symbol types
        // are the CUDA driver API's.
        unsafe {
            let lib = libloading::Library::new(hostcuda_path()).expect("load hostcuda");
            macro_rules! f {
                ($n:literal) => {
                    *lib.get(concat!($n, "\0").as_bytes()).expect($n)
                };
            }
            HostCuda {
                cu_init: f!("cuInit"),
                cu_device_get: f!("cuDeviceGet"),
                cu_ctx_create: f!("cuCtxCreate_v2"),
                cu_ctx_destroy: f!("cuCtxDestroy_v2"),
                cu_mem_alloc: f!("cuMemAlloc_v2"),
                cu_mem_free: f!("cuMemFree_v2"),
                cu_htod: f!("cuMemcpyHtoD_v2"),
                _lib: lib,
            }
        }
    }

    /// A context current on this thread (trtsim calls getBatch on the building thread),
    /// destroyed when the guard drops.
    fn context(&self) -> CtxGuard<'_> {
        // SAFETY: plain driver calls with valid out-pointers.
        unsafe {
            assert_eq!((self.cu_init)(0), 0);
            let mut dev = 0;
            assert_eq!((self.cu_device_get)(&mut dev, 0), 0);
            let mut ctx = std::ptr::null_mut();
            assert_eq!((self.cu_ctx_create)(&mut ctx, 0, dev), 0);
            CtxGuard { cuda: self, ctx }
        }
    }
}

struct CtxGuard<'c> {
    cuda: &'c HostCuda,
    ctx: *mut c_void,
}

impl Drop for CtxGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: created by `context`; the test using it has ended.
        unsafe { (self.cuda.cu_ctx_destroy)(self.ctx) };
    }
}

/// A calibrator over fixed host batches, copied to hostcuda device memory per batch.
struct TestCalib<'c> {
    cuda: &'c HostCuda,
    batch: usize,
    /// per batch, per input: the values
    batches: Vec<Vec<Vec<f32>>>,
    next: usize,
    dev: Vec<u64>,
    cache_in: Option<Vec<u8>>,
    cache_out: Option<Vec<u8>>,
    hist_in: Option<Vec<u8>>,
    hist_out: Option<Vec<u8>>,
    names_seen: Vec<Vec<String>>,
    calls: usize,
    panic_on_batch: Option<usize>,
    fail_on_batch: Option<usize>,
}

impl<'c> TestCalib<'c> {
    fn new(cuda: &'c HostCuda, batch: usize, batches: Vec<Vec<Vec<f32>>>) -> TestCalib<'c> {
        TestCalib {
            cuda,
            batch,
            batches,
            next: 0,
            dev: Vec::new(),
            cache_in: None,
            cache_out: None,
            hist_in: None,
            hist_out: None,
            names_seen: Vec::new(),
            calls: 0,
            panic_on_batch: None,
            fail_on_batch: None,
        }
    }
}

impl Drop for TestCalib<'_> {
    fn drop(&mut self) {
        for d in self.dev.drain(..) {
            // SAFETY: allocated by cuMemAlloc_v2 in next_batch.
            unsafe { (self.cuda.cu_mem_free)(d) };
        }
    }
}

impl Calibrator for TestCalib<'_> {
    fn batch_size(&self) -> usize {
        self.batch
    }
    fn next_batch(
        &mut self,
        names: &[&str],
        bindings: &mut [*mut c_void],
    ) -> trtq_lite::Result<bool> {
        self.calls += 1;
        self.names_seen
            .push(names.iter().map(|s| s.to_string()).collect());
        if self.panic_on_batch == Some(self.next) {
            panic!("injected panic in next_batch {}", self.next);
        }
        if self.fail_on_batch == Some(self.next) {
            return Err(Error::BadInput(format!(
                "injected failure reading batch {}",
                self.next
            )));
        }
        let Some(b) = self.batches.get(self.next) else {
            return Ok(false);
        };
        assert_eq!(bindings.len(), b.len());
        for (i, vals) in b.iter().enumerate() {
            let bytes = vals.len() * 4;
            let mut d = 0u64;
            // SAFETY: driver calls with valid pointers; `vals` is `bytes` long.
            unsafe {
                assert_eq!((self.cuda.cu_mem_alloc)(&mut d, bytes), 0);
                assert_eq!((self.cuda.cu_htod)(d, vals.as_ptr().cast(), bytes), 0);
            }
            self.dev.push(d);
            bindings[i] = d as usize as *mut c_void;
        }
        self.next += 1;
        Ok(true)
    }
    fn read_cache(&mut self) -> trtq_lite::Result<Option<Vec<u8>>> {
        Ok(self.cache_in.clone())
    }
    fn write_cache(&mut self, cache: &[u8]) -> trtq_lite::Result<()> {
        self.cache_out = Some(cache.to_vec());
        Ok(())
    }
    fn read_histogram_cache(&mut self) -> trtq_lite::Result<Option<Vec<u8>>> {
        Ok(self.hist_in.clone())
    }
    fn write_histogram_cache(&mut self, cache: &[u8]) -> trtq_lite::Result<()> {
        self.hist_out = Some(cache.to_vec());
        Ok(())
    }
}

/// `n` batches for yolo_static (one input, 1x3x64x64), deterministic, batch k scaled by k+1.
fn yolo_batches(n: usize) -> Vec<Vec<Vec<f32>>> {
    (0..n)
        .map(|k| {
            vec![(0..3 * 64 * 64)
                .map(|i| ((i % 97) as f32 / 97.0 - 0.5) * (k + 1) as f32)
                .collect()]
        })
        .collect()
}

// ---- tests ----

#[test]
fn loads_both_abis_and_reports_versions() {
    let _g = setup();
    let t8 = Trt::load(Some(&dir(8))).expect("trtsim 8");
    assert_eq!(t8.abi(), Abi::Trt8);
    assert_eq!(t8.version().to_string(), "8.6.1");
    assert!(t8.nvinfer_path().ends_with("trtsim/8/libnvinfer.so.8"));
    assert!(t8.parser_path().ends_with("trtsim/8/libnvonnxparser.so.8"));
    let t10 = Trt::load(Some(&dir(10))).expect("trtsim 10");
    assert_eq!(t10.abi(), Abi::Trt10);
    assert_eq!(t10.version().to_string(), "10.3.0");
    assert!(t10.nvinfer_path().ends_with("trtsim/10/libnvinfer.so.10"));
    // Both in one process, each with its own parser (RTLD_LOCAL keeps them apart).
    let log = Log::default();
    for t in [&t8, &t10] {
        let s = session(t, &log);
        let p = s.platform().unwrap();
        assert!(p.fast_int8 && p.fast_fp16);
        assert_eq!(p.nb_dla_cores, 0);
        assert_eq!(t.platform().unwrap(), p);
    }
}

#[test]
fn lists_inputs_before_building() {
    let _g = setup();
    for major in [8, 10] {
        let trt = Trt::load(Some(&dir(major))).unwrap();
        let log = Log::default();
        let s = parsed(&trt, &log, "yolo_dynamic.onnx");
        let inputs = s.inputs().unwrap();
        assert_eq!(inputs.len(), 1);
        assert_eq!(inputs[0].name, "images");
        assert_eq!(inputs[0].dims, vec![-1, 3, 64, 64]);
        assert_eq!(inputs[0].dtype, DataType::Float);

        let s = parsed(&trt, &log, "two_inputs.onnx");
        let names: Vec<_> = s
            .inputs()
            .unwrap()
            .into_iter()
            .map(|t| (t.name, t.dims))
            .collect();
        assert_eq!(
            names,
            vec![
                ("left".to_string(), vec![1, 3, 32, 32]),
                ("right".to_string(), vec![1, 1, 32, 32])
            ]
        );

        let s = parsed(&trt, &log, "int_input.onnx");
        let inputs = s.inputs().unwrap();
        // TensorRT 8 imports INT64 inputs as INT32; 10 keeps INT64.
        let want = if major == 8 {
            DataType::Int32
        } else {
            DataType::Int64
        };
        assert_eq!(inputs[0].dtype, want, "trtsim {major}");
        assert_eq!(inputs[0].dims, vec![-1, 16]);
        assert_eq!(inputs[1].dtype, DataType::Bool);
    }
}

#[test]
fn parse_errors_name_the_node() {
    let _g = setup();
    for major in [8, 10] {
        let trt = Trt::load(Some(&dir(major))).unwrap();
        let log = Log::default();
        let mut s = session(&trt, &log);
        let (bytes, path) = fixture("unsupported_op.onnx");
        let e = s.parse_onnx(&bytes, &path).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let Error::OnnxParse { path: p, errors } = &e else {
            panic!("not a parse error: {e}")
        };
        assert_eq!(p, &path);
        assert!(errors.iter().any(|m| m.contains("node 1")), "{errors:?}");
        assert!(errors.iter().any(|m| m.contains("NoSuchOp")), "{errors:?}");
        if major == 10 {
            // nodeName/nodeOperator exist from 10.0 on.
            assert!(
                errors
                    .iter()
                    .any(|m| m.contains("node 1 (mystery, NoSuchOp)")),
                "{errors:?}"
            );
        }
        let text = e.to_string();
        assert!(text.contains("unsupported_op.onnx"), "{text}");

        for bad in ["truncated.onnx", "no_graph.onnx"] {
            let mut s = session(&trt, &log);
            let (bytes, path) = fixture(bad);
            match s.parse_onnx(&bytes, &path) {
                Err(Error::OnnxParse { errors, .. }) => assert!(!errors.is_empty()),
                other => panic!("{bad} on trtsim {major}: {other:?}"),
            }
        }
        // Garbage is refused, not a crash.
        let mut s = session(&trt, &log);
        assert!(matches!(
            s.parse_onnx(b"not a model", Path::new("garbage.onnx")),
            Err(Error::OnnxParse { .. })
        ));
    }
}

#[test]
fn builds_with_every_algorithm_on_both_abis() {
    let _g = setup();
    let cuda = HostCuda::load();
    let _ctx = cuda.context();
    for major in [8, 10] {
        let trt = Trt::load(Some(&dir(major))).unwrap();
        let version = trt.version().raw;
        let mut caches = Vec::new();
        for (algo, name) in [
            (Algorithm::Entropy2, "EntropyCalibration2"),
            (Algorithm::Entropy, "EntropyCalibration"),
            (Algorithm::MinMax, "MinMaxCalibration"),
            (
                Algorithm::Legacy {
                    quantile: 0.9999,
                    regression_cutoff: 0.5,
                },
                "LegacyCalibration",
            ),
        ] {
            let log = Log::default();
            let mut s = parsed(&trt, &log, "yolo_static.onnx");
            let mut calib = TestCalib::new(&cuda, 1, yolo_batches(3));
            let trace = std::env::temp_dir().join(format!(
                "trtq-trace-{}-{major}-{name}.txt",
                std::process::id()
            ));
            let _ = std::fs::remove_file(&trace);
            std::env::set_var("TRTSIM_TRACE", &trace);
            let opts = BuildOptions {
                algorithm: algo,
                workspace: Some(1 << 24),
                ..BuildOptions::default()
            };
            let plan = s.build(&opts, Some(&mut calib)).expect("build");
            std::env::remove_var("TRTSIM_TRACE");
            let plan = plan_text(&plan);
            let tr = std::fs::read_to_string(&trace).unwrap_or_default();
            let _ = std::fs::remove_file(&trace);

            // 3 batches then the end, each with the input names in order.
            assert_eq!(calib.calls, 4, "{name}");
            assert!(calib.names_seen.iter().all(|n| n == &["images"]));
            assert_eq!(
                plan_line(&plan, "calibration"),
                format!("calibration calibration {name} batches 3")
            );
            assert_eq!(plan_line(&plan, "int8"), "int8 1");
            assert_eq!(plan_line(&plan, "memory_pool"), "memory_pool 0 16777216");
            assert_eq!(
                plan_line(&plan, "header_version"),
                format!("header_version {version}")
            );
            assert_eq!(plan_line(&plan, "device"), "device GPU");
            // The explicit-batch flag on 8.x only.
            let want_flags = if major == 8 {
                "network_flags 0x1"
            } else {
                "network_flags 0x0"
            };
            assert_eq!(plan_line(&plan, "network_flags"), want_flags);
            // BuilderFlag::kINT8 is bit 1 in both numberings.
            assert_eq!(plan_line(&plan, "builder_flags"), "builder_flags 0x2");

            let cache = calib.cache_out.clone().expect("cache written");
            let header = format!("TRT-{version}-{name}\n");
            assert!(
                cache.starts_with(header.as_bytes()),
                "{}",
                String::from_utf8_lossy(&cache)
            );
            if let Algorithm::Legacy { .. } = algo {
                assert!(calib.hist_out.as_ref().is_some_and(|h| !h.is_empty()));
                assert!(
                    tr.contains("legacy quantile=0.99990000000000001 regression_cutoff=0.5"),
                    "{tr}"
                );
            } else {
                assert!(calib.hist_out.is_none());
            }
            if major == 10 {
                // The calibrator's identity as the official header defines it.
                let kind = match algo {
                    Algorithm::Legacy { .. } => "IInt8Calibrator",
                    Algorithm::Entropy2 => "IInt8EntropyCalibrator2",
                    Algorithm::Entropy => "IInt8EntropyCalibrator",
                    Algorithm::MinMax => "IInt8MinMaxCalibrator",
                };
                assert!(tr.contains(kind), "{tr}");
            }
            caches.push(cache);
        }
        // Different algorithms give different caches (not one hard-coded text).
        caches.sort();
        caches.dedup();
        assert_eq!(caches.len(), 4);
    }
}

#[test]
fn reuses_a_cache_and_refuses_a_foreign_one() {
    let _g = setup();
    let cuda = HostCuda::load();
    let _ctx = cuda.context();
    for major in [8, 10] {
        let trt = Trt::load(Some(&dir(major))).unwrap();
        let log = Log::default();
        let mut s = parsed(&trt, &log, "yolo_static.onnx");
        let mut calib = TestCalib::new(&cuda, 1, yolo_batches(2));
        let first = plan_text(&s.build(&BuildOptions::default(), Some(&mut calib)).unwrap());
        let cache = calib.cache_out.clone().unwrap();

        // Same cache in: no batches asked for, same scales.
        let mut s = parsed(&trt, &log, "yolo_static.onnx");
        let mut calib2 = TestCalib::new(&cuda, 1, yolo_batches(2));
        calib2.cache_in = Some(cache.clone());
        let second = plan_text(
            &s.build(&BuildOptions::default(), Some(&mut calib2))
                .unwrap(),
        );
        assert_eq!(calib2.calls, 0);
        assert!(plan_line(&second, "calibration").starts_with("calibration cache "));
        let scales = |p: &str| -> Vec<String> {
            p.lines()
                .filter(|l| l.starts_with("scale "))
                .map(str::to_string)
                .collect()
        };
        assert_eq!(scales(&first), scales(&second));

        // A cache of another algorithm is refused with a warning; calibration runs.
        let foreign = String::from_utf8(cache).unwrap().replacen(
            "EntropyCalibration2",
            "MinMaxCalibration",
            1,
        );
        let log2 = Log::default();
        let mut s = parsed(&trt, &log2, "yolo_static.onnx");
        let mut calib3 = TestCalib::new(&cuda, 1, yolo_batches(2));
        calib3.cache_in = Some(foreign.into_bytes());
        s.build(&BuildOptions::default(), Some(&mut calib3))
            .unwrap();
        assert_eq!(calib3.calls, 3);
        assert!(log2
            .lock()
            .unwrap()
            .iter()
            .any(|(sev, _)| *sev == Severity::Warning));
    }
}

#[test]
fn profiles_dla_and_flags_cross_the_abi() {
    let _g = setup();
    let cuda = HostCuda::load();
    let _ctx = cuda.context();
    for major in [8, 10] {
        let trt = Trt::load(Some(&dir(major))).unwrap();
        let log = Log::default();
        let mut s = parsed(&trt, &log, "yolo_dynamic.onnx");
        let range = |min: i64, opt: i64, max: i64| ShapeRange {
            name: "images".into(),
            min: vec![min, 3, 64, 64],
            opt: vec![opt, 3, 64, 64],
            max: vec![max, 3, 64, 64],
        };
        let opts = BuildOptions {
            fp16: true,
            profiles: vec![Profile {
                inputs: vec![range(1, 4, 8)],
            }],
            calib_profile: Some(Profile {
                inputs: vec![range(2, 2, 2)],
            }),
            dla_core: Some(0),
            gpu_fallback: true,
            ..BuildOptions::default()
        };
        let two = yolo_batches(4);
        // batch of 2: two images per batch
        let batches: Vec<Vec<Vec<f32>>> = two
            .chunks(2)
            .map(|c| vec![c.iter().flat_map(|b| b[0].clone()).collect()])
            .collect();
        let mut calib = TestCalib::new(&cuda, 2, batches);
        let plan = plan_text(&s.build(&opts, Some(&mut calib)).unwrap());
        assert_eq!(
            plan_line(&plan, "profile"),
            "profile 0 images min 1x3x64x64 opt 4x3x64x64 max 8x3x64x64"
        );
        assert_eq!(plan_line(&plan, "fp16"), "fp16 1");
        assert_eq!(plan_line(&plan, "dla_core"), "dla_core 0");
        assert_eq!(plan_line(&plan, "gpu_fallback"), "gpu_fallback 1");
        assert_eq!(plan_line(&plan, "device"), "device GPU (DLA fallback)");
        // kFP16 | kINT8 | kGPU_FALLBACK: bits 0, 1, 3 in both numberings.
        assert_eq!(plan_line(&plan, "builder_flags"), "builder_flags 0xb");
        assert_eq!(
            plan_line(&plan, "calibration"),
            "calibration calibration EntropyCalibration2 batches 2"
        );

        // A bad profile is refused with TensorRT's reason in the error.
        let mut s = parsed(&trt, &log, "yolo_dynamic.onnx");
        let bad = BuildOptions {
            profiles: vec![Profile {
                inputs: vec![range(4, 1, 8)],
            }],
            ..BuildOptions::default()
        };
        let e = s.build(&bad, None).unwrap_err().to_string();
        assert!(e.contains("min <= opt <= max"), "{e}");

        // DLA without fallback on a system without DLA: no plan, the log says why.
        let mut s = parsed(&trt, &log, "yolo_static.onnx");
        let dla = BuildOptions {
            dla_core: Some(0),
            int8: false,
            ..BuildOptions::default()
        };
        let e = s.build(&dla, None).unwrap_err().to_string();
        assert!(e.contains("returned no plan"), "{e}");
        assert!(e.contains("DLA core 0 was requested"), "{e}");

        // Rust-side validation happens before TensorRT is called.
        let mut s = parsed(&trt, &log, "yolo_dynamic.onnx");
        let uneven = BuildOptions {
            profiles: vec![Profile {
                inputs: vec![ShapeRange {
                    name: "images".into(),
                    min: vec![1, 3, 64, 64],
                    opt: vec![1, 3, 64],
                    max: vec![1, 3, 64, 64],
                }],
            }],
            ..BuildOptions::default()
        };
        let e = s.build(&uneven, None).unwrap_err();
        assert_eq!(e.exit_code(), 2, "{e}");
    }
}

#[test]
fn dla_cores_are_reported_and_used() {
    let _g = setup();
    std::env::set_var("TRTSIM_DLA_CORES", "2");
    let r = std::panic::catch_unwind(|| {
        for major in [8, 10] {
            let trt = Trt::load(Some(&dir(major))).unwrap();
            assert_eq!(trt.platform().unwrap().nb_dla_cores, 2);
            let log = Log::default();
            let mut s = parsed(&trt, &log, "yolo_static.onnx");
            let opts = BuildOptions {
                int8: false,
                dla_core: Some(1),
                ..BuildOptions::default()
            };
            let plan = plan_text(&s.build(&opts, None).unwrap());
            assert_eq!(plan_line(&plan, "device"), "device DLA:1");
            assert_eq!(plan_line(&plan, "gpu_fallback"), "gpu_fallback 0");
        }
    });
    std::env::remove_var("TRTSIM_DLA_CORES");
    if let Err(p) = r {
        std::panic::resume_unwind(p);
    }
}

#[test]
fn tensorrt_failures_carry_tensorrt_s_message() {
    let _g = setup();
    for major in [8, 10] {
        let trt = Trt::load(Some(&dir(major))).unwrap();
        let log = Log::default();
        for (knob, want) in [
            ("builder", "builder creation failure injected"),
            ("parser", "parser creation failure injected"),
        ] {
            std::env::set_var("TRTSIM_FAIL", knob);
            let l = log.clone();
            let r = Session::new(
                &trt,
                Severity::Verbose,
                Box::new(move |s, m| l.lock().unwrap().push((s, m.to_string()))),
            );
            std::env::remove_var("TRTSIM_FAIL");
            let e = r.err().expect("must fail").to_string();
            assert!(e.contains(want), "{knob}: {e}");
        }
        let mut s = parsed(&trt, &log, "yolo_static.onnx");
        std::env::set_var("TRTSIM_FAIL", "build");
        let r = s.build(
            &BuildOptions {
                int8: false,
                ..BuildOptions::default()
            },
            None,
        );
        std::env::remove_var("TRTSIM_FAIL");
        let e = r.unwrap_err().to_string();
        assert!(e.contains("returned no plan"), "{e}");
        assert!(e.contains("build failure injected"), "{e}");
    }
}

#[test]
fn calibrator_panic_and_error_fail_the_build_cleanly() {
    let _g = setup();
    let cuda = HostCuda::load();
    let _ctx = cuda.context();
    for major in [8, 10] {
        let trt = Trt::load(Some(&dir(major))).unwrap();
        let log = Log::default();

        let mut s = parsed(&trt, &log, "yolo_static.onnx");
        let mut calib = TestCalib::new(&cuda, 1, yolo_batches(3));
        calib.panic_on_batch = Some(1);
        match s.build(&BuildOptions::default(), Some(&mut calib)) {
            Err(Error::CallbackPanic { callback, msg }) => {
                assert_eq!(callback, "Calibrator::next_batch");
                assert!(msg.contains("injected panic in next_batch 1"), "{msg}");
            }
            other => panic!("trtsim {major}: {other:?}"),
        }
        // The returned -1 stopped calibration: no cache was written.
        assert!(calib.cache_out.is_none());

        let mut s = parsed(&trt, &log, "yolo_static.onnx");
        let mut calib = TestCalib::new(&cuda, 1, yolo_batches(3));
        calib.fail_on_batch = Some(0);
        let e = s
            .build(&BuildOptions::default(), Some(&mut calib))
            .unwrap_err();
        assert!(
            e.to_string().contains("injected failure reading batch 0"),
            "{e}"
        );
        assert_eq!(e.exit_code(), 2, "the calibrator's own error is kept: {e}");
        assert!(calib.cache_out.is_none());

        // No batches at all: TensorRT's own message.
        let mut s = parsed(&trt, &log, "yolo_static.onnx");
        let mut calib = TestCalib::new(&cuda, 1, Vec::new());
        let e = s
            .build(&BuildOptions::default(), Some(&mut calib))
            .unwrap_err()
            .to_string();
        assert!(e.contains("no scaling factors detected"), "{e}");

        // And the process (and the session machinery) still works.
        let mut s = parsed(&trt, &log, "yolo_static.onnx");
        let mut calib = TestCalib::new(&cuda, 1, yolo_batches(1));
        assert!(s.build(&BuildOptions::default(), Some(&mut calib)).is_ok());
    }
}

#[test]
fn objects_are_released_through_their_destructors() {
    let _g = setup();
    let cuda = HostCuda::load();
    let _ctx = cuda.context();
    for major in [8, 10] {
        let trace = std::env::temp_dir().join(format!(
            "trtq-trace-{}-{major}-lifecycle.txt",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&trace);
        std::env::set_var("TRTSIM_TRACE", &trace);
        {
            let trt = Trt::load(Some(&dir(major))).unwrap();
            let log = Log::default();
            let mut s = parsed(&trt, &log, "yolo_static.onnx");
            let mut calib = TestCalib::new(&cuda, 1, yolo_batches(1));
            let opts = BuildOptions {
                algorithm: Algorithm::Legacy {
                    quantile: 0.5,
                    regression_cutoff: 1.0,
                },
                ..BuildOptions::default()
            };
            s.build(&opts, Some(&mut calib)).unwrap();
        }
        std::env::remove_var("TRTSIM_TRACE");
        let tr = std::fs::read_to_string(&trace).unwrap_or_default();
        let _ = std::fs::remove_file(&trace);
        let destroys: Vec<&str> = tr.lines().filter(|l| l.starts_with("destroy ")).collect();
        // The config when the build returns, the plan after it was copied, then the
        // session: parser, network, builder (each through its declared destructor slot).
        assert_eq!(
            destroys,
            [
                "destroy IBuilderConfig",
                "destroy IHostMemory",
                "destroy IParser",
                "destroy INetworkDefinition",
                "destroy IBuilder"
            ],
            "trtsim {major}:\n{tr}"
        );
        // trtsim finds our legacy calibrator by dynamic_cast to the official class name.
        assert!(tr.contains("legacy dynamic_cast ok"), "{tr}");
    }
}

#[test]
fn log_messages_go_to_their_session() {
    let _g = setup();
    let trt = Trt::load(Some(&dir(10))).unwrap();
    let (la, lb) = (Log::default(), Log::default());
    let no_int8 = BuildOptions {
        int8: false,
        ..BuildOptions::default()
    };
    let mut b = parsed(&trt, &lb, "yolo_static.onnx");
    {
        let mut a = parsed(&trt, &la, "yolo_static.onnx");
        a.build(&no_int8, None).unwrap();
    }
    let built = |l: &Log| {
        l.lock()
            .unwrap()
            .iter()
            .filter(|(_, m)| m.contains("Engine built"))
            .count()
    };
    assert_eq!((built(&la), built(&lb)), (1, 0));
    // The first session is gone (TensorRT keeps the first logger it saw: the shim's one
    // process-wide logger, so nothing dangles); the second still gets its messages.
    b.build(&no_int8, None).unwrap();
    assert_eq!((built(&la), built(&lb)), (1, 1));
    // The level filters what reaches the callback.
    let quiet = Log::default();
    let q = quiet.clone();
    let mut s = Session::new(
        &trt,
        Severity::Warning,
        Box::new(move |sev, m| q.lock().unwrap().push((sev, m.to_string()))),
    )
    .unwrap();
    let (bytes, path) = fixture("yolo_static.onnx");
    s.parse_onnx(&bytes, &path).unwrap();
    s.build(&no_int8, None).unwrap();
    assert!(quiet
        .lock()
        .unwrap()
        .iter()
        .all(|(sev, _)| *sev <= Severity::Warning));
    assert_eq!(built(&quiet), 0);
}

#[test]
fn log_callback_panic_is_reported() {
    let _g = setup();
    let trt = Trt::load(Some(&dir(10))).unwrap();
    let mut s = Session::new(
        &trt,
        Severity::Verbose,
        Box::new(|_, m| {
            if m.contains("Engine built") {
                panic!("injected panic in the logger");
            }
        }),
    )
    .unwrap();
    let (bytes, path) = fixture("yolo_static.onnx");
    s.parse_onnx(&bytes, &path).unwrap();
    let opts = BuildOptions {
        int8: false,
        ..BuildOptions::default()
    };
    match s.build(&opts, None) {
        Err(Error::CallbackPanic { msg, .. }) => {
            assert!(msg.contains("injected panic in the logger"), "{msg}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn missing_library_and_missing_symbol() {
    let _g = setup();
    let tmp = std::env::temp_dir().join(format!("trtq-missing-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();

    // No library at all: every candidate with its dlerror text, and the fix.
    let e = Trt::load(Some(&tmp)).err().expect("nothing to load");
    let s = e.to_string();
    assert!(
        matches!(
            e,
            Error::LibraryNotFound {
                lib: "libnvinfer",
                ..
            }
        ),
        "{s}"
    );
    assert!(
        s.contains(&format!("{}/libnvinfer.so.10", tmp.display())),
        "{s}"
    );
    assert!(
        s.contains(&format!("{}/libnvinfer.so.8", tmp.display())),
        "{s}"
    );
    assert!(s.contains("No such file or directory"), "{s}");
    assert!(s.contains("fix: --nvinfer"), "{s}");

    // A libnvinfer without createInferBuilder_INTERNAL.
    let src = tmp.join("stub.c");
    std::fs::write(&src, "int getInferLibVersion(void) { return 100300; }\n").unwrap();
    let st = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-shared", "-fPIC", "-o"])
        .arg(tmp.join("libnvinfer.so.10"))
        .arg(&src)
        .status()
        .expect("run cc");
    assert!(st.success());
    match Trt::load(Some(&tmp)) {
        Err(Error::MissingSymbol { lib, symbol, path }) => {
            assert_eq!(lib, "libnvinfer");
            assert_eq!(symbol, "createInferBuilder_INTERNAL");
            assert!(path.ends_with("libnvinfer.so.10"));
        }
        other => panic!("{:?}", other.err()),
    }

    // libnvinfer present, libnvonnxparser missing.
    let only = tmp.join("only-nvinfer");
    std::fs::create_dir_all(&only).unwrap();
    std::os::unix::fs::symlink(
        dir(10).join("libnvinfer.so.10"),
        only.join("libnvinfer.so.10"),
    )
    .unwrap();
    match Trt::load(Some(&only)) {
        Err(Error::LibraryNotFound { lib, tried, .. }) => {
            assert_eq!(lib, "libnvonnxparser");
            assert!(
                tried[0].0.ends_with("only-nvinfer/libnvonnxparser.so.10"),
                "{tried:?}"
            );
        }
        other => panic!("{:?}", other.err()),
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn folder_from_env_and_flag() {
    let _g = setup();
    std::env::set_var("TRTQ_NVINFER_DIR", dir(8));
    let from_env = Trt::load(None).map(|t| t.abi());
    // The flag wins over the environment.
    let from_flag = Trt::load(Some(&dir(10))).map(|t| t.abi());
    std::env::set_var("TRTQ_NVINFER_DIR", "");
    // Empty means unset: the SONAME search, which finds no TensorRT on this machine unless
    // one is installed (then it loads; either way it must not be trtsim 8 from the env).
    let empty = Trt::load(None).map(|t| t.nvinfer_path().to_string());
    std::env::remove_var("TRTQ_NVINFER_DIR");
    assert_eq!(from_env.unwrap(), Abi::Trt8);
    assert_eq!(from_flag.unwrap(), Abi::Trt10);
    match empty {
        Ok(p) => assert!(!p.contains("trtsim/8"), "{p}"),
        Err(e) => assert!(e.to_string().contains("libnvinfer.so.10: "), "{e}"),
    }
}

/// Runs `scenario` in a child process of this test binary with `env` set (trtsim caches
/// TRTSIM_VERSION per process). Returns (success, stdout+stderr).
fn child(scenario: &str, env: &[(&str, &str)]) -> (bool, String) {
    let exe = std::env::current_exe().unwrap();
    // Under qemu-user without binfmt_misc (scripts/aarch64-smoke.sh runs this file for
    // aarch64), the host cannot exec the test binary itself: TRTQ_TEST_RUNNER names the
    // emulator command, e.g. "qemu-aarch64 -L /usr/aarch64-linux-gnu".
    let runner = std::env::var("TRTQ_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    let mut cmd = match words.next() {
        Some(emulator) => {
            let mut c = Command::new(emulator);
            c.args(words).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    cmd.args([
        "--exact",
        "child_scenario",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("TRTQ_TEST_SCENARIO", scenario)
    .env("TRTSIM_LIBCUDA", hostcuda_path());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The child side of `child`: does nothing unless TRTQ_TEST_SCENARIO is set.
#[test]
fn child_scenario() {
    let Ok(scenario) = std::env::var("TRTQ_TEST_SCENARIO") else {
        return;
    };
    let major: u32 = std::env::var("TRTQ_TEST_MAJOR").unwrap().parse().unwrap();
    match scenario.as_str() {
        "load" => match Trt::load(Some(&dir(major))) {
            Ok(t) => println!("LOADED {} {:?}", t.version(), t.abi()),
            Err(e) => println!("REFUSED {e}"),
        },
        "build" => {
            let trt = Trt::load(Some(&dir(major))).unwrap();
            let log = Log::default();
            let mut s = parsed(&trt, &log, "yolo_static.onnx");
            let plan = s
                .build(
                    &BuildOptions {
                        int8: false,
                        ..BuildOptions::default()
                    },
                    None,
                )
                .unwrap();
            println!("PLAN {}", plan_line(&plan_text(&plan), "version"));
        }
        other => panic!("unknown scenario {other}"),
    }
}

#[test]
fn tensorrt_11_is_refused_with_the_reason() {
    let _g = setup();
    let (ok, out) = child(
        "load",
        &[("TRTQ_TEST_MAJOR", "10"), ("TRTSIM_VERSION", "110000")],
    );
    assert!(ok, "{out}");
    assert!(out.contains("REFUSED"), "{out}");
    assert!(out.contains(TRT11_MESSAGE), "{out}");
    assert!(out.contains("11.0.0"), "{out}");
}

#[test]
fn other_versions_choose_the_right_abi() {
    let _g = setup();
    for (major, ver, want) in [
        ("8", "8502", "LOADED 8.5.2 Trt8"),
        ("10", "100001", "LOADED 10.0.1 Trt10"),
        ("10", "101600", "LOADED 10.16.0 Trt10"),
        ("8", "8402", "REFUSED"),
        ("8", "9300", "REFUSED"),
    ] {
        let (ok, out) = child(
            "load",
            &[("TRTQ_TEST_MAJOR", major), ("TRTSIM_VERSION", ver)],
        );
        assert!(ok, "{out}");
        assert!(out.contains(want), "{ver}: {out}");
    }
    // A build on the newest 10.x and the oldest 8.x the tool supports.
    for (major, ver) in [("10", "101600"), ("8", "8502")] {
        let (ok, out) = child(
            "build",
            &[("TRTQ_TEST_MAJOR", major), ("TRTSIM_VERSION", ver)],
        );
        assert!(ok, "{out}");
        assert!(out.contains(&format!("PLAN version {ver}")), "{out}");
    }
}
