// build.rs: compiles the C++ shim (shim/) and generates its Rust bindings.
//
// - The shim is compiled once per TensorRT ABI from one body (shim/shim_impl.inc):
//   shim/trtq_shim8.cpp (8.5/8.6 declarations, exports trtq_abi8) and shim/trtq_shim10.cpp
//   (10.x declarations, exports trtq_abi10), plus shim/common.cpp (the thread-local last
//   error), into one static library. No TensorRT or CUDA header or library is needed: the
//   declarations are our own (shim/abi/), and libnvinfer is loaded at run time.
// - Bindings of shim/trtq_shim.h are generated at build time by bindgen into
//   $OUT_DIR/trtq_shim.rs (functions and types named trtq_*, constants TRTQ_*); they are
//   not committed. bindgen needs libclang (Debian: libclang-dev; .ci/run installs it).
//
// Environment variables read (each also prints cargo:rerun-if-env-changed):
//   CARGO_CFG_TARGET_OS, CARGO_CFG_TARGET_ARCH  target checks (cross builds for Jetson)
//   TRTQ_SHIM_CXXFLAGS                           extra flags for the C++ compiler
// The cc crate and bindgen read their own (CXX, CXXFLAGS, TARGET, LIBCLANG_PATH,
// BINDGEN_EXTRA_CLANG_ARGS, ...).
use std::path::PathBuf;

const SHIM_FILES: &[&str] = &[
    "shim/trtq_shim.h",
    "shim/shim_common.hpp",
    "shim/shim_impl.inc",
    "shim/common.cpp",
    "shim/trtq_shim8.cpp",
    "shim/trtq_shim10.cpp",
    "shim/abi/trt8.hpp",
    "shim/abi/trt10.hpp",
];

fn env(name: &str) -> Option<String> {
    println!("cargo:rerun-if-env-changed={name}");
    std::env::var(name).ok()
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for f in SHIM_FILES {
        println!("cargo:rerun-if-changed={f}");
    }

    // The declarations follow the Itanium C++ ABI as g++/clang implement it on Linux
    // (x86-64 and aarch64); other targets would need their own facts.
    let os = env("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os != "linux" {
        println!("cargo:warning=trtq-lite's TensorRT shim targets Linux only (target OS: {os})");
    }
    let _arch = env("CARGO_CFG_TARGET_ARCH");

    let mut build = cc::Build::new();
    build
        .cpp(true)
        .std("c++17")
        .include("shim")
        .warnings(true)
        .extra_warnings(true)
        .flag_if_supported("-fvisibility=hidden")
        // The 10.x object first: of the compiler-made parts both builds define for
        // nvinfer1::IInt8Calibrator (see shim_impl.inc), the linker keeps the first, and only
        // the 10.x typeinfo has the IVersionedInterface base. session_build checks it.
        .files([
            "shim/common.cpp",
            "shim/trtq_shim10.cpp",
            "shim/trtq_shim8.cpp",
        ]);
    if let Some(extra) = env("TRTQ_SHIM_CXXFLAGS") {
        for f in extra.split_whitespace() {
            build.flag(f);
        }
    }
    build.compile("trtq_shim");

    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let bindings = bindgen::Builder::default()
        .header("shim/trtq_shim.h")
        .allowlist_function("trtq_.*")
        .allowlist_type("trtq_.*")
        .allowlist_var("TRTQ_.*")
        .layout_tests(true)
        .generate()
        .unwrap_or_else(|e| {
            panic!("bindgen failed on shim/trtq_shim.h: {e} (bindgen needs libclang: apt-get install libclang-dev)")
        });
    bindings
        .write_to_file(out.join("trtq_shim.rs"))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", out.join("trtq_shim.rs").display()));
}
