//! Fault injection through the `trtq-lite calibrate` binary: failures of the native side
//! (trtsim's TRTSIM_FAIL knobs, hostcuda's HOSTCUDA_* knobs), panics inside each Rust
//! callback called from C++ (the TRTQ_TEST_PANIC hook), SIGKILL while an output is being
//! replaced (the TRTQ_TEST_PAUSE_BEFORE_RENAME hook) and concurrent writers of one cache.
//!
//! For every failure the contract checked is the one README's "Reliability" section states:
//! a message naming the failing call, exit code 1 (runtime failure) or 2 (bad input), the
//! process ends by exit code and not by a signal, existing outputs keep their bytes, absent
//! outputs stay absent, and no temporary file (`.NAME.PID.N.tmp`) is left in the output
//! folder. Each case runs against both simulated ABIs (TensorRT 8 and 10), once with
//! outputs already present and once without.
//!
//! The ordinary end-to-end behaviour of calibrate (algorithms, cache reuse, bad data,
//! Ctrl-C) is tested elsewhere (tests/calibrate_cli.rs on the e2e branch).

mod support;

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use support::{write_samples, Scratch};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Knobs and hooks that must not leak in from the environment of `cargo test`.
const CLEARED: &[&str] = &[
    "TRTQ_NVINFER_DIR",
    "TRTQ_LIBCUDA",
    "TRTQ_TEST_PANIC",
    "TRTQ_TEST_PAUSE_BEFORE_RENAME",
    "TRTSIM_FAIL",
    "TRTSIM_TRACE",
    "TRTSIM_VERSION",
    "TRTSIM_MAX_BATCHES",
    "HOSTCUDA_INIT_ERROR",
    "HOSTCUDA_DEVICES",
    "HOSTCUDA_OOM_AFTER",
    "HOSTCUDA_HOSTALLOC_FAIL",
    "HOSTCUDA_REGISTER_FAIL",
    "HOSTCUDA_HTOD_FAIL_AFTER",
];

/// One calibration setting: a data folder, an output folder and the ABI to simulate.
struct Setup {
    t: Scratch,
    major: u32,
}

impl Setup {
    /// 48 samples of 3x64x64 in 6 files of 8 (so batches of 8 are contiguous and the
    /// registered feed path is possible, and `auto` has the 5 batches it compares paths on),
    /// for yolo_dynamic.onnx.
    fn new(major: u32) -> Setup {
        let t = Scratch::new("faults");
        write_samples(&t.path("data"), 6, Some(8), &[3, 64, 64]);
        std::fs::create_dir_all(t.path("out")).unwrap();
        Setup { t, major }
    }
    fn out(&self) -> PathBuf {
        self.t.path("out")
    }
    fn cache(&self) -> PathBuf {
        self.t.path("out/c.cache")
    }
    fn engine(&self) -> PathBuf {
        self.t.path("out/m.engine")
    }
    fn command(&self, extra: &[&str], env: &[(&str, &str)]) -> Command {
        self.command_with(
            &root().join("fixtures/onnx/yolo_dynamic.onnx"),
            &self.engine(),
            extra,
            env,
        )
    }
    fn command_with(
        &self,
        model: &Path,
        engine: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Command {
        let libs = support::built_test_libs();
        let mut c = Command::new(env!("CARGO_BIN_EXE_trtq-lite"));
        c.arg("calibrate")
            .arg(model)
            .arg("--data")
            .arg(self.t.path("data"))
            .args(["--batch-size", "8", "--quiet", "--cache"])
            .arg(self.cache())
            .arg("--engine")
            .arg(engine)
            .arg("--nvinfer")
            .arg(libs.join(format!("trtsim/{}", self.major)));
        // argh refuses a repeated option: a test's own --cuda-lib replaces hostcuda.
        if !extra.contains(&"--cuda-lib") {
            c.arg("--cuda-lib").arg(libs.join("hostcuda/libcuda.so.1"));
        }
        c.args(extra).env("RUST_BACKTRACE", "0");
        for k in CLEARED {
            c.env_remove(k);
        }
        for (k, v) in env {
            c.env(k, v);
        }
        c
    }
    fn run(&self, extra: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(extra, env).output().unwrap()
    }
    /// Names in the output folder, sorted.
    fn listing(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.out())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

/// A clean calibration's (cache, engine) bytes for `algo` and ABI `major`.
fn reference(major: u32, algo: &str) -> (Vec<u8>, Vec<u8>) {
    let s = Setup::new(major);
    let o = s.run(&["--algo", algo], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    (
        std::fs::read(s.cache()).unwrap(),
        std::fs::read(s.engine()).unwrap(),
    )
}

/// Reference outputs, computed once per ABI: [entropy2, minmax].
fn refs(major: u32) -> &'static [(Vec<u8>, Vec<u8>); 2] {
    static R8: OnceLock<[(Vec<u8>, Vec<u8>); 2]> = OnceLock::new();
    static R10: OnceLock<[(Vec<u8>, Vec<u8>); 2]> = OnceLock::new();
    let cell = if major == 8 { &R8 } else { &R10 };
    cell.get_or_init(|| [reference(major, "entropy2"), reference(major, "minmax")])
}

/// Engine bytes a failed run must leave alone.
const OLD_ENGINE: &[u8] = b"previous engine: these bytes must survive\n";

/// Pre-creates outputs: the engine with known bytes and the cache with a valid minmax cache
/// (so calibrate accepts it, finds it does not match entropy2, and goes on to replace it).
fn precreate(s: &Setup) -> Vec<u8> {
    let old_cache = refs(s.major)[1].0.clone();
    std::fs::write(s.cache(), &old_cache).unwrap();
    std::fs::write(s.engine(), OLD_ENGINE).unwrap();
    old_cache
}

/// The end-of-process part of the contract: ended by an exit code (no signal, no abort).
fn assert_exit(o: &Output, code: i32, what: &str) {
    assert_eq!(
        o.status.signal(),
        None,
        "{what}: killed by a signal\n{}",
        text(&o.stderr)
    );
    assert_eq!(
        o.status.code(),
        Some(code),
        "{what}: exit code\n{}",
        text(&o.stderr)
    );
}

fn assert_no_temp_files(s: &Setup, what: &str) {
    let l = s.listing();
    assert!(
        l.iter().all(|n| !n.starts_with('.')),
        "{what}: hidden/temporary files left in the output folder: {l:?}"
    );
}

/// Runs a failing calibration twice per ABI (outputs present, outputs absent) and checks
/// the whole failure contract. `wants` must all appear in stderr.
fn check_failure(extra: &[&str], env: &[(&str, &str)], code: i32, wants: &[&str]) {
    for major in [8, 10] {
        for present in [true, false] {
            let what = format!("TensorRT {major}, outputs present: {present}, {env:?} {extra:?}");
            let s = Setup::new(major);
            let old_cache = if present { Some(precreate(&s)) } else { None };
            let o = s.run(extra, env);
            assert_exit(&o, code, &what);
            let err = text(&o.stderr);
            for w in wants {
                assert!(err.contains(w), "{what}: stderr lacks {w:?}:\n{err}");
            }
            assert!(
                err.lines().any(|l| l.starts_with("error: ")),
                "{what}: no error line:\n{err}"
            );
            assert!(o.stdout.is_empty(), "{what}: stdout: {}", text(&o.stdout));
            match old_cache {
                Some(c) => {
                    assert_eq!(
                        std::fs::read(s.cache()).unwrap(),
                        c,
                        "{what}: cache changed"
                    );
                    assert_eq!(
                        std::fs::read(s.engine()).unwrap(),
                        OLD_ENGINE,
                        "{what}: engine changed"
                    );
                }
                None => {
                    assert!(!s.cache().exists(), "{what}: cache created");
                    assert!(!s.engine().exists(), "{what}: engine created");
                }
            }
            assert_no_temp_files(&s, &what);
        }
    }
}

// ---- trtsim: TensorRT failing ------------------------------------------------------------

#[test]
fn builder_creation_returns_null() {
    check_failure(
        &[],
        &[("TRTSIM_FAIL", "builder")],
        1,
        &[
            "createInferBuilder_INTERNAL returned null",
            "TensorRT logged: trtsim: builder creation failure injected",
        ],
    );
}

#[test]
fn parser_creation_returns_null() {
    check_failure(
        &[],
        &[("TRTSIM_FAIL", "parser")],
        1,
        &["createNvOnnxParser_INTERNAL returned null"],
    );
}

#[test]
fn parser_errors_are_bad_input() {
    // The model, not the library, is at fault: exit 2, each parser error with its node.
    let model = root().join("fixtures/onnx/unsupported_op.onnx");
    for major in [8, 10] {
        let s = Setup::new(major);
        let old_cache = precreate(&s);
        let o = s
            .command_with(&model, &s.engine(), &[], &[])
            .output()
            .unwrap();
        assert_exit(&o, 2, "unsupported_op.onnx");
        let err = text(&o.stderr);
        assert!(
            err.contains("unsupported_op.onnx: TensorRT's ONNX parser refused the model")
                && err.contains("node 1")
                && err.contains("NoSuchOp"),
            "{err}"
        );
        assert_eq!(std::fs::read(s.cache()).unwrap(), old_cache);
        assert_eq!(std::fs::read(s.engine()).unwrap(), OLD_ENGINE);
        assert_no_temp_files(&s, "unsupported_op.onnx");
    }
}

#[test]
fn build_serialized_network_returns_null() {
    check_failure(
        &[],
        &[("TRTSIM_FAIL", "build")],
        1,
        &[
            "IBuilder::buildSerializedNetwork failed: returned no plan",
            "trtsim: build failure injected",
        ],
    );
}

#[test]
fn calibrator_never_asked_for_batches() {
    check_failure(
        &[],
        &[("TRTSIM_FAIL", "no_getbatch")],
        1,
        &[
            "IBuilder::buildSerializedNetwork failed",
            "Calibration failure occurred with no scaling factors detected",
            "(TensorRT never asked the calibrator for a batch)",
        ],
    );
}

/// TensorRT built an engine but never called writeCalibrationCache. Decided behaviour: the
/// engine is valid, so it is written (exit 0); the cache file is neither created nor
/// touched, and a warning says so (a stale cache next to a new engine is named, not hidden).
#[test]
fn write_calibration_cache_never_called() {
    for major in [8, 10] {
        let (_, ref_engine) = &refs(major)[0];
        for present in [true, false] {
            let what = format!("TensorRT {major}, outputs present: {present}");
            let s = Setup::new(major);
            let old_cache = present.then(|| precreate(&s));
            let o = s.run(&[], &[("TRTSIM_FAIL", "no_writecache")]);
            assert_exit(&o, 0, &what);
            let err = text(&o.stderr);
            let want = if present {
                format!(
                    "warning: TensorRT wrote no calibration cache; {} is left as it was",
                    s.cache().display()
                )
            } else {
                format!(
                    "warning: TensorRT wrote no calibration cache; {} was not created",
                    s.cache().display()
                )
            };
            assert!(err.contains(&want), "{what}: {err}");
            assert!(
                text(&o.stdout).contains("(none)"),
                "{what}: {}",
                text(&o.stdout)
            );
            assert_eq!(&std::fs::read(s.engine()).unwrap(), ref_engine, "{what}");
            match old_cache {
                Some(c) => assert_eq!(std::fs::read(s.cache()).unwrap(), c, "{what}"),
                None => assert!(!s.cache().exists(), "{what}"),
            }
            assert_no_temp_files(&s, &what);
        }
    }
}

/// TensorRT asks for another batch after we answered "no more": we answer "no more" again
/// and the result is exactly that of a normal run.
#[test]
fn get_batch_called_again_after_false() {
    for major in [8, 10] {
        let s = Setup::new(major);
        let trace = s.t.path("trace.txt");
        let o = s.run(
            &[],
            &[
                ("TRTSIM_FAIL", "getbatch_after_false"),
                ("TRTSIM_TRACE", trace.to_str().unwrap()),
            ],
        );
        assert_exit(&o, 0, "getbatch_after_false");
        let tr = std::fs::read_to_string(&trace).unwrap();
        assert!(tr.contains("getBatch 6 -> false"), "{tr}");
        assert!(tr.contains("getBatch after false -> false"), "{tr}");
        let (c, e) = &refs(major)[0];
        assert_eq!(&std::fs::read(s.cache()).unwrap(), c);
        assert_eq!(&std::fs::read(s.engine()).unwrap(), e);
        assert_no_temp_files(&s, "getbatch_after_false");
    }
}

/// 20,000 messages during the build (1% warning, 9% info, 90% verbose): at the default
/// level only the 200 warnings reach stderr; at --log-level verbose all of them do, in
/// bounded time, and the outputs are those of a normal run.
#[test]
fn log_storm_at_verbose() {
    let storm = |err: &str| {
        err.lines()
            .filter(|l| l.contains("trtsim log storm message"))
            .count()
    };
    let s = Setup::new(10);
    let o = s.run(&[], &[("TRTSIM_FAIL", "log_storm")]);
    assert_exit(&o, 0, "log storm, default level");
    let err = text(&o.stderr);
    assert_eq!(storm(&err), 200, "only the warnings");
    assert!(err.contains("[TensorRT] warning: trtsim log storm message 19900"));
    assert!(!err.contains("[TensorRT] verbose:"));
    let t0 = Instant::now();
    let o = s.run(
        &["--log-level", "verbose", "--recalibrate"],
        &[("TRTSIM_FAIL", "log_storm")],
    );
    let took = t0.elapsed();
    assert_exit(&o, 0, "log storm, verbose");
    let err = text(&o.stderr);
    assert_eq!(storm(&err), 20000);
    assert!(err.contains("[TensorRT] verbose: trtsim log storm message 19999"));
    assert!(took < Duration::from_secs(60), "{took:?}");
    let (c, e) = &refs(10)[0];
    assert_eq!(&std::fs::read(s.cache()).unwrap(), c);
    assert_eq!(&std::fs::read(s.engine()).unwrap(), e);
    assert_no_temp_files(&s, "log storm");
}

// ---- hostcuda: the CUDA driver failing ---------------------------------------------------

#[test]
fn cuinit_fails_no_device() {
    check_failure(
        &[],
        &[("HOSTCUDA_INIT_ERROR", "100")],
        1,
        &["error: cuInit(0) failed: CUDA_ERROR_NO_DEVICE (100): no CUDA-capable device is detected"],
    );
}

#[test]
fn cuinit_fails_insufficient_driver() {
    check_failure(
        &[],
        &[("HOSTCUDA_INIT_ERROR", "35")],
        1,
        &["error: cuInit(0) failed: CUDA_ERROR_INSUFFICIENT_DRIVER (35)"],
    );
}

#[test]
fn no_driver_library() {
    check_failure(
        &["--cuda-lib", "/nonexistent/libcuda.so.1"],
        &[],
        1,
        &[
            "could not load libcuda",
            "/nonexistent/libcuda.so.1: ",
            "TRTQ_LIBCUDA",
        ],
    );
}

#[test]
fn device_ordinal_out_of_range() {
    check_failure(
        &["--device", "3"],
        &[("HOSTCUDA_DEVICES", "2")],
        2,
        &["error: --device 3: this machine has 2 CUDA device(s) (ordinals 0..1)"],
    );
}

#[test]
fn cumemalloc_out_of_memory() {
    // The feed allocates 3 device slots; the first, second and third allocation fail in turn.
    for n in ["0", "1", "2"] {
        check_failure(
            &[],
            &[("HOSTCUDA_OOM_AFTER", n)],
            1,
            &["error: cuMemAlloc_v2(393216 bytes) failed: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory"],
        );
    }
}

#[test]
fn cumemcpy_htod_fails() {
    // Before the first batch, and in the middle of calibration, for both copy paths.
    for (n, feed) in [("0", "staged"), ("2", "staged"), ("2", "auto")] {
        check_failure(
            &["--feed", feed],
            &[("HOSTCUDA_HTOD_FAIL_AFTER", n)],
            1,
            // Batches go in staging chunks whose size depends on the copy threads (the cores).
            &[
                "error: cuMemcpyHtoDAsync_v2(",
                " bytes) failed: CUDA_ERROR_ILLEGAL_ADDRESS (700)",
            ],
        );
    }
}

#[test]
fn cumemhostalloc_fails_when_staged_is_forced() {
    check_failure(
        &["--feed", "staged"],
        &[("HOSTCUDA_HOSTALLOC_FAIL", "1")],
        1,
        &[
            "error: cuMemHostAlloc(",
            " bytes, flags 0x1) failed: CUDA_ERROR_OUT_OF_MEMORY (2)",
        ],
    );
}

/// Pinned memory exhausted under `--feed auto`: the feed falls back to pageable copies,
/// says so, and the calibration is exactly that of a normal run. Same for a failed
/// cuMemHostRegister (registered -> staged).
#[test]
fn pinned_or_registered_memory_refused_falls_back_with_a_warning() {
    for (knob, want_warning, want_path) in [
        (
            "HOSTCUDA_HOSTALLOC_FAIL",
            "bytes, flags 0x1) failed: CUDA_ERROR_OUT_OF_MEMORY (2): out of memory); falling back to pageable copies",
            "feed: pageable",
        ),
        (
            "HOSTCUDA_REGISTER_FAIL",
            "warning: registering the data file failed (cuMemHostRegister_v2(",
            "feed: staged",
        ),
    ] {
        for major in [8, 10] {
            let s = Setup::new(major);
            let o = s.run(&[], &[(knob, "1")]);
            assert_exit(&o, 0, knob);
            let err = text(&o.stderr);
            assert!(err.contains(want_warning), "{knob}: {err}");
            assert!(
                text(&o.stdout).contains(want_path),
                "{knob}: {}",
                text(&o.stdout)
            );
            let (c, e) = &refs(major)[0];
            assert_eq!(&std::fs::read(s.cache()).unwrap(), c, "{knob}");
            assert_eq!(&std::fs::read(s.engine()).unwrap(), e, "{knob}");
            assert_no_temp_files(&s, knob);
        }
    }
}

// ---- the file system and stderr failing --------------------------------------------------

/// Runs `cmd` through bash with `prelude` first (e.g. a resource limit), same environment.
fn through_bash(cmd: &Command, prelude: &str) -> Command {
    let mut c = Command::new("bash");
    c.arg("-c")
        .arg(format!("{prelude}; exec \"$@\""))
        .arg("bash")
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c
}

/// Writing an output fails (RLIMIT_FSIZE 0 with SIGXFSZ ignored: every write to a regular
/// file fails with EFBIG, as a full disk fails with ENOSPC): exit 1 naming the file and the
/// OS error, previous outputs intact, the temporary file removed.
#[test]
fn writing_an_output_fails() {
    for present in [true, false] {
        let what = format!("outputs present: {present}");
        let s = Setup::new(10);
        let old_cache = present.then(|| precreate(&s));
        let o = through_bash(&s.command(&[], &[]), "trap '' XFSZ; ulimit -f 0")
            .output()
            .unwrap();
        assert_exit(&o, 1, &what);
        let err = text(&o.stderr);
        assert!(
            err.contains(&format!("error: cannot write {}", s.cache().display()))
                && err.contains("caused by: File too large (os error 27)"),
            "{what}: {err}"
        );
        match old_cache {
            Some(c) => {
                assert_eq!(std::fs::read(s.cache()).unwrap(), c, "{what}");
                assert_eq!(std::fs::read(s.engine()).unwrap(), OLD_ENGINE, "{what}");
            }
            None => {
                assert!(!s.cache().exists() && !s.engine().exists(), "{what}");
            }
        }
        assert_no_temp_files(&s, &what);
    }
}

/// stderr's reader goes away mid-run (`calibrate ... 2>&1 | head`): the messages are lost,
/// the calibration is not (exit 0, the outputs of a normal run). A log storm at verbose
/// overflows the pipe, so writes after the reader closed do fail (EPIPE).
#[test]
fn stderr_reader_gone() {
    let s = Setup::new(10);
    let mut child = s
        .command(&["--log-level", "verbose"], &[("TRTSIM_FAIL", "log_storm")])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    err.read_line(&mut line).unwrap();
    assert!(line.starts_with("note: "), "{line}");
    drop(err);
    let st = child.wait().unwrap();
    assert_eq!(st.signal(), None, "{st:?}");
    assert_eq!(st.code(), Some(0), "{st:?}");
    let (c, e) = &refs(10)[0];
    assert_eq!(&std::fs::read(s.cache()).unwrap(), c);
    assert_eq!(&std::fs::read(s.engine()).unwrap(), e);
    assert_no_temp_files(&s, "stderr reader gone");
}

/// Copies that complete later (HOSTCUDA_ASYNC_US: hostcuda runs them on a worker thread, as a
/// GPU does) on every feed path: a normal run gives exactly the reference outputs, and a copy
/// failure or a panic mid-calibration tears the feed down without freeing or unregistering
/// memory that a queued copy still uses (hostcuda reports that on stderr).
#[test]
fn asynchronous_copies_on_normal_and_failing_runs() {
    const VIOLATION: &str = "while a queued copy still uses it";
    let (c, e) = &refs(10)[0];
    for feed in ["auto", "staged", "registered"] {
        let s = Setup::new(10);
        let o = s.run(&["--feed", feed], &[("HOSTCUDA_ASYNC_US", "2000")]);
        assert_exit(&o, 0, feed);
        let err = text(&o.stderr);
        assert!(!err.contains(VIOLATION), "{feed}: {err}");
        assert_eq!(&std::fs::read(s.cache()).unwrap(), c, "{feed}");
        assert_eq!(&std::fs::read(s.engine()).unwrap(), e, "{feed}");
        for (knob, value, want) in [
            (
                "HOSTCUDA_HTOD_FAIL_AFTER",
                "2",
                "bytes) failed: CUDA_ERROR_ILLEGAL_ADDRESS",
            ),
            ("TRTQ_TEST_PANIC", "getbatch", "a callback panicked"),
        ] {
            let what = format!("--feed {feed}, {knob}={value}");
            let s = Setup::new(10);
            let old_cache = precreate(&s);
            let o = s.run(
                &["--feed", feed],
                &[("HOSTCUDA_ASYNC_US", "2000"), (knob, value)],
            );
            assert_exit(&o, 1, &what);
            let err = text(&o.stderr);
            assert!(err.contains(want), "{what}: {err}");
            assert!(!err.contains(VIOLATION), "{what}: {err}");
            assert_eq!(std::fs::read(s.cache()).unwrap(), old_cache, "{what}");
            assert_eq!(std::fs::read(s.engine()).unwrap(), OLD_ENGINE, "{what}");
            assert_no_temp_files(&s, &what);
        }
    }
}

// ---- panics inside Rust callbacks called from C++ ----------------------------------------

/// TRTQ_TEST_PANIC makes one callback panic: the panic is caught at the C boundary, the
/// build's result is thrown away, and the process exits 1 naming the callback; TensorRT's
/// C++ side never sees an unwinding panic (that would be an abort: SIGABRT).
#[test]
fn panic_in_each_callback_is_a_clean_error() {
    for (point, extra, env, callback) in [
        (
            "getbatch",
            &[][..],
            &[][..],
            "a callback panicked in Calibrator::next_batch",
        ),
        (
            "readcache",
            &[][..],
            &[][..],
            "a callback panicked in Calibrator::read_cache",
        ),
        (
            "writecache",
            &[][..],
            &[][..],
            "a callback panicked in Calibrator::write_cache",
        ),
        // The first message reaching the logger: while the builder is created...
        (
            "log",
            &["--log-level", "verbose"][..],
            &[][..],
            "a callback panicked in the TensorRT log callback",
        ),
        // ... and during the build, in a storm of messages (the sink is not called again).
        (
            "log",
            &[][..],
            &[("TRTSIM_FAIL", "log_storm")][..],
            "a callback panicked in the TensorRT log callback",
        ),
    ] {
        let mut env = env.to_vec();
        env.push(("TRTQ_TEST_PANIC", point));
        check_failure(
            extra,
            &env,
            1,
            &[
                &format!("error: internal error: {callback}: test hook TRTQ_TEST_PANIC={point}"),
                "panicked at src/calib.rs",
            ],
        );
        // One panic, reported once.
        let s = Setup::new(10);
        let o = s.run(extra, &env);
        let err = text(&o.stderr);
        assert_eq!(err.matches("panicked at").count(), 1, "{point}: {err}");
    }
}

// ---- outputs: SIGKILL while replacing, concurrent writers --------------------------------

/// Starts calibrate paused (TRTQ_TEST_PAUSE_BEFORE_RENAME) just before `target` is renamed
/// into place, SIGKILLs it there, and checks that `target` still holds its previous bytes and
/// that the only trace is one hidden temporary file holding the complete new version.
#[test]
fn sigkill_before_rename_keeps_the_previous_file() {
    for major in [8, 10] {
        let (new_cache, new_engine) = refs(major)[0].clone();
        for which in ["cache", "engine"] {
            let s = Setup::new(major);
            let old_cache = precreate(&s);
            let target = if which == "cache" {
                s.cache()
            } else {
                s.engine()
            };
            let mut child = s
                .command(
                    &[],
                    &[("TRTQ_TEST_PAUSE_BEFORE_RENAME", target.to_str().unwrap())],
                )
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let pid = child.id();
            let mut err = BufReader::new(child.stderr.take().unwrap());
            let mut seen = String::new();
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let mut line = String::new();
                if err.read_line(&mut line).unwrap() == 0 || Instant::now() > deadline {
                    let _ = child.kill();
                    panic!("{which}: calibrate never paused:\n{seen}");
                }
                seen.push_str(&line);
                if line.starts_with("test hook: paused before renaming") {
                    break;
                }
            }
            child.kill().unwrap(); // SIGKILL
            let st = child.wait().unwrap();
            assert_eq!(st.signal(), Some(9), "{which}: {st:?}");

            let prefix = format!(".{}.{pid}.", target.file_name().unwrap().to_string_lossy());
            let temps: Vec<String> = s
                .listing()
                .into_iter()
                .filter(|n| n.starts_with('.'))
                .collect();
            assert_eq!(temps.len(), 1, "{which}: {temps:?}");
            assert!(
                temps[0].starts_with(&prefix) && temps[0].ends_with(".tmp"),
                "{which}: {temps:?}"
            );
            let tmp_bytes = std::fs::read(s.out().join(&temps[0])).unwrap();
            if which == "cache" {
                // Killed before the cache's rename: both outputs are the previous ones.
                assert_eq!(std::fs::read(s.cache()).unwrap(), old_cache);
                assert_eq!(std::fs::read(s.engine()).unwrap(), OLD_ENGINE);
                assert_eq!(text(&tmp_bytes), text(&new_cache));
            } else {
                // The cache is replaced first (it is the costly part to redo); killed before
                // the engine's rename: new cache, previous engine.
                assert_eq!(std::fs::read(s.cache()).unwrap(), new_cache);
                assert_eq!(std::fs::read(s.engine()).unwrap(), OLD_ENGINE);
                assert_eq!(text(&tmp_bytes), text(&new_engine));
            }
            // The stray temporary file does not disturb the next run (which, in the
            // engine case, reuses the cache it finds).
            let o = s.run(&[], &[]);
            assert_exit(&o, 0, "run after SIGKILL");
            assert_eq!(std::fs::read(s.cache()).unwrap(), new_cache);
            assert_ne!(std::fs::read(s.engine()).unwrap(), OLD_ENGINE);
            assert!(s.out().join(&temps[0]).exists());
        }
    }
}

/// Two calibrations with different algorithms writing the same --cache at once, several
/// rounds: both succeed, the cache is always exactly one of the two complete versions and
/// no temporary file is left. (A cache is ~100 bytes, so this alone would rarely catch a
/// torn write; `concurrent_write_atomic_never_shows_a_mix` does, with 1 MiB versions.)
#[test]
fn two_processes_writing_one_cache() {
    let a = &refs(10)[0].0;
    let b = &refs(10)[1].0;
    assert_ne!(a, b);
    let s = Setup::new(10);
    let mut seen = [0usize; 2];
    for round in 0..8 {
        let spawn = |algo: &str, engine: &str| {
            // Separate engines: the race under test is on the cache.
            s.command_with(
                &root().join("fixtures/onnx/yolo_dynamic.onnx"),
                &s.out().join(engine),
                &["--algo", algo, "--recalibrate"],
                &[],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
        };
        let p1 = spawn("entropy2", "e2.engine");
        let p2 = spawn("minmax", "mm.engine");
        for p in [p1, p2] {
            let o = p.wait_with_output().unwrap();
            assert_exit(&o, 0, &format!("round {round}"));
        }
        let got = std::fs::read(s.cache()).unwrap();
        if &got == a {
            seen[0] += 1;
        } else if &got == b {
            seen[1] += 1;
        } else {
            panic!("round {round}: mixed cache:\n{}", text(&got));
        }
        assert_no_temp_files(&s, &format!("round {round}"));
    }
    eprintln!(
        "final cache: entropy2 {} times, minmax {} times",
        seen[0], seen[1]
    );
}

/// `outfile::write_atomic` from two processes (this test binary again, `writer_child`) and
/// a thread of this one, each writing its own 1 MiB version of one file 100 times, while
/// this process reads it continuously: every read is one complete version, and no
/// temporary file is left.
#[test]
fn concurrent_write_atomic_never_shows_a_mix() {
    let t = Scratch::new("faults-atomic");
    let p = Arc::new(t.path("f.bin"));
    trtq_lite::outfile::write_atomic(&p, &vec![b'A'; WRITER_LEN]).unwrap();
    let children: Vec<_> = [b'A', b'B']
        .into_iter()
        .map(|byte| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "writer_child", "--test-threads=1"])
                .env("TRTQ_FAULTS_WRITER", &*p)
                .env("TRTQ_FAULTS_WRITER_BYTE", (byte as char).to_string())
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let thread = {
        let p = p.clone();
        std::thread::spawn(move || write_versions(&p, b'C'))
    };
    let mut reads = 0usize;
    let mut seen = std::collections::BTreeSet::new();
    let mut children: Vec<_> = children.into_iter().map(Some).collect();
    let mut done = false;
    // Read until every writer has finished (one more read after the last one did).
    while !done {
        done = thread.is_finished();
        for slot in children.iter_mut() {
            if let Some(c) = slot {
                match c.try_wait().unwrap() {
                    Some(st) => {
                        assert!(st.success(), "writer process: {st:?}");
                        *slot = None;
                    }
                    None => done = false,
                }
            }
        }
        let b = std::fs::read(&*p).unwrap();
        assert_eq!(b.len(), WRITER_LEN, "a partial file was visible");
        assert!(
            b.iter().all(|&x| x == b[0]),
            "a mixed file was visible after {reads} reads"
        );
        seen.insert(b[0]);
        reads += 1;
    }
    thread.join().unwrap();
    assert!(reads > 10 && seen.len() >= 2, "{reads} reads saw {seen:?}");
    let names: Vec<_> = std::fs::read_dir(&t.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "temporary files left: {names:?}");
}

const WRITER_LEN: usize = 1 << 20;

fn write_versions(p: &Path, byte: u8) {
    let v = vec![byte; WRITER_LEN];
    for _ in 0..100 {
        trtq_lite::outfile::write_atomic(p, &v).unwrap();
    }
}

/// The child side of `concurrent_write_atomic_never_shows_a_mix`: does nothing unless
/// TRTQ_FAULTS_WRITER is set.
#[test]
fn writer_child() {
    let Some(p) = std::env::var_os("TRTQ_FAULTS_WRITER") else {
        return;
    };
    let byte = std::env::var("TRTQ_FAULTS_WRITER_BYTE").unwrap().as_bytes()[0];
    write_versions(Path::new(&p), byte);
}

/// The output folder's contents after a normal run: the two outputs and nothing else (the
/// write probe and temporary files are removed).
#[test]
fn normal_run_leaves_only_the_outputs() {
    let s = Setup::new(10);
    let o = s.run(&[], &[]);
    assert_exit(&o, 0, "normal run");
    assert_eq!(s.listing(), vec!["c.cache", "m.engine"]);
}
