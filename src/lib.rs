//! trtq-lite: FP32 ONNX models to INT8 TensorRT engines by post-training calibration, with
//! TensorRT and CUDA loaded at run time (no headers or SDKs needed to build).
//!
//! Module map (each named after what it holds):
//! - [`error`]: the one error enum, with exit codes.
//! - [`json`]: a small JSON value/writer for `--json` output.
//! - [`outfile`]: atomic file writes (temp file in the same folder, then rename).
//! - [`cli`]: argh argument structs and the subcommands; `main.rs` only dispatches.
#![deny(unsafe_op_in_unsafe_fn)]

pub mod cli;
pub mod error;
pub mod json;
pub mod outfile;
pub mod trt;

pub use error::{Error, Result};
