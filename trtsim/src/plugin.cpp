// libnvinfer_plugin.so.N of trtsim: registers nothing (trtsim has no plugins).
#include <cstdio>

extern "C" __attribute__((visibility("default"))) bool initLibNvInferPlugins(void* logger, char const* ns) noexcept {
  (void)logger;
  (void)ns;
  return true;
}
