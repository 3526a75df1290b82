//! Raw libcuda: the C types we pass, and one table of typed function pointers resolved by
//! exact versioned name from a library loaded at run time. Nothing here is called directly by
//! the rest of the crate except through [`super::result`].
//!
//! The `_v2` names matter: `cuMemAlloc`, `cuMemcpyHtoD`, `cuCtxPushCurrent` without the suffix are
//! the legacy 32-bit-size ABI kept for old binaries; calling them with 64-bit sizes is wrong.
//! Reference: <https://docs.nvidia.com/cuda/cuda-driver-api/>.

use std::ffi::{c_char, c_int, c_uint, c_void};
use std::path::{Path, PathBuf};

use libloading::Library;

use crate::error::{Error, Result};

pub type CUdevice = c_int;
pub type CUdeviceptr = u64;
pub type CUcontext = *mut c_void;
pub type CUstream = *mut c_void;
pub type CUevent = *mut c_void;

/// `CUresult` kept as the integer the driver returned: a newer driver may return a code this
/// build does not know, and a Rust enum holding an unknown discriminant would be undefined.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CuResult(pub c_int);

impl CuResult {
    pub const SUCCESS: CuResult = CuResult(0);
    pub const INVALID_VALUE: CuResult = CuResult(1);
    pub const OUT_OF_MEMORY: CuResult = CuResult(2);
    pub const NOT_INITIALIZED: CuResult = CuResult(3);
    pub const NO_DEVICE: CuResult = CuResult(100);
    pub const INVALID_DEVICE: CuResult = CuResult(101);
    pub const INVALID_CONTEXT: CuResult = CuResult(201);
    pub const NOT_READY: CuResult = CuResult(600);
    pub const HOST_MEMORY_ALREADY_REGISTERED: CuResult = CuResult(712);
    pub const NOT_SUPPORTED: CuResult = CuResult(801);
}

// CUdevice_attribute values (cuda.h, stable since their introduction).
pub const CU_DEVICE_ATTRIBUTE_INTEGRATED: c_int = 18;
pub const CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY: c_int = 19;
pub const CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: c_int = 75;
pub const CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: c_int = 76;
pub const CU_DEVICE_ATTRIBUTE_READ_ONLY_HOST_REGISTER_SUPPORTED: c_int = 113;

// cuMemHostAlloc flags.
pub const CU_MEMHOSTALLOC_PORTABLE: c_uint = 0x01;
pub const CU_MEMHOSTALLOC_DEVICEMAP: c_uint = 0x02;
// cuMemHostRegister flags.
pub const CU_MEMHOSTREGISTER_PORTABLE: c_uint = 0x01;
pub const CU_MEMHOSTREGISTER_DEVICEMAP: c_uint = 0x02;
pub const CU_MEMHOSTREGISTER_READ_ONLY: c_uint = 0x08;
// cuStreamCreate / cuEventCreate flags.
pub const CU_STREAM_NON_BLOCKING: c_uint = 0x01;
pub const CU_EVENT_DEFAULT: c_uint = 0x00;
pub const CU_EVENT_DISABLE_TIMING: c_uint = 0x02;
// CUmemcpySrcAccessOrder and CUmemLocationType (cuda.h, CUDA 12.8 and later).
pub const CU_MEMCPY_SRC_ACCESS_ORDER_STREAM: c_int = 1;
pub const CU_MEM_LOCATION_TYPE_DEVICE: c_int = 1;
pub const CU_MEM_LOCATION_TYPE_HOST: c_int = 2;

/// `CUmemLocation`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CUmemLocation {
    pub type_: c_int,
    pub id: c_int,
}

/// `CUmemcpyAttributes` (CUDA 12.8): one set of attributes for the copies of a
/// `cuMemcpyBatchAsync` call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct CUmemcpyAttributes {
    pub src_access_order: c_int,
    pub src_loc_hint: CUmemLocation,
    pub dst_loc_hint: CUmemLocation,
    pub flags: c_uint,
}

/// Where libcuda is looked for when no path is given, in order.
pub const DEFAULT_CANDIDATES: &[&str] = &[
    // The driver's SONAME: what the NVIDIA driver installs on every Linux system.
    "libcuda.so.1",
    // Some containers ship only the unversioned development symlink.
    "libcuda.so",
    // Jetson (L4T) keeps the driver outside the default search path.
    "/usr/lib/aarch64-linux-gnu/tegra/libcuda.so.1",
    // Deliberately absent: /usr/local/cuda/compat/libcuda.so.1 (NVIDIA's forward-compatibility
    // package, real on Jetson and data-center GPUs). It is opt-in by NVIDIA's design
    // (LD_LIBRARY_PATH, or here TRTQ_LIBCUDA); as a fallback it could only be reached where no
    // driver libcuda exists, and there it cannot work.
];

/// The environment variable that names libcuda explicitly (same meaning as `--cuda-lib`).
pub const ENV_LIBCUDA: &str = "TRTQ_LIBCUDA";

macro_rules! cuda_table {
    (
        required { $( $name:ident : fn( $($arg:ty),* $(,)? ) ; )* }
        optional { $( $oname:ident : fn( $($oarg:ty),* $(,)? ) ; )* }
    ) => {
        /// Every libcuda entry point we call, resolved once. The `Library` lives in the same
        /// struct, so the pointers can never outlive the mapping they point into.
        #[allow(non_snake_case)]
        pub struct Lib {
            $( pub $name: unsafe extern "C" fn($($arg),*) -> CuResult, )*
            $( pub $oname: Option<unsafe extern "C" fn($($oarg),*) -> CuResult>, )*
            /// The path the library was loaded from (for messages).
            pub path: String,
            _library: Library,
        }

        impl Lib {
            #[allow(non_snake_case)]
            fn resolve(library: Library, path: String) -> Result<Lib> {
                $(
                    // SAFETY: the symbol is libcuda's exported C function of this exact name, and
                    // the declared type matches its prototype in cuda.h (CUDA 11.0 and later).
                    let $name = unsafe {
                        library.get::<unsafe extern "C" fn($($arg),*) -> CuResult>(
                            concat!(stringify!($name), "\0").as_bytes(),
                        )
                    }
                    .map(|s| *s)
                    .map_err(|_| Error::MissingSymbol {
                        lib: "libcuda",
                        path: path.clone(),
                        symbol: stringify!($name),
                    })?;
                )*
                $(
                    // SAFETY: as above; absence is allowed and recorded as `None`.
                    let $oname = unsafe {
                        library.get::<unsafe extern "C" fn($($oarg),*) -> CuResult>(
                            concat!(stringify!($oname), "\0").as_bytes(),
                        )
                    }
                    .ok()
                    .map(|s| *s);
                )*
                Ok(Lib { $( $name, )* $( $oname, )* path, _library: library })
            }
        }
    };
}

cuda_table! {
    required {
        cuInit: fn(c_uint);
        cuDriverGetVersion: fn(*mut c_int);
        cuDeviceGetCount: fn(*mut c_int);
        cuDeviceGet: fn(*mut CUdevice, c_int);
        cuDeviceGetName: fn(*mut c_char, c_int, CUdevice);
        cuDeviceTotalMem_v2: fn(*mut usize, CUdevice);
        cuDeviceGetAttribute: fn(*mut c_int, c_int, CUdevice);
        cuDevicePrimaryCtxRetain: fn(*mut CUcontext, CUdevice);
        cuDevicePrimaryCtxRelease_v2: fn(CUdevice);
        cuCtxPushCurrent_v2: fn(CUcontext);
        cuCtxPopCurrent_v2: fn(*mut CUcontext);
        cuMemAlloc_v2: fn(*mut CUdeviceptr, usize);
        cuMemFree_v2: fn(CUdeviceptr);
        cuMemGetInfo_v2: fn(*mut usize, *mut usize);
        cuMemHostAlloc: fn(*mut *mut c_void, usize, c_uint);
        cuMemFreeHost: fn(*mut c_void);
        cuMemHostRegister_v2: fn(*mut c_void, usize, c_uint);
        cuMemHostUnregister: fn(*mut c_void);
        cuMemHostGetDevicePointer_v2: fn(*mut CUdeviceptr, *mut c_void, c_uint);
        cuMemcpyHtoD_v2: fn(CUdeviceptr, *const c_void, usize);
        cuMemcpyHtoDAsync_v2: fn(CUdeviceptr, *const c_void, usize, CUstream);
        cuMemcpyDtoH_v2: fn(*mut c_void, CUdeviceptr, usize);
        cuStreamCreate: fn(*mut CUstream, c_uint);
        cuStreamSynchronize: fn(CUstream);
        cuStreamDestroy_v2: fn(CUstream);
        cuEventCreate: fn(*mut CUevent, c_uint);
        cuEventRecord: fn(CUevent, CUstream);
        cuEventSynchronize: fn(CUevent);
        cuEventElapsedTime: fn(*mut f32, CUevent, CUevent);
        cuEventDestroy_v2: fn(CUevent);
        cuGetErrorName: fn(CuResult, *mut *const c_char);
        cuGetErrorString: fn(CuResult, *mut *const c_char);
    }
    optional {
        // Only for `doctor`'s report; not every driver build (nor the test stand-in) has it.
        cuDeviceGetPCIBusId: fn(*mut c_char, c_int, CUdevice);
        // Whether an event has completed, without waiting (CUDA_ERROR_NOT_READY when not).
        cuEventQuery: fn(CUevent);
        // Several copies in one call (one copy-engine launch for all: the staged feed's ring
        // copies merged). `_v2` (CUDA 13.0) dropped the 12.8 entry point's failIdx argument;
        // drivers since 13.0 export both.
        cuMemcpyBatchAsync_v2: fn(
            *const CUdeviceptr, *const CUdeviceptr, *const usize, usize,
            *const CUmemcpyAttributes, *const usize, usize, CUstream,
        );
        cuMemcpyBatchAsync: fn(
            *const CUdeviceptr, *const CUdeviceptr, *const usize, usize,
            *const CUmemcpyAttributes, *const usize, usize, *mut usize, CUstream,
        );
    }
}

/// The paths to try, in order: only the explicit one when given (a user who names a library
/// wants that one, not a silent fallback to another driver), else [`DEFAULT_CANDIDATES`].
pub fn candidates(explicit: Option<&Path>) -> Vec<PathBuf> {
    let env = std::env::var_os(ENV_LIBCUDA).filter(|v| !v.is_empty());
    match (explicit, env) {
        (Some(p), _) => vec![p.to_path_buf()],
        (None, Some(e)) => vec![PathBuf::from(e)],
        (None, None) => DEFAULT_CANDIDATES.iter().map(PathBuf::from).collect(),
    }
}

/// Loads libcuda from the first candidate that opens and resolves every required symbol.
/// Never panics; a failure lists every path with the loader's own message.
pub fn load(explicit: Option<&Path>) -> Result<Lib> {
    load_from(&candidates(explicit))
}

/// Loads the first of `cands` that opens; the error lists each with its loader message.
pub fn load_from(cands: &[PathBuf]) -> Result<Lib> {
    let mut tried = Vec::new();
    for cand in cands {
        // SAFETY: loading libcuda runs its initialisers, which are designed to be run by any
        // process that links it; we pass a path, never untrusted data.
        match unsafe { Library::new(cand) } {
            Ok(lib) => return Lib::resolve(lib, cand.display().to_string()),
            Err(e) => tried.push((cand.display().to_string(), error_chain(&e))),
        }
    }
    Err(Error::LibraryNotFound {
        lib: "libcuda (the NVIDIA driver's CUDA library)",
        tried,
        hint: format!(
            "install the NVIDIA driver, or point at the library with --cuda-lib PATH or {ENV_LIBCUDA}=PATH"
        ),
    })
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_candidates_include_jetson() {
        assert_eq!(DEFAULT_CANDIDATES[0], "libcuda.so.1");
        assert!(DEFAULT_CANDIDATES.contains(&"/usr/lib/aarch64-linux-gnu/tegra/libcuda.so.1"));
        // The SONAME must come first: LD_LIBRARY_PATH and ld.so.cache choose before any
        // fixed path does.
        let tegra = DEFAULT_CANDIDATES
            .iter()
            .position(|c| c.contains("/tegra/"))
            .unwrap_or(0);
        assert!(tegra > 0);
    }

    #[test]
    fn every_candidate_is_listed_with_its_loader_message() {
        let cands: Vec<PathBuf> = [
            "/nonexistent/a/libcuda.so.1",
            "/nonexistent/b/libcuda.so",
            "/nonexistent/c.so",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let Err(e) = load_from(&cands) else {
            panic!("loaded a nonexistent library")
        };
        match &e {
            Error::LibraryNotFound { tried, hint, .. } => {
                assert_eq!(tried.len(), 3);
                for ((path, msg), cand) in tried.iter().zip(&cands) {
                    assert_eq!(path, &cand.display().to_string());
                    assert!(msg.contains("No such file"), "{msg}");
                }
                assert!(hint.contains("--cuda-lib") && hint.contains(ENV_LIBCUDA));
            }
            other => panic!("{other:?}"),
        }
        assert!(
            e.to_string().contains("  /nonexistent/b/libcuda.so: "),
            "{e}"
        );
    }

    #[test]
    fn default_candidates_and_explicit_path() {
        assert_eq!(
            DEFAULT_CANDIDATES,
            [
                "libcuda.so.1",
                "libcuda.so",
                "/usr/lib/aarch64-linux-gnu/tegra/libcuda.so.1"
            ]
        );
        let p = Path::new("/opt/x/libcuda.so.1");
        assert_eq!(candidates(Some(p)), vec![p.to_path_buf()]);
    }
}
