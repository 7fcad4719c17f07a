// parallel/comm.cpp — the two communicators of parallel/comm.h: one process, and MPI_COMM_WORLD.
//
// What it is: the only file in normlab that includes <mpi.h>. MPI is initialised lazily,
// by the first world_comm() call in a process that mpirun started (launched_by_mpirun()),
// so `normlab train` without mpirun never loads MPI's runtime nor looks for its daemon.
//
// The deterministic sum (what the gradient all-reduce and SyncBatchNorm use). MPI_Allreduce
// with MPI_SUM leaves the order of the additions to the implementation (Open MPI picks an
// algorithm by message size and rank count), so float results could differ between runs
// or between K. Here every element is added in rank order 0..K-1, in double:
//   small messages (n*K <= kGatherElems): MPI_Allgather every rank's buffer, and each rank
//     adds the K copies itself (one collective, the latency that matters for BatchNorm's
//     per-feature sums);
//   large messages (gradients): a reduce-scatter done by hand and an all-gather, the data
//     volume of a ring all-reduce (each rank sends and receives 2 (K-1)/K n values):
//       MPI_Alltoallv  rank j receives segment j of every rank's buffer,
//       (add)          rank j adds those K segments in rank order,
//       MPI_Allgatherv every rank receives every summed segment.
// Both paths do the same additions in the same order, so they give the same bits.
// What it is not: a transport of its own (MPI is) nor a general MPI wrapper: only what
// data-parallel training needs.
#include "normlab/parallel/comm.h"

#include <mpi.h>

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <thread>
#include <vector>

namespace nl {

namespace {

// ---- one process --------------------------------------------------------------------
class LocalComm final : public Comm {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void sum(double*, int64_t) override {}
  void sum(float*, int64_t) override {}
  void broadcast(float*, int64_t, int) override {}
  void broadcast(double*, int64_t, int) override {}
  void barrier() override {}
  void idle_barrier() override {}
  std::vector<std::string> all_gather(const std::string& mine) override { return {mine}; }
  [[noreturn]] void abort(int code) override { std::exit(code); }
};

// ---- MPI_COMM_WORLD -----------------------------------------------------------------
template <class T> MPI_Datatype mpi_type();
template <> MPI_Datatype mpi_type<float>() { return MPI_FLOAT; }
template <> MPI_Datatype mpi_type<double>() { return MPI_DOUBLE; }

constexpr int64_t kGatherElems = int64_t(1) << 16;  // below this, one Allgather

int checked_int(int64_t n) {
  if (n < 0 || n > (int64_t)2147483647) throw std::invalid_argument("comm: message of " + std::to_string(n) + " elements is too large for MPI");
  return (int)n;
}

class MpiComm final : public Comm {
 public:
  MpiComm() {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  void sum(double* x, int64_t n) override { sum_in_rank_order(x, n); }
  void sum(float* x, int64_t n) override { sum_in_rank_order(x, n); }
  void broadcast(float* x, int64_t n, int root) override {
    MPI_Bcast(x, checked_int(n), MPI_FLOAT, root, MPI_COMM_WORLD);
  }
  void broadcast(double* x, int64_t n, int root) override {
    MPI_Bcast(x, checked_int(n), MPI_DOUBLE, root, MPI_COMM_WORLD);
  }
  void barrier() override { MPI_Barrier(MPI_COMM_WORLD); }
  void idle_barrier() override {
    // MPI_Barrier polls at full speed (Open MPI's progress loop): a rank waiting for
    // another rank's training runs would take a core from them. Poll 20 times a second.
    MPI_Request req;
    MPI_Ibarrier(MPI_COMM_WORLD, &req);
    int done = 0;
    for (;;) {
      MPI_Test(&req, &done, MPI_STATUS_IGNORE);
      if (done) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  std::vector<std::string> all_gather(const std::string& mine) override {
    const int K = size_;
    int len = checked_int((int64_t)mine.size());
    std::vector<int> lens(K), displ(K);
    MPI_Allgather(&len, 1, MPI_INT, lens.data(), 1, MPI_INT, MPI_COMM_WORLD);
    int64_t total = 0;
    for (int r = 0; r < K; ++r) {
      displ[r] = checked_int(total);
      total += lens[r];
    }
    std::vector<char> all((size_t)total + 1);
    MPI_Allgatherv(mine.data(), len, MPI_CHAR, all.data(), lens.data(), displ.data(), MPI_CHAR, MPI_COMM_WORLD);
    std::vector<std::string> out;
    for (int r = 0; r < K; ++r) out.emplace_back(all.data() + displ[r], (size_t)lens[r]);
    return out;
  }
  [[noreturn]] void abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::exit(code);  // not reached
  }

 private:
  template <class T>
  void sum_in_rank_order(T* x, int64_t n) {
    const int K = size_;
    if (K == 1 || n == 0) return;
    if (n * K <= kGatherElems) {
      // every rank's buffer on every rank: all[r*n + i] = x_r[i]
      std::vector<T> all((size_t)n * K);
      MPI_Allgather(x, (int)n, mpi_type<T>(), all.data(), (int)n, mpi_type<T>(), MPI_COMM_WORLD);
      for (int64_t i = 0; i < n; ++i) {
        double s = 0;
        for (int r = 0; r < K; ++r) s += (double)all[(size_t)r * n + i];  // rank order
        x[i] = (T)s;
      }
      return;
    }
    // Segment j = [lo(j), lo(j+1)) belongs to rank j.
    checked_int(n);
    auto lo = [&](int j) { return (int)(n * j / K); };
    std::vector<int> seg_count(K), seg_displ(K), own_count(K), own_displ(K);
    for (int j = 0; j < K; ++j) {
      seg_displ[j] = lo(j);
      seg_count[j] = lo(j + 1) - lo(j);
    }
    const int mine = seg_count[rank_];
    for (int r = 0; r < K; ++r) {
      own_count[r] = mine;        // from every rank r: its copy of my segment
      own_displ[r] = r * mine;
    }
    // copies[r*mine + i] = x_r[lo(rank) + i]
    std::vector<T> copies((size_t)mine * K);
    MPI_Alltoallv(x, seg_count.data(), seg_displ.data(), mpi_type<T>(), copies.data(),
                  own_count.data(), own_displ.data(), mpi_type<T>(), MPI_COMM_WORLD);
    T* own = x + seg_displ[rank_];
    for (int i = 0; i < mine; ++i) {
      double s = 0;
      for (int r = 0; r < K; ++r) s += (double)copies[(size_t)r * mine + i];  // rank order
      own[i] = (T)s;
    }
    MPI_Allgatherv(MPI_IN_PLACE, 0, mpi_type<T>(), x, seg_count.data(), seg_displ.data(),
                   mpi_type<T>(), MPI_COMM_WORLD);
  }

  int rank_ = 0, size_ = 1;
};

void finalize_at_exit() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

}  // namespace

Comm& local_comm() {
  static LocalComm comm;
  return comm;
}

bool launched_by_mpirun() {
  return std::getenv("OMPI_COMM_WORLD_SIZE") != nullptr || std::getenv("PMIX_RANK") != nullptr;
}

bool mpi_initialized() {
  int on = 0;
  MPI_Initialized(&on);
  return on != 0;
}

Comm& world_comm() {
  if (!launched_by_mpirun()) return local_comm();
  static MpiComm* comm = [] {
    if (!mpi_initialized()) {
      // OpenMP threads compute; only this (the main) thread calls MPI.
      int provided = 0;
      MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      std::atexit(finalize_at_exit);
    }
    return new MpiComm();  // lives until exit: collectives may run in static destructors' time
  }();
  return *comm;
}

}  // namespace nl
