# Sourced (not run) by scripts/cross-aarch64.sh and scripts/aarch64-smoke.sh: installs what a
# cross build for Jetson needs if missing, and exports the variables cargo, cc and bindgen read
# for the aarch64-unknown-linux-gnu target. Inputs: $root (repository root), $install (1 =
# install missing pieces, 0 = fail with the command to run), $need_qemu (1 = also qemu-user).
#
# The target-suffixed variables apply to THIS target only, so host-side build scripts and
# proc-macros still compile with the host compiler:
#   CC_/CXX_/AR_aarch64_unknown_linux_gnu         the C++ shim (build.rs, through cc)
#   CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER  the final link
#   CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER  `cargo test/run --target ...` under qemu-user
#   BINDGEN_EXTRA_CLANG_ARGS_aarch64_unknown_linux_gnu
#       --sysroot makes clang read the cross glibc headers only; without it clang also
#       searches the host's /usr/include.
# A caller's own values of these win.
aarch64_triple=aarch64-unknown-linux-gnu
aarch64_gnu=aarch64-linux-gnu
aarch64_sysroot="/usr/$aarch64_gnu"

aarch64_as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

aarch64_pkgs=()
command -v "$aarch64_gnu-g++" >/dev/null || aarch64_pkgs+=("g++-$aarch64_gnu")
if [ "${need_qemu:-0}" = 1 ]; then
  command -v qemu-aarch64 >/dev/null || aarch64_pkgs+=(qemu-user)
fi
if [ ${#aarch64_pkgs[@]} -gt 0 ]; then
  if [ "${install:-1}" = 1 ]; then
    aarch64_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    aarch64_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${aarch64_pkgs[@]}"
  else
    echo "aarch64: missing ${aarch64_pkgs[*]} (apt-get install ${aarch64_pkgs[*]})" >&2
    exit 1
  fi
fi
if ! rustup target list --installed | grep -qx "$aarch64_triple"; then
  if [ "${install:-1}" = 1 ]; then
    rustup target add "$aarch64_triple"
  else
    echo "aarch64: rust target $aarch64_triple not installed (rustup target add $aarch64_triple)" >&2
    exit 1
  fi
fi

export CC_aarch64_unknown_linux_gnu="${CC_aarch64_unknown_linux_gnu:-$aarch64_gnu-gcc}"
export CXX_aarch64_unknown_linux_gnu="${CXX_aarch64_unknown_linux_gnu:-$aarch64_gnu-g++}"
export AR_aarch64_unknown_linux_gnu="${AR_aarch64_unknown_linux_gnu:-$aarch64_gnu-ar}"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER="${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER:-$aarch64_gnu-gcc}"
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER:-qemu-aarch64 -L $aarch64_sysroot}"
export BINDGEN_EXTRA_CLANG_ARGS_aarch64_unknown_linux_gnu="${BINDGEN_EXTRA_CLANG_ARGS_aarch64_unknown_linux_gnu:---sysroot=$aarch64_sysroot}"
