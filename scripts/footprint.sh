#!/usr/bin/env bash
# Checks what a trtq-lite binary asks of the machine it is copied to:
#
#   scripts/footprint.sh [--needed-only] [--max-glibc X.Y] BINARY...
#
# For each BINARY (x86-64 or aarch64 ELF):
#   - size: the stripped file must be <= 3 MiB (a binary that is not stripped is measured
#     through a stripped temporary copy, made with the matching strip);
#   - dynamic dependencies (readelf -d NEEDED): only libc, libm, libgcc_s, libstdc++, libdl,
#     libpthread and the ELF interpreter ld-linux; no RPATH/RUNPATH. TensorRT, CUDA and the C++
#     shim's runtime are never linked: libnvinfer and libcuda are opened at run time;
#   - glibc: prints the newest GLIBC_x.y symbol version it needs (the oldest glibc it runs on);
#     with --max-glibc, fails when that is newer (2.35 = Ubuntu 22.04 / JetPack 6,
#     2.31 = Ubuntu 20.04 / JetPack 5).
# --needed-only skips the size check (for debug builds, whose size means nothing).
# Prints "N passed, N failed"; exits 1 on any failure, 2 on bad usage.
set -euo pipefail
limit=$((3 * 1024 * 1024))
allowed='^(libc\.so\.6|libm\.so\.6|libgcc_s\.so\.1|libstdc\+\+\.so\.6|libdl\.so\.2|libpthread\.so\.0|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1)$'
needed_only=0
max_glibc=""
bins=()
while [ $# -gt 0 ]; do
  case "$1" in
    --needed-only) needed_only=1 ;;
    --max-glibc) shift; max_glibc="${1:?--max-glibc needs a version, e.g. 2.35}" ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    -*) echo "footprint.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) bins+=("$1") ;;
  esac
  shift
done
[ ${#bins[@]} -gt 0 ] || { echo "footprint.sh: no BINARY given (see --help)" >&2; exit 2; }

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# version_le A B: A <= B for dotted versions.
version_le() { [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -1)" = "$1" ]; }

for bin in "${bins[@]}"; do
  if [ ! -f "$bin" ]; then
    bad "$bin: no such file"
    continue
  fi
  machine="$(readelf -h "$bin" | sed -n 's/^ *Machine: *//p')"
  case "$machine" in
    *AArch64*) arch=aarch64; strip_cmd=aarch64-linux-gnu-strip ;;
    *X86-64*) arch=x86_64; strip_cmd=strip ;;
    *) bad "$bin: unexpected machine '$machine'"; continue ;;
  esac
  echo "== $bin ($arch)"

  if [ "$needed_only" = 0 ]; then
    size=$(stat -c %s "$bin")
    how="stripped"
    if readelf -S "$bin" | grep -q '\.symtab\|\.debug_'; then
      if ! command -v "$strip_cmd" >/dev/null; then
        bad "$bin is not stripped and $strip_cmd is missing"
        size=""
      else
        "$strip_cmd" -o "$tmp/stripped" "$bin"
        size=$(stat -c %s "$tmp/stripped")
        how="after $strip_cmd (file: $(stat -c %s "$bin") bytes)"
      fi
    fi
    if [ -n "$size" ]; then
      mib=$(awk -v s="$size" 'BEGIN { printf "%.2f", s / 1048576 }')
      if [ "$size" -le "$limit" ]; then
        ok "size $size bytes = $mib MiB $how (limit 3 MiB)"
      else
        bad "size $size bytes = $mib MiB $how, over the 3 MiB limit"
      fi
    fi
  fi

  needed="$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
  extra="$(grep -Ev "$allowed" <<<"$needed" || true)"
  if [ -z "$extra" ]; then
    ok "NEEDED: $(tr '\n' ' ' <<<"$needed")"
  else
    bad "NEEDED has libraries outside the allowed set: $(tr '\n' ' ' <<<"$extra")"
  fi
  interp="$(readelf -l "$bin" | sed -n 's/.*interpreter: \(.*\)\]/\1/p')"
  if [ -n "$interp" ] && grep -Eq "$allowed" <<<"$(basename "$interp")"; then
    ok "interpreter: $interp"
  else
    bad "interpreter: '${interp:-none}'"
  fi
  if readelf -d "$bin" | grep -Eq '\((RPATH|RUNPATH)\)'; then
    bad "has an RPATH/RUNPATH: $(readelf -d "$bin" | grep -E 'RPATH|RUNPATH')"
  else
    ok "no RPATH/RUNPATH"
  fi

  glibc="$(readelf -V "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1 || true)"
  libstdcxx="$(readelf -V "$bin" | grep -o 'GLIBCXX_[0-9][0-9.]*' | sed 's/GLIBCXX_//' | sort -uV | tail -1 || true)"
  note="needs glibc >= ${glibc:-?}${libstdcxx:+, libstdc++ GLIBCXX_$libstdcxx}"
  if [ -z "$max_glibc" ]; then
    echo "info $note"
  elif [ -n "$glibc" ] && version_le "$glibc" "$max_glibc"; then
    ok "$note (<= $max_glibc)"
  else
    bad "$note, newer than --max-glibc $max_glibc"
  fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
