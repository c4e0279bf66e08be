// Runs a libFuzzer target without libFuzzer (for g++ builds and ctest): every seed file
// given on the command line (a folder: each file in it, in name order), then deterministic
// random mutations of each seed (bit flips, byte insertions and deletions, truncations,
// splices). Not coverage-guided: a smoke test that keeps the targets compiling and catches
// crashes on malformed input in every CI run; fuzz/run does the coverage-guided fuzzing.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

static void run(const std::string& s) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

static void readSeed(const std::filesystem::path& p, std::vector<std::string>& seeds) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return;
  std::ostringstream ss;
  ss << in.rdbuf();
  seeds.push_back(ss.str());
}

int main(int argc, char** argv) {
  int iterations = 2000;
  std::vector<std::string> seeds;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--iterations=", 0) == 0) {
      iterations = std::atoi(a.c_str() + 13);
      continue;
    }
    std::error_code ec;
    if (std::filesystem::is_directory(a, ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& e : std::filesystem::directory_iterator(a, ec)) {
        if (e.is_regular_file()) files.push_back(e.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) readSeed(f, seeds);
    } else {
      readSeed(a, seeds);
    }
  }
  seeds.push_back("");
  seeds.push_back("{}");
  std::mt19937_64 rng(12345);
  size_t runs = 0;
  for (const auto& seed : seeds) {
    run(seed);
    ++runs;
    for (int i = 0; i < iterations; ++i) {
      std::string s = seed;
      int edits = 1 + static_cast<int>(rng() % 8);
      for (int e = 0; e < edits; ++e) {
        size_t pos = s.empty() ? 0 : rng() % s.size();
        switch (rng() % 6) {
          case 0:
            if (!s.empty()) s[pos] = static_cast<char>(s[pos] ^ (1 << (rng() % 8)));
            break;
          case 1: s.insert(pos, 1, static_cast<char>(rng() % 256)); break;
          case 2:
            if (!s.empty()) s.erase(pos, 1 + rng() % 8);
            break;
          case 3: s.resize(pos); break;
          case 4:
            s.insert(pos, std::string("{\"\":[null,1e999,\"\\u0000\"]}").substr(0, 1 + rng() % 20));
            break;
          default: {
            const auto& other = seeds[rng() % seeds.size()];
            if (!other.empty()) s.insert(pos, other.substr(rng() % other.size(), 16));
          }
        }
      }
      run(s);
      ++runs;
    }
  }
  std::printf("%zu inputs, no crash\n", runs);
  return 0;
}
