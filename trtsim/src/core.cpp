// trtsim core: knobs, trace, libcuda access, calibration, cache and plan formats, and the
// build itself. Independent of the TensorRT ABI; see core.hpp.
#include "core.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace trtsim {

// ---- knobs and trace ------------------------------------------------------------------------
int32_t sim_version(int major) {
  static int32_t cached[2] = {0, 0};
  int32_t& v = cached[major >= 10 ? 1 : 0];
  if (v) return v;
  int32_t dflt = major >= 10 ? 100300 : 8601;
  const char* e = std::getenv("TRTSIM_VERSION");
  int32_t want = dflt;
  if (e && *e) {
    char* endp = nullptr;
    long n = std::strtol(e, &endp, 10);
    bool fits = endp && *endp == 0 && (major >= 10 ? (n >= 100000 && n < 1000000) : (n >= 8000 && n < 10000));
    if (fits) {
      want = int32_t(n);
    } else {
      std::fprintf(stderr, "trtsim: TRTSIM_VERSION=%s does not fit libnvinfer.so.%d; reporting %d\n", e, major, dflt);
    }
  }
  v = want;
  return v;
}

bool fail_knob(const char* what) {
  const char* e = std::getenv("TRTSIM_FAIL");
  if (!e) return false;
  size_t n = std::strlen(what);
  for (const char* p = e; *p;) {
    const char* c = std::strchr(p, ',');
    size_t len = c ? size_t(c - p) : std::strlen(p);
    if (len == n && std::strncmp(p, what, n) == 0) return true;
    if (!c) break;
    p = c + 1;
  }
  return false;
}

void trace(const char* fmt, ...) {
  static std::mutex mu;
  const char* path = std::getenv("TRTSIM_TRACE");
  if (!path || !*path) return;
  std::lock_guard<std::mutex> lock(mu);
  FILE* f = std::fopen(path, "a");
  if (!f) return;
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(f, fmt, ap);
  va_end(ap);
  std::fputc('\n', f);
  std::fclose(f);
}

void unimplemented(const char* cls, long slot) {
  std::fprintf(stderr, "trtsim: %s slot %ld not implemented\n", cls, slot);
  std::fflush(stderr);
  std::abort();
}

void unimplemented_fn(const char* fn) {
  std::fprintf(stderr, "trtsim: %s not implemented\n", fn);
  std::fflush(stderr);
  std::abort();
}

const char* type_name(int32_t t) {
  switch (t) {
    case kFLOAT: return "FLOAT";
    case kHALF: return "HALF";
    case kINT8: return "INT8";
    case kINT32: return "INT32";
    case kBOOL: return "BOOL";
    case kUINT8: return "UINT8";
    case kFP8: return "FP8";
    case kBF16: return "BF16";
    case kINT64: return "INT64";
    default: return "UNKNOWN";
  }
}

size_t type_size(int32_t t) {
  switch (t) {
    case kFLOAT: case kINT32: return 4;
    case kHALF: case kBF16: return 2;
    case kINT64: return 8;
    default: return 1;
  }
}

const char* algo_cache_name(int32_t a) {
  switch (a) {
    case kLEGACY: return "LegacyCalibration";
    case kENTROPY: return "EntropyCalibration";
    case kENTROPY2: return "EntropyCalibration2";
    case kMINMAX: return "MinMaxCalibration";
    default: return nullptr;
  }
}

void logf(LogSink* sink, int32_t severity, const char* fmt, ...) {
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  trace("log %d %s", severity, buf);
  if (sink) sink->log(severity, buf);
}

std::string dims_str(const std::vector<int64_t>& d) {
  std::string s;
  for (size_t i = 0; i < d.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(d[i]);
  }
  return s.empty() ? std::string("scalar") : s;
}

namespace {

uint64_t fnv1a(const void* p, size_t n, uint64_t h = 1469598103934665603ULL) {
  const uint8_t* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) {
    h ^= b[i];
    h *= 1099511628211ULL;
  }
  return h;
}

uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float half_to_float(uint16_t h) {
  uint32_t sign = uint32_t(h >> 15) << 31, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
  if (exp == 0) {
    if (man == 0) bits = sign;
    else {
      int e = -1;
      do { man <<= 1; ++e; } while (!(man & 0x400));
      bits = sign | uint32_t(127 - 15 - e) << 23 | (man & 0x3FF) << 13;
    }
  } else if (exp == 31) {
    bits = sign | 0x7F800000 | man << 13;
  } else {
    bits = sign | (exp + 112) << 23 | man << 13;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// ---- libcuda, loaded the way TensorRT does: dlopen at first use -------------------------------
typedef int (*DtoH)(void*, unsigned long long, size_t);
DtoH cuda_dtoh(std::string& err) {
  static std::mutex mu;
  static DtoH fn = nullptr;
  static std::string saved_err;
  std::lock_guard<std::mutex> lock(mu);
  if (fn) return fn;
  if (!saved_err.empty()) { err = saved_err; return nullptr; }
  const char* explicit_path = std::getenv("TRTSIM_LIBCUDA");
  const char* name = (explicit_path && *explicit_path) ? explicit_path : "libcuda.so.1";
  void* h = dlopen(name, RTLD_NOW | RTLD_GLOBAL);
  if (!h) {
    const char* e = dlerror();
    saved_err = std::string("dlopen(") + name + ") failed: " + (e ? e : "unknown");
  } else {
    fn = reinterpret_cast<DtoH>(dlsym(h, "cuMemcpyDtoH_v2"));
    if (!fn) saved_err = std::string(name) + " has no cuMemcpyDtoH_v2";
  }
  err = saved_err;
  return fn;
}

// ---- calibration arithmetic -----------------------------------------------------------------
constexpr int kBins = 2048;
constexpr int kLevels = 128;

std::vector<double> histogram(const std::vector<float>& absvals, float amax) {
  std::vector<double> h(kBins, 0.0);
  if (amax <= 0) return h;
  double width = double(amax) / kBins;
  for (float v : absvals) {
    int b = int(double(v) / width);
    h[std::min(std::max(b, 0), kBins - 1)] += 1.0;
  }
  return h;
}

// KL-divergence threshold search (TensorRT's documented entropy calibration): for each candidate
// bin count i, reference P = first i bins (entropy2 folds the outliers into the last of them),
// candidate Q = those bins quantized to 128 levels and expanded back; keep the i with least
// KL(P||Q). Threshold = the upper edge of the chosen bin range.
float entropy_threshold(const std::vector<double>& h, float amax, bool fold_outliers) {
  double total = 0;
  for (double c : h) total += c;
  if (total == 0 || amax <= 0) return 0.0f;
  double best_kl = INFINITY;
  int best_i = kBins;
  std::vector<double> p(kBins), q(kBins);
  for (int i = kLevels; i <= kBins; ++i) {
    double outliers = 0;
    for (int j = i; j < kBins; ++j) outliers += h[j];
    for (int j = 0; j < i; ++j) p[j] = h[j];
    if (fold_outliers) p[i - 1] += outliers;
    for (int k = 0; k < kLevels; ++k) {
      int start = int(int64_t(k) * i / kLevels), end = int(int64_t(k + 1) * i / kLevels);
      double sum = 0;
      int nonzero = 0;
      for (int j = start; j < end; ++j) {
        sum += h[j];
        if (h[j] != 0) ++nonzero;
      }
      for (int j = start; j < end; ++j) q[j] = (h[j] != 0 && nonzero) ? sum / nonzero : 0.0;
    }
    double ps = 0, qs = 0;
    for (int j = 0; j < i; ++j) { ps += p[j]; qs += q[j]; }
    if (ps == 0 || qs == 0) continue;
    double kl = 0;
    for (int j = 0; j < i; ++j) {
      if (p[j] == 0) continue;
      double pj = p[j] / ps, qj = q[j] / qs;
      kl += pj * std::log(pj / std::max(qj, 1e-12));
    }
    if (kl < best_kl) {
      best_kl = kl;
      best_i = i;
    }
  }
  return float((best_i + 0.5) * (double(amax) / kBins));
}

std::string hex8(float scale) {
  char b[16];
  std::snprintf(b, sizeof b, "%08x", f32_bits(scale));
  return b;
}

struct CacheEntries {
  std::string header;
  std::vector<std::pair<std::string, uint32_t>> entries;
};

CacheEntries parse_cache(const char* p, size_t len) {
  CacheEntries c;
  std::string text(p, len);
  size_t pos = 0;
  bool first = true;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (first) {
      c.header = line;
      first = false;
      continue;
    }
    size_t sep = line.rfind(": ");
    if (sep == std::string::npos) continue;
    std::string hex = line.substr(sep + 2);
    if (hex.empty() || hex.size() > 8 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) continue;
    c.entries.emplace_back(line.substr(0, sep), uint32_t(std::strtoul(hex.c_str(), nullptr, 16)));
  }
  return c;
}

int32_t cache_version_code(int32_t v) { return v; }  // 8.x: 4 digits (8601), 10.x: 6 (100300)

struct InputShape {
  const Tensor* t;
  std::vector<int64_t> dims;
  size_t count = 0;
};

bool resolve_calibration_shapes(const NetworkModel& net, const BuildConfig& cfg, LogSink* log, int32_t batch,
                                std::vector<InputShape>& shapes) {
  const Profile* prof = cfg.calib_profile;
  bool dynamic = false;
  for (const Tensor* t : net.inputs)
    for (int64_t d : t->dims) dynamic |= d < 0;
  if (dynamic && !prof) {
    if (cfg.profiles.empty()) {
      logf(log, kERROR, "Calibration needs shapes for the dynamic inputs: no calibration profile and no optimization profile.");
      return false;
    }
    logf(log, kWARNING, "Calibration Profile is not defined. Calibrating with Profile 0");
    prof = cfg.profiles[0];
  }
  for (const Tensor* t : net.inputs) {
    InputShape s{t, t->dims, 0};
    bool has_dyn = false;
    for (int64_t d : t->dims) has_dyn |= d < 0;
    if (has_dyn) {
      auto it = prof->dims[1].find(t->name);
      if (it == prof->dims[1].end()) {
        logf(log, kERROR, "Calibration profile has no kOPT dimensions for input '%s'.", t->name.c_str());
        return false;
      }
      s.dims = it->second;
    }
    size_t n = 1;
    for (int64_t d : s.dims) n *= size_t(d);
    if (!net.explicit_batch) n *= size_t(batch);
    s.count = n;
    shapes.push_back(s);
  }
  return true;
}

std::string histogram_cache(const std::vector<InputShape>& shapes, const std::vector<std::vector<float>>& vals,
                            const std::vector<float>& amax) {
  // trtsim's own histogram-cache format (TensorRT's is undocumented): one line per float input.
  std::string s = "TRTSIM-HISTOGRAM 1\n";
  for (size_t i = 0; i < shapes.size(); ++i) {
    if (vals[i].empty()) continue;
    std::vector<double> h = histogram(vals[i], amax[i]);
    s += shapes[i].t->name + " " + hex8(amax[i]);
    for (int b = 0; b < kBins; b += 64) {
      double sum = 0;
      for (int j = b; j < b + 64; ++j) sum += h[j];
      s += " " + std::to_string(int64_t(sum));
    }
    s += "\n";
  }
  return s;
}

}  // namespace

float amax_for(int32_t algo, const std::vector<float>& absvals, double quantile) {
  float amax = 0;
  for (float v : absvals) amax = std::max(amax, v);
  switch (algo) {
    case kMINMAX: return amax;
    case kENTROPY2: return entropy_threshold(histogram(absvals, amax), amax, true);
    case kENTROPY: return entropy_threshold(histogram(absvals, amax), amax, false);
    default: {
      if (absvals.empty()) return 0;
      double q = (quantile > 0 && quantile <= 1) ? quantile : 1.0;
      std::vector<float> sorted(absvals);
      size_t k = size_t(q * double(sorted.size() - 1) + 0.5);
      std::nth_element(sorted.begin(), sorted.begin() + long(k), sorted.end());
      return sorted[k];
    }
  }
}

// ---- the build ------------------------------------------------------------------------------
namespace {

bool validate_profiles(const NetworkModel& net, const BuildConfig& cfg, LogSink* log) {
  bool dynamic = false;
  for (const Tensor* t : net.inputs)
    for (int64_t d : t->dims) dynamic |= d < 0;
  if (dynamic && cfg.profiles.empty()) {
    logf(log, kERROR, "Network has dynamic or shape inputs, but no optimization profile has been defined.");
    return false;
  }
  static const char* sel[3] = {"kMIN", "kOPT", "kMAX"};
  for (size_t pi = 0; pi < cfg.profiles.size(); ++pi) {
    const Profile* p = cfg.profiles[pi];
    for (const Tensor* t : net.inputs) {
      bool has_dyn = false;
      for (int64_t d : t->dims) has_dyn |= d < 0;
      for (int s = 0; s < 3; ++s) {
        auto it = p->dims[s].find(t->name);
        if (it == p->dims[s].end()) {
          if (has_dyn) {
            logf(log, kERROR, "Optimization profile %zu: dynamic input '%s' (%s) has no %s dimensions.", pi,
                 t->name.c_str(), dims_str(t->dims).c_str(), sel[s]);
            return false;
          }
          continue;
        }
        const auto& d = it->second;
        if (d.size() != t->dims.size()) {
          logf(log, kERROR, "Optimization profile %zu: input '%s' %s dimensions %s have %zu dimensions, the input has %zu.",
               pi, t->name.c_str(), sel[s], dims_str(d).c_str(), d.size(), t->dims.size());
          return false;
        }
        for (size_t k = 0; k < d.size(); ++k) {
          if (d[k] < 0 || (t->dims[k] >= 0 && d[k] != t->dims[k])) {
            logf(log, kERROR, "Optimization profile %zu: input '%s' %s dimensions %s do not match the network's %s.", pi,
                 t->name.c_str(), sel[s], dims_str(d).c_str(), dims_str(t->dims).c_str());
            return false;
          }
        }
      }
      auto mn = p->dims[0].find(t->name), op = p->dims[1].find(t->name), mx = p->dims[2].find(t->name);
      if (mn != p->dims[0].end() && op != p->dims[1].end() && mx != p->dims[2].end()) {
        for (size_t k = 0; k < t->dims.size(); ++k) {
          if (!(mn->second[k] <= op->second[k] && op->second[k] <= mx->second[k])) {
            logf(log, kERROR, "Optimization profile %zu: input '%s': need min <= opt <= max, got min %s, opt %s, max %s.", pi,
                 t->name.c_str(), dims_str(mn->second).c_str(), dims_str(op->second).c_str(), dims_str(mx->second).c_str());
            return false;
          }
        }
      }
    }
  }
  return true;
}

struct CalibResult {
  std::map<std::string, float> scales;  // tensor -> scale
  std::string source;                   // "calibration" or "cache"
  int batches = 0;
  int32_t algo = -1;
};

bool calibrate(const NetworkModel& net, const BuildConfig& cfg, LogSink* log, CalibResult& res) {
  CalibratorView* c = cfg.calibrator;
  res.algo = c->algorithm();
  std::string ident = c->identity();
  trace("calibrator algorithm=%d%s%s", res.algo, ident.empty() ? "" : " ", ident.c_str());
  const char* algo_name = algo_cache_name(res.algo);
  if (!algo_name) {
    logf(log, kERROR, "Unknown calibration algorithm %d from IInt8Calibrator::getAlgorithm().", res.algo);
    return false;
  }
  char want_header[64];
  std::snprintf(want_header, sizeof want_header, "TRT-%d-%s", cache_version_code(sim_version(cfg.major)), algo_name);

  size_t len = 0;
  const void* cache = c->read_cache(len);
  trace("readCalibrationCache ptr=%s len=%zu fnv=%016llx", cache ? "set" : "null", cache ? len : size_t(0),
        (unsigned long long)(cache ? fnv1a(cache, len) : 0));
  if (cache && len) {
    CacheEntries ce = parse_cache(static_cast<const char*>(cache), len);
    if (ce.header != want_header) {
      logf(log, kWARNING, "The calibration cache was not used: its header '%s' does not match '%s' (TensorRT version or calibration algorithm differs). Recalibrating.",
           ce.header.c_str(), want_header);
    } else {
      for (const auto& e : ce.entries) {
        float f;
        std::memcpy(&f, &e.second, 4);
        res.scales[e.first] = f;
      }
      for (const Tensor* t : net.inputs) {
        if ((t->type == kFLOAT || t->type == kHALF) && !res.scales.count(t->name)) {
          logf(log, kERROR, "Could not find scales for tensor %s in the calibration cache.", t->name.c_str());
          return false;
        }
      }
      res.source = "cache";
      logf(log, kINFO, "Calibration table read from the cache (%zu entries); calibration skipped.", ce.entries.size());
      return true;
    }
  }

  int32_t bs = c->batch_size();
  trace("getBatchSize %d", bs);
  if (bs <= 0) {
    logf(log, kERROR, "IInt8Calibrator::getBatchSize() returned %d; it must be positive.", bs);
    return false;
  }
  std::vector<InputShape> shapes;
  if (!resolve_calibration_shapes(net, cfg, log, bs, shapes)) return false;
  bool legacy = res.algo == kLEGACY && c->is_legacy();
  if (legacy) {
    size_t hl = 0;
    const void* h = c->read_histogram_cache(hl);
    trace("readHistogramCache ptr=%s len=%zu", h ? "set" : "null", h ? hl : size_t(0));
  }
  std::string err;
  DtoH dtoh = cuda_dtoh(err);
  if (!dtoh) {
    logf(log, kERROR, "Cuda initialization failure: %s", err.c_str());
    return false;
  }
  logf(log, kINFO, "Starting Calibration.");
  size_t n = net.inputs.size();
  std::vector<const char*> names(n);
  for (size_t i = 0; i < n; ++i) names[i] = net.inputs[i]->name.c_str();
  std::vector<std::vector<float>> absvals(n);
  std::vector<uint8_t> host;
  long max_batches = 1000000;
  if (const char* mb = std::getenv("TRTSIM_MAX_BATCHES")) max_batches = std::atol(mb);
  bool skip = fail_knob("no_getbatch");
  if (skip) trace("getBatch skipped (TRTSIM_FAIL=no_getbatch)");
  while (!skip) {
    std::vector<void*> bindings(n, nullptr);
    bool more = c->get_batch(bindings.data(), names.data(), int32_t(n));
    trace("getBatch %d -> %s", res.batches, more ? "true" : "false");
    if (!more) break;
    if (res.batches >= max_batches) {
      logf(log, kERROR, "Calibration stopped after %ld batches (TRTSIM_MAX_BATCHES).", max_batches);
      return false;
    }
    for (size_t i = 0; i < n; ++i) {
      const Tensor* t = net.inputs[i];
      if (!bindings[i]) {
        logf(log, kERROR, "Calibration batch %d: the device pointer for input '%s' is null.", res.batches, t->name.c_str());
        return false;
      }
      size_t bytes = shapes[i].count * type_size(t->type);
      host.assign(bytes, 0);
      int rc = dtoh(host.data(), (unsigned long long)(uintptr_t)bindings[i], bytes);
      if (rc != 0) {
        logf(log, kERROR, "Calibration batch %d: cuMemcpyDtoH_v2 of input '%s' (%zu bytes from %p) failed with CUDA error %d.",
             res.batches, t->name.c_str(), bytes, bindings[i], rc);
        return false;
      }
      double sum = 0;
      if (t->type == kFLOAT || t->type == kHALF) {
        for (size_t k = 0; k < shapes[i].count; ++k) {
          float v;
          if (t->type == kFLOAT) std::memcpy(&v, &host[k * 4], 4);
          else {
            uint16_t h;
            std::memcpy(&h, &host[k * 2], 2);
            v = half_to_float(h);
          }
          sum += double(v);
          absvals[i].push_back(std::fabs(v));
        }
      }
      trace("batch %d input %zu %s bytes=%zu fnv=%016llx sum=%.6e", res.batches, i, t->name.c_str(), bytes,
            (unsigned long long)fnv1a(host.data(), bytes), sum);
    }
    logf(log, kVERBOSE, "Calibrated batch %d.", res.batches);
    ++res.batches;
  }
  if (fail_knob("getbatch_after_false")) {
    std::vector<void*> bindings(n, nullptr);
    bool again = c->get_batch(bindings.data(), names.data(), int32_t(n));
    trace("getBatch after false -> %s", again ? "true" : "false");
  }
  if (res.batches == 0) {
    logf(log, kERROR,
         "Calibration failure occurred with no scaling factors detected. This could be due to no int8 calibrator or "
         "insufficient custom scales for network layers. Please see int8 sample to setup calibration correctly.");
    return false;
  }
  double q = legacy ? c->quantile() : 0.0;
  double cutoff = legacy ? c->regression_cutoff() : 0.0;
  if (legacy) trace("legacy quantile=%.17g regression_cutoff=%.17g", q, cutoff);
  std::vector<float> amax(n, 0.0f);
  float largest = 0;
  for (size_t i = 0; i < n; ++i) {
    if (absvals[i].empty()) continue;
    for (float v : absvals[i]) amax[i] = std::max(amax[i], v);
    float thr = amax_for(res.algo, absvals[i], q);
    float scale = thr / 127.0f;
    res.scales[net.inputs[i]->name] = scale;
    largest = std::max(largest, scale);
    trace("scale %s amax=%.9g threshold=%.9g scale=%08x", net.inputs[i]->name.c_str(), amax[i], thr, f32_bits(scale));
  }
  if (legacy) {
    std::string hc = histogram_cache(shapes, absvals, amax);
    c->write_histogram_cache(hc.data(), hc.size());
    trace("writeHistogramCache len=%zu fnv=%016llx", hc.size(), (unsigned long long)fnv1a(hc.data(), hc.size()));
  }
  // trtsim does not execute the graph: every non-input tensor gets the largest input scale.
  std::string text = std::string(want_header) + "\n";
  std::vector<std::string> order;
  for (const Tensor* t : net.inputs)
    if (res.scales.count(t->name)) order.push_back(t->name);
  for (const auto& name : net.layer_outputs)
    if (!res.scales.count(name)) { res.scales[name] = largest; order.push_back(name); }
  for (const Tensor* t : net.outputs)
    if (!res.scales.count(t->name)) { res.scales[t->name] = largest; order.push_back(t->name); }
  for (const auto& name : order) text += name + ": " + hex8(res.scales[name]) + "\n";
  res.source = "calibration";
  logf(log, kINFO, "Calibration completed: %d batches.", res.batches);
  if (fail_knob("no_writecache")) {
    trace("writeCalibrationCache skipped (TRTSIM_FAIL=no_writecache)");
  } else {
    c->write_cache(text.data(), text.size());
    trace("writeCalibrationCache len=%zu fnv=%016llx", text.size(), (unsigned long long)fnv1a(text.data(), text.size()));
  }
  return true;
}

}  // namespace

bool build_plan(const NetworkModel& net, const BuildConfig& cfg, LogSink* log, std::vector<uint8_t>& plan) {
  trace("buildSerializedNetwork flags=0x%llx inputs=%zu outputs=%zu profiles=%zu", (unsigned long long)cfg.flags,
        net.inputs.size(), net.outputs.size(), cfg.profiles.size());
  if (fail_knob("log_storm")) {
    for (int i = 0; i < 20000; ++i) {
      char b[96];
      std::snprintf(b, sizeof b, "trtsim log storm message %d (TRTSIM_FAIL=log_storm)", i);
      if (log) log->log(i % 100 == 0 ? kWARNING : (i % 10 == 0 ? kINFO : kVERBOSE), b);
    }
  }
  if (fail_knob("build")) {
    logf(log, kERROR, "trtsim: build failure injected (TRTSIM_FAIL=build).");
    return false;
  }
  if (net.outputs.empty()) {
    logf(log, kERROR, "Network must have at least one output.");
    return false;
  }
  if (!validate_profiles(net, cfg, log)) return false;

  // DLA: the simulated system has TRTSIM_DLA_CORES cores (default 0, like a server GPU).
  int32_t dla_cores = 0;
  if (const char* d = std::getenv("TRTSIM_DLA_CORES")) dla_cores = std::atoi(d);
  std::string placement = "GPU";
  if (cfg.device_type == 1) {
    if (cfg.dla_core >= 0 && cfg.dla_core < dla_cores) {
      placement = "DLA:" + std::to_string(cfg.dla_core);
    } else if (cfg.gpu_fallback) {
      logf(log, kWARNING, "DLA core %d is not available (the system has %d DLA cores); layers fall back to the GPU (kGPU_FALLBACK).",
           cfg.dla_core, dla_cores);
      placement = "GPU (DLA fallback)";
    } else {
      logf(log, kERROR, "DLA core %d was requested but the system has %d DLA cores, and kGPU_FALLBACK is not set.",
           cfg.dla_core, dla_cores);
      return false;
    }
  }

  // Workspace: the simulator needs twice the largest input (at its max shape) of scratch.
  uint64_t need = 0;
  for (const Tensor* t : net.inputs) {
    std::vector<int64_t> d = t->dims;
    for (const Profile* p : cfg.profiles) {
      auto it = p->dims[2].find(t->name);
      if (it != p->dims[2].end()) d = it->second;
    }
    uint64_t n = type_size(t->type);
    for (int64_t x : d) n *= uint64_t(x < 0 ? 1 : x);
    need = std::max(need, 2 * n);
  }
  auto ws = cfg.pools.find(0);
  if (ws != cfg.pools.end() && ws->second < need) {
    logf(log, kERROR, "Insufficient workspace: the memory pool limit kWORKSPACE is %llu bytes; this network needs %llu.",
         (unsigned long long)ws->second, (unsigned long long)need);
    return false;
  }

  CalibResult cal;
  if (cfg.int8) {
    if (!cfg.calibrator) {
      bool all = true;
      for (const Tensor* t : net.inputs) all &= t->has_range || !(t->type == kFLOAT || t->type == kHALF);
      if (!all) logf(log, kWARNING, "Calibrator is not being used. Users must provide dynamic range for all tensors that are not Int32 or Bool.");
      for (const Tensor* t : net.inputs)
        if (t->has_range) cal.scales[t->name] = std::max(std::fabs(t->range_min), std::fabs(t->range_max)) / 127.0f;
      cal.source = "dynamic-range";
    } else if (!calibrate(net, cfg, log, cal)) {
      return false;
    }
  }

  std::string s = "TRTSIM-PLAN 1\n";
  char b[512];
  auto add = [&](const char* fmt, auto... args) {
    std::snprintf(b, sizeof b, fmt, args...);
    s += b;
    s += '\n';
  };
  add("note test-only plan from trtsim, the TensorRT simulator; not a TensorRT engine");
  add("version %d", sim_version(cfg.major));
  add("header_version %d", cfg.builder_header_version);
  add("builder_flags 0x%llx", (unsigned long long)cfg.flags);
  add("int8 %d", int(cfg.int8));
  add("fp16 %d", int(cfg.fp16));
  add("network_flags 0x%x", net.creation_flags);
  for (const auto& p : cfg.pools) add("memory_pool %d %llu", p.first, (unsigned long long)p.second);
  add("device %s", placement.c_str());
  add("dla_core %d", cfg.dla_core);
  add("gpu_fallback %d", int(cfg.gpu_fallback));
  for (const Tensor* t : net.inputs) add("input %s %s %s", t->name.c_str(), type_name(t->type), dims_str(t->dims).c_str());
  for (const Tensor* t : net.outputs) add("output %s %s %s", t->name.c_str(), type_name(t->type), dims_str(t->dims).c_str());
  for (size_t pi = 0; pi < cfg.profiles.size(); ++pi) {
    for (const auto& kv : cfg.profiles[pi]->dims[0]) {
      const Profile* p = cfg.profiles[pi];
      auto op = p->dims[1].find(kv.first), mx = p->dims[2].find(kv.first);
      add("profile %zu %s min %s opt %s max %s", pi, kv.first.c_str(), dims_str(kv.second).c_str(),
          op == p->dims[1].end() ? "-" : dims_str(op->second).c_str(), mx == p->dims[2].end() ? "-" : dims_str(mx->second).c_str());
    }
    if (cfg.calib_profile == cfg.profiles[pi]) add("calibration_profile %zu", pi);
  }
  if (cfg.int8) {
    add("calibration %s %s batches %d", cal.source.c_str(), cal.algo >= 0 ? algo_cache_name(cal.algo) : "none", cal.batches);
    for (const auto& kv : cal.scales) add("scale %s %s", kv.first.c_str(), hex8(kv.second).c_str());
  }
  add("end");
  plan.assign(s.begin(), s.end());
  trace("plan bytes=%zu fnv=%016llx", plan.size(), (unsigned long long)fnv1a(plan.data(), plan.size()));
  logf(log, kINFO, "Engine built: %zu-byte trtsim plan.", plan.size());
  return true;
}

}  // namespace trtsim
