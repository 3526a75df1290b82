#!/usr/bin/env bash
# README's `## inspect-cache` section shows real output: rerun every `$ trtq-lite …` transcript
# in it with the current binary and compare. Commands on `calib.cache`, `new.cache` and
# `vgg16.cache` run in a scratch folder prepared as the README describes; commands naming
# `fixtures/…` run from the repository root. On a mismatch, update README from the output shown.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
cargo build -q --bin trtq-lite
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp fixtures/caches/yolo11_trt10.3_entropy2.cache "$tmp/calib.cache"
cp fixtures/caches/vgg16_trt8.4_minmax.cache "$tmp/vgg16.cache"
# new.cache: two scales edited, one entry removed, one added (as described in README).
sed -e 's/^images: 3c008912$/images: 3c0a3d71/' -e 's/^output0: 41234473$/output0: 4128f5c3/' \
    -e '/^\/model.23\/Sub_1_output_0:/d' "$tmp/calib.cache" > "$tmp/new.cache"
echo 'extra_output: 3c010a14' >> "$tmp/new.cache"
mkdir -p "$tmp/bin"
ln -s "$root/target/debug/trtq-lite" "$tmp/bin/trtq-lite"
PATH="$tmp/bin:$PATH" python3 - "$root" "$tmp" <<'PY'
import re, subprocess, sys
root, tmp = sys.argv[1], sys.argv[2]
readme = open(f"{root}/README.md", encoding="utf-8").read()
start = readme.index("\n## inspect-cache\n")
end = readme.index("\n## ", start + 1)
passed = failed = 0
for block in re.findall(r"```\n(.*?)```", readme[start:end], re.S):
    parts = re.split(r"^\$ (.*)\n", block, flags=re.M)
    for cmd, want in zip(parts[1::2], parts[2::2]):
        cwd = root if "fixtures/" in cmd else tmp
        got = subprocess.run(f"( {cmd} ) 2>&1", shell=True, cwd=cwd,
                             capture_output=True, text=True).stdout
        if got == want:
            passed += 1
        else:
            failed += 1
            print(f"FAIL: README transcript differs: $ {cmd}\n--- README\n{want}--- now\n{got}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
