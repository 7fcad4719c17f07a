// exec.h — how a model runs: which kernel set, and whether pads are left out (packing).
//
// What it is: ExecOptions, parsed once from the config (train.kernels, train.pack) and the
// command line (`--kernels` wins over train.kernels), then handed to the encoder, which
// hands the kernel set to each layer at construction. A layer picks its fused op or its
// plain twin from what it was given; an op that has two implementations takes the kernel
// set as an argument (matmul, linear, gelu). Nothing else decides: there is no
// process-wide switch to flip, so what a function runs is in its arguments (llm.c style).
//   fast       OpenBLAS sgemm, fused linear / attention / norm kernels, polynomial GELU
//   reference  the plain twins: a naive sgemm loop, each norm, linear and attention composed
//              from autograd ops (its backward is the ops' closures), <cmath> GELU. For
//              learners stepping through in gdb, and for the tests that check fast == plain.
// The element-wise and reduction kernels have plain twins too (kernels/elementwise.h,
// kernels/reduce.h); the two agree bit for bit, so the ops always take the fast walk and
// the tests compare the walks directly.
// pack (fast kernels only): run the layers on the batch's real tokens, one sequence after
// another, when that is exact, i.e. no norm reads pad rows (nn/encoder.cpp, "Packing").
// With pack = false, or under reference kernels, the layers run on the padded [B,T,D] grid.
// comm: over which data-parallel ranks a synced BatchNorm takes its statistics (parallel/comm.h).
// What it is not: the thread count (runtime.h: OpenMP's own setting), nor a config struct.
#pragma once
#include <string>

namespace nl {

enum class KernelSet { fast, reference };
KernelSet parse_kernel_set(const std::string& s);  // "fast" | "reference", else throws
const char* kernel_set_name(KernelSet k);

class Comm;  // parallel/comm.h

struct ExecOptions {
  KernelSet kernels = KernelSet::fast;
  bool pack = true;   // pack real tokens where exact (fast kernels only)
  // Data parallel: the ranks this model is one replica of (train/trainer.cpp gives
  // world_comm() under mpirun). Synced BatchNorm (model.norm.sync) shares its statistics
  // over them. nullptr: this process alone.
  Comm* comm = nullptr;
};

}  // namespace nl
