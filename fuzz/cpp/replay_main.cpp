// Runs LLVMFuzzerTestOneInput once per file named on the command line (directories: every
// file inside, not recursive): the replay driver for compilers without libFuzzer, used by
// scripts/test.d to re-check committed seeds and former crash inputs under g++'s ASan/UBSan.
#include <dirent.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

static int run_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
    return 1;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  // A copy in its own allocation so ASan sees reads past the end.
  std::vector<uint8_t> exact(bytes.begin(), bytes.end());
  LLVMFuzzerTestOneInput(exact.empty() ? nullptr : exact.data(), exact.size());
  return 0;
}

int main(int argc, char** argv) {
  int n = 0, bad = 0;
  for (int i = 1; i < argc; ++i) {
    struct stat st;
    if (stat(argv[i], &st) != 0) { std::fprintf(stderr, "replay: no such file %s\n", argv[i]); ++bad; continue; }
    if (S_ISDIR(st.st_mode)) {
      DIR* d = opendir(argv[i]);
      if (!d) { ++bad; continue; }
      while (dirent* e = readdir(d)) {
        std::string p = std::string(argv[i]) + "/" + e->d_name;
        struct stat s2;
        if (stat(p.c_str(), &s2) == 0 && S_ISREG(s2.st_mode)) { bad += run_file(p); ++n; }
      }
      closedir(d);
    } else {
      bad += run_file(argv[i]);
      ++n;
    }
  }
  std::printf("replay: %d input(s) ran\n", n);
  return bad ? 1 : 0;
}
