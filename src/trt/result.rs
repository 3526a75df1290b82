//! One function per shim call, turning `TRTQ_ERR` into [`Error::Trt`] with the shim's
//! thread-local error text (read right after the call, on the same thread).
//!
//! What the shim calls, in NVIDIA's C++ API reference
//! (<https://docs.nvidia.com/deeplearning/tensorrt/latest/_static/c-api/index.html>):
//! `IBuilder` (createNetworkV2, createBuilderConfig, createOptimizationProfile,
//! buildSerializedNetwork, platformHasFastInt8/Fp16, getNbDLACores), `INetworkDefinition`
//! (getNbInputs, getInput), `ITensor` (getName, getDimensions, getType), `IBuilderConfig`
//! (setFlag, setMemoryPoolLimit, addOptimizationProfile, setCalibrationProfile,
//! setDefaultDeviceType, setDLACore, setInt8Calibrator), `IOptimizationProfile`
//! (setDimensions), `IHostMemory` (data, size), `nvonnxparser::IParser` (parse, getNbErrors,
//! getError) and `IParserError`; the calibrator protocol is `IInt8Calibrator` and its four
//! subclasses, the log bridge `ILogger`.

use std::ffi::{c_char, c_void, CStr};
use std::ptr::{self, NonNull};

use super::sys::shim::{
    trtq_api, trtq_build_options, trtq_calibrator, trtq_create_builder_fn, trtq_create_parser_fn,
    trtq_last_error, trtq_log_fn, trtq_parse_error, trtq_plan, trtq_platform, trtq_session,
    trtq_tensor_info, TRTQ_OK,
};
use crate::error::{Error, Result};

fn last_error() -> String {
    // SAFETY: trtq_last_error never returns null; the text lives in a thread-local that
    // only the next shim call on this thread changes, and it is copied here at once.
    let p = unsafe { trtq_last_error() };
    if p.is_null() {
        return String::new();
    }
    // SAFETY: non-null, NUL-terminated (a std::string's c_str()).
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

fn check(status: i32, call: &str) -> Result<()> {
    if status == TRTQ_OK as i32 {
        return Ok(());
    }
    let msg = last_error();
    Err(Error::Trt {
        call: call.to_string(),
        msg: if msg.is_empty() {
            format!("the shim returned status {status}")
        } else {
            msg
        },
    })
}

fn missing(call: &str) -> Error {
    Error::Trt {
        call: call.to_string(),
        msg: "the shim's function table has no entry for it".into(),
    }
}

/// Copies a C string owned by TensorRT; null becomes `None`.
///
/// # Safety
/// 1. `p` is null or points to a NUL-terminated string valid for the call.
pub(crate) unsafe fn opt_str(p: *const c_char) -> Option<String> {
    if p.is_null() {
        None
    } else {
        // SAFETY: point 1.
        Some(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }
}

/// # Safety
/// 1. `create_builder`/`create_parser` are the library's entry points with these C types.
/// 2. `log_user` stays valid, and `log` callable, until [`session_destroy`].
pub(crate) unsafe fn session_create(
    api: &trtq_api,
    create_builder: trtq_create_builder_fn,
    create_parser: trtq_create_parser_fn,
    trt_version: i32,
    parser_version: i32,
    log: trtq_log_fn,
    log_user: *mut c_void,
) -> Result<NonNull<trtq_session>> {
    let f = api
        .session_create
        .ok_or_else(|| missing("session_create"))?;
    let mut out = ptr::null_mut();
    // SAFETY: points 1 and 2; `out` is a valid out-pointer.
    let st = unsafe {
        f(
            create_builder,
            create_parser,
            trt_version,
            parser_version,
            log,
            log_user,
            &mut out,
        )
    };
    check(st, "creating the TensorRT builder, network and ONNX parser")?;
    NonNull::new(out).ok_or_else(|| Error::Trt {
        call: "session_create".into(),
        msg: "returned no session".into(),
    })
}

/// # Safety
/// 1. `s` came from [`session_create`] with this `api` and is not used afterwards.
pub(crate) unsafe fn session_destroy(api: &trtq_api, s: NonNull<trtq_session>) {
    if let Some(f) = api.session_destroy {
        // SAFETY: point 1.
        unsafe { f(s.as_ptr()) }
    }
}

/// # Safety
/// 1. `s` is a live session of this `api`.
pub(crate) unsafe fn session_platform(
    api: &trtq_api,
    s: NonNull<trtq_session>,
) -> Result<trtq_platform> {
    let f = api
        .session_platform
        .ok_or_else(|| missing("session_platform"))?;
    let mut out = trtq_platform {
        fast_int8: 0,
        fast_fp16: 0,
        nb_dla_cores: 0,
    };
    // SAFETY: point 1; `out` is valid.
    check(
        unsafe { f(s.as_ptr(), &mut out) },
        "IBuilder::platformHasFastInt8",
    )?;
    Ok(out)
}

/// Returns whether the parser accepted the model.
///
/// # Safety
/// 1. `s` is a live session of this `api`.
/// 2. `path` is null or a NUL-terminated string valid for the call.
pub(crate) unsafe fn session_parse(
    api: &trtq_api,
    s: NonNull<trtq_session>,
    data: &[u8],
    path: *const c_char,
) -> Result<bool> {
    let f = api.session_parse.ok_or_else(|| missing("session_parse"))?;
    let mut ok = 0;
    // SAFETY: points 1, 2; `data` is valid for its length during the call.
    let st = unsafe { f(s.as_ptr(), data.as_ptr().cast(), data.len(), path, &mut ok) };
    check(st, "IParser::parse")?;
    Ok(ok != 0)
}

/// # Safety
/// 1. `s` is a live session of this `api`.
pub(crate) unsafe fn session_nb_parse_errors(
    api: &trtq_api,
    s: NonNull<trtq_session>,
) -> Result<i32> {
    let f = api
        .session_nb_parse_errors
        .ok_or_else(|| missing("session_nb_parse_errors"))?;
    let mut n = 0;
    // SAFETY: point 1.
    check(unsafe { f(s.as_ptr(), &mut n) }, "IParser::getNbErrors")?;
    Ok(n)
}

/// The error's strings point into the parser: copy them before the next parse.
///
/// # Safety
/// 1. `s` is a live session of this `api`.
pub(crate) unsafe fn session_parse_error(
    api: &trtq_api,
    s: NonNull<trtq_session>,
    index: i32,
) -> Result<trtq_parse_error> {
    let f = api
        .session_parse_error
        .ok_or_else(|| missing("session_parse_error"))?;
    let mut out = trtq_parse_error {
        code: 0,
        desc: ptr::null(),
        node: -1,
        node_name: ptr::null(),
        node_operator: ptr::null(),
        file: ptr::null(),
        line: 0,
        func: ptr::null(),
    };
    // SAFETY: point 1.
    check(
        unsafe { f(s.as_ptr(), index, &mut out) },
        "IParser::getError",
    )?;
    Ok(out)
}

/// # Safety
/// 1. `s` is a live session of this `api`.
pub(crate) unsafe fn session_nb_inputs(api: &trtq_api, s: NonNull<trtq_session>) -> Result<i32> {
    let f = api
        .session_nb_inputs
        .ok_or_else(|| missing("session_nb_inputs"))?;
    let mut n = 0;
    // SAFETY: point 1.
    check(
        unsafe { f(s.as_ptr(), &mut n) },
        "INetworkDefinition::getNbInputs",
    )?;
    Ok(n)
}

/// # Safety
/// 1. `s` is a live session of this `api`.
pub(crate) unsafe fn session_input(
    api: &trtq_api,
    s: NonNull<trtq_session>,
    index: i32,
) -> Result<trtq_tensor_info> {
    let f = api.session_input.ok_or_else(|| missing("session_input"))?;
    let mut out = trtq_tensor_info {
        name: ptr::null(),
        nb_dims: 0,
        dims: [0; 8],
        dtype: 0,
    };
    // SAFETY: point 1.
    check(
        unsafe { f(s.as_ptr(), index, &mut out) },
        "INetworkDefinition::getInput",
    )?;
    Ok(out)
}

/// Returns the plan, or `None` when TensorRT built nothing (the reason went to the logger).
///
/// # Safety
/// 1. `s` is a live session of this `api`.
/// 2. Every pointer in `options` and `calibrator` is valid for the call, and the
///    calibrator's callbacks may be called (from any thread, one at a time) until it returns.
pub(crate) unsafe fn session_build(
    api: &trtq_api,
    s: NonNull<trtq_session>,
    options: &trtq_build_options,
    calibrator: Option<&trtq_calibrator>,
) -> Result<Option<NonNull<trtq_plan>>> {
    let f = api.session_build.ok_or_else(|| missing("session_build"))?;
    let mut out = ptr::null_mut();
    let cal = calibrator.map_or(ptr::null(), |c| c as *const trtq_calibrator);
    // SAFETY: points 1 and 2.
    check(
        unsafe { f(s.as_ptr(), options, cal, &mut out) },
        "IBuilder::buildSerializedNetwork",
    )?;
    Ok(NonNull::new(out))
}

/// Copies the plan's bytes.
///
/// # Safety
/// 1. `p` is a live plan of this `api`.
pub(crate) unsafe fn plan_bytes(api: &trtq_api, p: NonNull<trtq_plan>) -> Result<Vec<u8>> {
    let f = api.plan_data.ok_or_else(|| missing("plan_data"))?;
    let mut data = ptr::null();
    let mut len = 0usize;
    // SAFETY: point 1.
    check(
        unsafe { f(p.as_ptr(), &mut data, &mut len) },
        "IHostMemory::data",
    )?;
    if len == 0 {
        return Ok(Vec::new());
    }
    // SAFETY: the shim checked `data` is non-null for len > 0; IHostMemory owns `len` bytes
    // there until plan_destroy.
    Ok(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }.to_vec())
}

/// # Safety
/// 1. `p` is a live plan of this `api` and is not used afterwards.
pub(crate) unsafe fn plan_destroy(api: &trtq_api, p: NonNull<trtq_plan>) {
    if let Some(f) = api.plan_destroy {
        // SAFETY: point 1.
        unsafe { f(p.as_ptr()) }
    }
}
