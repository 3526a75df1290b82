//! trtq-lite: FP32 ONNX models to INT8 TensorRT engines by post-training calibration, with
//! TensorRT and CUDA loaded at run time (no headers or SDKs needed to build).
//!
//! Module map (each named after what it holds):
//! - [`cache`]: TensorRT calibration cache files (parse, write, compare).
//! - [`error`]: the one error enum, with exit codes.
//! - [`json`]: a small JSON value/writer for `--json` output.
//! - [`outfile`]: atomic file writes (temp file in the same folder, then rename).
//! - [`cuda`]: the CUDA driver API loaded at run time (sys -> result -> safe).
//! - [`npy`]: memory-mapped, validated .npy files.
//! - [`data`]: calibration data sets (sources, inputs, batches).
//! - [`image`]: JPEG/PNG decoding to 8-bit RGB (EXIF orientation applied).
//! - [`letterbox`]: Ultralytics letterbox geometry, bilinear resize, tensor conversion.
//! - [`prepare`]: images to .npy calibration samples (inputs, order, threads, outputs).
//! - [`feed`]: streams batches into device memory (pinned staging, async copies).
//! - [`trt`]: TensorRT loaded at run time, driven through the C++ shim (shim/).
//! - [`calib`]: the calibrator TensorRT calls (feed -> device pointers, cache decisions).
//! - [`interrupt`]: Ctrl-C as a flag the calibrator checks.
//! - [`cli`]: argh argument structs and the subcommands; `main.rs` only dispatches.
#![deny(unsafe_op_in_unsafe_fn)]

// Diagnostics on stderr are best effort. std's `eprintln!`/`eprint!` panic when the write
// fails (stderr piped into a reader that exited, `2>log` on a full disk), which would end a
// calibration with exit 101 and no outputs, or panic inside a Drop, over a lost message.
// These two shadow std's in every module declared below (textual macro scope).
macro_rules! eprintln {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::writeln!(::std::io::stderr().lock(), $($arg)*);
    }};
}
macro_rules! eprint {
    ($($arg:tt)*) => {{
        use ::std::io::Write as _;
        let _ = ::std::write!(::std::io::stderr().lock(), $($arg)*);
    }};
}

pub mod cache;
pub mod calib;
pub mod cli;
pub mod cuda;
pub mod data;
pub mod error;
pub mod feed;
pub mod image;
pub mod interrupt;
pub mod json;
pub mod letterbox;
pub mod npy;
pub mod outfile;
pub mod prepare;
pub mod trt;

pub use error::{Error, Result};
