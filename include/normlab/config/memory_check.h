// memory_check.h — will this config fit in memory? Estimated from the config alone,
// before anything is allocated or written.
//
// What it is: a rough upper estimate of a run's peak memory in four parts —
//   params     weights + gradients + optimizer state: P x (4 + 4 + 8 for adam/adamw, 4 for sgd)
//   activations what one training step keeps for backward, for the largest batch:
//              4 bytes x layers x (16 B T D + 3 B T F + 2 B H T T) + the logits,
//              T the longest sequence (train or eval, + <bos>)
//   data       the examples: per example 80 bytes + 8 per token; for file tasks ~40
//              bytes per byte of the file (each character is held as a string while read)
//   total      their sum
// — and a check that it fits in the memory available now (MemAvailable in /proc/meminfo,
// capped by RLIMIT_AS and a cgroup's limit). Too large = UserError code 2 naming the key
// that drives the largest part:
//   model.d_model: 65536 needs ~513 GiB (params+optimizer 512 GiB, activations 1.0 GiB,
//   data 1.2 MiB), only 20 GiB available
// A second check guards the int indexing of the kernels: no single tensor (attention
// weights B x H x T x T, a [B, T, F] activation, ...) may exceed 2^31 - 1 elements.
// The factors are measured peaks of `normlab train` (README, "Memory"), rounded up.
// What it is not: a limit on what the process may allocate; the estimate can be off by a
// small factor either way, which is why it only refuses what clearly cannot fit.
#pragma once
#include <cstdint>
#include <string>

namespace nl {

struct Config;

struct MemoryEstimate {
  double params = 0;       // bytes: weights, gradients, optimizer state
  double activations = 0;  // bytes: one training step's saved activations (largest batch)
  double data = 0;         // bytes: training and evaluation examples
  double total() const { return params + activations + data; }
  double param_count = 0;  // number of model parameters (elements)
};

MemoryEstimate estimate_memory(const Config& c);

// Bytes the process can still allocate: MemAvailable, capped by RLIMIT_AS and a cgroup
// memory limit when they are lower; 0 when none of them can be read (no check then).
uint64_t available_memory_bytes();

// UserError(code 2) "<source>: <key>: <value> needs ~X (...), only Y available" when the
// estimate exceeds `available` (0 = skip), or when one tensor would exceed the kernels'
// int indexing. config_from_json calls it with available_memory_bytes().
void check_memory(const Config& c, const std::string& source, uint64_t available);

}  // namespace nl
