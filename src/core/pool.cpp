// pool.cpp — the buffer pool behind every tensor.
//
// What it is: a caching allocator. A freed Buffer goes onto a free list keyed by its
// size class; the next request of that class takes it back. Classes are the request
// rounded up to 2^k or 1.5 x 2^k (at most a third of slack; small requests round to 64
// bytes), and a request may take a cached block up to twice its class: so the many sizes
// of variable-length batches (every batch has its own token count N, [N,D], [N,F], ...)
// share a few blocks, the cache does not grow with every new length, and after some
// steps nothing new is asked of the system (pool_stats().system_allocs stops moving;
// tests/unit/kernels/test_kernel_sets.cpp checks it on variable-length training).
// What it is not: thread-safe for allocation from inside OpenMP regions (tensors are
// only made on the main thread), nor a general-purpose malloc.
#include <cstdlib>
#include <map>
#include <new>
#include <vector>

#include "normlab/core/runtime.h"
#include "normlab/core/tensor.h"

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

// The size class of a request, in floats: at least `count`, at most 25% more.
static size_t size_class(size_t count) {
  if (count <= 16) return 16;                      // 64 bytes
  if (count <= 4096) return (count + 15) / 16 * 16;  // whole cache lines
  size_t top = 1;
  while ((top << 1) <= count) top <<= 1;           // top = 2^k <= count < 2^(k+1)
  const size_t step = top / 2;
  return (count + step - 1) / step * step;         // 2^k, 1.5 x 2^k or 2^(k+1)
}

Buffer::Buffer(size_t count) : n(count) {
  Pool& P = pool();
  const size_t cls = size_class(count);
  // Best fit: the smallest cached block of this class or up to two classes larger (at
  // most ~1.6x the request), so a batch a little longer than the last reuses its blocks.
  auto it = P.free_lists.lower_bound(cls);
  while (it != P.free_lists.end() && it->second.empty() && it->first <= 2 * cls) ++it;
  if (it != P.free_lists.end() && !it->second.empty() && it->first <= 2 * cls) {
    capacity = it->first;
    ptr = it->second.back();
    it->second.pop_back();
    P.stats.reuses++;
    P.stats.bytes_cached -= (long long)(capacity * sizeof(float));
  } else {
    capacity = cls;
    // 64-byte alignment: whole cache lines, and what AVX-512 loads like.
    ptr = static_cast<float*>(std::aligned_alloc(64, capacity * sizeof(float)));
    if (!ptr) throw std::bad_alloc();
    P.stats.system_allocs++;
  }
  P.stats.bytes_live += (long long)(capacity * sizeof(float));
}

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kCache = false;  // under ASan, free at once so use-after-free is caught
#else
constexpr bool kCache = true;
#endif

Buffer::~Buffer() {
  Pool& P = pool();
  const size_t bytes = capacity * sizeof(float);
  P.stats.bytes_live -= (long long)bytes;
  if (!kCache) {
    std::free(ptr);
    return;
  }
  P.stats.bytes_cached += (long long)bytes;
  P.free_lists[capacity].push_back(ptr);
}

PoolStats pool_stats() { return pool().stats; }
void pool_release_cached() { pool().release(); }

}  // namespace nl
