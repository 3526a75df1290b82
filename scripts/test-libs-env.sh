# Sourced (not run) by scripts/build-test-libs.sh and by each test library's build.sh, with
# $root set to the repository root. Chooses the compilers and the output folder:
#   native (default): CC=cc, CXX=c++, TEST_LIBS=target/test-libs
#   cross: TARGET_TRIPLE=aarch64-linux-gnu (compilers default to $TARGET_TRIPLE-gcc/-g++), or
#          CC/CXX naming a cross compiler: TEST_LIBS=target/test-libs/<arch>, e.g.
#          target/test-libs/aarch64/{hostcuda,trtsim}, so the host's own copies, which the cargo
#          tests load, are never overwritten by foreign ones.
# A TEST_LIBS set by the caller is used as given.
if [ -n "${TARGET_TRIPLE:-}" ]; then
  CC="${CC:-$TARGET_TRIPLE-gcc}"
  CXX="${CXX:-$TARGET_TRIPLE-g++}"
fi
CC="${CC:-cc}"
CXX="${CXX:-c++}"
# The first field of -dumpmachine is the architecture (x86_64-linux-gnu, aarch64-linux-gnu,
# x86_64-pc-linux-gnu for clang). CC/CXX may hold a wrapper ("ccache gcc"): no quotes.
test_libs_cc_arch="$($CC -dumpmachine)"
test_libs_cxx_arch="$($CXX -dumpmachine)"
test_libs_cc_arch="${test_libs_cc_arch%%-*}"
test_libs_cxx_arch="${test_libs_cxx_arch%%-*}"
if [ "$test_libs_cc_arch" != "$test_libs_cxx_arch" ]; then
  echo "test libs: CC ($CC: $test_libs_cc_arch) and CXX ($CXX: $test_libs_cxx_arch) build for different machines; set both (or TARGET_TRIPLE)" >&2
  exit 2
fi
if [ -z "${TEST_LIBS:-}" ]; then
  TEST_LIBS="$root/target/test-libs"
  [ "$test_libs_cc_arch" = "$(uname -m)" ] || TEST_LIBS="$TEST_LIBS/$test_libs_cc_arch"
fi
export CC CXX TEST_LIBS
