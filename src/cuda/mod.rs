//! The CUDA driver API, loaded at run time (no CUDA headers or toolkit at build time).
//!
//! Layers: [`sys`] (C types and the fn-pointer table), [`result`] (one function per call,
//! returning [`crate::Result`]), [`safe`] (owning types). Everything outside this module uses
//! only the types re-exported here.

pub mod result;
pub mod safe;
pub mod sys;

pub use safe::{
    Context, CurrentGuard, DeviceBuffer, DeviceInfo, DevicePtr, Driver, Event, HostRegistration,
    PinnedBuffer, PinnedChunk, Stream,
};
pub use sys::ENV_LIBCUDA;
