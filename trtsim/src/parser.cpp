// libnvonnxparser.so.N of trtsim: the parser entry points. The parser objects live in
// libnvinfer.so.N (same ABI build) so that they can fill trtsim's networks; this library only
// exports the names NVIDIA's parser library exports, like the real one linked to libnvinfer.
#include <cstdint>

#include <cstdio>
#include <cstdlib>

namespace {
[[noreturn]] void not_implemented(const char* fn) {
  std::fprintf(stderr, "trtsim: %s not implemented\n", fn);
  std::fflush(stderr);
  std::abort();
}
}  // namespace

#define TRTSIM_EXPORT extern "C" __attribute__((visibility("default")))

extern "C" void* trtsim_internal_create_parser(void* network, void* logger, int version) noexcept;
extern "C" int32_t getInferLibVersion() noexcept;

TRTSIM_EXPORT void* createNvOnnxParser_INTERNAL(void* network, void* logger, int version) noexcept {
  return trtsim_internal_create_parser(network, logger, version);
}

// trtsim reports the simulated TensorRT version here too (the real library returns its own
// NV_ONNX_PARSER_VERSION-derived number; callers must not rely on it to pick an ABI).
TRTSIM_EXPORT int getNvOnnxParserVersion() noexcept { return getInferLibVersion(); }

TRTSIM_EXPORT void* createNvOnnxParserRefitter_INTERNAL(void*, void*, int32_t) noexcept {
  not_implemented("createNvOnnxParserRefitter_INTERNAL");
}
