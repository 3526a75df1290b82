// libFuzzer target for the whole simulated ONNX import: createInferBuilder_INTERNAL ->
// createNetworkV2 -> createNvOnnxParser_INTERNAL -> IParser::parse, then everything a caller
// (trtq-lite, TensorRT's Python bindings) reads back from the network. Linked against trtsim's
// libnvinfer/libnvonnxparser built with ASan/UBSan and coverage (fuzz/cpp/build.sh import).
// Compiled once per ABI: -DTRT_MAJOR=8 (shim/abi/trt8.hpp) or 10 (trt10.hpp).
//
// Properties: no crash, leak or UB; a failed parse reports at least one error with a
// description; every network input and output has a name and 0..8 dimensions (TensorRT's
// Dims holds 8; a caller loops over d[0..nbDims)), inputs have no dimension below -1; and
// the network is the model: its inputs (graph inputs that are not initializers) and outputs
// have the names, types and dimensions that trtsim's reader (trtsim/src/onnx.cpp, compiled
// into this harness too) finds in the file.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core.hpp"

#if TRT_MAJOR == 8
#include "trt8.hpp"
static constexpr int32_t kHeaderVersion = 8601;
static constexpr uint32_t kNetFlags = 1u << 0;  // kEXPLICIT_BATCH
#else
#include "trt10.hpp"
static constexpr int32_t kHeaderVersion = 100300;
static constexpr uint32_t kNetFlags = 0;
#endif

#ifdef FUZZ_PROTO_MUTATOR
#include "proto_mutator.hpp"
#endif

namespace {

struct QuietLogger : nvinfer1::ILogger {
  void log(Severity, nvinfer1::AsciiChar const* msg) noexcept override {
    // Read every message (ASan checks it is a valid string), print nothing.
    volatile size_t n = msg ? std::strlen(msg) : 0;
    (void)n;
  }
};

[[noreturn]] void fail(const char* what, long value = 0) {
  std::fprintf(stderr, "onnx_import: property broken: %s (%ld)\n", what, value);
  std::abort();
}

void check_tensor(nvinfer1::ITensor* t, bool input, const trtsim::ValueInfo& vi) {
  if (!t) fail("null tensor");
  const char* name = t->getName();
  if (!name) fail("tensor without a name");
  // The importer hands names to TensorRT as C strings (as NVIDIA's parser does), so a name
  // with a NUL byte reaches the network cut at the NUL (see fuzz/README.md, findings).
  if (vi.name.substr(0, vi.name.find('\0')) != name) fail("tensor name differs from the model's");
  nvinfer1::Dims d = t->getDimensions();
  if (d.nbDims < 0 || d.nbDims > nvinfer1::Dims::MAX_DIMS) fail("nbDims out of 0..MAX_DIMS", d.nbDims);
  if (size_t(d.nbDims) != vi.dims.size()) fail("rank differs from the model's", d.nbDims);
  for (int32_t i = 0; i < d.nbDims; ++i) {
    if (input && d.d[i] < -1) fail("input dimension below -1", long(d.d[i]));
    int64_t want = vi.dims[size_t(i)];
    // 8.x holds int32 dimensions; a larger ONNX value is not compared (see fuzz/README.md).
    bool comparable = TRT_MAJOR >= 10 || (want >= INT32_MIN && want <= INT32_MAX);
    if (comparable && int64_t(d.d[i]) != want) fail("dimension differs from the model's", i);
  }
  int32_t want_type = trtsim::onnx_to_trt(vi.onnx_type, TRT_MAJOR);
  if (want_type >= 0 && int32_t(t->getType()) != want_type) fail("type differs from the model's", int32_t(t->getType()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static QuietLogger logger;
  auto* builder = static_cast<nvinfer1::IBuilder*>(createInferBuilder_INTERNAL(&logger, kHeaderVersion));
  if (!builder) fail("createInferBuilder_INTERNAL returned null");
  nvinfer1::INetworkDefinition* net = builder->createNetworkV2(kNetFlags);
  if (!net) fail("createNetworkV2 returned null");
  auto* parser = static_cast<nvonnxparser::IParser*>(createNvOnnxParser_INTERNAL(net, &logger, 100));
  if (!parser) fail("createNvOnnxParser_INTERNAL returned null");

  bool ok = parser->parse(data, size);
  int nerr = parser->getNbErrors();
  if (!ok && nerr < 1) fail("parse failed without an error");
  for (int i = 0; i < nerr; ++i) {
    const nvonnxparser::IParserError* e = parser->getError(i);
    if (!e || !e->desc() || !*e->desc()) fail("an error without a description", i);
  }
  if (parser->getError(nerr) != nullptr || parser->getError(-1) != nullptr) fail("getError out of range is not null");
  if (ok) {
    trtsim::OnnxModel m;
    std::vector<trtsim::ParseIssue> issues;
    if (!trtsim::parse_onnx(data, size, m, issues)) fail("IParser accepted what the reader refuses");
    std::vector<const trtsim::ValueInfo*> ins;
    for (const auto& in : m.inputs) {
      bool init = false;
      for (const auto& name : m.initializers) init = init || name == in.name;
      if (!init) ins.push_back(&in);
    }
    if (size_t(net->getNbInputs()) != ins.size()) fail("input count differs from the model's", net->getNbInputs());
    if (size_t(net->getNbOutputs()) != m.outputs.size()) fail("output count differs from the model's", net->getNbOutputs());
    for (int32_t i = 0; i < net->getNbInputs(); ++i) check_tensor(net->getInput(i), true, *ins[size_t(i)]);
    for (int32_t i = 0; i < net->getNbOutputs(); ++i) check_tensor(net->getOutput(i), false, m.outputs[size_t(i)]);
  }
#if TRT_MAJOR == 8
  parser->destroy();
#else
  delete parser;
#endif
  delete net;
  delete builder;
  return 0;
}
