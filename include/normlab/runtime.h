// runtime.h — process-wide settings: thread count and which kernel set runs.
//
// Threads: OpenMP and OpenBLAS both obey set_num_threads. The default is the
// machine's core count. Same seed + same thread count => bit-identical results.
// Kernels: every fast kernel has a plain twin (naive loops, no BLAS). `reference`
// selects the twins everywhere — for learners stepping through in gdb, and for the
// tests that check fast == plain. Kernels with no fast path (softmax, unary, embedding,
// shape) have one implementation, already plain; the norms' reference twin is their
// composition of ops, so `reference` does not call kernels::layernorm_* at all.
// What it is not: per-op configuration; the switch is global.
#pragma once
#include <string>

namespace nl {

void set_num_threads(int n);  // n <= 0: the machine's cores
int num_threads();

enum class KernelSet { fast, reference };
void set_kernel_set(KernelSet k);
KernelSet kernel_set();
bool use_reference_kernels();
KernelSet parse_kernel_set(const std::string& s);  // "fast" | "reference", else throws

// Allocation counter of the buffer pool: how many times the pool had to ask the
// system for memory. A steady-state training step should not move it.
struct PoolStats {
  long long system_allocs = 0;   // fresh blocks from the system
  long long reuses = 0;          // blocks handed back out from the pool
  long long bytes_live = 0;      // bytes currently owned by tensors
  long long bytes_cached = 0;    // bytes sitting in the pool's free lists
};
PoolStats pool_stats();
void pool_release_cached();    // give cached blocks back to the system

}  // namespace nl
