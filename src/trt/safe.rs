//! Owning types over the shim: [`Trt`] (the loaded libraries and the chosen ABI) and
//! [`Session`] (builder + network + ONNX parser for one model, then a build).
//!
//! Callbacks from C++ (logger, calibrator) run inside `catch_unwind`: a panic becomes a
//! failed call on the C++ side and [`Error::CallbackPanic`] once the outer call returns.
//! Errors a calibrator returns are kept and returned the same way, so a build whose
//! calibrator failed never yields a plan.

use crate::error::panic_text;
use std::ffi::{c_char, c_void, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::ptr::{self, NonNull};
use std::sync::Mutex;

use super::result;
use super::sys::{self, shim};
use super::version::{choose_abi, Abi, Version};
use crate::error::{Error, Result};

/// TensorRT's log severities, most severe first (`ILogger::Severity`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    InternalError,
    Error,
    Warning,
    Info,
    Verbose,
}

impl Severity {
    fn from_raw(v: i32) -> Severity {
        match v {
            0 => Severity::InternalError,
            1 => Severity::Error,
            2 => Severity::Warning,
            3 => Severity::Info,
            _ => Severity::Verbose,
        }
    }

    /// Lower-case name, as printed in logs.
    pub fn name(self) -> &'static str {
        match self {
            Severity::InternalError => "internal error",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
            Severity::Verbose => "verbose",
        }
    }
}

/// `nvinfer1::DataType` (values are the same in 8.x and 10.x).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataType {
    Float,
    Half,
    Int8,
    Int32,
    Bool,
    Uint8,
    Fp8,
    Bf16,
    Int64,
    Int4,
    /// A value this build does not know (a newer TensorRT).
    Unknown(i32),
}

impl DataType {
    pub fn from_raw(v: i32) -> DataType {
        match v {
            0 => DataType::Float,
            1 => DataType::Half,
            2 => DataType::Int8,
            3 => DataType::Int32,
            4 => DataType::Bool,
            5 => DataType::Uint8,
            6 => DataType::Fp8,
            7 => DataType::Bf16,
            8 => DataType::Int64,
            9 => DataType::Int4,
            v => DataType::Unknown(v),
        }
    }

    /// The numpy-style name (`float32`, `float16`, ...).
    pub fn name(self) -> String {
        match self {
            DataType::Float => "float32".into(),
            DataType::Half => "float16".into(),
            DataType::Int8 => "int8".into(),
            DataType::Int32 => "int32".into(),
            DataType::Bool => "bool".into(),
            DataType::Uint8 => "uint8".into(),
            DataType::Fp8 => "fp8".into(),
            DataType::Bf16 => "bfloat16".into(),
            DataType::Int64 => "int64".into(),
            DataType::Int4 => "int4".into(),
            DataType::Unknown(v) => format!("TensorRT DataType {v}"),
        }
    }
}

/// A network input as the parsed network declares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    /// -1 marks a dynamic dimension.
    pub dims: Vec<i64>,
    pub dtype: DataType,
}

/// What the builder reports about the GPU (for `doctor`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Platform {
    pub fast_int8: bool,
    pub fast_fp16: bool,
    pub nb_dla_cores: i32,
}

/// min/opt/max shape of one input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShapeRange {
    pub name: String,
    pub min: Vec<i64>,
    pub opt: Vec<i64>,
    pub max: Vec<i64>,
}

/// One optimization profile: a shape range per dynamic input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    pub inputs: Vec<ShapeRange>,
}

/// The calibration algorithm, i.e. which IInt8*Calibrator class TensorRT sees.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Algorithm {
    /// IInt8EntropyCalibrator2 (TensorRT's recommendation for CNNs).
    Entropy2,
    /// IInt8EntropyCalibrator.
    Entropy,
    /// IInt8MinMaxCalibrator.
    MinMax,
    /// IInt8LegacyCalibrator with its quantile and regression cutoff.
    Legacy {
        quantile: f64,
        regression_cutoff: f64,
    },
}

impl Algorithm {
    fn raw(self) -> i32 {
        match self {
            Algorithm::Legacy { .. } => shim::TRTQ_CALIB_LEGACY as i32,
            Algorithm::Entropy => shim::TRTQ_CALIB_ENTROPY as i32,
            Algorithm::Entropy2 => shim::TRTQ_CALIB_ENTROPY2 as i32,
            Algorithm::MinMax => shim::TRTQ_CALIB_MINMAX as i32,
        }
    }
}

/// Builder settings.
#[derive(Clone, Debug, PartialEq)]
pub struct BuildOptions {
    pub int8: bool,
    pub fp16: bool,
    /// Workspace memory-pool limit in bytes; `None` keeps TensorRT's default.
    pub workspace: Option<u64>,
    pub profiles: Vec<Profile>,
    /// The shapes calibration batches have (setCalibrationProfile); `None`: none set.
    pub calib_profile: Option<Profile>,
    /// Build for this DLA core; `None`: GPU.
    pub dla_core: Option<i32>,
    /// With a DLA core: let layers DLA cannot run fall back to the GPU.
    pub gpu_fallback: bool,
    /// Used when a calibrator is given.
    pub algorithm: Algorithm,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            int8: true,
            fp16: false,
            workspace: None,
            profiles: Vec::new(),
            calib_profile: None,
            dla_core: None,
            gpu_fallback: false,
            algorithm: Algorithm::Entropy2,
        }
    }
}

/// The data source of an INT8 calibration, called by TensorRT during [`Session::build`].
///
/// Calls may arrive on a TensorRT thread (hence `Send`), one at a time: make the CUDA
/// context current inside `next_batch` if the device pointers need it.
pub trait Calibrator: Send {
    /// Batch size N: the first dimension of every batch.
    fn batch_size(&self) -> usize;
    /// Fills `bindings[i]` with a device pointer holding the next batch of input `names[i]`
    /// (names in TensorRT's order). `Ok(false)`: no more batches.
    fn next_batch(&mut self, names: &[&str], bindings: &mut [*mut c_void]) -> Result<bool>;
    /// A calibration cache to use instead of calibrating, if there is one.
    fn read_cache(&mut self) -> Result<Option<Vec<u8>>>;
    /// The calibration cache TensorRT produced.
    fn write_cache(&mut self, cache: &[u8]) -> Result<()>;
    /// Legacy calibrator only: a histogram cache to reuse.
    fn read_histogram_cache(&mut self) -> Result<Option<Vec<u8>>> {
        Ok(None)
    }
    /// Legacy calibrator only: the histogram cache TensorRT produced.
    fn write_histogram_cache(&mut self, _cache: &[u8]) -> Result<()> {
        Ok(())
    }
}

/// The loaded libnvinfer + libnvonnxparser and the ABI the shim uses with them.
pub struct Trt {
    api: &'static shim::trtq_api,
    abi: Abi,
    version: Version,
    parser_version: i32,
    // Dropped after everything above (sessions borrow `Trt`, so they are gone by then), the
    // parser before the library it depends on.
    parser: sys::NvOnnxParser,
    nvinfer: sys::NvInfer,
}

impl Trt {
    /// Loads TensorRT: from `dir` (the `--nvinfer` flag) or `TRTQ_NVINFER_DIR` if given
    /// (that folder only), else by SONAME and the Jetson locations. Reads
    /// getInferLibVersion() and refuses versions without a matching ABI (TensorRT 11 and
    /// later, 9.x, before 8.5).
    pub fn load(dir: Option<&Path>) -> Result<Trt> {
        let chosen = sys::chosen_dir(dir);
        let dir_ref = chosen.as_ref().map(|(d, s)| (d.as_path(), s.clone()));
        let nvinfer = sys::NvInfer::load(dir_ref.clone())?;
        // SAFETY: getInferLibVersion takes nothing and only returns a number.
        let raw = unsafe { (nvinfer.getInferLibVersion)() };
        let version = Version::from_raw(raw);
        let abi = choose_abi(version).map_err(|e| match e {
            Error::Unsupported(m) => Error::Unsupported(format!("{} ({})", m, nvinfer.path)),
            e => e,
        })?;
        let parser = sys::NvOnnxParser::load(&nvinfer, version.major, dir_ref)?;
        // SAFETY: as for getInferLibVersion.
        let parser_version = unsafe { (parser.getNvOnnxParserVersion)() };
        // SAFETY: the accessors return pointers to static tables, never null.
        let api = unsafe {
            match abi {
                Abi::Trt8 => shim::trtq_abi8(),
                Abi::Trt10 => shim::trtq_abi10(),
            }
            .as_ref()
        }
        .ok_or_else(|| Error::Trt {
            call: "trtq_abi".into(),
            msg: "the shim returned no function table".into(),
        })?;
        Ok(Trt {
            api,
            abi,
            version,
            parser_version,
            parser,
            nvinfer,
        })
    }

    /// getInferLibVersion(), decoded.
    pub fn version(&self) -> Version {
        self.version
    }

    /// getNvOnnxParserVersion() as returned (100 in the open-source parser of every release).
    pub fn parser_version(&self) -> i32 {
        self.parser_version
    }

    pub fn abi(&self) -> Abi {
        self.abi
    }

    /// True when the loaded libnvinfer is trtsim, the test simulator, not NVIDIA's TensorRT.
    pub fn is_simulator(&self) -> bool {
        self.nvinfer.simulator
    }

    /// The libnvinfer candidate that loaded.
    pub fn nvinfer_path(&self) -> &str {
        &self.nvinfer.path
    }

    /// The libnvonnxparser candidate that loaded.
    pub fn parser_path(&self) -> &str {
        &self.parser.path
    }

    /// What the builder reports about the GPU (for `doctor`): creates a builder, network
    /// and parser, asks, and releases them. TensorRT messages are dropped.
    pub fn platform(&self) -> Result<Platform> {
        let s = Session::new(self, Severity::InternalError, Box::new(|_, _| {}))?;
        s.platform()
    }
}

/// Receives TensorRT's log messages (called from TensorRT threads too).
pub type LogFn = Box<dyn FnMut(Severity, &str) + Send>;

/// What the logger callback shares with the session. Boxed: C++ holds its address.
struct LogBridge {
    level: Severity,
    sink: Mutex<LogFn>,
    /// The last error-level messages, for the error of a failed build.
    errors: Mutex<Vec<String>>,
    panic: Mutex<Option<String>>,
}

const KEPT_ERRORS: usize = 8;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock was already caught and recorded; the data is still
    // usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

unsafe extern "C" fn log_cb(user: *mut c_void, severity: i32, msg: *const c_char) {
    if user.is_null() {
        return;
    }
    // SAFETY: `user` is the session's boxed LogBridge, alive until session_destroy returns.
    let bridge = unsafe { &*(user as *const LogBridge) };
    let r = catch_unwind(AssertUnwindSafe(|| {
        let sev = Severity::from_raw(severity);
        let text = if msg.is_null() {
            String::new()
        } else {
            // SAFETY: non-null, NUL-terminated, valid during the call (ILogger::log contract).
            unsafe { CStr::from_ptr(msg) }
                .to_string_lossy()
                .into_owned()
        };
        if sev <= Severity::Error {
            let mut e = lock(&bridge.errors);
            if e.len() == KEPT_ERRORS {
                e.remove(0);
            }
            e.push(text.clone());
        }
        // A sink that panicked once is not called again: the panic is already the error,
        // and a log storm would otherwise print one panic per message.
        if sev <= bridge.level && lock(&bridge.panic).is_none() {
            (lock(&bridge.sink))(sev, &text);
        }
    }));
    if let Err(p) = r {
        let mut slot = lock(&bridge.panic);
        if slot.is_none() {
            *slot = Some(panic_text(p.as_ref()));
        }
    }
}

/// Builder + network + ONNX parser for one model.
pub struct Session<'t> {
    trt: &'t Trt,
    raw: NonNull<shim::trtq_session>,
    log: Box<LogBridge>,
    model_path: Option<PathBuf>,
}

impl<'t> Session<'t> {
    /// Creates the builder (with the library's own version number), an explicit-batch
    /// network and an ONNX parser. Messages at `log_level` or more severe go to `log`.
    pub fn new(trt: &'t Trt, log_level: Severity, log: LogFn) -> Result<Session<'t>> {
        let bridge = Box::new(LogBridge {
            level: log_level,
            sink: Mutex::new(log),
            errors: Mutex::new(Vec::new()),
            panic: Mutex::new(None),
        });
        let user = &*bridge as *const LogBridge as *mut c_void;
        // SAFETY: the entry points were resolved with these exact C types; `bridge` is
        // boxed and lives in the Session until after session_destroy.
        let raw = unsafe {
            result::session_create(
                trt.api,
                Some(trt.nvinfer.createInferBuilder_INTERNAL),
                Some(trt.parser.createNvOnnxParser_INTERNAL),
                trt.version.raw,
                trt.parser_version,
                Some(log_cb),
                user,
            )
        };
        let raw = match raw {
            Ok(r) => r,
            Err(e) => {
                take_log_panic(&bridge)?;
                return Err(with_log(e, &bridge));
            }
        };
        let s = Session {
            trt,
            raw,
            log: bridge,
            model_path: None,
        };
        take_log_panic(&s.log)?;
        Ok(s)
    }

    /// Parses an ONNX model held in memory; `path` is where it came from (for messages and
    /// for external weights next to it). A refused model is [`Error::OnnxParse`] listing
    /// every parser error with its node.
    pub fn parse_onnx(&mut self, bytes: &[u8], path: &Path) -> Result<()> {
        let cpath = CString::new(path.to_string_lossy().as_bytes()).map_err(|_| {
            Error::BadInput(format!("{}: the path contains a NUL byte", path.display()))
        })?;
        self.model_path = Some(path.to_path_buf());
        // SAFETY: live session of this api; `cpath` outlives the call.
        let ok = unsafe { result::session_parse(self.trt.api, self.raw, bytes, cpath.as_ptr()) };
        take_log_panic(&self.log)?;
        if ok? {
            return Ok(());
        }
        // SAFETY: live session.
        let n = unsafe { result::session_nb_parse_errors(self.trt.api, self.raw) }?;
        let mut errors = Vec::new();
        for i in 0..n {
            // SAFETY: live session; the strings are copied before any other parser call.
            let e = unsafe { result::session_parse_error(self.trt.api, self.raw, i) }?;
            errors.push(format_parse_error(&e));
        }
        if errors.is_empty() {
            errors.push(with_log_text(
                "the parser returned failure without an error",
                &self.log,
            ));
        }
        Err(Error::OnnxParse {
            path: path.to_path_buf(),
            errors,
        })
    }

    /// The network's inputs (after [`Session::parse_onnx`]).
    pub fn inputs(&self) -> Result<Vec<TensorInfo>> {
        // SAFETY: live session.
        let n = unsafe { result::session_nb_inputs(self.trt.api, self.raw) }?;
        let mut v = Vec::new();
        for i in 0..n {
            // SAFETY: live session; the name is copied at once.
            let t = unsafe { result::session_input(self.trt.api, self.raw, i) }?;
            // SAFETY: the name belongs to the network, alive while the session is.
            let name = unsafe { result::opt_str(t.name) }.unwrap_or_default();
            let nb = usize::try_from(t.nb_dims).unwrap_or(0).min(t.dims.len());
            v.push(TensorInfo {
                name,
                dims: t.dims[..nb].to_vec(),
                dtype: DataType::from_raw(t.dtype),
            });
        }
        take_log_panic(&self.log)?;
        Ok(v)
    }

    /// platformHasFastInt8 / platformHasFastFp16 / getNbDLACores.
    pub fn platform(&self) -> Result<Platform> {
        // SAFETY: live session.
        let p = unsafe { result::session_platform(self.trt.api, self.raw) }?;
        take_log_panic(&self.log)?;
        Ok(Platform {
            fast_int8: p.fast_int8 != 0,
            fast_fp16: p.fast_fp16 != 0,
            nb_dla_cores: p.nb_dla_cores,
        })
    }

    /// Configures the builder and builds the serialized engine (the plan bytes).
    pub fn build(
        &mut self,
        opts: &BuildOptions,
        calibrator: Option<&mut dyn Calibrator>,
    ) -> Result<Vec<u8>> {
        let profiles = opts
            .profiles
            .iter()
            .enumerate()
            .map(|(i, p)| CProfile::new(p, &format!("optimization profile {i}")))
            .collect::<Result<Vec<_>>>()?;
        let c_profiles: Vec<shim::trtq_profile> = profiles.iter().map(CProfile::raw).collect();
        let calib_profile = opts
            .calib_profile
            .as_ref()
            .map(|p| CProfile::new(p, "calibration profile"))
            .transpose()?;
        let c_calib_profile = calib_profile.as_ref().map(CProfile::raw);
        let dla_core = match opts.dla_core {
            Some(c) if c < 0 => {
                return Err(Error::BadInput(format!(
                    "DLA core {c}: a core number is 0 or more"
                )))
            }
            Some(c) => c,
            None => -1,
        };
        let options = shim::trtq_build_options {
            int8: opts.int8 as i32,
            fp16: opts.fp16 as i32,
            workspace: opts.workspace.unwrap_or(0),
            profiles: if c_profiles.is_empty() {
                ptr::null()
            } else {
                c_profiles.as_ptr()
            },
            nb_profiles: i32::try_from(c_profiles.len())
                .map_err(|_| Error::BadInput("too many optimization profiles".into()))?,
            calib_profile: c_calib_profile
                .as_ref()
                .map_or(ptr::null(), |p| p as *const shim::trtq_profile),
            dla_core,
            gpu_fallback: opts.gpu_fallback as i32,
        };

        let state = calibrator.map(|c| {
            Box::new(CalibState {
                inner: Mutex::new(CalibInner {
                    calib: c,
                    kept: Vec::new(),
                    error: None,
                }),
                panic: Mutex::new(None),
            })
        });
        let c_calib = state.as_ref().map(|st| {
            let (quantile, regression_cutoff) = match opts.algorithm {
                Algorithm::Legacy {
                    quantile,
                    regression_cutoff,
                } => (quantile, regression_cutoff),
                _ => (0.0, 0.0),
            };
            shim::trtq_calibrator {
                user: &**st as *const CalibState as *mut c_void,
                algorithm: opts.algorithm.raw(),
                quantile,
                regression_cutoff,
                batch_size: Some(calib_batch_size),
                get_batch: Some(calib_get_batch),
                read_cache: Some(calib_read_cache),
                write_cache: Some(calib_write_cache),
            }
        });

        // SAFETY: live session; `options` and its profiles, and the calibrator state, live
        // until this call returns; the callbacks catch panics.
        let built =
            unsafe { result::session_build(self.trt.api, self.raw, &options, c_calib.as_ref()) };
        // A plan is only trusted when nothing went wrong on our side during the build.
        let plan = built.map_err(|e| with_log(e, &self.log));
        let ours = match state {
            Some(st) => st.finish(),
            None => Ok(()),
        };
        let log_panic = take_log_panic(&self.log);
        if ours.is_err() || log_panic.is_err() {
            if let Ok(Some(p)) = plan {
                // SAFETY: a live plan of this api, not used afterwards.
                unsafe { result::plan_destroy(self.trt.api, p) };
            }
            ours?;
            log_panic?;
        }
        let plan = plan?;
        let Some(plan) = plan else {
            return Err(Error::Trt {
                call: "IBuilder::buildSerializedNetwork".into(),
                msg: with_log_text("returned no plan", &self.log),
            });
        };
        // SAFETY: a live plan of this api.
        let bytes = unsafe { result::plan_bytes(self.trt.api, plan) };
        // SAFETY: as above; not used afterwards.
        unsafe { result::plan_destroy(self.trt.api, plan) };
        bytes
    }

    /// The model path given to [`Session::parse_onnx`].
    pub fn model_path(&self) -> Option<&Path> {
        self.model_path.as_deref()
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        // SAFETY: the session is live and not used afterwards; the log bridge is still
        // alive (fields drop after this).
        unsafe { result::session_destroy(self.trt.api, self.raw) };
    }
}

fn take_log_panic(bridge: &LogBridge) -> Result<()> {
    match lock(&bridge.panic).take() {
        Some(msg) => Err(Error::CallbackPanic {
            callback: "the TensorRT log callback",
            msg,
        }),
        None => Ok(()),
    }
}

fn with_log_text(what: &str, bridge: &LogBridge) -> String {
    let errors = lock(&bridge.errors);
    if errors.is_empty() {
        format!("{what} (TensorRT logged no error)")
    } else {
        format!("{what}; TensorRT logged: {}", errors.join(" | "))
    }
}

fn with_log(e: Error, bridge: &LogBridge) -> Error {
    match e {
        Error::Trt { call, msg } => Error::Trt {
            call,
            msg: with_log_text(&msg, bridge),
        },
        e => e,
    }
}

fn format_parse_error(e: &shim::trtq_parse_error) -> String {
    // SAFETY: the strings belong to the parser and are alive until the next parse.
    let (desc, name, op) = unsafe {
        (
            result::opt_str(e.desc).unwrap_or_default(),
            result::opt_str(e.node_name).filter(|s| !s.is_empty()),
            result::opt_str(e.node_operator).filter(|s| !s.is_empty()),
        )
    };
    let mut s = if e.node >= 0 {
        format!("node {}", e.node)
    } else {
        "model".to_string()
    };
    match (name, op) {
        (Some(n), Some(o)) => s.push_str(&format!(" ({n}, {o})")),
        (Some(n), None) => s.push_str(&format!(" ({n})")),
        (None, Some(o)) => s.push_str(&format!(" ({o})")),
        (None, None) => {}
    }
    s.push_str(&format!(": {desc} [error code {}]", e.code));
    s
}

/// C view of a [`Profile`], owning the name strings it points to.
struct CProfile {
    _names: Vec<CString>,
    ranges: Vec<shim::trtq_shape_range>,
}

impl CProfile {
    fn new(p: &Profile, what: &str) -> Result<CProfile> {
        let mut names = Vec::new();
        let mut ranges = Vec::new();
        for r in &p.inputs {
            let n = r.min.len();
            if r.opt.len() != n || r.max.len() != n {
                return Err(Error::BadInput(format!(
                    "{what}: input '{}': min, opt and max need the same number of dimensions \
                     (got {}, {}, {})",
                    r.name,
                    r.min.len(),
                    r.opt.len(),
                    r.max.len()
                )));
            }
            if n > shim::TRTQ_MAX_DIMS as usize {
                return Err(Error::BadInput(format!(
                    "{what}: input '{}' has {n} dimensions; TensorRT allows at most {}",
                    r.name,
                    shim::TRTQ_MAX_DIMS
                )));
            }
            let name = CString::new(r.name.as_bytes()).map_err(|_| {
                Error::BadInput(format!(
                    "{what}: input name '{}' contains a NUL byte",
                    r.name
                ))
            })?;
            let mut c = shim::trtq_shape_range {
                name: name.as_ptr(),
                nb_dims: n as i32,
                min: [0; 8],
                opt: [0; 8],
                max: [0; 8],
            };
            c.min[..n].copy_from_slice(&r.min);
            c.opt[..n].copy_from_slice(&r.opt);
            c.max[..n].copy_from_slice(&r.max);
            // Moving the CString into the Vec keeps its heap buffer where `name` points.
            names.push(name);
            ranges.push(c);
        }
        Ok(CProfile {
            _names: names,
            ranges,
        })
    }

    fn raw(&self) -> shim::trtq_profile {
        shim::trtq_profile {
            inputs: if self.ranges.is_empty() {
                ptr::null()
            } else {
                self.ranges.as_ptr()
            },
            nb_inputs: self.ranges.len() as i32,
        }
    }
}

/// What the calibrator callbacks share with [`Session::build`]. Boxed: C++ holds its
/// address for the duration of the build.
struct CalibState<'c> {
    inner: Mutex<CalibInner<'c>>,
    panic: Mutex<Option<(&'static str, String)>>,
}

struct CalibInner<'c> {
    calib: &'c mut dyn Calibrator,
    /// Caches handed to TensorRT: kept until the build returns.
    kept: Vec<Vec<u8>>,
    /// The first error a callback returned.
    error: Option<Error>,
}

impl CalibState<'_> {
    fn finish(self) -> Result<()> {
        if let Some((callback, msg)) = lock(&self.panic).take() {
            return Err(Error::CallbackPanic { callback, msg });
        }
        match self
            .inner
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .error
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Runs one calibrator callback: catches panics (recorded, `failed` returned) and records
/// the first error.
///
/// # Safety
/// 1. `user` is the `CalibState` of a build in progress.
unsafe fn with_calib<T>(
    user: *mut c_void,
    callback: &'static str,
    failed: T,
    f: impl FnOnce(&mut CalibInner<'_>) -> Result<T>,
) -> T {
    if user.is_null() {
        return failed;
    }
    // SAFETY: point 1; the state is only shared (&), mutation goes through its mutexes.
    let state = unsafe { &*(user as *const CalibState<'_>) };
    // After a failure nothing more reaches the calibrator: TensorRT treats the failed
    // getBatch as the end of the data and would hand over a cache of a partial calibration.
    if lock(&state.panic).is_some() {
        return failed;
    }
    let r = catch_unwind(AssertUnwindSafe(|| {
        let mut inner = lock(&state.inner);
        if inner.error.is_some() {
            return Err(());
        }
        f(&mut inner).map_err(|e| {
            inner.error = Some(e);
        })
    }));
    match r {
        Ok(Ok(v)) => v,
        Ok(Err(())) => failed,
        Err(p) => {
            let mut slot = lock(&state.panic);
            if slot.is_none() {
                *slot = Some((callback, panic_text(p.as_ref())));
            }
            failed
        }
    }
}

unsafe extern "C" fn calib_batch_size(user: *mut c_void) -> i32 {
    // SAFETY: `user` is the CalibState passed with this callback.
    unsafe {
        with_calib(user, "Calibrator::batch_size", 0, |c| {
            let n = c.calib.batch_size();
            match i32::try_from(n) {
                Ok(v) if v > 0 => Ok(v),
                _ => Err(Error::BadInput(format!(
                    "calibration batch size {n}: it must be between 1 and {}",
                    i32::MAX
                ))),
            }
        })
    }
}

unsafe extern "C" fn calib_get_batch(
    user: *mut c_void,
    bindings: *mut *mut c_void,
    names: *const *const c_char,
    count: i32,
) -> i32 {
    // SAFETY: `user` is the CalibState passed with this callback.
    unsafe {
        with_calib(user, "Calibrator::next_batch", -1, |c| {
            let n = usize::try_from(count).unwrap_or(0);
            if n > 0 && (bindings.is_null() || names.is_null()) {
                return Err(Error::Trt {
                    call: "IInt8Calibrator::getBatch".into(),
                    msg: "TensorRT passed null arrays".into(),
                });
            }
            let owned: Vec<String> = (0..n)
                // SAFETY: TensorRT passes `count` names, each NUL-terminated or null.
                .map(|i| result::opt_str(*names.add(i)).unwrap_or_default())
                .collect();
            let refs: Vec<&str> = owned.iter().map(String::as_str).collect();
            let slots: &mut [*mut c_void] = if n == 0 {
                &mut []
            } else {
                // SAFETY: TensorRT passes an array of `count` binding slots for us to fill.
                std::slice::from_raw_parts_mut(bindings, n)
            };
            Ok(if c.calib.next_batch(&refs, slots)? {
                1
            } else {
                0
            })
        })
    }
}

unsafe extern "C" fn calib_read_cache(
    user: *mut c_void,
    which: i32,
    data: *mut *const c_void,
    len: *mut usize,
) -> i32 {
    if data.is_null() || len.is_null() {
        return -1;
    }
    // SAFETY: checked non-null; TensorRT-side out-pointers valid for the call.
    unsafe {
        *data = ptr::null();
        *len = 0;
    }
    // SAFETY: `user` is the CalibState passed with this callback.
    unsafe {
        with_calib(user, "Calibrator::read_cache", -1, |c| {
            let cache = if which == shim::TRTQ_CACHE_HISTOGRAM as i32 {
                c.calib.read_histogram_cache()?
            } else {
                c.calib.read_cache()?
            };
            if let Some(bytes) = cache.filter(|b| !b.is_empty()) {
                // The heap buffer does not move when the Vec is moved into `kept`.
                *data = bytes.as_ptr().cast();
                *len = bytes.len();
                c.kept.push(bytes);
            }
            Ok(0)
        })
    }
}

unsafe extern "C" fn calib_write_cache(
    user: *mut c_void,
    which: i32,
    data: *const c_void,
    len: usize,
) -> i32 {
    // SAFETY: `user` is the CalibState passed with this callback.
    unsafe {
        with_calib(user, "Calibrator::write_cache", -1, |c| {
            let bytes: &[u8] = if data.is_null() || len == 0 {
                &[]
            } else {
                // SAFETY: TensorRT passes `len` readable bytes, valid during the call.
                std::slice::from_raw_parts(data.cast::<u8>(), len)
            };
            if which == shim::TRTQ_CACHE_HISTOGRAM as i32 {
                c.calib.write_histogram_cache(bytes)?;
            } else {
                c.calib.write_cache(bytes)?;
            }
            Ok(0)
        })
    }
}
