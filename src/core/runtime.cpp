// runtime.cpp — the thread count (runtime.h) and the kernel-set names (exec.h).
//
// What it is: set_num_threads forwards to OpenMP and OpenBLAS; parse_kernel_set reads
// "fast" / "reference".
// What it is not: a scheduler — kernels decide themselves which loops run in parallel —
// nor a kernel switch: the kernel set is an argument (exec.h).
#include "normlab/core/runtime.h"
#include "normlab/core/exec.h"

#include <omp.h>

#include <stdexcept>
#include <thread>

extern "C" void openblas_set_num_threads(int);

namespace nl {

namespace {
int g_threads = 0;
}  // namespace

void set_num_threads(int n) {
  if (n <= 0) n = (int)std::thread::hardware_concurrency();
  if (n <= 0) n = 1;
  g_threads = n;
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int num_threads() {
  if (g_threads == 0) set_num_threads(0);
  return g_threads;
}

KernelSet parse_kernel_set(const std::string& s) {
  if (s == "fast") return KernelSet::fast;
  if (s == "reference") return KernelSet::reference;
  throw std::invalid_argument("kernels: '" + s + "' is not one of fast, reference");
}

const char* kernel_set_name(KernelSet k) { return k == KernelSet::fast ? "fast" : "reference"; }

}  // namespace nl
