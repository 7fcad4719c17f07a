// test_kernel_sets.cpp — `--kernels reference` (train.kernels) swaps every fast path for its
// plain twin — BLAS for naive loops, fused norm kernels for their composition of ops — and
// training follows the same trajectory within float tolerance.
//
// What it is not: a bit-for-bit comparison (the two sets round differently) nor a
// kernel-by-kernel one (test_ops_kernels.cpp, test_norms_twins.cpp).
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "normlab/config.h"
#include "normlab/runtime.h"
#include "normlab/train/trainer.h"

namespace fs = std::filesystem;

namespace {

// The loss column of metrics.csv (one row per step with log_every = 1).
std::vector<double> train_losses(const std::string& norm, const std::string& kernels) {
  nl::Config c = nl::load_config(std::string(NORMLAB_SOURCE_DIR) + "/configs/tiny.json");
  c.model.norm.type = norm;
  c.train.kernels = kernels;
  c.train.threads = 1;
  c.train.steps = 20;
  c.train.log_every = 1;
  c.train.eval_every = 0;
  c.task.eval_size = 8;
  const fs::path dir = fs::temp_directory_path() / ("normlab_test_kernel_sets_" + norm + "_" + kernels);
  fs::remove_all(dir);
  nl::TrainOptions opt;
  opt.out_dir = dir.string();
  opt.quiet = true;
  const nl::KernelSet saved = nl::kernel_set();
  nl::train(c, opt);
  CHECK(nl::kernel_set() == nl::parse_kernel_set(kernels));  // train() applied it
  nl::set_kernel_set(saved);
  std::ifstream csv(dir / "metrics.csv");
  std::string line;
  std::getline(csv, line);
  REQUIRE(line.rfind("step,loss,", 0) == 0);
  std::vector<double> losses;
  while (std::getline(csv, line)) {
    std::string step, loss;
    std::istringstream row(line);
    std::getline(row, step, ',');
    std::getline(row, loss, ',');
    losses.push_back(std::stod(loss));
  }
  fs::remove_all(dir);
  return losses;
}

}  // namespace

TEST_CASE("training: fast and reference kernels give the same losses", "[kernels][train]") {
  for (const char* norm : {"layernorm", "batchnorm"}) {
    INFO("norm " << norm);
    const std::vector<double> fast = train_losses(norm, "fast");
    const std::vector<double> ref = train_losses(norm, "reference");
    REQUIRE(fast.size() == 20);
    REQUIRE(ref.size() == 20);
    for (size_t i = 0; i < fast.size(); ++i) {
      INFO("step " << i + 1 << ": fast " << fast[i] << " reference " << ref[i]);
      REQUIRE(std::isfinite(fast[i]));
      CHECK(ref[i] == Approx(fast[i]).epsilon(1e-4).margin(1e-5));
    }
    // The run trains (the losses move), so the comparison is not of two constants.
    CHECK(std::fabs(fast.front() - fast.back()) > 1e-3);
  }
}
