// The shim compiled against the TensorRT 8.5/8.6 declarations; exports trtq_abi8().
#include "abi/trt8.hpp"
#define TRTQ_NS trtq_abi8_impl
#define TRTQ_ACCESSOR trtq_abi8
#include "shim_impl.inc"
