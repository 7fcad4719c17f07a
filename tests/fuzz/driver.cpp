// driver.cpp — a standalone main for the fuzz targets, so they build and run in every
// build without clang: the CTest smoke.
//
// What it is: `normlab_fuzz_X [-runs=N] [-seed=S] CORPUS_DIR...` runs every file of the
// corpus through LLVMFuzzerTestOneInput, then N inputs made by simple deterministic
// mutations of them (flip, insert, delete, duplicate a range, splice two inputs, insert a
// token such as "[", "1e999" or a stray byte). It stops at the first crash, like
// libFuzzer, and prints how many inputs it ran.
// What it is not: a coverage-guided fuzzer; scripts/fuzz.sh builds the same targets with
// clang's libFuzzer for the long runs.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

// splitmix64: a small deterministic generator (same inputs on every machine).
struct Gen {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return n ? (size_t)(next() % n) : 0; }
};

std::string mutate(const std::vector<std::string>& corpus, Gen& g) {
  std::string s = corpus[g.below(corpus.size())];
  static const char* tokens[] = {"[", "]", "{", "}", "\"", ",", ":", "\\", "1e999", "-1", "0", "4294967296",
                                 "null", "true", "\t", "\n", "\r", "\xef\xbb\xbf", "\xff", "\xc3", "\xed\xa0\x80",
                                 "\"__metadata__\"", "\"shape\"", "\"data_offsets\"", "<unk>", "\\t", "\x00"};
  const int edits = 1 + (int)g.below(4);
  for (int k = 0; k < edits; ++k) {
    const size_t at = g.below(s.size() + 1);
    switch (g.below(6)) {
      case 0:
        if (!s.empty()) s[g.below(s.size())] ^= (char)(1u << g.below(8));
        break;
      case 1: s.insert(at, 1, (char)g.below(256)); break;
      case 2: s.erase(at, g.below(16)); break;
      case 3: {
        const size_t b = g.below(s.size() + 1), n = g.below(64);
        s.insert(at, s.substr(b, n));
        break;
      }
      case 4: {
        const std::string& o = corpus[g.below(corpus.size())];
        s = s.substr(0, at) + o.substr(g.below(o.size() + 1));
        break;
      }
      default: {
        const char* t = tokens[g.below(sizeof tokens / sizeof *tokens)];
        s.insert(at, t, std::max<size_t>(1, std::strlen(t)));
        break;
      }
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  long runs = 1000;
  uint64_t seed = 1;
  std::vector<std::string> corpus;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("-runs=", 0) == 0) { runs = std::atol(a.c_str() + 6); continue; }
    if (a.rfind("-seed=", 0) == 0) { seed = std::strtoull(a.c_str() + 6, nullptr, 10); continue; }
    for (const auto& e : std::filesystem::directory_iterator(a)) {
      if (!e.is_regular_file()) continue;
      std::ifstream in(e.path(), std::ios::binary);
      std::stringstream ss;
      ss << in.rdbuf();
      corpus.push_back(ss.str());
    }
  }
  if (corpus.empty()) corpus.push_back("");
  for (const std::string& c : corpus) LLVMFuzzerTestOneInput((const uint8_t*)c.data(), c.size());
  Gen g{seed};
  for (long i = 0; i < runs; ++i) {
    const std::string s = mutate(corpus, g);
    LLVMFuzzerTestOneInput((const uint8_t*)s.data(), s.size());
  }
  std::printf("%zu corpus inputs and %ld mutations: no crash\n", corpus.size(), runs);
  return 0;
}
