//! One function per libcuda call, turning its `CUresult` into [`Result`]. Each error records
//! the call with its arguments (e.g. `cuMemAlloc_v2(39321600 bytes)`), the integer code and the
//! driver's own name and text, captured here so that `Display` never calls into the driver.
//!
//! Functions taking raw handles are `unsafe`: the handle must be live and belong to the
//! context current on the calling thread. [`super::safe`] upholds that.

use std::ffi::{c_char, c_int, c_void, CStr};

use super::sys::{
    CUcontext, CUdevice, CUdeviceptr, CUevent, CUmemLocation, CUmemcpyAttributes, CUstream,
    CuResult, Lib, CU_MEMCPY_SRC_ACCESS_ORDER_STREAM, CU_MEM_LOCATION_TYPE_DEVICE,
    CU_MEM_LOCATION_TYPE_HOST,
};
use crate::error::{Error, Result};

/// The driver's name and description for `code`, or placeholders when the driver has none.
pub fn describe(lib: &Lib, code: CuResult) -> (String, String) {
    let mut name: *const c_char = std::ptr::null();
    let mut text: *const c_char = std::ptr::null();
    // SAFETY: both functions only write a pointer to a static string (or fail); they are valid
    // before cuInit.
    let (rn, rt) = unsafe {
        (
            (lib.cuGetErrorName)(code, &mut name),
            (lib.cuGetErrorString)(code, &mut text),
        )
    };
    let read = |ok: bool, p: *const c_char, dflt: String| {
        if ok && !p.is_null() {
            // SAFETY: the driver returned a NUL-terminated static string.
            unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
        } else {
            dflt
        }
    };
    (
        read(
            rn == CuResult::SUCCESS,
            name,
            format!("CUDA_ERROR_{}", code.0),
        ),
        read(
            rt == CuResult::SUCCESS,
            text,
            "unknown error code (newer than this driver's error table)".into(),
        ),
    )
}

/// `Ok(())` for CUDA_SUCCESS, else [`Error::Cuda`] naming `call`.
pub fn check(lib: &Lib, code: CuResult, call: impl FnOnce() -> String) -> Result<()> {
    if code == CuResult::SUCCESS {
        return Ok(());
    }
    let (name, text) = describe(lib, code);
    Err(Error::Cuda {
        call: call(),
        code: code.0,
        name,
        text,
    })
}

// https://docs.nvidia.com/cuda/cuda-driver-api/group__CUDA__INITIALIZE.html
pub fn init(lib: &Lib) -> Result<()> {
    // SAFETY: cuInit takes flags only; 0 is the one valid value.
    check(lib, unsafe { (lib.cuInit)(0) }, || "cuInit(0)".into())
}

// https://docs.nvidia.com/cuda/cuda-driver-api/group__CUDA__VERSION.html
pub fn driver_version(lib: &Lib) -> Result<i32> {
    let mut v = 0;
    // SAFETY: writes one int to a valid pointer.
    check(lib, unsafe { (lib.cuDriverGetVersion)(&mut v) }, || {
        "cuDriverGetVersion".into()
    })?;
    Ok(v)
}

// https://docs.nvidia.com/cuda/cuda-driver-api/group__CUDA__DEVICE.html
pub fn device_count(lib: &Lib) -> Result<i32> {
    let mut n = 0;
    // SAFETY: writes one int to a valid pointer.
    check(lib, unsafe { (lib.cuDeviceGetCount)(&mut n) }, || {
        "cuDeviceGetCount".into()
    })?;
    Ok(n)
}

pub fn device_get(lib: &Lib, ordinal: i32) -> Result<CUdevice> {
    let mut d = 0;
    // SAFETY: writes one int to a valid pointer; the driver validates the ordinal.
    check(lib, unsafe { (lib.cuDeviceGet)(&mut d, ordinal) }, || {
        format!("cuDeviceGet(ordinal {ordinal})")
    })?;
    Ok(d)
}

pub fn device_name(lib: &Lib, dev: CUdevice) -> Result<String> {
    let mut buf = [0 as c_char; 256];
    // SAFETY: the driver writes at most `len` bytes including the NUL.
    check(
        lib,
        unsafe { (lib.cuDeviceGetName)(buf.as_mut_ptr(), buf.len() as c_int, dev) },
        || format!("cuDeviceGetName(device {dev})"),
    )?;
    buf[buf.len() - 1] = 0;
    // SAFETY: NUL-terminated by the driver, and by us at the last byte in any case.
    Ok(unsafe { CStr::from_ptr(buf.as_ptr()) }
        .to_string_lossy()
        .into_owned())
}

/// `None` when the driver lacks the (optional) entry point.
pub fn device_pci_bus_id(lib: &Lib, dev: CUdevice) -> Result<Option<String>> {
    let Some(f) = lib.cuDeviceGetPCIBusId else {
        return Ok(None);
    };
    let mut buf = [0 as c_char; 64];
    // SAFETY: the driver writes at most `len` bytes including the NUL.
    check(
        lib,
        unsafe { f(buf.as_mut_ptr(), buf.len() as c_int, dev) },
        || format!("cuDeviceGetPCIBusId(device {dev})"),
    )?;
    buf[buf.len() - 1] = 0;
    // SAFETY: NUL-terminated as above.
    Ok(Some(
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned(),
    ))
}

pub fn device_total_mem(lib: &Lib, dev: CUdevice) -> Result<usize> {
    let mut b = 0usize;
    // SAFETY: writes one size_t to a valid pointer.
    check(
        lib,
        unsafe { (lib.cuDeviceTotalMem_v2)(&mut b, dev) },
        || format!("cuDeviceTotalMem_v2(device {dev})"),
    )?;
    Ok(b)
}

pub fn device_attribute(lib: &Lib, dev: CUdevice, attr: c_int) -> Result<i32> {
    let mut v = 0;
    // SAFETY: writes one int to a valid pointer; the driver validates `attr`.
    check(
        lib,
        unsafe { (lib.cuDeviceGetAttribute)(&mut v, attr, dev) },
        || format!("cuDeviceGetAttribute(attribute {attr}, device {dev})"),
    )?;
    Ok(v)
}

// https://docs.nvidia.com/cuda/cuda-driver-api/group__CUDA__PRIMARY__CTX.html
pub fn primary_ctx_retain(lib: &Lib, dev: CUdevice) -> Result<CUcontext> {
    let mut c: CUcontext = std::ptr::null_mut();
    // SAFETY: writes one handle to a valid pointer.
    check(
        lib,
        unsafe { (lib.cuDevicePrimaryCtxRetain)(&mut c, dev) },
        || format!("cuDevicePrimaryCtxRetain(device {dev})"),
    )?;
    Ok(c)
}

/// # Safety
/// 1. Must balance one earlier successful [`primary_ctx_retain`] of `dev`.
pub unsafe fn primary_ctx_release(lib: &Lib, dev: CUdevice) -> Result<()> {
    // SAFETY: per this function's contract.
    check(
        lib,
        unsafe { (lib.cuDevicePrimaryCtxRelease_v2)(dev) },
        || format!("cuDevicePrimaryCtxRelease_v2(device {dev})"),
    )
}

// https://docs.nvidia.com/cuda/cuda-driver-api/group__CUDA__CTX.html
/// # Safety
/// 1. `ctx` is a live context (retained and not yet released).
pub unsafe fn ctx_push(lib: &Lib, ctx: CUcontext) -> Result<()> {
    // SAFETY: per this function's contract.
    check(lib, unsafe { (lib.cuCtxPushCurrent_v2)(ctx) }, || {
        "cuCtxPushCurrent_v2".into()
    })
}

pub fn ctx_pop(lib: &Lib) -> Result<CUcontext> {
    let mut c: CUcontext = std::ptr::null_mut();
    // SAFETY: writes one handle; popping an empty stack is an error code, not UB.
    check(lib, unsafe { (lib.cuCtxPopCurrent_v2)(&mut c) }, || {
        "cuCtxPopCurrent_v2".into()
    })?;
    Ok(c)
}

// https://docs.nvidia.com/cuda/cuda-driver-api/group__CUDA__MEM.html
pub fn mem_get_info(lib: &Lib) -> Result<(usize, usize)> {
    let (mut free, mut total) = (0usize, 0usize);
    // SAFETY: writes two size_t values to valid pointers.
    check(
        lib,
        unsafe { (lib.cuMemGetInfo_v2)(&mut free, &mut total) },
        || "cuMemGetInfo_v2".into(),
    )?;
    Ok((free, total))
}

pub fn mem_alloc(lib: &Lib, bytes: usize) -> Result<CUdeviceptr> {
    let mut p: CUdeviceptr = 0;
    // SAFETY: writes one device pointer to a valid pointer.
    check(lib, unsafe { (lib.cuMemAlloc_v2)(&mut p, bytes) }, || {
        format!("cuMemAlloc_v2({bytes} bytes)")
    })?;
    Ok(p)
}

/// # Safety
/// 1. `p` came from [`mem_alloc`] in the current context and is not used afterwards.
pub unsafe fn mem_free(lib: &Lib, p: CUdeviceptr) -> Result<()> {
    // SAFETY: per this function's contract.
    check(lib, unsafe { (lib.cuMemFree_v2)(p) }, || {
        format!("cuMemFree_v2({p:#x})")
    })
}

pub fn mem_host_alloc(lib: &Lib, bytes: usize, flags: u32) -> Result<*mut c_void> {
    let mut p: *mut c_void = std::ptr::null_mut();
    // SAFETY: writes one pointer to a valid pointer.
    check(
        lib,
        unsafe { (lib.cuMemHostAlloc)(&mut p, bytes, flags) },
        || format!("cuMemHostAlloc({bytes} bytes, flags {flags:#x})"),
    )?;
    Ok(p)
}

/// # Safety
/// 1. `p` came from [`mem_host_alloc`], no copy from or to it is pending, and it is not used
///    afterwards.
pub unsafe fn mem_free_host(lib: &Lib, p: *mut c_void) -> Result<()> {
    // SAFETY: per this function's contract.
    check(lib, unsafe { (lib.cuMemFreeHost)(p) }, || {
        format!("cuMemFreeHost({p:p})")
    })
}

/// # Safety
/// 1. `[p, p + bytes)` is mapped memory of this process that stays mapped until
///    [`mem_host_unregister`].
pub unsafe fn mem_host_register(lib: &Lib, p: *mut c_void, bytes: usize, flags: u32) -> Result<()> {
    // SAFETY: per this function's contract.
    check(
        lib,
        unsafe { (lib.cuMemHostRegister_v2)(p, bytes, flags) },
        || format!("cuMemHostRegister_v2({p:p}, {bytes} bytes, flags {flags:#x})"),
    )
}

/// # Safety
/// 1. `p` is the base of a range registered by [`mem_host_register`] with no copy pending.
pub unsafe fn mem_host_unregister(lib: &Lib, p: *mut c_void) -> Result<()> {
    // SAFETY: per this function's contract.
    check(lib, unsafe { (lib.cuMemHostUnregister)(p) }, || {
        format!("cuMemHostUnregister({p:p})")
    })
}

/// # Safety
/// 1. `p` lies in pinned or registered host memory that is still live.
pub unsafe fn mem_host_get_device_pointer(lib: &Lib, p: *mut c_void) -> Result<CUdeviceptr> {
    let mut d: CUdeviceptr = 0;
    // SAFETY: per this function's contract; flags must be 0.
    check(
        lib,
        unsafe { (lib.cuMemHostGetDevicePointer_v2)(&mut d, p, 0) },
        || format!("cuMemHostGetDevicePointer_v2({p:p})"),
    )?;
    Ok(d)
}

/// # Safety
/// 1. `src` is readable for `bytes` bytes; `dst` is device memory of at least `bytes` bytes.
pub unsafe fn memcpy_htod(
    lib: &Lib,
    dst: CUdeviceptr,
    src: *const c_void,
    bytes: usize,
) -> Result<()> {
    // SAFETY: per this function's contract.
    check(
        lib,
        unsafe { (lib.cuMemcpyHtoD_v2)(dst, src, bytes) },
        || format!("cuMemcpyHtoD_v2({bytes} bytes)"),
    )
}

/// # Safety
/// 1. As [`memcpy_htod`], and `src` stays readable and unchanged until the copy completes on
///    `stream` (it is asynchronous only when `src` is pinned or registered).
/// 2. `stream` is live.
pub unsafe fn memcpy_htod_async(
    lib: &Lib,
    dst: CUdeviceptr,
    src: *const c_void,
    bytes: usize,
    stream: CUstream,
) -> Result<()> {
    // SAFETY: per this function's contract.
    check(
        lib,
        unsafe { (lib.cuMemcpyHtoDAsync_v2)(dst, src, bytes, stream) },
        || format!("cuMemcpyHtoDAsync_v2({bytes} bytes)"),
    )
}

/// Whether the driver can queue several copies in one call ([`memcpy_htod_batch_async`]) and
/// tell, without waiting, when they are done ([`event_query`]): merging copies needs both.
pub fn has_memcpy_batch(lib: &Lib) -> bool {
    (lib.cuMemcpyBatchAsync_v2.is_some() || lib.cuMemcpyBatchAsync.is_some())
        && lib.cuEventQuery.is_some()
}

/// Queues the host-to-device copies `(dst, src, bytes)` in one cuMemcpyBatchAsync call, in
/// stream order (the copies among themselves in no order).
///
/// # Safety
/// As [`memcpy_htod_async`] for every copy; no two destinations overlap.
pub unsafe fn memcpy_htod_batch_async(
    lib: &Lib,
    ordinal: c_int,
    copies: &[(CUdeviceptr, *const c_void, usize)],
    stream: CUstream,
) -> Result<()> {
    let dsts: Vec<CUdeviceptr> = copies.iter().map(|c| c.0).collect();
    // Unified addressing: a host pointer is its own CUdeviceptr.
    let srcs: Vec<CUdeviceptr> = copies.iter().map(|c| c.1 as CUdeviceptr).collect();
    let sizes: Vec<usize> = copies.iter().map(|c| c.2).collect();
    let bytes: usize = sizes.iter().sum();
    let attrs = CUmemcpyAttributes {
        src_access_order: CU_MEMCPY_SRC_ACCESS_ORDER_STREAM,
        src_loc_hint: CUmemLocation {
            type_: CU_MEM_LOCATION_TYPE_HOST,
            id: 0,
        },
        dst_loc_hint: CUmemLocation {
            type_: CU_MEM_LOCATION_TYPE_DEVICE,
            id: ordinal,
        },
        flags: 0,
    };
    let first = 0usize;
    let n = copies.len();
    // SAFETY: the three arrays hold `n` entries each and one attribute set applies from copy
    // 0; the copies themselves per this function's contract.
    let (code, name) = unsafe {
        match (lib.cuMemcpyBatchAsync_v2, lib.cuMemcpyBatchAsync) {
            (Some(f), _) => (
                f(
                    dsts.as_ptr(),
                    srcs.as_ptr(),
                    sizes.as_ptr(),
                    n,
                    &attrs,
                    &first,
                    1,
                    stream,
                ),
                "cuMemcpyBatchAsync_v2",
            ),
            (None, Some(f)) => {
                let mut fail = usize::MAX;
                (
                    f(
                        dsts.as_ptr(),
                        srcs.as_ptr(),
                        sizes.as_ptr(),
                        n,
                        &attrs,
                        &first,
                        1,
                        &mut fail,
                        stream,
                    ),
                    "cuMemcpyBatchAsync",
                )
            }
            (None, None) => (CuResult::NOT_SUPPORTED, "cuMemcpyBatchAsync_v2"),
        }
    };
    check(lib, code, || format!("{name}({n} copies, {bytes} bytes)"))
}

/// Reads device memory into a Rust buffer; the driver validates `src`, so a bad device
/// address is an error code, never a host-memory write outside `dst`.
pub fn memcpy_dtoh(lib: &Lib, dst: &mut [u8], src: CUdeviceptr) -> Result<()> {
    let n = dst.len();
    // SAFETY: `dst` is a writable host buffer of exactly `n` bytes.
    check(
        lib,
        unsafe { (lib.cuMemcpyDtoH_v2)(dst.as_mut_ptr().cast(), src, n) },
        || format!("cuMemcpyDtoH_v2({n} bytes from {src:#x})"),
    )
}

// https://docs.nvidia.com/cuda/cuda-driver-api/group__CUDA__STREAM.html
pub fn stream_create(lib: &Lib, flags: u32) -> Result<CUstream> {
    let mut s: CUstream = std::ptr::null_mut();
    // SAFETY: writes one handle to a valid pointer.
    check(lib, unsafe { (lib.cuStreamCreate)(&mut s, flags) }, || {
        "cuStreamCreate".into()
    })?;
    Ok(s)
}

/// # Safety
/// 1. `s` is a live stream (or null, the legacy default stream).
pub unsafe fn stream_synchronize(lib: &Lib, s: CUstream) -> Result<()> {
    // SAFETY: per this function's contract.
    check(lib, unsafe { (lib.cuStreamSynchronize)(s) }, || {
        "cuStreamSynchronize".into()
    })
}

/// # Safety
/// 1. `s` is a live stream not used afterwards.
pub unsafe fn stream_destroy(lib: &Lib, s: CUstream) -> Result<()> {
    // SAFETY: per this function's contract.
    check(lib, unsafe { (lib.cuStreamDestroy_v2)(s) }, || {
        "cuStreamDestroy_v2".into()
    })
}

// https://docs.nvidia.com/cuda/cuda-driver-api/group__CUDA__EVENT.html
pub fn event_create(lib: &Lib, flags: u32) -> Result<CUevent> {
    let mut e: CUevent = std::ptr::null_mut();
    // SAFETY: writes one handle to a valid pointer.
    check(lib, unsafe { (lib.cuEventCreate)(&mut e, flags) }, || {
        "cuEventCreate".into()
    })?;
    Ok(e)
}

/// # Safety
/// 1. `e` and `s` are live and belong to the current context.
pub unsafe fn event_record(lib: &Lib, e: CUevent, s: CUstream) -> Result<()> {
    // SAFETY: per this function's contract.
    check(lib, unsafe { (lib.cuEventRecord)(e, s) }, || {
        "cuEventRecord".into()
    })
}

/// Whether `e` has completed (or was never recorded).
///
/// # Safety
/// 1. `e` is live.
pub unsafe fn event_query(lib: &Lib, e: CUevent) -> Result<bool> {
    let Some(f) = lib.cuEventQuery else {
        check(lib, CuResult::NOT_SUPPORTED, || {
            "cuEventQuery (not in this libcuda)".into()
        })?;
        return Ok(true);
    };
    // SAFETY: per this function's contract.
    let code = unsafe { f(e) };
    if code == CuResult::NOT_READY {
        return Ok(false);
    }
    check(lib, code, || "cuEventQuery".into())?;
    Ok(true)
}

/// # Safety
/// 1. `e` is live.
pub unsafe fn event_synchronize(lib: &Lib, e: CUevent) -> Result<()> {
    // SAFETY: per this function's contract.
    check(lib, unsafe { (lib.cuEventSynchronize)(e) }, || {
        "cuEventSynchronize".into()
    })
}

/// # Safety
/// 1. `a` and `b` are live, both recorded and completed, created without DISABLE_TIMING.
pub unsafe fn event_elapsed_ms(lib: &Lib, a: CUevent, b: CUevent) -> Result<f32> {
    let mut ms = 0f32;
    // SAFETY: per this function's contract.
    check(
        lib,
        unsafe { (lib.cuEventElapsedTime)(&mut ms, a, b) },
        || "cuEventElapsedTime".into(),
    )?;
    Ok(ms)
}

/// # Safety
/// 1. `e` is live and not used afterwards.
pub unsafe fn event_destroy(lib: &Lib, e: CUevent) -> Result<()> {
    // SAFETY: per this function's contract.
    check(lib, unsafe { (lib.cuEventDestroy_v2)(e) }, || {
        "cuEventDestroy_v2".into()
    })
}
