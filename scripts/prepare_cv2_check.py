#!/usr/bin/env python3
"""Compares `trtq-lite prepare` with the Ultralytics/OpenCV preprocessing it replaces.

Usage: prepare_cv2_check.py TRTQ_BIN WORK_DIR IMAGE...

For each image and each of a few sizes it runs `prepare` and, independently, the Python
pipeline Ultralytics uses (cv2.imread with IMREAD_COLOR, LetterBox(auto=False, scaleup=True):
r = min(S/h, S/w), new = round(w*r), round(h*r), cv2.resize INTER_LINEAR, top/bottom =
round(dh -/+ 0.1), cv2.copyMakeBorder 114, BGR->RGB, HWC->CHW, /255, float32), and compares.
PNG and resize arithmetic must agree within one grey level (1/255); JPEG decoders may round
differently (libjpeg-turbo vs zune-jpeg), so JPEGs get a looser bound that is printed.
Prints one line per comparison and a closing "N passed, N failed" line; exits 1 on failure.
"""
import os
import subprocess
import sys

import cv2
import numpy as np

SIZES = [(64, 64), (640, 640), (48, 80)]  # (height, width)
PNG_TOL = 1.0 / 255 + 1e-6
# JPEG: the IDCT and chroma upsampling of two decoders may differ by a few levels per pixel;
# the mean difference must stay tiny.
JPEG_MAX = 6.0 / 255 + 1e-6
JPEG_MEAN = 0.5 / 255


def ultralytics_letterbox(img, h, w):
    shape = img.shape[:2]
    r = min(h / shape[0], w / shape[1])
    # Ultralytics lets a side round to 0 and cv2.resize then fails; prepare keeps 1 pixel.
    new_unpad = max(1, int(round(shape[1] * r))), max(1, int(round(shape[0] * r)))
    dw, dh = (w - new_unpad[0]) / 2, (h - new_unpad[1]) / 2
    if shape[::-1] != new_unpad:
        img = cv2.resize(img, new_unpad, interpolation=cv2.INTER_LINEAR)
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    return cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(114, 114, 114))


def reference(path, h, w):
    img = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)  # as ultralytics.utils.patches.imread
    if img is None:
        return None
    lb = ultralytics_letterbox(img, h, w)
    x = lb[..., ::-1].transpose(2, 0, 1)[None]
    return np.ascontiguousarray(x).astype(np.float32) / 255.0


def main():
    trtq, work, images = sys.argv[1], sys.argv[2], sys.argv[3:]
    passed = failed = 0
    for h, w in SIZES:
        out = os.path.join(work, f"cv2check-{h}x{w}")
        r = subprocess.run([trtq, "prepare", "-q", "--force", "--imgsz", f"{h}x{w}", "-o", out, *images],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"FAIL prepare {h}x{w}: exit {r.returncode}: {r.stderr.strip()}")
            failed += 1
            continue
        rows = [l.split("\t") for l in open(os.path.join(out, "sources.tsv")) if not l.startswith("#")]
        got_by_src = {src.strip(): os.path.join(out, f) for f, _, src in rows}
        for img in images:
            ref = reference(img, h, w)
            got_path = got_by_src.get(img)
            name = f"{os.path.basename(img)} @ {h}x{w}"
            if ref is None or got_path is None:
                ok = ref is None and got_path is None
                print(f"{'ok  ' if ok else 'FAIL'} {name}: cv2 {'refused' if ref is None else 'decoded'}, "
                      f"prepare {'skipped' if got_path is None else 'wrote'} it")
                passed += ok
                failed += not ok
                continue
            got = np.load(got_path)
            if got.shape != ref.shape or got.dtype != np.float32:
                print(f"FAIL {name}: shape {got.shape} {got.dtype}, cv2 {ref.shape} float32")
                failed += 1
                continue
            d = np.abs(got - ref)
            is_jpeg = img.lower().endswith((".jpg", ".jpeg"))
            ok = d.max() <= (JPEG_MAX if is_jpeg else PNG_TOL) and (not is_jpeg or d.mean() <= JPEG_MEAN)
            exact = float((d == 0).mean()) * 100
            print(f"{'ok  ' if ok else 'FAIL'} {name}: max diff {d.max() * 255:.2f}/255, "
                  f"mean {d.mean() * 255:.4f}/255, {exact:.2f}% identical")
            passed += ok
            failed += not ok
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
