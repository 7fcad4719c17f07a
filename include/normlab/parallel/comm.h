// parallel/comm.h — the K processes that train one model together (data parallel), as seen
// by the trainer and by SyncBatchNorm.
//
// What it is: an interface with the collectives data-parallel training needs —
// an element-wise sum over ranks, a broadcast from one rank, a barrier, and an abort that
// ends every rank — and the two that compare over ranks adds (a barrier that sleeps, a
// gather of strings), plus the two communicators there are:
//   local_comm()  one process, no MPI at all: every collective is a no-op;
//   world_comm()  every process `mpirun -np K normlab ...` started (MPI_COMM_WORLD), or
//                 local_comm() when normlab was not started by mpirun.
// The sum is DETERMINISTIC: every rank gets the same bits, and so does every rerun. MPI's
// own MPI_Allreduce does not promise that (its reduction order is the implementation's
// choice and may depend on the message size and the rank count), so sum() adds the K
// ranks' values itself, in rank order 0, 1, ..., K-1, in double (src/parallel/mpi_comm.cpp).
// What it is not: MPI itself. Only src/parallel/ includes <mpi.h>; everything else sees this
// header, so a K=1 run never touches MPI and never needs its daemon.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace nl {

class Comm {
 public:
  virtual ~Comm() = default;
  virtual int rank() const = 0;   // 0..size()-1
  virtual int size() const = 0;   // K
  bool is_root() const { return rank() == 0; }

  // x[i] <- sum over ranks r = 0..K-1 of x_r[i], added in rank order in double; the same
  // on every rank. Every rank must call it with the same n, in the same order.
  virtual void sum(double* x, int64_t n) = 0;
  virtual void sum(float* x, int64_t n) = 0;
  // x <- root's x on every rank.
  virtual void broadcast(float* x, int64_t n, int root) = 0;
  virtual void broadcast(double* x, int64_t n, int root) = 0;
  virtual void barrier() = 0;
  // A barrier for ranks that may wait minutes (compare: one rank's runs finish before
  // another's): it sleeps between polls instead of spinning on a core the others need.
  virtual void idle_barrier() = 0;
  // Every rank's string, in rank order, on every rank (compare's run outcomes).
  virtual std::vector<std::string> all_gather(const std::string& mine) = 0;
  // Ends every rank of the job with exit code `code` (MPI_Abort); after the caller has
  // printed its one-line reason. For local_comm() it is std::exit(code).
  [[noreturn]] virtual void abort(int code) = 0;
  // "rank 1 of 2" (for messages); "" for a single process.
  std::string where() const {
    return size() > 1 ? "rank " + std::to_string(rank()) + " of " + std::to_string(size()) : "";
  }
};

// The single-process communicator (no MPI).
Comm& local_comm();

// True if this process was started by mpirun / mpiexec (Open MPI's OMPI_COMM_WORLD_SIZE or
// PMIx's PMIX_RANK is in the environment). Only then does normlab initialise MPI.
bool launched_by_mpirun();

// MPI_Init if launched_by_mpirun() (once; MPI_Finalize runs at exit), then
// MPI_COMM_WORLD; otherwise local_comm().
Comm& world_comm();

// Whether world_comm() has initialised MPI (so an error must end the whole job).
bool mpi_initialized();

}  // namespace nl
