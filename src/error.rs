//! The crate's one error type. Every variant carries the context a user needs to act on it:
//! the file, line or tensor, the failing native call and the native library's own text.
//! `Display` never calls into a native library: texts are captured when the error is made.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Process exit codes, documented in README.
pub mod exit {
    pub const OK: i32 = 0;
    /// Runtime failure: a native library, the GPU, TensorRT or the file system failed.
    pub const FAILURE: i32 = 1;
    /// Bad input or usage: the user's files or arguments are wrong.
    pub const BAD_INPUT: i32 = 2;
    /// Interrupted by Ctrl-C (128 + SIGINT).
    pub const INTERRUPTED: i32 = 130;
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Wrong command-line usage that argh could not catch (conflicting flags, bad values).
    #[error("{0}")]
    Usage(String),

    /// An input file could not be opened or read.
    #[error("cannot read {}", path.display())]
    ReadInput {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// Writing an output failed (the previous file, if any, is untouched).
    #[error("{op} {}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// An output exists and may not be overwritten.
    #[error("{} exists; pass --force to overwrite it", path.display())]
    OutputExists { path: PathBuf },

    /// A calibration cache (or a text that is not one) was refused.
    #[error("{}:{line}: {msg}", path.display())]
    CacheFormat {
        path: PathBuf,
        line: usize,
        msg: String,
    },

    /// A .npy file was refused: `msg` states the fact (e.g. "header says (80, 3, 32, 32) <f4 =
    /// 983040 bytes, but 491520 bytes follow").
    #[error("{}: {msg}", path.display())]
    Npy { path: PathBuf, msg: String },

    /// Any other bad input: the message names the file, tensor or argument.
    #[error("{0}")]
    BadInput(String),

    /// A native library could not be loaded from any candidate path.
    #[error("could not load {lib}; tried:\n{}\n{hint}", format_tried(tried))]
    LibraryNotFound {
        lib: &'static str,
        /// (candidate, loader's message) for every path tried, in order.
        tried: Vec<(String, String)>,
        hint: String,
    },

    /// A loaded library lacks a symbol we need.
    #[error("{lib} ({path}) has no symbol {symbol}")]
    MissingSymbol {
        lib: &'static str,
        path: String,
        symbol: &'static str,
    },

    /// A CUDA driver call failed. `name`/`text` come from cuGetErrorName/cuGetErrorString.
    #[error("{call} failed: {name} ({code}): {text}")]
    Cuda {
        call: String,
        code: i32,
        name: String,
        text: String,
    },

    /// A TensorRT call failed; `msg` holds TensorRT's own text where it gave one.
    #[error("{call} failed: {msg}")]
    Trt { call: String, msg: String },

    /// TensorRT's ONNX parser refused a model; one entry per parser error, each naming the
    /// node (index, name and operator where the TensorRT version reports them).
    #[error("{}: TensorRT's ONNX parser refused the model:\n{}", path.display(), format_list(errors))]
    OnnxParse { path: PathBuf, errors: Vec<String> },

    /// The loaded library cannot do what was asked (e.g. TensorRT 11 has no implicit INT8).
    #[error("{0}")]
    Unsupported(String),

    /// A Rust callback called from C++ panicked; the panic was caught at the boundary.
    #[error("internal error: a callback panicked in {callback}: {msg}")]
    CallbackPanic { callback: &'static str, msg: String },

    /// Ctrl-C.
    #[error("interrupted")]
    Interrupted,
}

fn format_list(items: &[String]) -> String {
    items
        .iter()
        .map(|e| format!("  {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn format_tried(tried: &[(String, String)]) -> String {
    tried
        .iter()
        .map(|(p, e)| format!("  {p}: {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The message of a caught panic (`panic!` with a literal or a formatted string).
pub fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

impl Error {
    /// The process exit code for this error (see [`exit`]).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_)
            | Error::ReadInput { .. }
            | Error::OutputExists { .. }
            | Error::CacheFormat { .. }
            | Error::Npy { .. }
            | Error::OnnxParse { .. }
            | Error::BadInput(_) => exit::BAD_INPUT,
            Error::Interrupted => exit::INTERRUPTED,
            _ => exit::FAILURE,
        }
    }

    /// The whole cause chain, one cause per line, as `main` prints it.
    pub fn chain(&self) -> String {
        let mut s = format!("error: {self}");
        let mut cur: Option<&dyn std::error::Error> = std::error::Error::source(self);
        while let Some(e) = cur {
            s.push_str(&format!("\n  caused by: {e}"));
            cur = e.source();
        }
        s
    }
}
