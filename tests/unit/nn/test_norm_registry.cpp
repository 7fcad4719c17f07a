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
#include <stdexcept>

#include "normlab/config/config.h"
#include "normlab/core/error.h"
#include "normlab/nn/norm.h"
#include "normlab/ops/ops.h"
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

namespace {

// y = scale * x, with `scale` the norm's own key model.norm.test_scale (int, 1..9, default 3),
// and a check against the model: d_model must be a multiple of it. Its file (here) and one
// registration line are everything this norm needs: config reads, checks and writes its key.
class ScaledNorm final : public nl::Norm {
 public:
  explicit ScaledNorm(float scale) : scale_(scale) {}
  nl::Tensor forward(const nl::Tensor& x, const nl::Tensor&) override { return x * scale_; }
  std::string type() const override { return "test_scaled"; }
  float scale_;
};

nl::NormKeys scaled_keys() {
  nl::NormKeys k;
  k.keys = {nl::int_norm_key("test_scale", 3, 1, 9, "the test norm's factor")};
  k.check = [](const nl::NormConfig& n, int d_model) -> std::string {
    const int s = (int)n.setting("test_scale");
    return d_model % s == 0 ? "" : "test_scale: " + std::to_string(s) + " does not divide d_model";
  };
  return k;
}

struct RegisteredScaled {
  RegisteredScaled() {
    nl::register_norm("test_scaled", [](const nl::NormConfig& cfg, int, nl::Comm*) {
      return std::unique_ptr<nl::Norm>(new ScaledNorm((float)cfg.setting("test_scale")));
    }, false, scaled_keys());
  }
  ~RegisteredScaled() { nl::unregister_norm("test_scaled"); }
};

// The error a config gives, "" when it loads.
std::string config_error(const nlohmann::json& norm, int d_model = 32) {
  nlohmann::json j = nl::config_to_json(nl::Config{});
  j["model"]["d_model"] = d_model;
  j["model"]["norm"] = norm;
  try {
    nl::config_from_json(j, "x.json");
  } catch (const nl::UserError& e) {
    CHECK(e.code == 2);
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a norm registered with a private key: config reads, checks and writes it; the layer gets it",
          "[norm][registry]") {
  {
    const RegisteredScaled scope;
    // read into the layer, and written back in the resolved config
    nlohmann::json j = nl::config_to_json(nl::Config{});
    j["model"]["norm"] = {{"type", "test_scaled"}, {"test_scale", 4}};
    const nl::Config c = nl::config_from_json(j, "x.json");
    CHECK(c.model.norm.setting("test_scale") == 4);
    CHECK(nl::config_to_json(c)["model"]["norm"]["test_scale"] == 4);
    const auto layer = nl::make_norm(c.model.norm, 2);
    CHECK(dynamic_cast<const ScaledNorm&>(*layer).scale_ == 4.0f);
    // absent: the declared default, also in the resolved config and in config_keys()
    CHECK(nl::Config{}.model.norm.setting("test_scale") == 3);
    CHECK(nl::config_to_json(nl::Config{})["model"]["norm"]["test_scale"] == 3);
    bool listed = false;
    for (const nl::ConfigKey& k : nl::config_keys())
      listed = listed || (k.path == "model.norm.test_scale" && k.type == "int" && k.allowed == "1..9");
    CHECK(listed);
    // validated by its own row: range and type, each a one-line error naming the key
    CHECK(config_error({{"type", "test_scaled"}, {"test_scale", 4}}).empty());
    CHECK(config_error({{"type", "test_scaled"}, {"test_scale", 12}}).find(
              "model.norm.test_scale: 12 is out of range (allowed: 1..9)") != std::string::npos);
    CHECK(config_error({{"type", "test_scaled"}, {"test_scale", 2.5}}).find(
              "model.norm.test_scale: expected an integer in 1..9") != std::string::npos);
    // and by its own check against the model, only when it is the chosen type
    CHECK(config_error({{"type", "test_scaled"}, {"test_scale", 5}}, 32).find(
              "model.norm.test_scale: 5 does not divide d_model") != std::string::npos);
    CHECK(config_error({{"type", "layernorm"}, {"test_scale", 5}}, 32).empty());
    // a second norm cannot take the same key
    CHECK_THROWS_AS(nl::register_norm("test_scaled_twice", [](const nl::NormConfig&, int, nl::Comm*) {
      return std::unique_ptr<nl::Norm>(new ScaledNorm(1.0f));
    }, false, scaled_keys()), std::invalid_argument);
  }
  // unregistered: the key is unknown again
  CHECK(config_error({{"type", "layernorm"}, {"test_scale", 4}}).find("model.norm.test_scale: unknown key") !=
        std::string::npos);
  CHECK_THROWS_AS(nl::NormConfig{}.setting("test_scale"), std::logic_error);
}

// A norm's name is spelled in its own file in src/nn/norms/ and in docs, nowhere else in
// src/: the rest asks the registry (norm_types(), traits, roles). Comments may name norms;
// code may not. Known strings that only look like a norm name are removed first.
TEST_CASE("no norm name is spelled in src/ outside src/nn/norms/", "[norm][registry]") {
  const fs::path src = fs::path(NORMLAB_TEST_DIR) / ".." / "src";
  const fs::path norms = src / "nn" / "norms";
  int files = 0;
  for (const auto& e : fs::recursive_directory_iterator(src)) {
    if (!e.is_regular_file()) continue;
    const std::string p = e.path().lexically_normal().string();
    if (p.rfind(norms.lexically_normal().string(), 0) == 0) continue;
    std::ifstream in(e.path());
    std::string code, line;
    while (std::getline(in, line)) code += line.substr(0, line.find("//")) + "\n";  // comments out
    // mpirun's `--bind-to none` (compare/runner.cpp) and model.positions' value "none"
    // (config/config.cpp) are not the norm "none"
    for (const std::string not_a_norm : {"\"--bind-to\", \"none\"", "{\"none\", Positions::none}"})
      for (size_t at; (at = code.find(not_a_norm)) != std::string::npos;) code.erase(at, not_a_norm.size());
    ++files;
    for (const std::string& type : nl::norm_types()) {
      INFO(p << ": \"" << type << "\"");
      CHECK(code.find("\"" + type + "\"") == std::string::npos);
    }
  }
  CHECK(files >= 80);
}
