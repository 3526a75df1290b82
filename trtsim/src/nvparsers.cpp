// libnvparsers.so.8 of trtsim: the UFF and Caffe parser symbols that the TensorRT 8.x Python
// bindings link against. They exist so the bindings load; calling any of them aborts.
#include <cstdio>
#include <cstdlib>

namespace {
[[noreturn]] void not_implemented(const char* fn) {
  std::fprintf(stderr, "trtsim: %s not implemented\n", fn);
  std::fflush(stderr);
  std::abort();
}
}  // namespace

#define TRTSIM_EXPORT __attribute__((visibility("default")))

namespace nvuffparser {
enum class FieldType : int {};
class IUffParser;
TRTSIM_EXPORT IUffParser* createUffParser() noexcept { not_implemented("nvuffparser::createUffParser"); }
class TRTSIM_EXPORT FieldMap {
 public:
  FieldMap(char const* name, void const* data, FieldType type, int length);
};
FieldMap::FieldMap(char const*, void const*, FieldType, int) { not_implemented("nvuffparser::FieldMap::FieldMap"); }
}  // namespace nvuffparser

namespace nvcaffeparser1 {
class ICaffeParser;
TRTSIM_EXPORT ICaffeParser* createCaffeParser() noexcept { not_implemented("nvcaffeparser1::createCaffeParser"); }
TRTSIM_EXPORT void shutdownProtobufLibrary() noexcept { not_implemented("nvcaffeparser1::shutdownProtobufLibrary"); }
}  // namespace nvcaffeparser1
