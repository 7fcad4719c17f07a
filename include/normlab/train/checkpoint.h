// train/checkpoint.h — safetensors files: read, and write atomically.
//
// Format (https://github.com/huggingface/safetensors): 8-byte little-endian header
// length N, then N bytes of JSON {"name": {"dtype":"F32","shape":[...],
// "data_offsets":[begin,end]}, ..., "__metadata__": {string: string}}, then the raw
// little-endian float32 data. Python's `safetensors` and a 20-line reader can open it.
// Writes go to "<path>.tmp", fsync, rename: a kill at any moment leaves the previous
// file whole. Reads check every offset and size, the CRC32 of the header and of the data: a
// truncated or corrupt file is a UserError naming the file and what is wrong.
// What it is not: what goes into a training checkpoint (trainer.cpp decides) nor a
// general safetensors library (F32 only).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "normlab/nn/module.h"

namespace nl {

// __metadata__ key of the data section's CRC32 (8 hex digits), added by save_safetensors and
// checked by load_safetensors.
constexpr const char* kDataCrc32Key = "data_crc32";
// __metadata__ key of the header's CRC32 (8 hex digits): of the file's bytes before the data
// (length, JSON, padding) with this value's own digits read as "00000000". Covers the
// config, vocabulary, classes and every tensor entry.
constexpr const char* kHeaderCrc32Key = "header_crc32";

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;         // F32 only
  std::map<std::string, std::string> metadata;   // __metadata__
};

void save_safetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                      const std::map<std::string, std::string>& metadata);
// Only a regular file (not a FIFO, device or directory), at most kMaxCheckpointBytes
// (files.h); the header at most kMaxSafetensorsHeader bytes and 64 levels deep.
SafetensorsFile load_safetensors(const std::string& path);
// The same checks on a file's bytes already in memory (the fuzz target calls this).
SafetensorsFile parse_safetensors(const std::string& bytes, const std::string& path_for_errors);
// The reference reader's cap on the JSON header (safetensors' MAX_HEADER_SIZE).
constexpr uint64_t kMaxSafetensorsHeader = 100000000;

// Copy values from `file` into `dst` by name; every dst name must exist with the same
// shape (else UserError: "checkpoint X: layers.0.norm1.weight is [64] in the file but
// [128] in the model").
void copy_into(const SafetensorsFile& file, const std::vector<NamedTensor>& dst,
               const std::string& path_for_errors);

}  // namespace nl
