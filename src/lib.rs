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
//! - [`feed`]: streams batches into device memory (pinned staging, async copies).
//! - [`cli`]: argh argument structs and the subcommands; `main.rs` only dispatches.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod cache;
pub mod cli;
pub mod cuda;
pub mod data;
pub mod error;
pub mod feed;
pub mod json;
pub mod npy;
pub mod outfile;

pub use error::{Error, Result};
