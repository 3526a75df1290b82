// libFuzzer target for trtsim's ONNX graph reader, trtsim::parse_onnx (trtsim/src/onnx.cpp),
// the code every simulated IParser::parse* call runs first. Built by fuzz/cpp/build.sh with
// clang++ -fsanitize=fuzzer,address,undefined (or, for replaying inputs in the test suite,
// with any C++17 compiler and replay_main.cpp).
//
// Beyond "no crash, no out-of-bounds access, no UB": an accepted model is consistent with
// what the importer in abi.cpp relies on, and a refusal always carries an issue.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "core.hpp"

#ifdef FUZZ_PROTO_MUTATOR
#include "proto_mutator.hpp"
#endif

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "onnx_reader: invariant broken: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  trtsim::OnnxModel m;
  std::vector<trtsim::ParseIssue> issues;
  bool ok = trtsim::parse_onnx(data, size, m, issues);
  if (!ok) {
    if (issues.empty()) fail("refused without an issue");
    for (const auto& is : issues) {
      if (is.desc.empty()) fail("an issue without a description");
      if (is.line <= 0 || is.func.empty()) fail("an issue without its source line or function");
    }
    return 0;
  }
  if (!issues.empty()) fail("accepted with issues");
  if (!m.has_graph || m.ir_version < 3) fail("accepted without a graph or with IR version < 3");
  // Every string was copied out of the input: their total size is bounded by it.
  size_t total = m.graph_name.size();
  std::set<std::string> defined(m.initializers.begin(), m.initializers.end());
  for (const auto& in : m.inputs) {
    if (in.name.empty()) fail("accepted an unnamed input");
    total += in.name.size();
    for (int major : {8, 10}) (void)trtsim::onnx_to_trt(in.onnx_type, major);
    defined.insert(in.name);
  }
  for (const auto& n : m.nodes) {
    if (!trtsim::known_op(n.op.c_str())) fail("accepted an unknown op");
    for (const auto& s : n.inputs) {
      total += s.size();
      if (!s.empty() && !defined.count(s)) fail("accepted a node reading an undefined tensor");
    }
    for (const auto& s : n.outputs) {
      total += s.size();
      defined.insert(s);
    }
  }
  for (const auto& o : m.outputs) {
    total += o.name.size();
    if (!defined.count(o.name)) fail("accepted an output nothing produces");
  }
  if (total > size) fail("more name bytes than input bytes");
  return 0;
}
