#!/usr/bin/env python3
"""Writes the benchmark's YOLO-style ONNX model (no dependencies: fixtures/onnx/make_models.py's
protobuf writer).

    python3 bench/make_model.py OUT.onnx [--hw 640]

"images" [batch,3,H,W] f32 -> Conv(16, 3x3, stride 2, pad 1) -> Sigmoid -> "output0"
[batch,16,H/2,W/2]: a dynamic batch like an exported YOLO detector's input (TensorRT sees
-1x3x640x640). trtsim does not execute the graph; what the benchmark exercises is the input feed.
"""
import argparse
import importlib.util
from pathlib import Path

_here = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("make_models", _here.parent / "fixtures" / "onnx" / "make_models.py")
mm = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mm)


def yolo640(hw):
    c = 16
    conv = mm.node(["images", "conv.weight", "conv.bias"], ["/model.0/conv/Conv_output_0"], "/model.0/conv/Conv", "Conv",
                   [mm.attr_ints("kernel_shape", [3, 3]), mm.attr_ints("strides", [2, 2]),
                    mm.attr_ints("pads", [1, 1, 1, 1])])
    sig = mm.node(["/model.0/conv/Conv_output_0"], ["output0"], "/model.0/act/Sigmoid", "Sigmoid")
    return mm.model([conv, sig,
                     mm.initializer("conv.weight", [c, 3, 3, 3], mm.weights(c * 27, 1)),
                     mm.initializer("conv.bias", [c], mm.weights(c, 5)),
                     mm.value_info(11, "images", mm.FLOAT, ["batch", 3, hw, hw]),
                     mm.value_info(12, "output0", mm.FLOAT, ["batch", c, hw // 2, hw // 2])], "yolo_bench")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--hw", type=int, default=640)
    a = ap.parse_args()
    Path(a.out).write_bytes(yolo640(a.hw))


if __name__ == "__main__":
    main()
