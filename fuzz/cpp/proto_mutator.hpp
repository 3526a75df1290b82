// A structure-aware libFuzzer mutator for protobuf wire format (ONNX models), with no schema
// and no dependencies. Byte-level mutation rarely changes the nesting of a model: adding one
// dimension to a tensor shape means fixing four enclosing length prefixes at once. This
// mutator decodes the input into a tree of fields (a length-delimited payload that decodes
// exactly is treated as a sub-message), then duplicates, deletes, swaps or edits one field at
// any depth, or mutates one payload's bytes, and encodes the tree again with correct lengths.
// A third of the time, or when the input is not protobuf, it leaves the work to libFuzzer's
// own byte-level mutations. Included by the libFuzzer builds only (FUZZ_PROTO_MUTATOR).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace protomut {

struct Field;
using Msg = std::vector<Field>;
struct Field {
  uint32_t num = 0, wire = 0;
  uint64_t value = 0;       // wire 0, 1, 5
  std::string bytes;        // wire 2 when not a message
  std::unique_ptr<Msg> sub; // wire 2 when it decodes as a message
  Field() = default;
  Field(const Field& o) : num(o.num), wire(o.wire), value(o.value), bytes(o.bytes),
                          sub(o.sub ? new Msg(*o.sub) : nullptr) {}
  Field& operator=(const Field& o) {
    if (this != &o) { Field t(o); std::swap(*this, t); }
    return *this;
  }
  Field(Field&&) = default;
  Field& operator=(Field&&) = default;
};

inline bool varint(const uint8_t*& p, const uint8_t* end, uint64_t& v) {
  v = 0;
  for (int s = 0; s < 64; s += 7) {
    if (p >= end) return false;
    uint8_t b = *p++;
    v |= uint64_t(b & 0x7f) << s;
    if (!(b & 0x80)) return true;
  }
  return false;
}

// Decodes [p, end) exactly; depth-limited so hostile nesting cannot exhaust the stack.
inline bool decode(const uint8_t* p, const uint8_t* end, Msg& m, int depth) {
  if (depth > 24) return false;
  while (p < end) {
    uint64_t k;
    if (!varint(p, end, k)) return false;
    Field f;
    f.num = uint32_t(k >> 3);
    f.wire = uint32_t(k & 7);
    if (f.num == 0) return false;
    switch (f.wire) {
      case 0: if (!varint(p, end, f.value)) return false; break;
      case 1: if (end - p < 8) return false; std::memcpy(&f.value, p, 8); p += 8; break;
      case 5: { if (end - p < 4) return false; uint32_t v; std::memcpy(&v, p, 4); f.value = v; p += 4; break; }
      case 2: {
        uint64_t n;
        if (!varint(p, end, n) || n > uint64_t(end - p)) return false;
        auto sub = std::make_unique<Msg>();
        if (n > 0 && decode(p, p + n, *sub, depth + 1)) f.sub = std::move(sub);
        else f.bytes.assign(reinterpret_cast<const char*>(p), size_t(n));
        p += n;
        break;
      }
      default: return false;
    }
    m.push_back(std::move(f));
  }
  return true;
}

inline void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) { out.push_back(char(uint8_t(v) | 0x80)); v >>= 7; }
  out.push_back(char(v));
}

inline void encode(const Msg& m, std::string& out) {
  for (const Field& f : m) {
    put_varint(out, (uint64_t(f.num) << 3) | f.wire);
    switch (f.wire) {
      case 0: put_varint(out, f.value); break;
      case 1: out.append(reinterpret_cast<const char*>(&f.value), 8); break;
      case 5: { uint32_t v = uint32_t(f.value); out.append(reinterpret_cast<const char*>(&v), 4); break; }
      case 2: {
        std::string body;
        if (f.sub) encode(*f.sub, body); else body = f.bytes;
        put_varint(out, body.size());
        out += body;
        break;
      }
    }
  }
}

// Every message in the tree (the root included), so that one can be picked uniformly.
inline void messages(Msg& m, std::vector<Msg*>& out) {
  out.push_back(&m);
  for (Field& f : m)
    if (f.sub) messages(*f.sub, out);
}

inline uint64_t interesting(std::minstd_rand& rng, uint64_t old) {
  static const uint64_t v[] = {0, 1, 2, 3, 7, 8, 9, 16, 127, 128, 255, 256, 0x7fffffff, 0x80000000,
                               0xffffffff, 0x100000000ull, 0x100000004ull, ~0ull, ~0ull - 1, 1ull << 63};
  switch (rng() % 3) {
    case 0: return v[rng() % (sizeof v / sizeof v[0])];
    case 1: return old + 1;
    default: return old - 1;
  }
}

inline size_t mutate(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  std::minstd_rand rng(seed | 1u);
  Msg root;
  if (rng() % 3 == 0 || size == 0 || !decode(data, data + size, root, 0) || root.empty())
    return LLVMFuzzerMutate(data, size, max_size);
  std::vector<Msg*> all;
  messages(root, all);
  Msg& m = *all[rng() % all.size()];
  if (m.empty()) return LLVMFuzzerMutate(data, size, max_size);
  size_t i = rng() % m.size();
  switch (rng() % 6) {
    case 0: case 1: m.insert(m.begin() + long(i) + 1, Field(m[i])); break;  // repeat a field
    case 2: m.erase(m.begin() + long(i)); break;
    case 3: { size_t j = rng() % m.size(); if (j != i) std::swap(m[i], m[j]); break; }
    case 4:
      if (m[i].wire == 2 && !m[i].sub) {
        std::string& b = m[i].bytes;
        size_t cap = b.size() + 16;
        b.resize(cap);
        b.resize(LLVMFuzzerMutate(reinterpret_cast<uint8_t*>(&b[0]), cap - 16, cap));
      } else if (m[i].wire != 2) {
        m[i].value = interesting(rng, m[i].value);
      } else {
        m[i].num = uint32_t(1 + rng() % 16);  // same payload under another field number
      }
      break;
    default: {  // copy a field from anywhere into this message
      Msg& other = *all[rng() % all.size()];
      if (!other.empty()) m.insert(m.begin() + long(rng() % (m.size() + 1)), Field(other[rng() % other.size()]));
      break;
    }
  }
  std::string out;
  encode(root, out);
  if (out.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  std::memcpy(data, out.data(), out.size());
  return out.size();
}

}  // namespace protomut

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  return protomut::mutate(data, size, max_size, seed);
}
