// test_metrics_precision.cpp — metrics.csv keeps every bit of a float32 (%.9g).
//
// What it checks: the last row's loss equals result.json's final_train_loss (a double,
// full JSON precision) to 9 significant digits; 6 digits (the old format) would miss by ~1e-6.
// What it is not: a check of what the columns mean (README, "The run folder").
#include <catch2/catch.hpp>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "normlab/config/config.h"
#include "normlab/train/trainer.h"
#include "testutil/runs.h"

namespace fs = std::filesystem;

TEST_CASE("metrics.csv writes numbers with 9 significant digits", "[train][metrics]") {
  const fs::path dir = fs::temp_directory_path() / ("normlab_test_metrics_precision_" + std::to_string(getpid()));
  fs::remove_all(dir);
  nl::Config c = nl::load_config(std::string(NORMLAB_SOURCE_DIR) + "/configs/tiny.json");
  c.train.steps = 40;
  c.train.log_every = 20;
  c.optim.warmup_steps = 0;
  c.train.threads = 1;
  const testutil::Metrics m = testutil::train_and_read_metrics(c, dir);
  REQUIRE(!m.rows.empty());
  REQUIRE(m.rows.back().at(m.column("step")) == "40");
  const std::string loss = m.rows.back().at(m.column("loss"));
  std::ifstream r(dir / "result.json");
  const double want = nlohmann::json::parse(r)["final_train_loss"].get<double>();
  const double got = std::stod(loss);
  INFO("metrics " << loss << " result " << want);
  CHECK(std::fabs(got - want) <= 1e-8 * std::fabs(want));
  fs::remove_all(dir);
}
