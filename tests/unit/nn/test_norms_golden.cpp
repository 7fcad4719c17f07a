// test_norms_golden.cpp — every norm against tests/fixtures/golden_norms.json: values computed
// independently in float64 PyTorch straight from the formulas of docs/math.md (Norms) (checked against
// torch.nn.LayerNorm and torch.nn.BatchNorm1d where those exist). Compared at float32
// tolerance, llm.c style: each tensor prints its max diff.
// The file has NaN for AdaNorm's dx at the two all-zero pad rows: PyTorch differentiates
// sqrt at s = 0 (inf * 0). There dy is 0 and normlab's gradient is 0; the test requires a
// finite value at such elements instead of comparing with NaN.
//
// What it is not: a PyTorch run at test time: the values are precomputed in the fixture.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>

#include "testutil/norms.h"

using nlohmann::json;
using namespace normtest;

namespace {

const json& golden() {
  static const json j = [] {
    std::ifstream f(NORMLAB_TEST_DIR "/fixtures/golden_norms.json");
    if (!f) throw std::runtime_error("cannot open " NORMLAB_TEST_DIR "/fixtures/golden_norms.json");
    // Python's json writes NaN, which is not JSON: read it as null (flatten makes it NaN again).
    std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    for (size_t p = text.find("NaN"); p != std::string::npos; p = text.find("NaN", p))
      text.replace(p, 3, "null");
    return json::parse(text);
  }();
  return j;
}

void flatten(const json& a, std::vector<double>& out) {
  if (a.is_array()) {
    for (const json& e : a) flatten(e, out);
  } else {
    out.push_back(a.is_null() ? NAN : a.get<double>());
  }
}
std::vector<double> flat(const json& a) {
  std::vector<double> v;
  flatten(a, v);
  return v;
}
nl::Tensor tensor_of(const json& a, const nl::Shape& shape) {
  std::vector<double> v = flat(a);
  return nl::Tensor::from(std::vector<float>(v.begin(), v.end()), shape);
}

// |got - want| <= 1e-5 + 1e-5 |want| everywhere (float32 against float64), optionally only at
// the rows (tokens of D values) whose keep is 1. Prints "name: OK, max diff ...".
void check_close(const std::string& name, const std::vector<float>& got, const json& want_json,
                 const std::vector<double>* row_keep = nullptr, int D = 1) {
  const std::vector<double> want = flat(want_json);
  REQUIRE(got.size() == want.size());
  double max_diff = 0;
  size_t bad = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (row_keep && (*row_keep)[i / D] == 0) continue;
    if (std::isnan(want[i])) {  // see the note at the top
      if (!std::isfinite(got[i])) ++bad;
      continue;
    }
    const double diff = std::fabs(got[i] - want[i]);
    max_diff = std::max(max_diff, diff);
    if (diff > 1e-5 + 1e-5 * std::fabs(want[i])) ++bad;
  }
  INFO(name << (bad ? ": FAIL" : ": OK") << ", max diff " << max_diff << " (" << bad
            << " elements out of tolerance)");
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("golden file covers exactly the norms of docs/math.md, and all are registered", "[norms]") {
  const std::set<std::string> spec = {"layernorm", "layernorm_simple", "detachnorm", "rmsnorm",
                                      "adanorm",   "batchnorm",        "batchnorm_padded", "none"};
  std::set<std::string> in_file;
  for (auto it = golden()["norms"].begin(); it != golden()["norms"].end(); ++it) in_file.insert(it.key());
  CHECK(in_file == spec);
  const std::vector<std::string> types = nl::norm_types();
  for (const std::string& t : spec) CHECK(std::find(types.begin(), types.end(), t) != types.end());
}

TEST_CASE("every norm matches the float64 golden values", "[norms]") {
  const json& j = golden();
  const int B = j["B"], T = j["T"], D = j["D"];
  const nl::Tensor x = tensor_of(j["x"], {B, T, D});
  const nl::Tensor keep = tensor_of(j["keep"], {B, T});
  const std::vector<double> keep_v = flat(j["keep"]);
  // Loss = sum(y * dy) over real tokens only: the pad rows of dy are zeroed.
  nl::Tensor dy = tensor_of(j["dy"], {B, T, D});
  for (int r = 0; r < B * T; ++r)
    for (int d = 0; d < D; ++d) dy.data()[r * D + d] *= (float)keep_v[r];

  for (auto it = j["norms"].begin(); it != j["norms"].end(); ++it) {
    const std::string type = it.key();
    const json& want = it.value();
    INFO("norm " << type);
    auto norm = make(type, D);  // cfg.eps = -1: the type's default must be the file's eps
    // Golden parameters: g -> weight, b -> bias.
    for (auto& p : norm->named_parameters()) {
      const json& src = p.name == "weight" ? j["g"] : j["b"];
      nl::Tensor v = tensor_of(src, {D});
      std::copy(v.data(), v.data() + D, p.tensor.data());
    }
    Pass r = run(*norm, x, keep, dy);
    check_close(type + " y", r.y, want["y"], &keep_v, D);
    check_close(type + " dx", r.dx, want["dx"]);
    const auto params = norm->named_parameters();
    for (size_t i = 0; i < params.size(); ++i) {
      const std::string key = params[i].name == "weight" ? "dg" : "db";
      REQUIRE(want.contains(key));
      check_close(type + " " + key, r.dparams[i], want[key]);
    }
    CHECK(want.contains("dg") == (params.size() >= 1));  // no gradient the file has and we lack
    CHECK(want.contains("db") == (params.size() == 2));

    if (want.contains("running_mean")) {
      const nl::BatchNormStats* s = norm->batch_stats();
      REQUIRE(s != nullptr);
      check_close(type + " running_mean", s->running_mean, want["running_mean"]);
      check_close(type + " running_var", s->running_var, want["running_var"]);
      // The buffers are the same numbers.
      const auto bufs = norm->named_buffers();
      REQUIRE(bufs.size() == 2);
      check_close(type + " buffer running_mean", bufs[0].tensor.to_vector(), want["running_mean"]);
      check_close(type + " buffer running_var", bufs[1].tensor.to_vector(), want["running_var"]);
      // Eval mode on the same x after that one training step.
      norm->set_training(false);
      nl::NoGrad ng;
      check_close(type + " eval_y", norm->forward(x, keep).to_vector(), want["eval_y"], &keep_v, D);
    } else {
      CHECK(norm->batch_stats() == nullptr);
    }
  }
}
