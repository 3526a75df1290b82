//! `trtq-lite calibrate`: ONNX FP32 + .npy data -> INT8 engine + calibration cache.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use argh::FromArgs;

use crate::cache;
use crate::calib::{self, CacheDecision, FeedCalibrator, Progress};
use crate::cuda::{Context, Driver};
use crate::data::{Conversion, DataSet, InputSpec, SourceSpec};
use crate::error::{Error, Result};
use crate::feed::{Feed, FeedMode, FeedOptions};
use crate::interrupt;
use crate::json;
use crate::npy::DType;
use crate::outfile;
use crate::trt;

/// calibrate an FP32 ONNX model to an INT8 TensorRT engine with .npy data
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "calibrate")]
pub struct Args {
    /// the FP32 ONNX model
    #[argh(positional)]
    pub model: PathBuf,
    /// calibration data: [INPUT=]SOURCE, a directory of .npy files, one .npy, or a text file listing
    /// .npy paths; repeat once per network input
    #[argh(option)]
    pub data: Vec<String>,
    /// samples per calibration batch
    #[argh(option)]
    pub batch_size: usize,
    /// calibration cache to reuse (if it matches) and to write
    #[argh(option)]
    pub cache: PathBuf,
    /// engine (serialized plan) to write
    #[argh(option)]
    pub engine: PathBuf,
    /// calibration algorithm: entropy2 (default), minmax, entropy, legacy
    #[argh(option, default = "String::from(\"entropy2\")")]
    pub algo: String,
    /// use at most N batches
    #[argh(option)]
    pub max_batches: Option<usize>,
    /// also allow FP16 kernels (INT8 with FP16 fallback)
    #[argh(switch)]
    pub fp16: bool,
    /// workspace memory-pool limit, e.g. 512M, 4G
    #[argh(option)]
    pub workspace: Option<String>,
    /// calibration/OPT shape of a dynamic input, NAME:BxCxHxW (comma-separate or repeat)
    #[argh(option)]
    pub shapes: Vec<String>,
    /// MIN shape of a dynamic input for the engine's profile, NAME:BxCxHxW
    #[argh(option)]
    pub min_shapes: Vec<String>,
    /// MAX shape of a dynamic input for the engine's profile, NAME:BxCxHxW
    #[argh(option)]
    pub max_shapes: Vec<String>,
    /// build for this DLA core (entropy2 only)
    #[argh(option)]
    pub dla_core: Option<i32>,
    /// let layers the DLA cannot run fall back to the GPU
    #[argh(switch)]
    pub gpu_fallback: bool,
    /// CUDA device ordinal (default 0)
    #[argh(option, default = "0")]
    pub device: i32,
    /// log level of TensorRT's messages: error, warning (default), info, verbose
    #[argh(option, default = "String::from(\"warning\")")]
    pub log_level: String,
    /// calibrate even if the cache matches
    #[argh(switch)]
    pub recalibrate: bool,
    /// folder holding libnvinfer and libnvonnxparser (else TRTQ_NVINFER_DIR, then the system)
    #[argh(option)]
    pub nvinfer: Option<PathBuf>,
    /// path of libcuda (else TRTQ_LIBCUDA, then the system)
    #[argh(option)]
    pub cuda_lib: Option<PathBuf>,
    /// print a machine-readable summary on stdout
    #[argh(switch)]
    pub json: bool,
    /// also accept f64 data for f32 inputs and f32 data for f16 inputs (converted while fed)
    #[argh(switch)]
    pub convert: bool,
    /// how batches reach the GPU: auto (default), staged, registered, mapped
    #[argh(option, default = "FeedMode::Auto")]
    pub feed: FeedMode,
    /// legacy calibrator only: quantile (default 0.9999)
    #[argh(option, default = "0.9999")]
    pub quantile: f64,
    /// legacy calibrator only: regression cutoff (default 1.0)
    #[argh(option, default = "1.0")]
    pub regression_cutoff: f64,
    /// no progress line on stderr
    #[argh(switch)]
    pub quiet: bool,
}

/// How one network input is calibrated and profiled.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// What the data must hold, in the network's input order.
    pub specs: Vec<InputSpec>,
    /// The engine's optimization profile (dynamic inputs only; `None` if every input is static).
    pub profile: Option<trt::Profile>,
    /// The shapes calibration batches have (dynamic inputs only).
    pub calib_profile: Option<trt::Profile>,
    /// Defaults that were filled in, said to the user.
    pub notes: Vec<String>,
}

fn dims_str(d: &[i64]) -> String {
    d.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join("x")
}

fn npy_dtype(t: &trt::TensorInfo) -> Result<DType> {
    Ok(match t.dtype {
        trt::DataType::Float => DType::F32,
        trt::DataType::Half => DType::F16,
        trt::DataType::Int8 => DType::I8,
        trt::DataType::Uint8 => DType::U8,
        other => {
            return Err(Error::BadInput(format!(
                "network input '{}' is {}: calibration data can be float32, float16, int8 or uint8",
                t.name,
                other.name()
            )))
        }
    })
}

/// Works out, for every network input, the shape of one calibration sample and the engine's
/// optimization profile, from the parsed network and the `--shapes`/`--min-shapes`/
/// `--max-shapes` flags. A dynamic batch dimension alone needs no flag: calibration uses
/// `batch`, the profile spans 1..`batch`.
pub fn resolve_inputs(
    inputs: &[trt::TensorInfo],
    opt: &[ShapeArg],
    min: &[ShapeArg],
    max: &[ShapeArg],
    batch: usize,
) -> Result<Resolved> {
    let names: Vec<&str> = inputs.iter().map(|t| t.name.as_str()).collect();
    let mut errs = Vec::new();
    for (flag, list) in [("shapes", opt), ("min-shapes", min), ("max-shapes", max)] {
        for s in list {
            if !names.contains(&s.name.as_str()) {
                errs.push(format!(
                    "--{flag} names '{}', which is not a network input (inputs: {})",
                    s.name,
                    names.join(", ")
                ));
            }
        }
    }
    let b = batch as i64;
    let mut specs = Vec::new();
    let mut ranges = Vec::new();
    let mut calib = Vec::new();
    let mut notes = Vec::new();
    for t in inputs {
        let find = |l: &[ShapeArg]| l.iter().find(|s| s.name == t.name).map(|s| s.dims.clone());
        let (o, mn, mx) = (find(opt), find(min), find(max));
        let dtype = match npy_dtype(t) {
            Ok(d) => d,
            Err(e) => {
                errs.push(e.to_string());
                continue;
            }
        };
        if t.dims.is_empty() {
            errs.push(format!(
                "network input '{}' is a scalar: nothing to calibrate",
                t.name
            ));
            continue;
        }
        let dynamic = t.dims.iter().any(|&d| d < 0);
        let fits = |d: &[i64]| {
            d.len() == t.dims.len() && d.iter().zip(&t.dims).all(|(&x, &n)| n < 0 || x == n)
        };
        if !dynamic {
            if o.is_some() || mn.is_some() || mx.is_some() {
                errs.push(format!(
                    "network input '{}' has the static shape {}: --shapes, --min-shapes and --max-shapes are for dynamic inputs",
                    t.name,
                    dims_str(&t.dims)
                ));
                continue;
            }
            if t.dims[0] != b {
                errs.push(format!(
                    "network input '{}' has the static shape {}, so every calibration batch holds {} sample(s): use --batch-size {}, or export the model with a dynamic batch dimension",
                    t.name,
                    dims_str(&t.dims),
                    t.dims[0],
                    t.dims[0]
                ));
                continue;
            }
            specs.push(InputSpec {
                name: t.name.clone(),
                sample_shape: t.dims[1..].iter().map(|&d| d as usize).collect(),
                dtype,
            });
            continue;
        }
        let only_batch = t.dims[0] < 0 && t.dims[1..].iter().all(|&d| d > 0);
        let o = match o {
            Some(o) => o,
            None if only_batch => {
                let mut d = t.dims.clone();
                d[0] = b;
                d
            }
            None => {
                errs.push(format!(
                    "network input '{}' has dynamic dimensions ({}): give its calibration shape with --shapes {}:{}",
                    t.name,
                    dims_str(&t.dims),
                    t.name,
                    dims_str(&t.dims.iter().enumerate().map(|(i, &d)| if d > 0 { d } else if i == 0 { b } else { 640 }).collect::<Vec<_>>())
                ));
                continue;
            }
        };
        if !fits(&o) {
            errs.push(format!(
                "--shapes {}:{} does not fit the network's {}",
                t.name,
                dims_str(&o),
                dims_str(&t.dims)
            ));
            continue;
        }
        if o[0] != b {
            errs.push(format!(
                "--shapes {}:{} has batch {}, but --batch-size is {batch}: the calibration shape's first dimension is the batch size",
                t.name,
                dims_str(&o),
                o[0]
            ));
            continue;
        }
        let defaulted = mn.is_none() || mx.is_none();
        let mn = mn.unwrap_or_else(|| {
            let mut d = o.clone();
            if t.dims[0] < 0 {
                d[0] = 1;
            }
            d
        });
        let mx = mx.unwrap_or_else(|| o.clone());
        let mut bad = false;
        for (flag, d) in [("min-shapes", &mn), ("max-shapes", &mx)] {
            if !fits(d) {
                errs.push(format!(
                    "--{flag} {}:{} does not fit the network's {}",
                    t.name,
                    dims_str(d),
                    dims_str(&t.dims)
                ));
                bad = true;
            }
        }
        let ordered =
            mn.iter().zip(&o).all(|(a, b)| a <= b) && o.iter().zip(&mx).all(|(a, b)| a <= b);
        if !bad && !ordered {
            errs.push(format!(
                "input '{}': the profile needs min <= opt <= max in every dimension, got min {}, opt {}, max {}",
                t.name,
                dims_str(&mn),
                dims_str(&o),
                dims_str(&mx)
            ));
            bad = true;
        }
        if bad {
            continue;
        }
        if defaulted {
            notes.push(format!(
                "input '{}' ({}): engine profile min {}, opt {}, max {} (set --min-shapes/--shapes/--max-shapes to change it)",
                t.name,
                dims_str(&t.dims),
                dims_str(&mn),
                dims_str(&o),
                dims_str(&mx)
            ));
        }
        specs.push(InputSpec {
            name: t.name.clone(),
            sample_shape: o[1..].iter().map(|&d| d as usize).collect(),
            dtype,
        });
        calib.push(trt::ShapeRange {
            name: t.name.clone(),
            min: o.clone(),
            opt: o.clone(),
            max: o.clone(),
        });
        ranges.push(trt::ShapeRange {
            name: t.name.clone(),
            min: mn,
            opt: o,
            max: mx,
        });
    }
    if !errs.is_empty() {
        return Err(Error::BadInput(errs.join("\n")));
    }
    let (profile, calib_profile) = if ranges.is_empty() {
        (None, None)
    } else {
        (
            Some(trt::Profile { inputs: ranges }),
            Some(trt::Profile { inputs: calib }),
        )
    };
    Ok(Resolved {
        specs,
        profile,
        calib_profile,
        notes,
    })
}

fn parse_algorithm(a: &Args) -> Result<trt::Algorithm> {
    Ok(match a.algo.as_str() {
        "entropy2" => trt::Algorithm::Entropy2,
        "entropy" => trt::Algorithm::Entropy,
        "minmax" => trt::Algorithm::MinMax,
        "legacy" => trt::Algorithm::Legacy {
            quantile: a.quantile,
            regression_cutoff: a.regression_cutoff,
        },
        other => {
            return Err(Error::Usage(format!(
                "--algo {other:?}: expected entropy2, minmax, entropy or legacy"
            )))
        }
    })
}

fn parse_log_level(s: &str) -> Result<trt::Severity> {
    Ok(match s {
        "error" => trt::Severity::Error,
        "warning" => trt::Severity::Warning,
        "info" => trt::Severity::Info,
        "verbose" => trt::Severity::Verbose,
        other => {
            return Err(Error::Usage(format!(
                "--log-level {other:?}: expected error, warning, info or verbose"
            )))
        }
    })
}

/// Checks that a new file can be created in `path`'s folder, before any heavy work, so a
/// typo in an output path does not cost a whole calibration.
fn check_output_folder(flag: &str, path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if path.is_dir() {
        return Err(Error::Usage(format!(
            "--{flag} {} is a folder; give a file name",
            path.display()
        )));
    }
    let probe = dir.join(format!(".trtq-write-test.{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(source) => Err(Error::Io {
            op: "cannot create files in the output folder of",
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// True when `a` and `b` name the same file: equal paths, or equal after resolving their
/// folders (the files themselves need not exist).
fn same_file(a: &Path, b: &Path) -> bool {
    fn resolved(p: &Path) -> Option<PathBuf> {
        let dir = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        Some(dir.canonicalize().ok()?.join(p.file_name()?))
    }
    a == b || matches!((resolved(a), resolved(b)), (Some(x), Some(y)) if x == y)
}

/// What happened to the cache file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CacheAction {
    Written,
    Unchanged,
    Reused,
    None,
}

impl CacheAction {
    fn as_str(self) -> &'static str {
        match self {
            CacheAction::Written => "written",
            CacheAction::Unchanged => "unchanged",
            CacheAction::Reused => "reused",
            CacheAction::None => "none",
        }
    }
}

pub fn run(a: Args) -> Result<()> {
    // Everything that can be checked without a library comes first.
    let algorithm = parse_algorithm(&a)?;
    if a.dla_core.is_some() && algorithm != trt::Algorithm::Entropy2 {
        return Err(Error::Usage(format!(
            "--dla-core works only with --algo entropy2 (TensorRT calibrates for DLA with IInt8EntropyCalibrator2), not {}",
            a.algo
        )));
    }
    if a.gpu_fallback && a.dla_core.is_none() {
        return Err(Error::Usage(
            "--gpu-fallback applies only with --dla-core".into(),
        ));
    }
    let log_level = parse_log_level(&a.log_level)?;
    let workspace = a.workspace.as_deref().map(parse_size).transpose()?;
    if a.batch_size == 0 {
        return Err(Error::Usage("--batch-size must be at least 1".into()));
    }
    if a.max_batches == Some(0) {
        return Err(Error::Usage("--max-batches must be at least 1".into()));
    }
    if a.device < 0 {
        return Err(Error::Usage(format!(
            "--device {}: a device ordinal is 0 or more",
            a.device
        )));
    }
    let opt_shapes = parse_shapes("shapes", &a.shapes)?;
    let min_shapes = parse_shapes("min-shapes", &a.min_shapes)?;
    let max_shapes = parse_shapes("max-shapes", &a.max_shapes)?;
    let specs: Vec<SourceSpec> = a.data.iter().map(|s| SourceSpec::parse(s)).collect();
    if a.cache == a.engine {
        return Err(Error::Usage(
            "--cache and --engine name the same file".into(),
        ));
    }
    for s in &specs {
        if !s.path.exists() {
            return Err(Error::BadInput(format!(
                "--data {}: no such file or folder",
                s.path.display()
            )));
        }
    }
    check_output_folder("cache", &a.cache)?;
    check_output_folder("engine", &a.engine)?;
    // Now that both folders exist, catch the same file under two spellings (`out/m` and
    // `./out/m`, a symlinked folder), and outputs that would overwrite the model.
    if same_file(&a.cache, &a.engine) {
        return Err(Error::Usage(format!(
            "--cache {} and --engine {} name the same file",
            a.cache.display(),
            a.engine.display()
        )));
    }
    for (flag, out) in [("cache", &a.cache), ("engine", &a.engine)] {
        if same_file(out, &a.model) {
            return Err(Error::Usage(format!(
                "--{flag} {} is the model {}: writing it would destroy the model",
                out.display(),
                a.model.display()
            )));
        }
    }
    let model = std::fs::read(&a.model).map_err(|source| Error::ReadInput {
        path: a.model.clone(),
        source,
    })?;

    // Libraries and the GPU.
    let trt = trt::Trt::load(a.nvinfer.as_deref())?;
    if trt.is_simulator() {
        eprintln!(
            "note: {} is trtsim, trtq-lite's TensorRT simulator for tests, not NVIDIA's TensorRT: \
             the engine written is a simulator plan that no TensorRT runtime can load",
            trt.nvinfer_path()
        );
    }
    let drv = Driver::load(a.cuda_lib.as_deref())?;
    let ctx = Context::new(&drv, a.device as usize)?;
    let gpu = ctx.info()?;
    // TensorRT (through the CUDA runtime) uses the context current on the building thread.
    let bound = ctx.bind()?;
    let level = log_level;
    let log: trt::LogFn = Box::new(move |sev, msg| {
        calib::test_panic("log");
        if sev <= level {
            eprintln!("[TensorRT] {}: {}", sev.name(), msg.trim_end());
        }
    });
    let mut session = trt::Session::new(&trt, log_level, log)?;
    session.parse_onnx(&model, &a.model)?;
    let inputs = session.inputs()?;
    let resolved = resolve_inputs(&inputs, &opt_shapes, &min_shapes, &max_shapes, a.batch_size)?;
    for n in &resolved.notes {
        eprintln!("note: {n}");
    }

    // The existing cache.
    let names: Vec<&str> = inputs.iter().map(|t| t.name.as_str()).collect();
    let version = cache::TrtVersion::from_code(trt.version().raw.max(0) as u32);
    let decision = calib::decide_cache(&a.cache, a.recalibrate, version, algorithm, &names)?;
    match &decision {
        CacheDecision::Absent => {}
        CacheDecision::Reuse(_) => eprintln!(
            "cache: {} matches TensorRT {} and {}: reusing it (--recalibrate to calibrate anyway)",
            a.cache.display(),
            version,
            calib::cache_algorithm(algorithm)
        ),
        CacheDecision::Mismatch(why) => eprintln!(
            "cache: not reusing {}: {why}; calibrating and replacing it",
            a.cache.display()
        ),
        CacheDecision::Forced => eprintln!(
            "cache: --recalibrate: calibrating and replacing {}",
            a.cache.display()
        ),
    }
    let reuse = match &decision {
        CacheDecision::Reuse(b) => Some(b.clone()),
        _ => None,
    };

    // The data, checked against the network before any GPU memory is taken.
    let data = if specs.is_empty() {
        if reuse.is_none() {
            return Err(Error::Usage(
                "--data is required to calibrate (it may be left out only while a matching cache is reused)".into(),
            ));
        }
        None
    } else {
        let conv = if a.convert {
            Conversion::Allow
        } else {
            Conversion::Exact
        };
        Some(Arc::new(DataSet::open(
            &specs,
            &resolved.specs,
            a.batch_size,
            conv,
        )?))
    };
    let total = match &data {
        Some(ds) => {
            let total = a.max_batches.map_or(ds.batches(), |m| m.min(ds.batches()));
            eprintln!(
                "data: {}{}",
                ds.summary(),
                if total < ds.batches() {
                    format!(
                        "; --max-batches {total}: {} sample(s) used",
                        total * a.batch_size
                    )
                } else {
                    String::new()
                }
            );
            total
        }
        None => 0,
    };
    let batch_bytes = data.as_ref().map_or(0, |ds| ds.batch_bytes_all() as u64);
    let order: Vec<String> = resolved.specs.iter().map(|s| s.name.clone()).collect();
    let feed = match &data {
        Some(ds) => {
            let mut f = Feed::new(
                &ctx,
                ds.clone(),
                FeedOptions {
                    mode: a.feed,
                    ..FeedOptions::default()
                },
            )?;
            // Fill the first batches while TensorRT prepares (it takes seconds before its
            // first getBatch), unless a cache will most likely spare the data altogether.
            if reuse.is_none() {
                f.start();
            }
            Some(f)
        }
        None => None,
    };
    // A fallback (e.g. pinned memory exhausted -> pageable copies) is said at once; the
    // feed may add more while it runs, said after the build.
    let early_warnings = feed.as_ref().map_or(0, |f| f.stats().warnings.len());
    if let Some(f) = &feed {
        for w in &f.stats().warnings {
            eprintln!("warning: {w}");
        }
    }

    let opts = trt::BuildOptions {
        int8: true,
        fp16: a.fp16,
        workspace,
        profiles: resolved.profile.clone().into_iter().collect(),
        calib_profile: resolved.calib_profile.clone(),
        dla_core: a.dla_core,
        gpu_fallback: a.gpu_fallback,
        algorithm,
    };
    let progress = Progress::new(total, a.batch_size, batch_bytes, !a.quiet);
    let mut calibrator = FeedCalibrator::new(
        feed,
        order,
        a.batch_size,
        total,
        reuse.clone(),
        progress,
        Some(&ctx),
    );
    interrupt::install();
    let started = Instant::now();
    let built = session.build(&opts, Some(&mut calibrator));
    let build_time = started.elapsed();
    calibrator.finish_progress();
    let report = calibrator.report().clone();
    if let Some(f) = calibrator.feed() {
        for w in f.stats().warnings.iter().skip(early_warnings) {
            eprintln!("warning: {w}");
        }
    }
    if report.interrupted || interrupt::requested() {
        eprintln!("interrupted: nothing was written");
        return Err(Error::Interrupted);
    }
    let plan = built.map_err(|e| match e {
        // A calibrator that was never asked for data is the likeliest cause; say so.
        Error::Trt { call, msg } if !report.asked_for_batches && data.is_some() => Error::Trt {
            call,
            msg: format!("{msg} (TensorRT never asked the calibrator for a batch)"),
        },
        e => e,
    })?;
    let feed_stats = calibrator
        .feed()
        .map(|f| (f.path().name(), f.stats().clone()));
    drop(calibrator);
    drop(session);
    drop(bound);

    // Outputs: only now, after the whole build succeeded.
    // TensorRT took the cache if it asked for no batch. It may still hand the same bytes back
    // to writeCalibrationCache (TensorRT releases do): that is the cache reused, not a new one.
    let took_cache = report.offered_cache && !report.asked_for_batches;
    let cache_action = match &report.written_cache {
        Some(bytes) => {
            let old = std::fs::read(&a.cache).ok();
            if old.as_deref() == Some(bytes.as_slice()) {
                if took_cache {
                    CacheAction::Reused
                } else {
                    CacheAction::Unchanged
                }
            } else {
                outfile::write_atomic(&a.cache, bytes)?;
                CacheAction::Written
            }
        }
        None if took_cache => CacheAction::Reused,
        None => {
            eprintln!(
                "warning: TensorRT wrote no calibration cache; {}",
                if a.cache.exists() {
                    format!("{} is left as it was", a.cache.display())
                } else {
                    format!("{} was not created", a.cache.display())
                }
            );
            CacheAction::None
        }
    };
    if reuse.is_some() && report.asked_for_batches {
        eprintln!(
            "warning: TensorRT did not take the cache {} and calibrated again",
            a.cache.display()
        );
    }
    outfile::write_atomic(&a.engine, &plan)?;

    let (feed_path, waited, fed_bytes) = match &feed_stats {
        Some((p, s)) => (Some(*p), s.waited(), s.bytes),
        None => (None, Duration::ZERO, 0),
    };
    let calib_secs = report.calibration_time.as_secs_f64();
    let gbps = if calib_secs > 0.0 {
        fed_bytes as f64 / calib_secs / 1e9
    } else {
        0.0
    };
    let used = report.batches * a.batch_size;
    if a.json {
        let v = json::Value::obj([
            ("model", json::Value::from(a.model.display().to_string())),
            ("trt_version", version.to_string().into()),
            ("trt_version_code", json::Value::Int(version.code() as i64)),
            ("abi", format!("{:?}", trt.abi()).to_lowercase().into()),
            ("simulator", trt.is_simulator().into()),
            ("nvinfer", trt.nvinfer_path().into()),
            ("gpu", gpu.name.clone().into()),
            (
                "algorithm",
                calib::cache_algorithm(algorithm).header_name().into(),
            ),
            ("batch_size", a.batch_size.into()),
            ("batches", report.batches.into()),
            ("samples_used", used.into()),
            (
                "samples_dropped",
                data.as_ref().map_or(0, |d| d.samples() - used).into(),
            ),
            ("calibration_s", calib_secs.into()),
            ("wait_s", report.wait_time.as_secs_f64().into()),
            (
                "wait_first_s",
                report.first_wait.unwrap_or_default().as_secs_f64().into(),
            ),
            ("feed_wait_s", waited.as_secs_f64().into()),
            ("feed_path", feed_path.map(str::to_string).into()),
            ("feed_gbps", gbps.into()),
            ("build_s", build_time.as_secs_f64().into()),
            (
                "cache",
                json::Value::obj([
                    ("path", json::Value::from(a.cache.display().to_string())),
                    ("action", cache_action.as_str().into()),
                ]),
            ),
            (
                "engine",
                json::Value::obj([
                    ("path", json::Value::from(a.engine.display().to_string())),
                    ("bytes", plan.len().into()),
                ]),
            ),
        ]);
        crate::cli::write_stdout(&v.pretty())?;
    } else {
        let mut s = String::new();
        s.push_str(&format!(
            "TensorRT {} ({} ABI){}\n",
            version,
            match trt.abi() {
                trt::Abi::Trt8 => "8.x",
                trt::Abi::Trt10 => "10.x",
            },
            if trt.is_simulator() {
                ", trtsim simulator"
            } else {
                ""
            }
        ));
        s.push_str(&format!("GPU:          {}\n", gpu.name));
        s.push_str(&format!(
            "algorithm:    {}\n",
            calib::cache_algorithm(algorithm).header_name()
        ));
        if report.asked_for_batches {
            s.push_str(&format!(
                "batches:      {} x {} samples ({} used, {} dropped)\n",
                report.batches,
                a.batch_size,
                used,
                data.as_ref().map_or(0, |d| d.samples() - used)
            ));
            s.push_str(&format!(
                "calibration:  {calib_secs:.3} s, TensorRT waited {:.3} s for data{}\n",
                report.wait_time.as_secs_f64(),
                feed_path.map_or(String::new(), |p| format!(" (feed: {p}, {gbps:.2} GB/s)"))
            ));
        } else {
            s.push_str("calibration:  skipped, TensorRT took the cache\n");
        }
        s.push_str(&format!(
            "build:        {:.3} s\n",
            build_time.as_secs_f64()
        ));
        s.push_str(&format!(
            "cache:        {} ({})\n",
            a.cache.display(),
            cache_action.as_str()
        ));
        s.push_str(&format!(
            "engine:       {} ({} bytes)\n",
            a.engine.display(),
            plan.len()
        ));
        crate::cli::write_stdout(&s)?;
    }
    Ok(())
}

/// Parse a size such as `512M`, `4G`, `1.5G`, `65536` (binary units: K = 1024).
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let bad = || {
        Error::Usage(format!("bad size {s:?}: expected a number with an optional K, M, G or T suffix (binary units), e.g. 512M or 4G"))
    };
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                'B' => 1,
                _ => return Err(bad()),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let x: f64 = num.trim().parse().map_err(|_| bad())?;
    if !x.is_finite() || x < 0.0 {
        return Err(bad());
    }
    let v = x * mult as f64;
    if v > u64::MAX as f64 {
        return Err(bad());
    }
    Ok(v as u64)
}

/// A `NAME:BxCxHxW` shape. Names may contain ':' (ONNX names do), so split at the last ':'.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeArg {
    pub name: String,
    pub dims: Vec<i64>,
}

/// Parse every `--shapes`-style value (each may hold several comma-separated shapes).
pub fn parse_shapes(flag: &str, values: &[String]) -> Result<Vec<ShapeArg>> {
    let mut out: Vec<ShapeArg> = Vec::new();
    for v in values {
        for part in v.split(',').filter(|p| !p.trim().is_empty()) {
            let bad = |why: &str| {
                Error::Usage(format!(
                    "--{flag} {part:?}: {why}; expected NAME:BxCxHxW, e.g. images:8x3x640x640"
                ))
            };
            let (name, dims) = part.rsplit_once(':').ok_or_else(|| bad("no ':'"))?;
            if name.is_empty() {
                return Err(bad("empty input name"));
            }
            let dims = dims
                .split('x')
                .map(|d| d.trim().parse::<i64>().ok().filter(|&n| n > 0))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| bad("dimensions must be positive integers separated by 'x'"))?;
            if out.iter().any(|s| s.name == name) {
                return Err(bad("input given twice"));
            }
            out.push(ShapeArg {
                name: name.to_string(),
                dims,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("512M").unwrap(), 512 * 1024 * 1024);
        assert_eq!(parse_size("4G").unwrap(), 4 << 30);
        assert_eq!(parse_size("1.5g").unwrap(), 3 << 29);
        assert_eq!(parse_size("65536").unwrap(), 65536);
        for bad in ["", "M", "-1G", "4X", "nanG", "1e400"] {
            assert!(parse_size(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shapes() {
        let s = parse_shapes("shapes", &["images:8x3x640x640,a:b:1x2".into()]).unwrap();
        assert_eq!(
            s[0],
            ShapeArg {
                name: "images".into(),
                dims: vec![8, 3, 640, 640]
            }
        );
        assert_eq!(
            s[1],
            ShapeArg {
                name: "a:b".into(),
                dims: vec![1, 2]
            }
        );
        for bad in ["images", ":1x2", "x:1x0", "x:1xa", "x:"] {
            assert!(parse_shapes("shapes", &[bad.into()]).is_err(), "{bad}");
        }
        assert!(parse_shapes("shapes", &["a:1".into(), "a:2".into()]).is_err());
    }
}
