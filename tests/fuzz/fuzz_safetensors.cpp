// fuzz_safetensors.cpp — libFuzzer target: the safetensors reader (header, metadata, data).
//
// What it is: the input is a whole checkpoint file's bytes, handed to parse_safetensors,
// which load_safetensors calls after reading the file. A UserError is the expected way to
// refuse; any other exception, a crash or a sanitizer report is a bug. A file that is
// accepted must describe tensors that exactly tile its data section.
// What it is not: a test of what the trainer stores in a checkpoint. Built by
// scripts/fuzz.sh (clang, libFuzzer) and, with tests/fuzz/driver.cpp, as a CTest smoke.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "normlab/core/error.h"
#include "normlab/train/checkpoint.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes((const char*)data, size);
  try {
    nl::SafetensorsFile f = nl::parse_safetensors(bytes, "fuzz.safetensors");
    uint64_t floats = 0;
    for (const auto& kv : f.tensors) floats += (uint64_t)kv.second.numel();
    if (8 + floats * 4 > size) std::abort();  // more data than the file holds
  } catch (const nl::UserError&) {
  }
  return 0;
}
