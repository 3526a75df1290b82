#!/usr/bin/env bash
# Cross-checks the data half against NumPy itself (issue 3):
#  1. fixtures/npy/make.py reproduces the committed fixtures byte for byte;
#  2. with NumPy: np.load agrees with the good fixtures (make.py --check); files written by
#     np.save / np.lib.format in versions 1.0, 2.0, 3.0 and every supported dtype give the same
#     min/max/mean/std/NaN/Inf in `inspect-data --json` as NumPy computes; files NumPy writes
#     with big-endian, object, structured, Fortran-order and 0-d arrays are refused by name
#     (exit 2); bench-feed streams them through hostcuda.
# Prints "N passed, N failed" last. NumPy missing: part 2 is reported as skipped.
set -uo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
cargo build --quiet 2>/dev/null || cargo build
bin="$root/target/debug/trtq-lite"
lib="$root/target/test-libs/hostcuda/libcuda.so.1"
[ -f "$lib" ] || bash scripts/build-test-libs.sh >/dev/null
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }

mkdir -p "$tmp/fx"
cp fixtures/npy/make.py "$tmp/fx/"
python3 "$tmp/fx/make.py"
same=1
for f in fixtures/npy/*.npy; do
  cmp -s "$f" "$tmp/fx/$(basename "$f")" || { same=0; echo "differs: $f"; }
done
[ "$(ls "$tmp/fx"/*.npy | wc -l)" = "$(ls fixtures/npy/*.npy | wc -l)" ] || same=0
[ $same = 1 ] && ok "make.py reproduces the committed fixtures" || bad "make.py reproduces the committed fixtures"

if ! python3 -c 'import numpy' 2>/dev/null; then
  echo "skipped: NumPy cross-checks (python3 has no numpy; .ci/run installs it)"
  echo "$pass passed, $fail failed"
  [ $fail = 0 ]; exit
fi

python3 "$tmp/fx/make.py" --check >/dev/null && ok "np.load agrees with the good fixtures" || bad "np.load agrees with the good fixtures"

python3 - "$tmp" <<'PY'
import sys, numpy as np
from numpy.lib import format as fmt
t = sys.argv[1]
r = np.random.default_rng(7)
def save(path, a, version):
    with open(path, "wb") as f:
        fmt.write_array(f, a, version=version)
import os
for v in [(1, 0), (2, 0), (3, 0)]:
    for dt in ["<f4", "<f2", "<f8", "|u1", "|i1"]:
        d = f"{t}/np_{v[0]}_{dt[1:]}"
        os.makedirs(d)
        if dt[1] == "f":
            a = (r.standard_normal((6, 3, 5, 7)) * 3 + 1).astype(dt)
            a[1, 0, 0, 0] = np.nan
            a[2, 1, 1, 1] = np.inf
        else:
            a = r.integers(-128 if dt[1] == "i" else 0, 128 if dt[1] == "i" else 256, (6, 3, 5, 7)).astype(dt)
        for i in range(3):
            save(f"{d}/part_{i}.npy", a[2 * i:2 * i + 2], v)
        np.save(f"{d}.all.npy", a)
os.makedirs(f"{t}/refuse")
np.save(f"{t}/refuse/big_endian.npy", np.arange(6, dtype=">f4"))
np.save(f"{t}/refuse/object.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
np.save(f"{t}/refuse/structured.npy", np.zeros(3, dtype=[("a", "<f4"), ("b", "<i4")]))
np.save(f"{t}/refuse/fortran.npy", np.asfortranarray(np.zeros((3, 4), dtype="<f4")))
np.save(f"{t}/refuse/zero_d.npy", np.float32(1.5))
np.save(f"{t}/refuse/int32.npy", np.zeros(3, dtype="<i4"))
PY

for d in "$tmp"/np_*_*; do
  [ -d "$d" ] || continue
  name="$(basename "$d")"
  if "$bin" inspect-data --json "$d" "$d.all.npy" >"$tmp/out.json" 2>"$tmp/err.txt" &&
    python3 - "$d" "$tmp/out.json" <<'PY'
import sys, json, glob, numpy as np
d, out = sys.argv[1], json.load(open(sys.argv[2]))
a = np.concatenate([np.load(f) for f in sorted(glob.glob(d + "/*.npy"))]).astype(np.float64)
fin = a[np.isfinite(a)]
want = dict(min=fin.min(), max=fin.max(), mean=fin.mean(), std=fin.std())
for s in out["sources"]:
    assert s["samples"] == 6, s
    assert s["shape"] == [3, 5, 7], s
    assert s["nan"] == int(np.isnan(a).sum()) and s["inf"] == int(np.isinf(a).sum()), s
    for k, v in want.items():
        assert abs(s[k] - v) <= 1e-9 * max(1.0, abs(v)), (k, s[k], v)
PY
  then ok "inspect-data matches NumPy: $name"; else bad "inspect-data matches NumPy: $name ($(cat "$tmp/err.txt"))"; fi
  if "$bin" bench-feed "$d" --batch-size 4 --cuda-lib "$lib" --json >"$tmp/b.json" 2>"$tmp/err.txt" &&
    python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); assert v["batches"]==1 and v["dropped"]==2, v' "$tmp/b.json"; then
    ok "bench-feed through hostcuda: $name"
  else
    bad "bench-feed through hostcuda: $name ($(cat "$tmp/err.txt"))"
  fi
done

for case in "big_endian:big-endian dtype '>f4'" "object:object dtype" "structured:structured dtype" \
  "fortran:Fortran-order" "zero_d:0-d array" "int32:unsupported dtype '<i4'"; do
  f="${case%%:*}"; want="${case#*:}"
  "$bin" inspect-data "$tmp/refuse/$f.npy" >/dev/null 2>"$tmp/err.txt"
  rc=$?
  if [ $rc = 2 ] && grep -qF "$f.npy: " "$tmp/err.txt" && grep -qF "$want" "$tmp/err.txt"; then
    ok "NumPy's $f file refused by name"
  else
    bad "NumPy's $f file refused by name (rc $rc: $(cat "$tmp/err.txt"))"
  fi
done

echo "$pass passed, $fail failed"
[ $fail = 0 ]
