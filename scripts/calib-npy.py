#!/usr/bin/env python3
"""Writes FILES small calibration files into DIR for the scripts' own runs: s0.npy, s1.npy, ...,
each 8 samples of 3x64x64 float32 (values in 0..~1.1, different per sample), without NumPy.

Usage: python3 scripts/calib-npy.py DIR FILES
"""
import struct
import sys

out, files = sys.argv[1], int(sys.argv[2])
for f in range(files):
    h = "{'descr': '<f4', 'fortran_order': False, 'shape': (8, 3, 64, 64), }"
    h += " " * ((64 - (10 + len(h) + 1) % 64) % 64) + "\n"
    vals = [((f * 8 + i // 12288) * 7 + i % 97) / 97.0 for i in range(8 * 12288)]
    with open(f"{out}/s{f}.npy", "wb") as o:
        o.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode())
        o.write(struct.pack(f"<{len(vals)}f", *vals))
