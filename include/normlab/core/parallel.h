// parallel.h — when an OpenMP loop is worth forking: one shared size threshold.
//
// What it is: parallel_worth(work) and the cost units work is counted in. Starting a
// parallel region costs a fork/join (and, with a passive wait policy, a futex wake-up):
// about 10 us on this 2-core machine, the time of ~100k cheap float operations. Tiny
// tensors used to pay it on every op (a tiny model trained ~20x slower on 2 threads than
// on 1). Every `#pragma omp parallel for` in kernels/ops/nn/optim carries
// `if (parallel_worth(work))`, with
//     work = elements touched x rough cost per element (kCost* below).
// What it is not: a scheduler. The `if` only decides whether the SAME static loop runs on
// one thread or on many; every iteration computes the same value either way, and loops
// whose reduction order would depend on the split keep a fixed split (kSumChunks,
// column blocks), so results stay bit-identical across thread counts.
#pragma once
#include <cstdint>

namespace nl {

// Measured with a standalone loop (min of 400 runs, OMP_WAIT_POLICY=PASSIVE, 2 threads,
// loaded machine): y += a*x broke even only beyond ~256k floats; exp (~25x the cost of
// an axpy element) broke even at ~16k floats. 2^18 cheap units matches both.
constexpr int64_t kParallelMinWork = int64_t(1) << 18;

// Rough cost per element, in units of one load-multiply-add-store.
constexpr int64_t kCostCheap = 1;        // copy, add, scale, compare
constexpr int64_t kCostRow = 4;          // norm/softmax style multi-pass row work
constexpr int64_t kCostTranscend = 16;   // exp, log, erf, tanh, pow, sqrt+div

inline bool parallel_worth(int64_t work) { return work >= kParallelMinWork; }

}  // namespace nl
