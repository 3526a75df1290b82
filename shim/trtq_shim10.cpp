// The shim compiled against the TensorRT 10.x declarations; exports trtq_abi10().
#include "abi/trt10.hpp"
#define TRTQ_NS trtq_abi10_impl
#define TRTQ_ACCESSOR trtq_abi10
#include "shim_impl.inc"
