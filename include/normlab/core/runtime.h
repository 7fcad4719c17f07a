// runtime.h — process-wide settings: the thread count and the buffer pool's counters.
//
// Threads: OpenMP and OpenBLAS both obey set_num_threads. The default is the
// machine's core count. Same seed + same thread count => bit-identical results.
// What it is not: which kernels run or whether pads are packed away: those are
// ExecOptions (exec.h), passed to the model at construction.
#pragma once
#include <string>

namespace nl {

void set_num_threads(int n);  // n <= 0: the machine's cores
int num_threads();

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
