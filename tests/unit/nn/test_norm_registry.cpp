// test_norm_registry.cpp — the registry is the only place that knows norm names: a norm
// registered from outside src/nn/norms/ (here, in this test) is accepted by the config,
// and overriding Norm::batch_stats() alone gives it the drift columns in metrics.csv.
//
// What it is not: a test of BatchNorm's statistics (test_norms.cpp) nor of the drift
// formula's values beyond one hand-computed case.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "normlab/config.h"
#include "normlab/nn/norm.h"
#include "normlab/ops.h"
#include "normlab/train/trainer.h"
#include "testutil/process.h"
#include "testutil/runs.h"

namespace fs = std::filesystem;

namespace {

// The identity, claiming fixed batch statistics: mean 1 per feature, running mean 0,
// variances equal. So drift_mean = ||1 - 0||_2 / D = sqrt(D) / D, drift_var = 0.
class FixedStatsNorm final : public nl::Norm {
 public:
  explicit FixedStatsNorm(int D) {
    stats_.batch_mean.assign(D, 1.0f);
    stats_.running_mean.assign(D, 0.0f);
    stats_.batch_var.assign(D, 2.0f);
    stats_.running_var.assign(D, 2.0f);
  }
  nl::Tensor forward(const nl::Tensor& x, const nl::Tensor&) override { return x * 1.0f; }
  std::string type() const override { return "test_fixed_stats"; }
  bool reads_pad_rows() const override { return false; }
  const nl::BatchNormStats* batch_stats() const override { return &stats_; }

 private:
  nl::BatchNormStats stats_;
};

// Registered for the test's lifetime only, so other tests that iterate norm_types() do not see it.
struct Registered {
  Registered() {
    nl::register_norm("test_fixed_stats", [](const nl::NormConfig&, int D, nl::Comm*) {
      return std::unique_ptr<nl::Norm>(new FixedStatsNorm(D));
    }, /*batch_statistics=*/true);
  }
  ~Registered() { nl::unregister_norm("test_fixed_stats"); }
};

}  // namespace

TEST_CASE("a norm registered outside nn/norms trains, and batch_stats() alone gives drift columns",
          "[norms][train]") {
  const Registered scope;
  nl::Config c = nl::load_config(std::string(NORMLAB_SOURCE_DIR) + "/configs/tiny.json");
  nlohmann::json j = nl::config_to_json(c);
  j["model"]["norm"]["type"] = "test_fixed_stats";  // the config accepts the new name
  c = nl::config_from_json(j, "test");
  c.train.steps = 2;
  c.train.log_every = 1;
  c.train.eval_every = 0;
  c.task.eval_size = 8;
  const fs::path dir = testutil::unique_temp("norm_registry");
  const testutil::Metrics m = testutil::train_and_read_metrics(c, dir);
  REQUIRE(!m.rows.empty());
  const std::vector<std::string>& cols = m.columns;
  const std::vector<std::string>& vals = m.rows[0];
  int drift_cols = 0;
  for (size_t i = 0; i < cols.size(); ++i) {
    if (cols[i].rfind("drift_mean/", 0) == 0) {
      ++drift_cols;
      REQUIRE(i < vals.size());
      CHECK(std::stod(vals[i]) == Approx(std::sqrt(32.0) / 32.0).epsilon(1e-5));  // D = 32
    }
    if (cols[i].rfind("drift_var/", 0) == 0) CHECK(std::stod(vals[i]) == 0.0);
  }
  CHECK(drift_cols == 2);  // tiny.json: one layer, norm1 and norm2 (post-norm)
  fs::remove_all(dir);
  nl::unregister_norm("test_fixed_stats");
  nl::NormConfig gone;
  gone.type = "test_fixed_stats";
  CHECK_THROWS_AS(nl::make_norm(gone, 4), std::invalid_argument);
}

TEST_CASE("norm traits: norm_batch_statistics answers what a built layer's batch_stats() says", "[norm][registry]") {
  Registered fixed;  // a runtime-registered norm declares its trait too
  for (const std::string& type : nl::norm_types()) {
    INFO(type);
    nl::NormConfig cfg;
    cfg.type = type;
    CHECK(nl::norm_batch_statistics(type) == (nl::make_norm(cfg, 8)->batch_stats() != nullptr));
  }
  CHECK_FALSE(nl::norm_batch_statistics("no_such_norm"));
  // every role names a registered type, and an unknown role none
  for (const std::string& role : nl::norm_roles()) {
    INFO(role);
    const auto types = nl::norm_types();
    CHECK(std::find(types.begin(), types.end(), nl::norm_for_role(role)) != types.end());
  }
  CHECK(nl::norm_for_role("no_such_role").empty());
}
