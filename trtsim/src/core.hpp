// trtsim core: everything that does not depend on a TensorRT ABI (ONNX reading, calibration
// arithmetic, cache and plan formats, libcuda access, knobs, trace). The ABI-specific files
// (abi_impl.inc compiled once per major) adapt the declared TensorRT interfaces to this.
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace trtsim {

// ---- process-wide settings ------------------------------------------------------------------
// The simulated TensorRT version (TRTSIM_VERSION; default 8601 for the 8.x library, 100300 for
// the 10.x one). `major` is the library's own ABI major (8 or 10).
int32_t sim_version(int major);
// True when TRTSIM_FAIL (comma-separated) names `what`.
bool fail_knob(const char* what);
// Appends one line to the file named by TRTSIM_TRACE (nothing when unset).
void trace(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void unimplemented(const char* cls, long slot);
[[noreturn]] void unimplemented_fn(const char* fn);
// Slot of a virtual member function from its Itanium pointer-to-member representation.
template <class PM>
long slot_of(PM pm) {
  static_assert(sizeof(PM) == 2 * sizeof(std::uintptr_t), "Itanium member-function pointer");
  std::uintptr_t w[2];
  __builtin_memcpy(w, &pm, sizeof w);
  return (w[0] & 1) ? static_cast<long>((w[0] - 1) / sizeof(void*)) : -1;
}

// ---- TensorRT enum values (identical in 8.x and 10.x where used) ------------------------------
enum Severity : int32_t { kINTERNAL_ERROR = 0, kERROR = 1, kWARNING = 2, kINFO = 3, kVERBOSE = 4 };
enum TrtType : int32_t {
  kFLOAT = 0, kHALF = 1, kINT8 = 2, kINT32 = 3, kBOOL = 4, kUINT8 = 5, kFP8 = 6, kBF16 = 7, kINT64 = 8
};
enum CalibAlgo : int32_t { kLEGACY = 0, kENTROPY = 1, kENTROPY2 = 2, kMINMAX = 3 };
const char* type_name(int32_t t);
size_t type_size(int32_t t);
const char* algo_cache_name(int32_t algo);  // "EntropyCalibration2", ...

// ---- ONNX -----------------------------------------------------------------------------------
struct ValueInfo {
  std::string name;
  int32_t onnx_type = 0;         // TensorProto.DataType
  std::vector<int64_t> dims;     // -1 for a symbolic or unknown dimension
  bool has_shape = false;
};
struct Node {
  std::string name, op, domain;
  std::vector<std::string> inputs, outputs;
};
struct OnnxModel {
  int64_t ir_version = 0;
  int64_t opset = 0;
  bool has_graph = false;
  std::string graph_name;
  std::vector<ValueInfo> inputs, outputs;
  std::vector<Node> nodes;
  std::vector<std::string> initializers;
};
struct ParseIssue {
  int32_t code;        // nvonnxparser::ErrorCode
  std::string desc;
  int32_t node = -1;   // node index, -1 when not about a node
  std::string node_name, node_op;
  std::string file = "trtsim/src/onnx.cpp";
  int32_t line = 0;
  std::string func;
};
// Decodes a ModelProto. Returns false with issues on malformed input or unsupported content.
// `major` selects how INT64 inputs map (8.x: INT32 with a warning, 10.x: INT64).
bool parse_onnx(const uint8_t* data, size_t len, OnnxModel& out, std::vector<ParseIssue>& issues);
// True for the ONNX ops trtsim's parser accepts (IParser::supportsOperator).
bool known_op(const char* op);
// The TensorRT DataType an ONNX element type imports as, or -1 when unsupported.
int32_t onnx_to_trt(int32_t onnx_type, int major);

// ---- what a build sees --------------------------------------------------------------------------
struct LogSink {
  virtual void log(int32_t severity, const char* msg) = 0;
  virtual ~LogSink() = default;
};
void logf(LogSink* sink, int32_t severity, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

struct CalibratorView {
  virtual int32_t batch_size() = 0;
  virtual bool get_batch(void* bindings[], const char* names[], int32_t n) = 0;
  virtual const void* read_cache(size_t& len) = 0;
  virtual void write_cache(const void* p, size_t len) = 0;
  virtual int32_t algorithm() = 0;
  // Legacy calibrator only (algorithm() == kLEGACY and the object really is one).
  virtual bool is_legacy() = 0;
  virtual double quantile() = 0;
  virtual double regression_cutoff() = 0;
  virtual const void* read_histogram_cache(size_t& len) = 0;
  virtual void write_histogram_cache(const void* p, size_t len) = 0;
  // 10.x identity (getAPILanguage/getInterfaceInfo); empty on 8.x.
  virtual std::string identity() = 0;
  virtual ~CalibratorView() = default;
};

struct Tensor {
  std::string name;
  int32_t type = kFLOAT;
  std::vector<int64_t> dims;
  bool is_input = false, is_output = false;
  bool has_range = false;
  float range_min = 0, range_max = 0;
};

struct Profile {
  // per input name: min/opt/max (nbDims = size)
  std::map<std::string, std::vector<int64_t>> dims[3];
  bool added = false;
};

struct BuildConfig {
  uint64_t flags = 0;                 // BuilderFlag bits as the caller set them
  int major = 8;
  bool int8 = false, fp16 = false, gpu_fallback = false;
  std::map<int32_t, uint64_t> pools;  // MemoryPoolType -> limit (only those set)
  uint64_t workspace_default = 0;
  int32_t device_type = 0;            // DeviceType::kGPU
  int32_t dla_core = -1;
  std::vector<const Profile*> profiles;
  const Profile* calib_profile = nullptr;
  CalibratorView* calibrator = nullptr;
  int32_t builder_header_version = 0; // the version the caller's header passed to createInferBuilder
};

struct NetworkModel {
  uint32_t creation_flags = 0;
  bool explicit_batch = true;
  std::string name;
  std::vector<Tensor*> inputs, outputs;
  std::vector<std::string> layer_outputs;  // intermediate tensor names, in node order
  size_t nb_layers = 0;
};

// Runs the build (validation, calibration, plan). Returns false (having logged the reason)
// when TensorRT would return a null plan.
bool build_plan(const NetworkModel& net, const BuildConfig& cfg, LogSink* log, std::vector<uint8_t>& plan);

// ---- exposed for tests of the core itself ------------------------------------------------------
float amax_for(int32_t algo, const std::vector<float>& absvals, double quantile);
std::string dims_str(const std::vector<int64_t>& d);

}  // namespace trtsim
