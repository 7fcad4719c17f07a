// fuzz_config.cpp — libFuzzer target: the config parser and validator.
//
// What it is: the input is a config file's bytes, optionally followed by a NUL byte and
// `--set` overrides, one a line. They go through what `normlab train` does with them:
// read_config_json's parser (depth cap, duplicate keys), apply_overrides, config_from_json
// (every key, cross-field checks, memory estimate). A UserError is the expected way to
// refuse; any other exception, a crash or a sanitizer report is a bug. A config that is
// accepted must survive the round trip config_to_json -> dump -> config_from_json unchanged.
// What it is not: a test of training. Built by scripts/fuzz.sh (clang, libFuzzer) and, with
// tests/fuzz/driver.cpp, as a short CTest smoke in every build.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "normlab/config/config.h"
#include "normlab/core/error.h"
#include "normlab/core/json_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in((const char*)data, size);
  const size_t nul = in.find('\0');
  const std::string text = in.substr(0, nul);
  std::vector<std::string> sets;
  if (nul != std::string::npos) {
    size_t b = nul + 1;
    while (b <= in.size()) {
      size_t e = in.find('\n', b);
      if (e == std::string::npos) e = in.size();
      sets.push_back(in.substr(b, e - b));
      b = e + 1;
    }
  }
  nl::Config c;
  try {
    nl::JsonReadOptions opt;
    opt.reject_duplicate_keys = true;
    nlohmann::json j = nl::parse_json(text, "fuzz.json", opt);
    nl::apply_overrides(j, sets);
    c = nl::config_from_json(j, "fuzz.json");
  } catch (const nl::UserError& e) {
    if (e.code != 2) std::abort();  // every config error is exit code 2
    return 0;
  }
  // Accepted: the resolved config prints and reads back to itself.
  const nlohmann::json back = nl::config_to_json(c);
  const std::string printed = back.dump(2);
  try {
    if (nl::config_to_json(nl::config_from_json(nl::parse_json(printed, "back.json"), "back.json")) != back)
      std::abort();
  } catch (const nl::UserError& e) {
    // Only the memory check may change its mind between two calls (available memory moves).
    if (std::string(e.what()).find(" available") == std::string::npos) std::abort();
  }
  return 0;
}
