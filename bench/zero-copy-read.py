#!/usr/bin/env python3
"""What the GPU pays to READ a batch, per feed path (bench/zero-copy.sh runs this after its
bench-feed table; needs NVIDIA's cuda-bindings (cuda-python) with NVRTC, no Rust).

    python3 bench/zero-copy-read.py [MB ...]      (default: 4.9 39.3 157.3 MB batches)

bench-feed measures how fast batches become available; on a discrete GPU the mapped path's
cost is then paid inside the kernels that read it, over the bus. This measures that part with
one read-everything kernel (float4 loads, grid-stride), median of 20 runs each:

  device:        kernel reads a cuMemAlloc buffer (HBM; what staged/registered end with)
  copy + device: cuMemcpyHtoDAsync from pinned memory, then the same kernel (staged's whole cost)
  mapped:        kernel reads cuMemHostAlloc(DEVICEMAP) memory through cuMemHostGetDevicePointer
                 (zero copy: the whole cost of the mapped path)

On an integrated GPU (Jetson) host and device memory are the same DRAM, so "mapped" should be
close to "device" and well under "copy + device"; on a discrete GPU expect the reverse for
data that is read more than once. TensorRT's calibration reads each input once per batch.
"""
import ctypes
import statistics
import sys

try:
    from cuda.bindings import driver as cu, nvrtc
except ImportError:  # cuda-python < 12.6
    from cuda import cuda as cu, nvrtc


def check(res):
    if not isinstance(res, tuple):
        res = (res,)
    err, rest = res[0], res[1:]
    code = getattr(err, "value", err)
    if code != 0:
        if isinstance(err, nvrtc.nvrtcResult):
            raise RuntimeError(f"NVRTC error {err}")
        name = cu.cuGetErrorName(err)[1]
        raise RuntimeError(f"CUDA error {err} ({name})")
    if not rest:
        return None
    return rest[0] if len(rest) == 1 else rest


KERNEL = b"""
extern "C" __global__ void read_all(const float4* __restrict__ p, unsigned long long n, float* out) {
    float s = 0.f;
    for (unsigned long long i = blockIdx.x * (unsigned long long)blockDim.x + threadIdx.x; i < n;
         i += (unsigned long long)gridDim.x * blockDim.x) {
        float4 v = p[i];
        s += v.x + v.y + v.z + v.w;
    }
    if (s == 1234.5f) out[0] = s;  // never true for our data; keeps the loads alive
}
"""


def main():
    sizes_mb = [float(a) for a in sys.argv[1:]] or [4.9152, 39.3216, 157.2864]
    check(cu.cuInit(0))
    dev = check(cu.cuDeviceGet(0))
    attr = cu.CUdevice_attribute
    major = check(cu.cuDeviceGetAttribute(attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev))
    minor = check(cu.cuDeviceGetAttribute(attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev))
    sms = check(cu.cuDeviceGetAttribute(attr.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev))
    integrated = check(cu.cuDeviceGetAttribute(attr.CU_DEVICE_ATTRIBUTE_INTEGRATED, dev))
    can_map = check(cu.cuDeviceGetAttribute(attr.CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY, dev))
    name = check(cu.cuDeviceGetName(100, dev))
    name = name.split(b"\0", 1)[0].decode() if isinstance(name, bytes) else str(name)
    ctx = check(cu.cuDevicePrimaryCtxRetain(dev))
    check(cu.cuCtxSetCurrent(ctx))

    prog = check(nvrtc.nvrtcCreateProgram(KERNEL, b"read_all.cu", 0, [], []))
    opts = [f"--gpu-architecture=sm_{major}{minor}".encode()]
    try:
        check(nvrtc.nvrtcCompileProgram(prog, len(opts), opts))
    except RuntimeError:
        size = check(nvrtc.nvrtcGetProgramLogSize(prog))
        log = b" " * size
        check(nvrtc.nvrtcGetProgramLog(prog, log))
        raise RuntimeError("NVRTC compile failed: " + log.decode(errors="replace"))
    size = check(nvrtc.nvrtcGetCUBINSize(prog))
    cubin = b" " * size
    check(nvrtc.nvrtcGetCUBIN(prog, cubin))
    module = check(cu.cuModuleLoadData(cubin))
    func = check(cu.cuModuleGetFunction(module, b"read_all"))
    stream = check(cu.cuStreamCreate(0))
    ev0 = check(cu.cuEventCreate(0))
    ev1 = check(cu.cuEventCreate(0))
    out = check(cu.cuMemAlloc(4))

    print(f"# device read of one batch: {name} (sm_{major}{minor}, {sms} SMs, "
          f"integrated={integrated}, can_map_host_memory={can_map})")
    print()
    print("| batch (MB) | device (GB/s) | copy + device (GB/s) | mapped, zero copy (GB/s) | mapped / copy+device |")
    print("|---:|---:|---:|---:|---:|")

    def launch(ptr, n4):
        args = ((int(ptr), n4, int(out)), (ctypes.c_void_p, ctypes.c_ulonglong, ctypes.c_void_p))
        check(cu.cuLaunchKernel(func, sms * 8, 1, 1, 256, 1, 1, 0, stream, args, 0))

    def timed(fn, reps=20):
        fn()  # warm-up
        check(cu.cuStreamSynchronize(stream))
        ms = []
        for _ in range(reps):
            check(cu.cuEventRecord(ev0, stream))
            fn()
            check(cu.cuEventRecord(ev1, stream))
            check(cu.cuEventSynchronize(ev1))
            ms.append(check(cu.cuEventElapsedTime(ev0, ev1)))
        return statistics.median(ms)

    for mb in sizes_mb:
        nbytes = int(mb * 1e6) // 16 * 16
        n4 = nbytes // 16
        dbuf = check(cu.cuMemAlloc(nbytes))
        pinned = check(cu.cuMemAllocHost(nbytes))
        mapped = check(cu.cuMemHostAlloc(nbytes, cu.CU_MEMHOSTALLOC_DEVICEMAP))
        ctypes.memset(int(pinned), 0, nbytes)
        ctypes.memset(int(mapped), 0, nbytes)
        mapped_dev = check(cu.cuMemHostGetDevicePointer(mapped, 0))
        check(cu.cuMemcpyHtoD(dbuf, pinned, nbytes))

        t_dev = timed(lambda: launch(dbuf, n4))
        t_copy = timed(lambda: (check(cu.cuMemcpyHtoDAsync(dbuf, pinned, nbytes, stream)), launch(dbuf, n4)))
        t_map = timed(lambda: launch(mapped_dev, n4))
        gbs = lambda ms: nbytes / (ms * 1e-3) / 1e9
        print(f"| {nbytes / 1e6:.1f} | {gbs(t_dev):.1f} | {gbs(t_copy):.1f} | {gbs(t_map):.1f} | {t_copy / t_map:.2f}x |")

        check(cu.cuMemFreeHost(mapped))
        check(cu.cuMemFreeHost(pinned))
        check(cu.cuMemFree(dbuf))
    print()
    print("mapped / copy+device > 1: reading in place beats copy-then-read for one pass over the batch.")
    check(cu.cuMemFree(out))
    check(cu.cuModuleUnload(module))
    check(cu.cuDevicePrimaryCtxRelease(dev))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - a benchmark step: report and let the caller go on
        print(f"zero-copy-read.py failed: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
