// A small protobuf reader for the parts of onnx.proto that a TensorRT parser needs to set up a
// network's inputs and outputs: ModelProto.ir_version/opset_import/graph, GraphProto.node/
// initializer/input/output, ValueInfoProto name/type, TypeProto.tensor_type elem_type/shape.
// Field numbers come from onnx.proto. Every length is bounds-checked; nothing is trusted.
#include <cstring>
#include <set>

#include "core.hpp"

namespace trtsim {
namespace {

enum : int32_t {
  kSUCCESS = 0, kINTERNAL_ERROR = 1, kMODEL_DESERIALIZE_FAILED = 3, kINVALID_VALUE = 4,
  kINVALID_GRAPH = 5, kINVALID_NODE = 6, kUNSUPPORTED_GRAPH = 7, kUNSUPPORTED_NODE = 8
};

struct Reader {
  const uint8_t* p;
  const uint8_t* end;
  bool ok = true;
  bool more() const { return ok && p < end; }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= end) { ok = false; return 0; }
      uint8_t b = *p++;
      v |= uint64_t(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    ok = false;
    return 0;
  }
  // Reads a field key; returns false at the end or on error.
  bool key(uint32_t& field, uint32_t& wire) {
    if (!more()) return false;
    uint64_t k = varint();
    field = uint32_t(k >> 3);
    wire = uint32_t(k & 7);
    if (field == 0) ok = false;
    return ok;
  }
  Reader sub() {
    uint64_t n = varint();
    Reader r{p, p, ok};
    if (!ok || n > uint64_t(end - p)) { ok = false; r.ok = false; return r; }
    r.end = p + n;
    p += n;
    return r;
  }
  std::string str() {
    Reader r = sub();
    return ok ? std::string(reinterpret_cast<const char*>(r.p), size_t(r.end - r.p)) : std::string();
  }
  void skip(uint32_t wire) {
    switch (wire) {
      case 0: varint(); break;
      case 1: if (end - p < 8) ok = false; else p += 8; break;
      case 2: sub(); break;
      case 5: if (end - p < 4) ok = false; else p += 4; break;
      default: ok = false;  // groups (3/4) are not used by onnx.proto
    }
  }
};

bool read_shape(Reader r, ValueInfo& vi) {
  uint32_t f, w;
  vi.has_shape = true;
  while (r.key(f, w)) {
    if (f == 1 && w == 2) {  // Dimension
      Reader d = r.sub();
      int64_t value = -1;
      uint32_t df, dw;
      while (d.key(df, dw)) {
        if (df == 1 && dw == 0) value = int64_t(d.varint());
        else d.skip(dw);  // dim_param (symbolic), denotation
      }
      if (!d.ok) return false;
      vi.dims.push_back(value);
    } else {
      r.skip(w);
    }
  }
  return r.ok;
}

bool read_value_info(Reader r, ValueInfo& vi) {
  uint32_t f, w;
  while (r.key(f, w)) {
    if (f == 1 && w == 2) {
      vi.name = r.str();
    } else if (f == 2 && w == 2) {  // TypeProto
      Reader t = r.sub();
      uint32_t tf, tw;
      while (t.key(tf, tw)) {
        if (tf == 1 && tw == 2) {  // tensor_type
          Reader tt = t.sub();
          uint32_t ff, fw;
          while (tt.key(ff, fw)) {
            if (ff == 1 && fw == 0) vi.onnx_type = int32_t(tt.varint());
            else if (ff == 2 && fw == 2) { if (!read_shape(tt.sub(), vi)) return false; }
            else tt.skip(fw);
          }
          if (!tt.ok) return false;
        } else {
          t.skip(tw);  // sequence/map/optional types: left with onnx_type 0
        }
      }
      if (!t.ok) return false;
    } else {
      r.skip(w);
    }
  }
  return r.ok;
}

bool read_node(Reader r, Node& n) {
  uint32_t f, w;
  while (r.key(f, w)) {
    if (f == 1 && w == 2) n.inputs.push_back(r.str());
    else if (f == 2 && w == 2) n.outputs.push_back(r.str());
    else if (f == 3 && w == 2) n.name = r.str();
    else if (f == 4 && w == 2) n.op = r.str();
    else if (f == 7 && w == 2) n.domain = r.str();
    else r.skip(w);
  }
  return r.ok;
}

bool read_initializer_name(Reader r, std::string& name) {
  uint32_t f, w;
  while (r.key(f, w)) {
    if (f == 8 && w == 2) name = r.str();
    else r.skip(w);
  }
  return r.ok;
}

bool read_graph(Reader r, OnnxModel& m) {
  uint32_t f, w;
  while (r.key(f, w)) {
    if (f == 1 && w == 2) { m.nodes.emplace_back(); if (!read_node(r.sub(), m.nodes.back())) return false; }
    else if (f == 2 && w == 2) m.graph_name = r.str();
    else if (f == 5 && w == 2) { m.initializers.emplace_back(); if (!read_initializer_name(r.sub(), m.initializers.back())) return false; }
    else if (f == 11 && w == 2) { m.inputs.emplace_back(); if (!read_value_info(r.sub(), m.inputs.back())) return false; }
    else if (f == 12 && w == 2) { m.outputs.emplace_back(); if (!read_value_info(r.sub(), m.outputs.back())) return false; }
    else r.skip(w);
  }
  return r.ok;
}

// Ops trtsim accepts; anything else is reported like a missing importer.
const std::set<std::string>& known_ops() {
  static const std::set<std::string> ops = {
    "Abs", "Add", "And", "ArgMax", "ArgMin", "AveragePool", "BatchNormalization", "Cast", "Ceil",
    "Clip", "Concat", "Constant", "ConstantOfShape", "Conv", "ConvTranspose", "Cos", "CumSum",
    "DepthToSpace", "DequantizeLinear", "Div", "Dropout", "Einsum", "Elu", "Equal", "Erf", "Exp",
    "Expand", "Flatten", "Floor", "Gather", "GatherElements", "GatherND", "Gemm", "GlobalAveragePool",
    "GlobalMaxPool", "Greater", "GreaterOrEqual", "HardSigmoid", "HardSwish", "Identity", "If",
    "InstanceNormalization", "LayerNormalization", "LeakyRelu", "Less", "LessOrEqual", "Log",
    "LogSoftmax", "MatMul", "Max", "MaxPool", "Mean", "Min", "Mish", "Mod", "Mul", "Neg",
    "NonMaxSuppression", "NonZero", "Not", "Or", "Pad", "Pow", "PRelu", "QuantizeLinear",
    "Range", "Reciprocal", "ReduceL2", "ReduceMax", "ReduceMean", "ReduceMin", "ReduceProd",
    "ReduceSum", "Relu", "Reshape", "Resize", "ScatterElements", "ScatterND", "Selu", "Shape",
    "Sigmoid", "Sign", "Sin", "Slice", "Softmax", "Softplus", "Split", "Sqrt", "Squeeze", "Sub",
    "Sum", "Tanh", "Tile", "TopK", "Transpose", "Unsqueeze", "Upsample", "Where", "Xor"};
  return ops;
}

ParseIssue issue(int32_t code, std::string desc, int line, const char* func) {
  ParseIssue i;
  i.code = code;
  i.desc = std::move(desc);
  i.line = line;
  i.func = func;
  return i;
}

}  // namespace

bool known_op(const char* op) { return op && known_ops().count(op) != 0; }

int32_t onnx_to_trt(int32_t t, int major) {
  switch (t) {
    case 1: return kFLOAT;
    case 10: return kHALF;
    case 3: return kINT8;
    case 2: return kUINT8;
    case 6: return kINT32;
    case 7: return major >= 10 ? kINT64 : kINT32;  // 8.x casts INT64 down to INT32
    case 9: return kBOOL;
    case 16: return major >= 10 ? kBF16 : -1;
    default: return -1;
  }
}

bool parse_onnx(const uint8_t* data, size_t len, OnnxModel& m, std::vector<ParseIssue>& issues) {
  if (!data || len == 0) {
    issues.push_back(issue(kMODEL_DESERIALIZE_FAILED, "Failed to parse the ONNX model: empty input.", __LINE__, "parse"));
    return false;
  }
  Reader r{data, data + len};
  uint32_t f, w;
  bool graph_ok = true;
  while (r.key(f, w)) {
    if (f == 1 && w == 0) {
      m.ir_version = int64_t(r.varint());
    } else if (f == 8 && w == 2) {  // OperatorSetIdProto
      Reader o = r.sub();
      std::string domain;
      int64_t version = 0;
      uint32_t of, ow;
      while (o.key(of, ow)) {
        if (of == 1 && ow == 2) domain = o.str();
        else if (of == 2 && ow == 0) version = int64_t(o.varint());
        else o.skip(ow);
      }
      if (!o.ok) { r.ok = false; break; }
      if (domain.empty() || domain == "ai.onnx") m.opset = version;
    } else if (f == 7 && w == 2) {
      m.has_graph = true;
      graph_ok = read_graph(r.sub(), m);
      if (!graph_ok) break;
    } else {
      r.skip(w);
    }
  }
  if (!r.ok || !graph_ok) {
    issues.push_back(issue(kMODEL_DESERIALIZE_FAILED, "Failed to parse the ONNX model.", __LINE__, "parse"));
    return false;
  }
  if (!m.has_graph) {
    issues.push_back(issue(kINVALID_GRAPH, "The ONNX model has no graph.", __LINE__, "parse"));
    return false;
  }
  if (m.ir_version < 3) {
    issues.push_back(issue(kINVALID_GRAPH, "Unsupported ONNX IR version " + std::to_string(m.ir_version) + ".", __LINE__, "parse"));
    return false;
  }
  std::set<std::string> defined(m.initializers.begin(), m.initializers.end());
  for (const auto& in : m.inputs) {
    if (in.name.empty()) {
      issues.push_back(issue(kINVALID_GRAPH, "A graph input has no name.", __LINE__, "importInputs"));
      return false;
    }
    defined.insert(in.name);
  }
  for (size_t i = 0; i < m.nodes.size(); ++i) {
    const Node& n = m.nodes[i];
    ParseIssue bad;
    bool failed = false;
    if (n.domain.empty() || n.domain == "ai.onnx") {
      if (!known_ops().count(n.op)) {
        bad = issue(kUNSUPPORTED_NODE, "No importer registered for op: " + n.op, __LINE__, "importNode");
        failed = true;
      }
    } else {
      bad = issue(kUNSUPPORTED_NODE, "No importer registered for op: " + n.op + " (domain " + n.domain + ")", __LINE__, "importNode");
      failed = true;
    }
    if (!failed) {
      for (const auto& in : n.inputs) {
        if (!in.empty() && !defined.count(in)) {
          bad = issue(kINVALID_NODE, "Node input '" + in + "' is not produced by any earlier node, initializer or graph input.", __LINE__, "importNode");
          failed = true;
          break;
        }
      }
    }
    if (failed) {
      bad.node = int32_t(i);
      bad.node_name = n.name;
      bad.node_op = n.op;
      issues.push_back(bad);
      return false;
    }
    for (const auto& o : n.outputs) defined.insert(o);
  }
  for (const auto& out : m.outputs) {
    if (!defined.count(out.name)) {
      issues.push_back(issue(kINVALID_GRAPH, "Graph output '" + out.name + "' is not produced by the graph.", __LINE__, "importOutputs"));
      return false;
    }
  }
  return true;
}

}  // namespace trtsim
