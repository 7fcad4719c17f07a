// pool.cpp — the buffer pool behind every tensor.
//
// What it is: a caching allocator. A freed Buffer goes onto a free list keyed by its
// exact size; the next request for that size takes it back. Training steps repeat
// the same shapes, so after the first step nothing new is asked of the system
// (pool_stats().system_allocs stops moving). Buckets by exact size keep it simple
// and waste nothing; variable-length batches add a few sizes, not many.
// What it is not: thread-safe for allocation from inside OpenMP regions (tensors are
// only made on the main thread), nor a general-purpose malloc.
#include <cstdlib>
#include <map>
#include <new>
#include <vector>

#include "normlab/runtime.h"
#include "normlab/tensor.h"

namespace nl {
namespace {

struct Pool {
  std::map<size_t, std::vector<float*>> free_lists;  // size in floats -> blocks
  PoolStats stats;
  ~Pool() { release(); }
  void release() {
    for (auto& kv : free_lists)
      for (float* p : kv.second) std::free(p);
    free_lists.clear();
    stats.bytes_cached = 0;
  }
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: buffers may die during static teardown
  return *p;
}

}  // namespace

Buffer::Buffer(size_t count) : n(count) {
  Pool& P = pool();
  size_t bytes = (count == 0 ? 1 : count) * sizeof(float);
  auto it = P.free_lists.find(count);
  if (it != P.free_lists.end() && !it->second.empty()) {
    ptr = it->second.back();
    it->second.pop_back();
    P.stats.reuses++;
    P.stats.bytes_cached -= (long long)bytes;
  } else {
    // 64-byte alignment: whole cache lines, and what AVX-512 loads like.
    size_t rounded = (bytes + 63) / 64 * 64;
    ptr = static_cast<float*>(std::aligned_alloc(64, rounded));
    if (!ptr) throw std::bad_alloc();
    P.stats.system_allocs++;
  }
  P.stats.bytes_live += (long long)bytes;
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCache = false;  // under ASan, free at once so use-after-free is caught
#else
constexpr bool kCache = true;
#endif

Buffer::~Buffer() {
  Pool& P = pool();
  if (!kCache) {
    std::free(ptr);
    P.stats.bytes_live -= (long long)((n == 0 ? 1 : n) * sizeof(float));
    return;
  }
  size_t bytes = (n == 0 ? 1 : n) * sizeof(float);
  P.stats.bytes_live -= (long long)bytes;
  P.stats.bytes_cached += (long long)bytes;
  P.free_lists[n].push_back(ptr);
}

PoolStats pool_stats() { return pool().stats; }
void pool_release_cached() { pool().release(); }

}  // namespace nl
