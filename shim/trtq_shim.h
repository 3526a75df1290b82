/*
 * trtq_shim.h -- the C interface between trtq-lite (Rust) and TensorRT's C++ API.
 *
 * The C++ side (the .cpp files in shim/) is compiled once per TensorRT ABI against our own
 * declarations (shim/abi/trt8.hpp, shim/abi/trt10.hpp); each build exports one accessor,
 * trtq_abi8() or trtq_abi10(), returning a table of functions with the same C signatures.
 * Rust reads getInferLibVersion(), picks the table, and never sees C++.
 *
 * Conventions (tch's torch_api.h, with catch (...) added):
 *  - opaque handles; every object made by a `*_create` is released by its `*_destroy`;
 *  - functions return TRTQ_OK (0) or TRTQ_ERR (-1); results go through out-parameters;
 *  - no C++ exception ever leaves a function: on TRTQ_ERR, trtq_last_error() holds the text
 *    (thread-local, valid until the next shim call on the same thread);
 *  - the shim never links libnvinfer: Rust resolves createInferBuilder_INTERNAL and
 *    createNvOnnxParser_INTERNAL with dlsym and passes them in; all else is virtual calls;
 *  - callbacks into Rust must not unwind (Rust catches panics and returns failure).
 */
#ifndef TRTQ_SHIM_H
#define TRTQ_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TRTQ_OK 0
#define TRTQ_ERR (-1)

/* Dimensions of a tensor or shape: TensorRT's Dims::MAX_DIMS. */
#define TRTQ_MAX_DIMS 8

/* ILogger::Severity values (identical in 8.x and 10.x). */
#define TRTQ_SEVERITY_INTERNAL_ERROR 0
#define TRTQ_SEVERITY_ERROR 1
#define TRTQ_SEVERITY_WARNING 2
#define TRTQ_SEVERITY_INFO 3
#define TRTQ_SEVERITY_VERBOSE 4

/* CalibrationAlgoType values (identical in 8.x and 10.x). */
#define TRTQ_CALIB_LEGACY 0
#define TRTQ_CALIB_ENTROPY 1
#define TRTQ_CALIB_ENTROPY2 2
#define TRTQ_CALIB_MINMAX 3

/* Which cache a calibrator cache callback is about. */
#define TRTQ_CACHE_CALIBRATION 0
#define TRTQ_CACHE_HISTOGRAM 1 /* legacy calibrator only */

/* The entry points Rust resolved from libnvinfer / libnvonnxparser. */
typedef void* (*trtq_create_builder_fn)(void* logger, int32_t version);
typedef void* (*trtq_create_parser_fn)(void* network, void* logger, int32_t version);

/* Logger bridge: every ILogger::log call, unfiltered. `msg` is valid during the call. */
typedef void (*trtq_log_fn)(void* user, int32_t severity, const char* msg);

/*
 * A calibrator: the shim wraps it in an object of the IInt8*Calibrator class matching
 * `algorithm` whose virtual methods call these functions. All are called during
 * `session_build` only, possibly from a TensorRT thread, never concurrently.
 */
typedef struct trtq_calibrator {
    void* user;
    int32_t algorithm;        /* TRTQ_CALIB_* */
    double quantile;          /* legacy only: IInt8LegacyCalibrator::getQuantile */
    double regression_cutoff; /* legacy only: getRegressionCutoff */
    /* batch size (N of the first dimension); <= 0 is an error */
    int32_t (*batch_size)(void* user);
    /* fill bindings[i] with a device pointer for input names[i]:
       1 = a batch is ready, 0 = no more batches, -1 = error (calibration stops) */
    int32_t (*get_batch)(void* user, void** bindings, const char* const* names, int32_t count);
    /* a cache to use instead of calibrating: data and len (data = NULL: none). The bytes must
       stay valid until the build returns (Rust keeps them). 0 = ok, -1 = error */
    int32_t (*read_cache)(void* user, int32_t which, const void** data, size_t* len);
    /* the cache TensorRT produced; copy it during the call. 0 = ok, -1 = error */
    int32_t (*write_cache)(void* user, int32_t which, const void* data, size_t len);
} trtq_calibrator;

/* One ONNX parser error. Strings belong to the parser: valid until the next parse or
   session_destroy. node_name/node_operator are NULL where the version lacks them (8.x). */
typedef struct trtq_parse_error {
    int32_t code; /* nvonnxparser::ErrorCode */
    const char* desc;
    int32_t node; /* -1 if not about a node */
    const char* node_name;
    const char* node_operator;
    const char* file;
    int32_t line;
    const char* func;
} trtq_parse_error;

/* A network input as the parsed network declares it (-1 = dynamic dimension). */
typedef struct trtq_tensor_info {
    const char* name; /* owned by the network */
    int32_t nb_dims;
    int64_t dims[TRTQ_MAX_DIMS];
    int32_t dtype; /* nvinfer1::DataType */
} trtq_tensor_info;

/* min/opt/max shape of one input in an optimization profile */
typedef struct trtq_shape_range {
    const char* name;
    int32_t nb_dims;
    int64_t min[TRTQ_MAX_DIMS];
    int64_t opt[TRTQ_MAX_DIMS];
    int64_t max[TRTQ_MAX_DIMS];
} trtq_shape_range;

typedef struct trtq_profile {
    const trtq_shape_range* inputs;
    int32_t nb_inputs;
} trtq_profile;

typedef struct trtq_build_options {
    int32_t int8; /* BuilderFlag::kINT8 */
    int32_t fp16; /* BuilderFlag::kFP16 */
    uint64_t workspace; /* setMemoryPoolLimit(kWORKSPACE); 0 = TensorRT's default */
    const trtq_profile* profiles;
    int32_t nb_profiles;
    const trtq_profile* calib_profile; /* setCalibrationProfile; NULL = none */
    int32_t dla_core;     /* < 0 = GPU only */
    int32_t gpu_fallback; /* BuilderFlag::kGPU_FALLBACK (with a DLA core) */
} trtq_build_options;

typedef struct trtq_platform {
    int32_t fast_int8;
    int32_t fast_fp16;
    int32_t nb_dla_cores;
} trtq_platform;

/* builder + network + ONNX parser + logger bridge, for one model */
typedef struct trtq_session trtq_session;
/* a serialized engine (IHostMemory) */
typedef struct trtq_plan trtq_plan;

typedef struct trtq_api {
    int32_t abi; /* 8 or 10: the declaration set this table was compiled against */
    /* trt_version: getInferLibVersion() of the loaded library (passed to the builder);
       parser_version: getNvOnnxParserVersion(). Explicit-batch network (8.x flag 1<<0). */
    int32_t (*session_create)(trtq_create_builder_fn create_builder, trtq_create_parser_fn create_parser,
        int32_t trt_version, int32_t parser_version, trtq_log_fn log, void* log_user, trtq_session** out);
    void (*session_destroy)(trtq_session* session);
    int32_t (*session_platform)(trtq_session* session, trtq_platform* out);
    /* parse an ONNX model from memory; *out_ok = 0 when the parser refused it (then read the
       errors). `path` is the model's path, for external weights; may be NULL. */
    int32_t (*session_parse)(trtq_session* session, const void* data, size_t len, const char* path, int32_t* out_ok);
    int32_t (*session_nb_parse_errors)(trtq_session* session, int32_t* out);
    int32_t (*session_parse_error)(trtq_session* session, int32_t index, trtq_parse_error* out);
    int32_t (*session_nb_inputs)(trtq_session* session, int32_t* out);
    int32_t (*session_input)(trtq_session* session, int32_t index, trtq_tensor_info* out);
    /* configure and build; calibrator may be NULL. *out = NULL (and TRTQ_OK) when TensorRT
       returned no plan: the reason was logged through the logger. */
    int32_t (*session_build)(trtq_session* session, const trtq_build_options* options,
        const trtq_calibrator* calibrator, trtq_plan** out);
    int32_t (*plan_data)(trtq_plan* plan, const void** data, size_t* len);
    void (*plan_destroy)(trtq_plan* plan);
} trtq_api;

/* The tables; static storage, never NULL. */
const trtq_api* trtq_abi8(void);
const trtq_api* trtq_abi10(void);

/* The error text of the last TRTQ_ERR on this thread ("" if none). */
const char* trtq_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* TRTQ_SHIM_H */
