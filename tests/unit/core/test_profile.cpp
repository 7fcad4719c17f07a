// test_profile.cpp — `--profile` (profile.h): the rows name the ops, directions and parts of
// a real training step, they add up to the measured step time, and profiling changes nothing.
//
// What it is not: a test of speed. No timing is asserted beyond its bookkeeping (the rows
// sum to the total; an op that ran has time in the direction it ran in).
#include <catch2/catch.hpp>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "normlab/config/config.h"
#include "normlab/data/task.h"
#include "normlab/nn/encoder.h"
#include "normlab/core/profile.h"
#include "normlab/train/trainer.h"
#include "testutil/process.h"

using namespace nl;
namespace fs = std::filesystem;

namespace {

ModelConfig small_model() {
  ModelConfig mc;
  mc.d_model = 16; mc.heads = 2; mc.d_ff = 32; mc.layers = 2; mc.max_len = 12;
  mc.positions = Positions::learned; mc.pool = Pool::mean; mc.norm.type = "layernorm";
  return mc;
}

// Three sequences of lengths 12, 7, 3 (padded grid, or packed with fast kernels).
Batch small_batch() {
  Dataset d;
  const int lens[3] = {12, 7, 3};
  for (int i = 0; i < 3; ++i) {
    Example e;
    for (int t = 0; t < lens[i]; ++t) e.tokens.push_back(1 + (t * 5 + i) % 9);
    e.labels = {i % 2};
    d.examples.push_back(e);
  }
  return make_batch(d, {0, 1, 2}, "classify");
}

// One forward + backward of the model on the batch, inside a profiled step if `p`.
float step(Encoder& model, const Batch& b, Profile* p) {
  ProfileStep timed(p);
  Tensor loss = model.loss(model.forward(b), b);
  loss.backward();
  return loss.item();
}

const ProfileRow* find_row(const std::vector<ProfileRow>& rows, const std::string& part, const std::string& op) {
  for (const ProfileRow& r : rows)
    if (r.part == part && r.op == op) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("profile: rows name each part's ops per direction and add up to the steps' time", "[profile]") {
  for (bool pack : {true, false}) {
    ExecOptions exec;
    exec.pack = pack;
    Encoder model(small_model(), "classify", 10, 2, 3, exec);
    const Batch b = small_batch();
    Profile prof;
    for (int i = 0; i < 3; ++i) step(model, b, &prof);
    CAPTURE(pack);
    CHECK(prof.steps() == 3);
    const std::vector<ProfileRow> rows = prof.rows();
    // every part of the model shows up, in the order a step meets them
    std::vector<std::string> parts;
    for (const ProfileRow& r : rows)
      if (parts.empty() || parts.back() != r.part) parts.push_back(r.part);
    const std::set<std::string> seen(parts.begin(), parts.end());
    CHECK(seen.size() == parts.size());  // a part's rows are together
    for (const char* part : {"embed", "layers", "attention", "ffn", "head", "loss", "autograd", "step"})
      CHECK(seen.count(part) == 1);
    auto at = [&](const char* part) { return std::find(parts.begin(), parts.end(), part) - parts.begin(); };
    CHECK(at("embed") < at("layers"));
    CHECK(at("layers") < at("attention"));
    CHECK(at("attention") < at("ffn"));
    CHECK(at("ffn") < at("head"));
    CHECK(at("head") < at("loss"));
    CHECK(at("loss") < at("autograd"));
    // the projections of 2 layers x 4 (q, k, v, o) per step, forward and backward, with FLOPs
    const ProfileRow* lin = find_row(rows, "attention", "linear");
    REQUIRE(lin != nullptr);
    CHECK(lin->calls[(int)Phase::forward] == 3 * 2 * 4);
    CHECK(lin->calls[(int)Phase::backward] == 3 * 2 * 4);
    CHECK(lin->seconds[(int)Phase::forward] > 0);
    CHECK(lin->seconds[(int)Phase::backward] > 0);
    // forward 2 x rows x 16 x 16 per projection; backward twice that (dx and dW)
    const double rows_run = pack ? 12 + 7 + 3 : 3 * 12;
    CHECK(lin->flops[(int)Phase::forward] == Approx(3 * 8 * 2 * rows_run * 16 * 16));
    CHECK(lin->flops[(int)Phase::backward] == Approx(2 * lin->flops[(int)Phase::forward]));
    const ProfileRow* core = find_row(rows, "attention", "attention");
    REQUIRE(core != nullptr);
    CHECK(core->flops[(int)Phase::forward] > 0);
    CHECK(find_row(rows, "ffn", "gelu") != nullptr);
    CHECK(find_row(rows, "layers", "layernorm") != nullptr);
    CHECK(find_row(rows, "loss", "cross_entropy") != nullptr);
    // element-wise ops have no FLOP rate
    CHECK(find_row(rows, "ffn", "gelu")->flops[0] == 0);
    // the rows add up to the measured total, exactly (one clock, in laps)
    double sum = 0;
    for (const ProfileRow& r : rows) sum += r.total_seconds();
    CHECK(sum == Approx(prof.total_seconds()).epsilon(1e-9));
    CHECK(prof.total_seconds() > 0);
    // and so do the JSON's shares, and its parts
    const nlohmann::json j = prof.to_json();
    double shares = 0, part_shares = 0, ms = 0;
    for (const auto& r : j["rows"]) {
      shares += r["share"].get<double>();
      ms += r["forward_ms"].get<double>() + r["backward_ms"].get<double>() + r["other_ms"].get<double>();
    }
    for (const auto& p : j["parts"]) part_shares += p["share"].get<double>();
    CHECK(shares == Approx(1.0).epsilon(1e-9));
    CHECK(part_shares == Approx(1.0).epsilon(1e-9));
    CHECK(ms == Approx(j["ms_per_step"].get<double>()).epsilon(1e-9));
    CHECK(j["rows"].size() == rows.size());
    CHECK(j["overhead"]["laps_per_step"].get<long>() == prof.laps_per_step());
    for (const auto& r : j["rows"])
      if (r["op"] == "gelu") CHECK(r["forward_gflops"].is_null());
    // the table prints each row and a total per part
    const std::string table = prof.table();
    CHECK(table.find("attention") != std::string::npos);
    CHECK(table.find("= part total") != std::string::npos);
    CHECK(table.find("profiling overhead") != std::string::npos);
  }
}

TEST_CASE("profile: off, nothing is noted; on, the numbers are the same bit for bit", "[profile]") {
  const Batch b = small_batch();
  Encoder plain(small_model(), "classify", 10, 2, 3);
  Encoder profiled(small_model(), "classify", 10, 2, 3);
  Profile prof;
  REQUIRE(active_profile() == nullptr);
  // off: the tape carries no profile slots
  Tensor out = plain.forward(b);
  REQUIRE(out.node() != nullptr);
  CHECK(out.node()->profile_slot == -1);
  const float l0 = step(plain, b, nullptr);
  const float l1 = step(profiled, b, &prof);
  CHECK(active_profile() == nullptr);  // the step's scope ended
  CHECK(l0 == l1);
  auto p0 = plain.named_parameters(), p1 = profiled.named_parameters();
  REQUIRE(p0.size() == p1.size());
  for (size_t i = 0; i < p0.size(); ++i) CHECK(p0[i].tensor.grad_vector() == p1[i].tensor.grad_vector());
  CHECK(prof.steps() == 1);
}

TEST_CASE("profile: parts nest and restore; a part does nothing while not profiling", "[profile]") {
  CHECK(std::string(profile_part()) == "step");
  {
    ProfilePart off("ignored");
    CHECK(std::string(profile_part()) == "step");
  }
  Profile prof;
  {
    ProfileStep timed(&prof);
    ProfilePart outer("outer");
    CHECK(std::string(profile_part()) == "outer");
    {
      ProfilePart inner("inner");
      CHECK(std::string(profile_part()) == "inner");
      profile_lap(profile_part(), "work", Phase::other, 10);
    }
    CHECK(std::string(profile_part()) == "outer");
  }
  const std::vector<ProfileRow> rows = prof.rows();
  const ProfileRow* work = find_row(rows, "inner", "work");
  REQUIRE(work != nullptr);
  CHECK(work->calls[(int)Phase::other] == 1);
  CHECK(work->flops[(int)Phase::other] == 10);
}

TEST_CASE("profile: train --profile times every step and leaves the results as they were", "[profile][train]") {
  Config c = load_config(std::string(NORMLAB_SOURCE_DIR) + "/configs/tiny.json");
  c.train.threads = 1;
  c.train.steps = 6;
  c.train.log_every = 2;
  c.train.eval_every = 3;
  const fs::path base = fs::temp_directory_path() / ("normlab_test_profile_" + std::to_string(getpid()));
  fs::remove_all(base);
  TrainOptions plain_opt, prof_opt;
  plain_opt.out_dir = (base / "plain").string();
  prof_opt.out_dir = (base / "profiled").string();
  plain_opt.quiet = prof_opt.quiet = true;
  Profile prof;
  prof_opt.profile = &prof;
  const TrainResult a = train(c, plain_opt);
  const TrainResult b = train(c, prof_opt);
  CHECK(prof.steps() == 6);  // training steps only: the evaluations are not in it
  CHECK(a.final_train_loss == b.final_train_loss);
  REQUIRE(a.evals.size() == b.evals.size());
  for (size_t i = 0; i < a.evals.size(); ++i) CHECK(a.evals[i].loss == b.evals[i].loss);
  const std::vector<ProfileRow> rows = prof.rows();
  CHECK(find_row(rows, "optimizer", "step") != nullptr);
  CHECK(find_row(rows, "data", "batch") != nullptr);
  fs::remove_all(base);
}

TEST_CASE("profile: bench --profile adds the profile to its one JSON line, the table on stderr", "[profile][cli]") {
  testutil::Run r = testutil::normlab("bench --preset small --steps 2 --warmup 1 --profile");
  INFO(r.err);
  REQUIRE(r.code == 0);
  const nlohmann::json j = nlohmann::json::parse(r.out);  // stdout: the JSON line alone
  const nlohmann::json& p = j.at("profile");
  CHECK(p.at("steps") == 2);
  double shares = 0;
  for (const auto& row : p.at("rows")) shares += row.at("share").get<double>();
  CHECK(shares == Approx(1.0).epsilon(1e-9));
  CHECK(p.at("profiled_s").get<double>() > 0);
  CHECK(p.contains("measured_slowdown"));
  CHECK(r.err.find("bench-small profile, 2 steps") != std::string::npos);
  CHECK(r.err.find("= part total") != std::string::npos);
}

TEST_CASE("profile: train --profile writes profile.json into the run folder and prints the table", "[profile][cli]") {
  const fs::path out = testutil::unique_temp("profile_train");
  fs::remove_all(out);
  testutil::Run r = testutil::normlab("train " + std::string(NORMLAB_SOURCE_DIR) + "/configs/tiny.json --quiet --profile --out " +
                                      out.string() + " --set train.steps=3 --set optim.warmup_steps=1 --set train.threads=1");
  INFO(r.err);
  REQUIRE(r.code == 0);
  CHECK(r.out.find("profile of 3 training steps") != std::string::npos);
  const nlohmann::json p = nlohmann::json::parse(testutil::slurp(out / "profile.json"));
  CHECK(p.at("steps") == 3);
  CHECK(p.at("rows").size() > 5);
  fs::remove_all(out);
}
