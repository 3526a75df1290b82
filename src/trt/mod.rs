//! TensorRT, loaded at run time, driven through the C++ shim (shim/).
//!
//! Layers (as in cudarc): [`sys`] holds the bindgen bindings of shim/trtq_shim.h and the
//! fn-pointer tables of libnvinfer/libnvonnxparser with their `Library`; [`result`] has one
//! function per shim call returning `Result`; [`safe`] holds the owning types. The rest of
//! the crate uses only what is re-exported here.
//!
//! Invariants: a [`Session`] borrows its [`Trt`], so the libraries outlive every TensorRT
//! object; no C++ exception or Rust panic crosses the C boundary (the shim catches
//! everything, Rust callbacks run in `catch_unwind`).
pub mod result;
pub mod safe;
pub mod sys;
pub mod version;

pub use safe::{
    Algorithm, BuildOptions, Calibrator, DataType, LogFn, Platform, Profile, Session, Severity,
    ShapeRange, TensorInfo, Trt,
};
pub use sys::NVINFER_DIR_ENV;
pub use version::{choose_abi, Abi, Version, TRT11_MESSAGE};
