// trtsim's TensorRT objects, compiled once per ABI major (TRTSIM_MAJOR = 8 or 10) against OUR
// hand-written declarations (shim/abi/trt8.hpp or trt10.hpp). Every class derives from the
// declared interface (through the generated Stub_X, which fills the slots trtsim does not
// implement with an abort naming the slot), so each method lands in the vtable slot that our
// declarations give it. When NVIDIA-compiled callers (the TensorRT Python bindings) work against
// these objects, our declarations agree with NVIDIA's layout for every slot exercised.
#if TRTSIM_MAJOR == 8
#include "trt8.hpp"
#include "stubs8.hpp"
#define DIMS_ARG nvinfer1::Dims32
#else
#include "trt10.hpp"
#include "stubs10.hpp"
#define DIMS_ARG nvinfer1::Dims64 const&
#endif

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "core.hpp"

namespace nv = nvinfer1;
using namespace trtsim_stubs;

#define TRTSIM_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

constexpr int kMajor = TRTSIM_MAJOR;

struct Sink : trtsim::LogSink {
  nv::ILogger* logger;
  explicit Sink(nv::ILogger* l) : logger(l) {}
  void log(int32_t severity, const char* msg) override {
    if (logger) logger->log(static_cast<nv::ILogger::Severity>(severity), msg);
  }
};

std::vector<int64_t> to_vec(nv::Dims const& d) {
  std::vector<int64_t> v;
  int32_t n = d.nbDims < 0 ? 0 : (d.nbDims > nv::Dims::MAX_DIMS ? nv::Dims::MAX_DIMS : d.nbDims);
  for (int32_t i = 0; i < n; ++i) v.push_back(int64_t(d.d[i]));
  return v;
}

nv::Dims from_vec(const std::vector<int64_t>& v) {
  nv::Dims d;
  std::memset(&d, 0, sizeof d);
  // Never more than d[] holds: callers loop over d[0..nbDims).
  d.nbDims = int32_t(v.size() < size_t(nv::Dims::MAX_DIMS) ? v.size() : size_t(nv::Dims::MAX_DIMS));
  for (size_t i = 0; i < v.size() && i < size_t(nv::Dims::MAX_DIMS); ++i) d.d[i] = decltype(d.d[0])(v[i]);
  return d;
}

nv::Dims invalid_dims() {
  nv::Dims d;
  std::memset(&d, 0, sizeof d);
  d.nbDims = -1;
  return d;
}

// ---- tensors --------------------------------------------------------------------------------
class TensorImpl : public Stub_VTensor {
 public:
  trtsim::Tensor t;
  std::map<int32_t, std::string> dim_names;
  void setName(char const* name) noexcept override {
    if (name) t.name = name;
  }
  char const* getName() const noexcept override { return t.name.c_str(); }
  void setDimensions(DIMS_ARG dims) noexcept override {
    trtsim::trace("ITensor::setDimensions %s nbDims=%d %s", t.name.c_str(), dims.nbDims, trtsim::dims_str(to_vec(dims)).c_str());
    t.dims = to_vec(dims);
  }
  nv::Dims getDimensions() const noexcept override { return from_vec(t.dims); }
  void setType(nv::DataType type) noexcept override { t.type = int32_t(type); }
  nv::DataType getType() const noexcept override { return static_cast<nv::DataType>(t.type); }
  bool setDynamicRange(float mn, float mx) noexcept override {
    trtsim::trace("ITensor::setDynamicRange %s %.9g %.9g", t.name.c_str(), mn, mx);
    if (!(mn <= 0 && mx >= 0 && mn < mx)) return false;
    t.has_range = true;
    t.range_min = mn;
    t.range_max = mx;
    return true;
  }
  bool isNetworkInput() const noexcept override { return t.is_input; }
  bool isNetworkOutput() const noexcept override { return t.is_output; }
  void setDimensionName(int32_t index, char const* name) noexcept override {
    if (name && index >= 0) dim_names[index] = name;
  }
  char const* getDimensionName(int32_t index) const noexcept override {
    auto it = dim_names.find(index);
    return it == dim_names.end() ? nullptr : it->second.c_str();
  }
};

class TensorW : public Stub_ITensor {
 public:
  explicit TensorW(TensorImpl* impl) { mImpl = impl; }
  ~TensorW() noexcept override { delete mImpl; }
  TensorImpl* impl() const { return static_cast<TensorImpl*>(mImpl); }
};

// ---- network --------------------------------------------------------------------------------
class BuilderW;

class NetworkImpl : public Stub_VNetworkDefinition {
 public:
  trtsim::NetworkModel model;
  std::vector<std::unique_ptr<TensorW>> tensors;
  std::vector<TensorW*> inputs, outputs;
  nv::ILogger* logger = nullptr;
  BuilderW* builder = nullptr;

  TensorW* make_tensor(const std::string& name, int32_t type, const std::vector<int64_t>& dims) {
    auto* impl = new TensorImpl;
    impl->t.name = name;
    impl->t.type = type;
    impl->t.dims = dims;
    tensors.emplace_back(new TensorW(impl));
    return tensors.back().get();
  }
  TensorW* find(const std::string& name) {
    for (auto& t : tensors)
      if (t->impl()->t.name == name) return t.get();
    return nullptr;
  }
  void sync() {
    model.inputs.clear();
    model.outputs.clear();
    for (auto* t : inputs) model.inputs.push_back(&t->impl()->t);
    for (auto* t : outputs) model.outputs.push_back(&t->impl()->t);
  }

  nv::ITensor* addInput(char const* name, nv::DataType type, DIMS_ARG dims) noexcept override {
    Sink sink(logger);
    trtsim::trace("INetworkDefinition::addInput %s type=%d nbDims=%d %s", name ? name : "(null)", int32_t(type), dims.nbDims,
                  trtsim::dims_str(to_vec(dims)).c_str());
    if (!name || !*name) {
      trtsim::logf(&sink, trtsim::kERROR, "INetworkDefinition::addInput: the name must be a non-empty string.");
      return nullptr;
    }
    if (dims.nbDims < 0 || dims.nbDims > nv::Dims::MAX_DIMS) {
      trtsim::logf(&sink, trtsim::kERROR, "INetworkDefinition::addInput: input '%s' has %d dimensions (0..%d allowed).", name,
                   dims.nbDims, int(nv::Dims::MAX_DIMS));
      return nullptr;
    }
    if (find(name)) {
      trtsim::logf(&sink, trtsim::kERROR, "INetworkDefinition::addInput: a tensor named '%s' already exists.", name);
      return nullptr;
    }
    for (int32_t i = 0; i < dims.nbDims; ++i) {
      if (dims.d[i] < -1) {
        trtsim::logf(&sink, trtsim::kERROR, "INetworkDefinition::addInput: input '%s' dimension %d is %lld.", name, i,
                     (long long)dims.d[i]);
        return nullptr;
      }
    }
    TensorW* t = make_tensor(name, int32_t(type), to_vec(dims));
    t->impl()->t.is_input = true;
    inputs.push_back(t);
    sync();
    return t;
  }
  void markOutput(nv::ITensor& tensor) noexcept override {
    Sink sink(logger);
    auto* t = dynamic_cast<TensorW*>(&tensor);
    if (!t) {
      trtsim::logf(&sink, trtsim::kERROR, "INetworkDefinition::markOutput: the tensor was not created by this network.");
      return;
    }
    trtsim::trace("INetworkDefinition::markOutput %s", t->impl()->t.name.c_str());
    if (!t->impl()->t.is_output) {
      t->impl()->t.is_output = true;
      outputs.push_back(t);
      sync();
    }
  }
  int32_t getNbLayers() const noexcept override { return int32_t(model.nb_layers); }
  int32_t getNbInputs() const noexcept override { return int32_t(inputs.size()); }
  nv::ITensor* getInput(int32_t i) const noexcept override {
    return (i >= 0 && size_t(i) < inputs.size()) ? inputs[size_t(i)] : nullptr;
  }
  int32_t getNbOutputs() const noexcept override { return int32_t(outputs.size()); }
  nv::ITensor* getOutput(int32_t i) const noexcept override {
    return (i >= 0 && size_t(i) < outputs.size()) ? outputs[size_t(i)] : nullptr;
  }
  void setName(char const* name) noexcept override {
    if (name) model.name = name;
  }
  char const* getName() const noexcept override { return model.name.c_str(); }
  bool hasImplicitBatchDimension() const noexcept override { return !model.explicit_batch; }
#if TRTSIM_MAJOR == 8
  bool hasExplicitPrecision() const noexcept override { return (model.creation_flags & 2u) != 0; }
#else
  nv::IBuilder& getBuilder() const noexcept override;
  nv::NetworkDefinitionCreationFlags getFlags() const noexcept override { return model.creation_flags; }
  bool getFlag(nv::NetworkDefinitionCreationFlag f) const noexcept override {
    return int32_t(f) >= 0 && int32_t(f) < 32 && (model.creation_flags & (1u << uint32_t(f))) != 0;
  }
#endif
};

class NetworkW : public Stub_INetworkDefinition {
 public:
  explicit NetworkW(NetworkImpl* impl) { mImpl = impl; }
  ~NetworkW() noexcept override {
    trtsim::trace("destroy INetworkDefinition");
    delete mImpl;
  }
  NetworkImpl* impl() const { return static_cast<NetworkImpl*>(mImpl); }
};

// ---- optimization profile -------------------------------------------------------------------
class ProfileImpl : public Stub_VOptimizationProfile {
 public:
  trtsim::Profile p;
  nv::ILogger* logger = nullptr;
  float extra_memory = 1.0f;
  bool setDimensions(char const* name, nv::OptProfileSelector sel, DIMS_ARG dims) noexcept override {
    Sink sink(logger);
    int32_t s = int32_t(sel);
    trtsim::trace("IOptimizationProfile::setDimensions %s sel=%d nbDims=%d %s", name ? name : "(null)", s, dims.nbDims,
                  trtsim::dims_str(to_vec(dims)).c_str());
    if (!name || s < 0 || s > 2 || dims.nbDims < 0 || dims.nbDims > nv::Dims::MAX_DIMS) {
      trtsim::logf(&sink, trtsim::kERROR, "IOptimizationProfile::setDimensions: invalid arguments.");
      return false;
    }
    std::vector<int64_t> v = to_vec(dims);
    for (int64_t x : v) {
      if (x < 0) {
        trtsim::logf(&sink, trtsim::kERROR, "IOptimizationProfile::setDimensions: '%s' dimensions %s must not be negative.", name,
                     trtsim::dims_str(v).c_str());
        return false;
      }
    }
    // Check against what is already set: min <= opt <= max, same rank.
    for (int o = 0; o < 3; ++o) {
      if (o == s) continue;
      auto it = p.dims[o].find(name);
      if (it == p.dims[o].end()) continue;
      bool ok = it->second.size() == v.size();
      for (size_t k = 0; ok && k < v.size(); ++k) ok = o < s ? it->second[k] <= v[k] : v[k] <= it->second[k];
      if (!ok) {
        static const char* nm[3] = {"kMIN", "kOPT", "kMAX"};
        trtsim::logf(&sink, trtsim::kERROR, "IOptimizationProfile::setDimensions: '%s' %s dimensions %s conflict with %s %s (need min <= opt <= max).",
                     name, nm[s], trtsim::dims_str(v).c_str(), nm[o], trtsim::dims_str(it->second).c_str());
        return false;
      }
    }
    p.dims[s][name] = v;
    return true;
  }
  nv::Dims getDimensions(char const* name, nv::OptProfileSelector sel) const noexcept override {
    int32_t s = int32_t(sel);
    if (!name || s < 0 || s > 2) return invalid_dims();
    auto it = p.dims[s].find(name);
    return it == p.dims[s].end() ? invalid_dims() : from_vec(it->second);
  }
  bool setExtraMemoryTarget(float target) noexcept override {
    if (!(target >= 0)) return false;
    extra_memory = target;
    return true;
  }
  float getExtraMemoryTarget() const noexcept override { return extra_memory; }
  bool isValid() const noexcept override {
    for (const auto& kv : p.dims[0])
      if (!p.dims[1].count(kv.first) || !p.dims[2].count(kv.first)) return false;
    for (int s = 1; s < 3; ++s)
      for (const auto& kv : p.dims[s])
        if (!p.dims[0].count(kv.first)) return false;
    return true;
  }
};

class ProfileW : public Stub_IOptimizationProfile {
 public:
  explicit ProfileW(ProfileImpl* impl) { mImpl = impl; }
  ~ProfileW() noexcept override { delete mImpl; }
  ProfileImpl* impl() const { return static_cast<ProfileImpl*>(mImpl); }
};

// ---- builder config -------------------------------------------------------------------------
class ConfigImpl : public Stub_VBuilderConfig {
 public:
  nv::ILogger* logger = nullptr;
  nv::IInt8Calibrator* calibrator = nullptr;
  uint32_t flags = 0;
  int32_t avg_timing = 1, min_timing = 1;
  int32_t dla_core = -1;
  int32_t device_type = 0;
  std::map<int32_t, uint64_t> pools;
  std::vector<ProfileW const*> profiles;
  ProfileW const* calib_profile = nullptr;

#if TRTSIM_MAJOR == 8
  void setMinTimingIterations(int32_t n) noexcept override { min_timing = n; }
  int32_t getMinTimingIterations() const noexcept override { return min_timing; }
  void setMaxWorkspaceSize(std::size_t n) noexcept override {
    trtsim::trace("IBuilderConfig::setMaxWorkspaceSize %zu", n);
    pools[0] = n;
  }
  std::size_t getMaxWorkspaceSize() const noexcept override { return getMemoryPoolLimit(nv::MemoryPoolType::kWORKSPACE); }
#endif
  void setAvgTimingIterations(int32_t n) noexcept override { avg_timing = n; }
  int32_t getAvgTimingIterations() const noexcept override { return avg_timing; }
  void setInt8Calibrator(nv::IInt8Calibrator* c) noexcept override {
    trtsim::trace("IBuilderConfig::setInt8Calibrator %s", c ? "set" : "null");
    calibrator = c;
  }
  nv::IInt8Calibrator* getInt8Calibrator() const noexcept override { return calibrator; }
  void setFlags(nv::BuilderFlags f) noexcept override {
    trtsim::trace("IBuilderConfig::setFlags 0x%x", f);
    flags = f;
  }
  nv::BuilderFlags getFlags() const noexcept override { return flags; }
  void clearFlag(nv::BuilderFlag f) noexcept override {
    trtsim::trace("IBuilderConfig::clearFlag %d", int32_t(f));
    if (int32_t(f) >= 0 && int32_t(f) < 32) flags &= ~(1u << uint32_t(f));
  }
  void setFlag(nv::BuilderFlag f) noexcept override {
    trtsim::trace("IBuilderConfig::setFlag %d", int32_t(f));
    if (int32_t(f) >= 0 && int32_t(f) < 32) flags |= 1u << uint32_t(f);
  }
  bool getFlag(nv::BuilderFlag f) const noexcept override {
    return int32_t(f) >= 0 && int32_t(f) < 32 && (flags & (1u << uint32_t(f))) != 0;
  }
  void setDLACore(int32_t core) noexcept override {
    trtsim::trace("IBuilderConfig::setDLACore %d", core);
    dla_core = core;
  }
  int32_t getDLACore() const noexcept override { return dla_core; }
  void setDefaultDeviceType(nv::DeviceType t) noexcept override {
    trtsim::trace("IBuilderConfig::setDefaultDeviceType %d", int32_t(t));
    device_type = int32_t(t);
  }
  nv::DeviceType getDefaultDeviceType() const noexcept override { return static_cast<nv::DeviceType>(device_type); }
  void reset() noexcept override {
    calibrator = nullptr;
    flags = 0;
    dla_core = -1;
    device_type = 0;
    pools.clear();
    profiles.clear();
    calib_profile = nullptr;
  }
  int32_t addOptimizationProfile(nv::IOptimizationProfile const* profile) noexcept override {
    Sink sink(logger);
    auto* p = dynamic_cast<ProfileW const*>(profile);
    if (!p) {
      trtsim::logf(&sink, trtsim::kERROR, "IBuilderConfig::addOptimizationProfile: null or foreign profile.");
      return -1;
    }
    if (!p->impl()->isValid()) {
      trtsim::logf(&sink, trtsim::kERROR, "IBuilderConfig::addOptimizationProfile: the profile is not valid (every input needs kMIN, kOPT and kMAX).");
      return -1;
    }
    profiles.push_back(p);
    trtsim::trace("IBuilderConfig::addOptimizationProfile -> %zu", profiles.size() - 1);
    return int32_t(profiles.size() - 1);
  }
  int32_t getNbOptimizationProfiles() const noexcept override { return int32_t(profiles.size()); }
  bool setCalibrationProfile(nv::IOptimizationProfile const* profile) noexcept override {
    Sink sink(logger);
    if (!profile) {
      calib_profile = nullptr;
      return true;
    }
    auto* p = dynamic_cast<ProfileW const*>(profile);
    if (!p || !p->impl()->isValid()) {
      trtsim::logf(&sink, trtsim::kERROR, "IBuilderConfig::setCalibrationProfile: the profile is not valid.");
      return false;
    }
    trtsim::trace("IBuilderConfig::setCalibrationProfile");
    calib_profile = p;
    return true;
  }
  nv::IOptimizationProfile const* getCalibrationProfile() noexcept override { return calib_profile; }
  void setMemoryPoolLimit(nv::MemoryPoolType pool, std::size_t size) noexcept override {
    trtsim::trace("IBuilderConfig::setMemoryPoolLimit %d %zu", int32_t(pool), size);
    pools[int32_t(pool)] = size;
  }
  std::size_t getMemoryPoolLimit(nv::MemoryPoolType pool) const noexcept override {
    auto it = pools.find(int32_t(pool));
    if (it != pools.end()) return it->second;
    // Defaults: the whole device memory for the workspace, nothing for the DLA pools.
    return int32_t(pool) == 0 ? std::size_t(8ULL << 30) : 0;
  }
};

class ConfigW : public Stub_IBuilderConfig {
 public:
  explicit ConfigW(ConfigImpl* impl) { mImpl = impl; }
  ~ConfigW() noexcept override {
    trtsim::trace("destroy IBuilderConfig");
    delete mImpl;
  }
  ConfigImpl* impl() const { return static_cast<ConfigImpl*>(mImpl); }
};

// ---- host memory ----------------------------------------------------------------------------
class HostMemoryImpl : public Stub_VHostMemory {
 public:
  std::vector<uint8_t> bytes;
  void* data() const noexcept override { return const_cast<uint8_t*>(bytes.data()); }
  std::size_t size() const noexcept override { return bytes.size(); }
  nv::DataType type() const noexcept override { return nv::DataType::kUINT8; }
};

class HostMemoryW : public Stub_IHostMemory {
 public:
  explicit HostMemoryW(HostMemoryImpl* impl) { mImpl = impl; }
  ~HostMemoryW() noexcept override {
    trtsim::trace("destroy IHostMemory");
    delete mImpl;
  }
};

// ---- calibrator adapter (trtsim calls the user's object through OUR declarations) -----------
class Calibrator : public trtsim::CalibratorView {
 public:
  nv::IInt8Calibrator* c;
  nv::IInt8LegacyCalibrator* legacy;
  explicit Calibrator(nv::IInt8Calibrator* cal) : c(cal), legacy(dynamic_cast<nv::IInt8LegacyCalibrator*>(cal)) {}
  int32_t batch_size() override { return c->getBatchSize(); }
  bool get_batch(void* b[], const char* n[], int32_t k) override { return c->getBatch(b, n, k); }
  const void* read_cache(size_t& len) override { return c->readCalibrationCache(len); }
  void write_cache(const void* p, size_t len) override { c->writeCalibrationCache(p, len); }
  int32_t algorithm() override { return int32_t(c->getAlgorithm()); }
  bool is_legacy() override {
    trtsim::trace("legacy dynamic_cast %s", legacy ? "ok" : "failed");
    return legacy != nullptr;
  }
  double quantile() override { return legacy->getQuantile(); }
  double regression_cutoff() override { return legacy->getRegressionCutoff(); }
  const void* read_histogram_cache(size_t& len) override { return legacy->readHistogramCache(len); }
  void write_histogram_cache(const void* p, size_t len) override { legacy->writeHistogramCache(p, len); }
  std::string identity() override {
    // Which declared calibrator class the object is, by RTTI: dynamic_cast compares the mangled
    // class names of OUR declarations with those NVIDIA's compiler emitted (10.x: v_1_0::).
    std::string rtti = "rtti=";
    if (dynamic_cast<nv::IInt8EntropyCalibrator2*>(c)) rtti += "IInt8EntropyCalibrator2";
    else if (dynamic_cast<nv::IInt8MinMaxCalibrator*>(c)) rtti += "IInt8MinMaxCalibrator";
    else if (dynamic_cast<nv::IInt8EntropyCalibrator*>(c)) rtti += "IInt8EntropyCalibrator";
    else if (legacy) rtti += "IInt8LegacyCalibrator";
    else rtti += "unknown";
#if TRTSIM_MAJOR == 8
    return rtti;
#else
    nv::InterfaceInfo info = c->getInterfaceInfo();
    char b[160];
    std::snprintf(b, sizeof b, "%s api_language=%d interface=%s %d.%d", rtti.c_str(), int32_t(c->getAPILanguage()),
                  info.kind ? info.kind : "(null)", info.major, info.minor);
    return b;
#endif
  }
};

// ---- builder --------------------------------------------------------------------------------
class BuilderImpl : public Stub_VBuilder {
 public:
  nv::ILogger* logger = nullptr;
  int32_t header_version = 0;
  int32_t max_threads = 1;
  int32_t max_batch = 1;
  BuilderW* wrapper = nullptr;
  std::vector<std::unique_ptr<ProfileW>> profiles;  // owned by the builder, as in TensorRT

  static int32_t dla_cores() {
    const char* d = std::getenv("TRTSIM_DLA_CORES");
    return d ? std::atoi(d) : 0;
  }
#if TRTSIM_MAJOR == 8
  void setMaxBatchSize(int32_t n) noexcept override { max_batch = n; }
  int32_t getMaxBatchSize() const noexcept override { return max_batch; }
#endif
  bool platformHasFastFp16() const noexcept override { return true; }
  bool platformHasFastInt8() const noexcept override { return true; }
  int32_t getMaxDLABatchSize() const noexcept override { return dla_cores() > 0 ? 4096 : 1; }
  int32_t getNbDLACores() const noexcept override { return dla_cores(); }
  nv::IBuilderConfig* createBuilderConfig() noexcept override {
    auto* impl = new ConfigImpl;
    impl->logger = logger;
    trtsim::trace("IBuilder::createBuilderConfig");
    return new ConfigW(impl);
  }
  nv::INetworkDefinition* createNetworkV2(nv::NetworkDefinitionCreationFlags flags) noexcept override;
  nv::IOptimizationProfile* createOptimizationProfile() noexcept override {
    auto* impl = new ProfileImpl;
    impl->logger = logger;
    profiles.emplace_back(new ProfileW(impl));
    trtsim::trace("IBuilder::createOptimizationProfile");
    return profiles.back().get();
  }
  void reset() noexcept override {}
  bool platformHasTf32() const noexcept override { return true; }
  nv::IHostMemory* buildSerializedNetwork(nv::INetworkDefinition& network, nv::IBuilderConfig& config) noexcept override;
  bool isNetworkSupported(nv::INetworkDefinition const&, nv::IBuilderConfig const&) const noexcept override { return true; }
  nv::ILogger* getLogger() const noexcept override { return logger; }
  bool setMaxThreads(int32_t n) noexcept override {
    if (n < 1) return false;
    max_threads = n;
    return true;
  }
  int32_t getMaxThreads() const noexcept override { return max_threads; }
};

class BuilderW : public Stub_IBuilder {
 public:
  explicit BuilderW(BuilderImpl* impl) {
    mImpl = impl;
    impl->wrapper = this;
  }
  ~BuilderW() noexcept override {
    trtsim::trace("destroy IBuilder");
    delete mImpl;
  }
};

#if TRTSIM_MAJOR != 8
nv::IBuilder& NetworkImpl::getBuilder() const noexcept { return *builder; }
#endif

nv::INetworkDefinition* BuilderImpl::createNetworkV2(nv::NetworkDefinitionCreationFlags flags) noexcept {
  auto* impl = new NetworkImpl;
  impl->logger = logger;
  impl->builder = wrapper;
  impl->model.creation_flags = flags;
  // 8.x: explicit batch only with 1 << kEXPLICIT_BATCH; 10.x: always explicit.
  impl->model.explicit_batch = kMajor >= 10 || (flags & 1u) != 0;
  trtsim::trace("IBuilder::createNetworkV2 flags=0x%x", flags);
  return new NetworkW(impl);
}

nv::IHostMemory* BuilderImpl::buildSerializedNetwork(nv::INetworkDefinition& network, nv::IBuilderConfig& config) noexcept {
  Sink sink(logger);
  auto* net = dynamic_cast<NetworkW*>(&network);
  auto* cfgw = dynamic_cast<ConfigW*>(&config);
  if (!net || !cfgw) {
    trtsim::logf(&sink, trtsim::kERROR, "IBuilder::buildSerializedNetwork: network or config not created by this library.");
    return nullptr;
  }
  ConfigImpl* c = cfgw->impl();
  trtsim::BuildConfig bc;
  bc.major = kMajor;
  bc.flags = c->flags;
  bc.int8 = c->getFlag(nv::BuilderFlag::kINT8);
  bc.fp16 = c->getFlag(nv::BuilderFlag::kFP16);
  bc.gpu_fallback = c->getFlag(nv::BuilderFlag::kGPU_FALLBACK);
  bc.pools = c->pools;
  bc.device_type = c->device_type;
  bc.dla_core = c->dla_core;
  for (auto* p : c->profiles) bc.profiles.push_back(&p->impl()->p);
  bc.calib_profile = c->calib_profile ? &c->calib_profile->impl()->p : nullptr;
  bc.builder_header_version = header_version;
  std::unique_ptr<Calibrator> cal;
  if (c->calibrator) {
    cal.reset(new Calibrator(c->calibrator));
    bc.calibrator = cal.get();
  }
  std::vector<uint8_t> plan;
  if (!trtsim::build_plan(net->impl()->model, bc, &sink, plan)) return nullptr;
  auto* mem = new HostMemoryImpl;
  mem->bytes = std::move(plan);
  return new HostMemoryW(mem);
}

// ---- ONNX parser ----------------------------------------------------------------------------
class ParserErrorImpl : public Stub_IParserError {
 public:
  trtsim::ParseIssue i;
  explicit ParserErrorImpl(trtsim::ParseIssue is) : i(std::move(is)) {}
  ~ParserErrorImpl() override {}
  nvonnxparser::ErrorCode code() const noexcept override { return static_cast<nvonnxparser::ErrorCode>(i.code); }
  char const* desc() const noexcept override { return i.desc.c_str(); }
  char const* file() const noexcept override { return i.file.c_str(); }
  int line() const noexcept override { return i.line; }
  char const* func() const noexcept override { return i.func.c_str(); }
  int node() const noexcept override { return i.node; }
#if TRTSIM_MAJOR != 8
  char const* nodeName() const noexcept override { return i.node_name.c_str(); }
  char const* nodeOperator() const noexcept override { return i.node_op.c_str(); }
  char const* const* localFunctionStack() const noexcept override { return nullptr; }
  int32_t localFunctionStackSize() const noexcept override { return 0; }
#endif
};

class ParserImpl : public Stub_IParser {
 public:
  NetworkW* net = nullptr;
  nv::ILogger* logger = nullptr;
  std::vector<std::unique_ptr<ParserErrorImpl>> errors;
  ~ParserImpl() noexcept override { trtsim::trace("destroy IParser"); }

  void add_error(trtsim::ParseIssue is) {
    Sink sink(logger);
    if (is.node >= 0)
      trtsim::logf(&sink, trtsim::kERROR, "ModelImporter: while parsing node number %d [%s -> \"%s\"]: %s", is.node,
                   is.node_op.c_str(), is.node_name.c_str(), is.desc.c_str());
    else
      trtsim::logf(&sink, trtsim::kERROR, "ModelImporter: %s", is.desc.c_str());
    trtsim::trace("parser error code=%d node=%d desc=%s", is.code, is.node, is.desc.c_str());
    errors.emplace_back(new ParserErrorImpl(std::move(is)));
  }

  bool import(const uint8_t* data, size_t len, const char* path) {
    Sink sink(logger);
    errors.clear();
    NetworkImpl* n = net->impl();
    trtsim::trace("IParser::parse bytes=%zu path=%s", len, path ? path : "(null)");
    if (!n->model.explicit_batch) {
      trtsim::ParseIssue is;
      is.code = int32_t(nvonnxparser::ErrorCode::kINVALID_VALUE);
      is.desc = "This version of the ONNX parser only supports TensorRT INetworkDefinitions with an explicit batch "
                "dimension. Please ensure the network was created using the EXPLICIT_BATCH NetworkDefinitionCreationFlag.";
      is.func = "parse";
      add_error(is);
      return false;
    }
    trtsim::OnnxModel m;
    std::vector<trtsim::ParseIssue> issues;
    if (!trtsim::parse_onnx(data, len, m, issues)) {
      for (auto& is : issues) add_error(is);
      return false;
    }
    trtsim::logf(&sink, trtsim::kINFO, "ONNX IR version: %lld, opset version: %lld, graph '%s': %zu inputs, %zu outputs, %zu nodes",
                 (long long)m.ir_version, (long long)m.opset, m.graph_name.c_str(), m.inputs.size(), m.outputs.size(),
                 m.nodes.size());
    std::vector<std::string> inits(m.initializers.begin(), m.initializers.end());
    auto is_init = [&](const std::string& s) {
      for (auto& i : inits)
        if (i == s) return true;
      return false;
    };
    for (const auto& in : m.inputs) {
      if (is_init(in.name)) continue;
      int32_t t = trtsim::onnx_to_trt(in.onnx_type, kMajor);
      if (t < 0) {
        trtsim::ParseIssue is;
        is.code = int32_t(nvonnxparser::ErrorCode::kUNSUPPORTED_GRAPH);
        is.desc = "Input '" + in.name + "' has ONNX data type " + std::to_string(in.onnx_type) + ", which TensorRT does not support.";
        is.func = "importInput";
        add_error(is);
        return false;
      }
      if (in.onnx_type == 7 && kMajor < 10)
        trtsim::logf(&sink, trtsim::kWARNING, "Your ONNX model has been generated with INT64 weights, while TensorRT does not natively support INT64. Attempting to cast down to INT32.");
      if (in.dims.size() > size_t(nv::Dims::MAX_DIMS)) {
        trtsim::ParseIssue is;
        is.code = int32_t(nvonnxparser::ErrorCode::kUNSUPPORTED_GRAPH);
        is.desc = "Input '" + in.name + "' has more than 8 dimensions.";
        is.func = "importInput";
        add_error(is);
        return false;
      }
      nv::Dims d = from_vec(in.dims);
      if (!n->addInput(in.name.c_str(), static_cast<nv::DataType>(t), d)) {
        trtsim::ParseIssue is;
        is.code = int32_t(nvonnxparser::ErrorCode::kINVALID_GRAPH);
        is.desc = "Could not add input '" + in.name + "' to the network.";
        is.func = "importInput";
        add_error(is);
        return false;
      }
    }
    std::vector<std::string> outs;
    for (const auto& o : m.outputs) outs.push_back(o.name);
    for (const auto& node : m.nodes)
      for (const auto& o : node.outputs)
        if (!o.empty() && std::find(outs.begin(), outs.end(), o) == outs.end()) n->model.layer_outputs.push_back(o);
    n->model.nb_layers += m.nodes.size();
    for (const auto& o : m.outputs) {
      // Checked like the inputs: Dims holds at most MAX_DIMS, and getDimensions() of a tensor
      // with more would report an nbDims past the end of d[] (found by fuzz/cpp/onnx_import.cpp).
      if (o.dims.size() > size_t(nv::Dims::MAX_DIMS)) {
        trtsim::ParseIssue is;
        is.code = int32_t(nvonnxparser::ErrorCode::kUNSUPPORTED_GRAPH);
        is.desc = "Output '" + o.name + "' has more than 8 dimensions.";
        is.func = "importOutput";
        add_error(is);
        return false;
      }
      int32_t t = trtsim::onnx_to_trt(o.onnx_type, kMajor);
      TensorW* tw = n->make_tensor(o.name, t < 0 ? int32_t(trtsim::kFLOAT) : t, o.dims);
      n->markOutput(*tw);
    }
    return true;
  }

  bool parse(void const* data, std::size_t size, char const* path) noexcept override {
    return import(static_cast<const uint8_t*>(data), size, path);
  }
  bool parseFromFile(char const* file, int verbosity) noexcept override {
    trtsim::trace("IParser::parseFromFile %s verbosity=%d", file ? file : "(null)", verbosity);
    std::ifstream f(file ? file : "", std::ios::binary);
    if (!file || !f) {
      errors.clear();
      trtsim::ParseIssue is;
      is.code = int32_t(nvonnxparser::ErrorCode::kMODEL_DESERIALIZE_FAILED);
      is.desc = std::string("Failed to open the ONNX file: ") + (file ? file : "(null)");
      is.func = "parseFromFile";
      add_error(is);
      return false;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    std::string bytes = ss.str();
    return import(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), file);
  }
  bool parseWithWeightDescriptors(void const* data, std::size_t size) noexcept override {
    return import(static_cast<const uint8_t*>(data), size, nullptr);
  }
  bool supportsOperator(char const* op) const noexcept override { return trtsim::known_op(op); }
#if TRTSIM_MAJOR == 8
  void destroy() noexcept override {
    trtsim::trace("IParser::destroy");
    delete this;
  }
#endif
  int getNbErrors() const noexcept override { return int(errors.size()); }
  nvonnxparser::IParserError const* getError(int i) const noexcept override {
    return (i >= 0 && size_t(i) < errors.size()) ? errors[size_t(i)].get() : nullptr;
  }
  void clearErrors() noexcept override { errors.clear(); }
};

}  // namespace

// ---- exported entry points --------------------------------------------------------------------
TRTSIM_EXPORT int32_t getInferLibVersion() noexcept { return trtsim::sim_version(kMajor); }

TRTSIM_EXPORT void* createInferBuilder_INTERNAL(void* logger, int32_t version) noexcept {
  auto* l = static_cast<nv::ILogger*>(logger);
  Sink sink(l);
  trtsim::trace("createInferBuilder_INTERNAL header_version=%d library=%d", version, trtsim::sim_version(kMajor));
  if (trtsim::fail_knob("builder")) {
    trtsim::logf(&sink, trtsim::kERROR, "trtsim: builder creation failure injected (TRTSIM_FAIL=builder).");
    return nullptr;
  }
  bool fits = kMajor >= 10 ? version >= 100000 : (version >= 8000 && version < 10000);
  if (!fits) {
    trtsim::logf(&sink, trtsim::kERROR, "The header version %d does not match libnvinfer.so.%d (TensorRT %d).", version, kMajor,
                 trtsim::sim_version(kMajor));
    return nullptr;
  }
  auto* impl = new BuilderImpl;
  impl->logger = l;
  impl->header_version = version;
  trtsim::logf(&sink, trtsim::kINFO, "trtsim: simulated TensorRT %d (test-only simulator, no GPU work).", trtsim::sim_version(kMajor));
  return static_cast<nv::IBuilder*>(new BuilderW(impl));
}

// Internal entry for libnvonnxparser (same ABI build), so that the parser can fill the network.
TRTSIM_EXPORT void* trtsim_internal_create_parser(void* network, void* logger, int version) noexcept {
  auto* l = static_cast<nv::ILogger*>(logger);
  Sink sink(l);
  trtsim::trace("createNvOnnxParser_INTERNAL version=%d", version);
  if (trtsim::fail_knob("parser")) {
    trtsim::logf(&sink, trtsim::kERROR, "trtsim: parser creation failure injected (TRTSIM_FAIL=parser).");
    return nullptr;
  }
  auto* net = dynamic_cast<NetworkW*>(static_cast<nv::INetworkDefinition*>(network));
  if (!net) {
    trtsim::logf(&sink, trtsim::kERROR, "createNvOnnxParser: the network was not created by this library.");
    return nullptr;
  }
  auto* p = new ParserImpl;
  p->net = net;
  p->logger = l;
  return static_cast<nvonnxparser::IParser*>(p);
}

TRTSIM_EXPORT void* createInferRuntime_INTERNAL(void*, int32_t) noexcept { trtsim::unimplemented_fn("createInferRuntime_INTERNAL"); }
TRTSIM_EXPORT void* createInferRefitter_INTERNAL(void*, void*, int32_t) noexcept { trtsim::unimplemented_fn("createInferRefitter_INTERNAL"); }
TRTSIM_EXPORT void* getPluginRegistry() noexcept { trtsim::unimplemented_fn("getPluginRegistry"); }
TRTSIM_EXPORT void* getBuilderPluginRegistry(int32_t) noexcept { trtsim::unimplemented_fn("getBuilderPluginRegistry"); }
TRTSIM_EXPORT void* getLogger() noexcept { trtsim::unimplemented_fn("getLogger"); }
