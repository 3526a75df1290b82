"""Pinned 4 MiB host-to-device copies back to back, with and without an event recorded after
each (the staged feed records one per ring copy, so that a ring buffer is rewritten only after
its copy), against copies of one whole batch. Driver API through cuda-bindings (the GPU host
has it):

    python3 bench/dma_events.py

On an H200 the events cost nothing measurable (bench/RESULTS.md, "Every ring copy timed").
"""
import statistics

from cuda.bindings import driver as cu


def ck(r):
    """The call's value, after checking its CUresult."""
    err, *vals = r if isinstance(r, tuple) else (r,)
    assert err == cu.CUresult.CUDA_SUCCESS, err
    return vals[0] if len(vals) == 1 else vals


CHUNK, SLOTS, BATCH = 4 << 20, 16, 39321600  # 64 MiB ring; 8x3x640x640 f32
ck(cu.cuInit(0))
ctx = ck(cu.cuDevicePrimaryCtxRetain(ck(cu.cuDeviceGet(0))))
ck(cu.cuCtxSetCurrent(ctx))
host = ck(cu.cuMemHostAlloc(CHUNK * SLOTS, 1))
dst = int(ck(cu.cuMemAlloc(max(CHUNK * SLOTS, BATCH))))
stream = ck(cu.cuStreamCreate(1))
start, end = ck(cu.cuEventCreate(0)), ck(cu.cuEventCreate(0))
guards = [ck(cu.cuEventCreate(2)) for _ in range(SLOTS)]  # CU_EVENT_DISABLE_TIMING


def timed(copies):
    """GB/s of the (bytes, queue) pairs' copies queued back to back."""
    ck(cu.cuEventRecord(start, stream))
    total = 0
    for nbytes, queue in copies:
        queue()
        total += nbytes
    ck(cu.cuEventRecord(end, stream))
    ck(cu.cuEventSynchronize(end))
    return total / (ck(cu.cuEventElapsedTime(start, end)) * 1e-3) / 1e9


def ring(every, reps=640):
    def copy(i):
        k = i % SLOTS
        ck(cu.cuMemcpyHtoDAsync(dst + k * CHUNK, host + k * CHUNK, CHUNK, stream))
        if every and i % every == 0:
            ck(cu.cuEventRecord(guards[k], stream))
    return timed((CHUNK, lambda i=i: copy(i)) for i in range(reps))


def batch(reps=40):
    return timed((BATCH, lambda: ck(cu.cuMemcpyHtoDAsync(dst, host, BATCH, stream)))
                 for _ in range(reps))


cases = {
    "one batch per copy": batch,
    "4 MiB, no events": lambda: ring(0),
    "4 MiB, event after each": lambda: ring(1),
    "4 MiB, event after every 2nd": lambda: ring(2),
    "4 MiB, event after every 4th": lambda: ring(4),
}
for f in cases.values():  # warm-up
    f()
rates = {name: [] for name in cases}
for _ in range(7):
    for name, f in cases.items():
        rates[name].append(f())
for name, v in rates.items():
    print("%-30s median %.2f GB/s (min %.2f, max %.2f; 7 rounds)"
          % (name, statistics.median(v), min(v), max(v)))
