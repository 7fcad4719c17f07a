// runtime.cpp — thread count and kernel-set switches (runtime.h).
//
// What it is: set_num_threads forwards to OpenMP and OpenBLAS; the kernel set is one
// process-wide flag that every dispatching kernel reads (use_reference_kernels()).
// What it is not: a scheduler — kernels decide themselves which loops run in parallel.
#include "normlab/runtime.h"

#include <omp.h>

#include <stdexcept>
#include <thread>

extern "C" void openblas_set_num_threads(int);

namespace nl {

namespace {
int g_threads = 0;
KernelSet g_kernels = KernelSet::fast;
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

void set_kernel_set(KernelSet k) { g_kernels = k; }
KernelSet kernel_set() { return g_kernels; }
bool use_reference_kernels() { return g_kernels == KernelSet::reference; }

KernelSet parse_kernel_set(const std::string& s) {
  if (s == "fast") return KernelSet::fast;
  if (s == "reference") return KernelSet::reference;
  throw std::invalid_argument("kernels: '" + s + "' is not one of fast, reference");
}

}  // namespace nl
