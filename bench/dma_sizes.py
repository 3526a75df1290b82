"""Pinned host-to-device copy rate by copy size, copies queued back to back on one stream.

Why: the staged feed copies its ring's chunks one by one, so the rate of chunk-sized copies, not
of whole batches, caps it (bench/RESULTS.md). Needs torch with CUDA (the GPU host has it):

    python3 bench/dma_sizes.py
"""
import torch

ring = torch.empty(128 << 20, dtype=torch.uint8).pin_memory()
dst = torch.empty(39321600 * 8, dtype=torch.uint8, device="cuda")
stream = torch.cuda.Stream()
total = 39321600 * 16  # bytes per measurement: 16 batches of 8x3x640x640 f32
for size in [256 << 10, 1 << 20, 2 << 20, 4 << 20, 6 << 20, 8 << 20, 16 << 20, 39321600]:
    n = total // size
    rates = []
    for _ in range(5):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        with torch.cuda.stream(stream):
            start.record(stream)
            for i in range(n):
                s = (i * size) % (ring.numel() - size + 1) // 4096 * 4096
                d = (i * size) % (dst.numel() - size + 1) // 4096 * 4096
                dst[d:d + size].copy_(ring[s:s + size], non_blocking=True)
            end.record(stream)
        end.synchronize()
        rates.append(n * size / (start.elapsed_time(end) / 1e3) / 1e9)
    rates.sort()
    print(f"copy size {size / 2**20:7.2f} MiB x {n:4d}: {rates[2]:.1f} GB/s median "
          f"(min {rates[0]:.1f}, max {rates[-1]:.1f})")
