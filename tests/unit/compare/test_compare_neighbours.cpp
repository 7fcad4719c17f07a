// test_compare_neighbours.cpp — `neighbours` in a compare config: the claims re-checked
// around the base setting. What is accepted and the one-line errors for what is not; the
// plan (only the claims' cells, on the exploratory seeds, under <out>/neighbours/NAME);
// --dry-run and --only; and the summary: each neighbour's claims judged in a Holm family of
// its own while the base's tests stay exactly what they are without neighbours.
//
// What it is not: a training run. The run folders are synthetic (the trainer's layout).
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>

#include "normlab/compare/compare.h"
#include "normlab/core/error.h"
#include "testutil/process.h"

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace {

// Three variants; the claims name two of them (rmsnorm is in no claim).
ojson neighbour_compare() {
  return ojson::parse(R"({
    "base": {"task": {"name": "majority", "eval_lengths": [{"min": 4, "max": 16}, {"min": 17, "max": 32}]},
             "train": {"steps": 20}},
    "variants": {"layernorm": {"model.norm.type": "layernorm"},
                 "batchnorm": {"model.norm.type": "batchnorm"},
                 "rmsnorm": {"model.norm.type": "rmsnorm"}},
    "seeds": [1, 2, 3], "replicate_seeds": [4, 5, 6], "target_loss": 0.3,
    "claims": [{"claim": "BN is less accurate on unseen lengths", "metric": "acc len_17_32",
                "a": "batchnorm", "b": "layernorm", "expect": "lower"},
               {"claim": "BN's seen-length loss is LN's", "metric": "loss len_4_16",
                "a": "batchnorm", "b": "layernorm", "expect": "equivalent"}],
    "neighbours": [{"name": "wide", "overrides": {"model.d_model": 64, "model.d_ff": 128}},
                   {"name": "longer", "overrides": {"train.steps": 30}}]
  })");
}

std::string error_of(const ojson& j) {
  try {
    nl::CompareConfig cc = nl::compare_config_from_json(j, "n.json", "");
    nl::plan_runs(cc, "out", 1);
  } catch (const nl::UserError& e) {
    CHECK(e.code == 2);
    CHECK(std::string(e.what()).find('\n') == std::string::npos);
    return e.what();
  }
  return "accepted";
}

// A finished run whose unseen-length accuracy is `unseen` (seed noise ±0.01, the same for
// every variant at a seed, so the paired differences are exact) and seen-length loss `seen`.
void write_run(const fs::path& dir, uint64_t seed, double unseen, double seen = 0.4) {
  fs::create_directories(dir);
  std::ofstream m(dir / "metrics.csv");
  m << "step,loss,lr,grad_norm,tokens_per_s,eval_loss/len_4_16,eval_acc/len_4_16,eval_loss/len_17_32,eval_acc/len_17_32\n";
  const double noise = 0.01 * ((int)(seed % 3) - 1);
  m << "10,0.9,0.001,1.0,1000,,,,\n";
  m << "20,0.5,0.001,1.0,1000," << seen << "," << 0.95 + noise << "," << 1.5 - unseen << "," << unseen + noise << "\n";
  m.close();
  std::ofstream(dir / "result.json") << R"({"steps": 20, "seconds": 1.0})";
}

}  // namespace

TEST_CASE("neighbours: each entry a name and non-empty overrides of base; bad entries are one-line errors", "[compare][neighbours]") {
  nl::CompareConfig cc = nl::compare_config_from_json(neighbour_compare(), "n.json", "");
  REQUIRE(cc.neighbours.size() == 2);
  CHECK(cc.neighbours[0].name == "wide");
  CHECK(cc.neighbours[0].overrides["model.d_model"] == 64);
  auto with = [](const char* neighbours) {
    ojson j = neighbour_compare();
    j["neighbours"] = ojson::parse(neighbours);
    return j;
  };
  CHECK(error_of(with(R"([{"name": "a", "overrides": {"train.steps": 5}, "seeds": [1]}])")).find("n.json: neighbours[0].seeds: unknown key; allowed: name, overrides") == 0);
  CHECK(error_of(with(R"([{"name": "a", "overrides": {"train.steps": 5}}, {"name": "a", "overrides": {"train.steps": 6}}])"))
            .find("neighbours[1].name: 'a' appears twice") != std::string::npos);
  CHECK(error_of(with(R"([{"name": "a", "overrides": {}}])")).find("neighbours[0].overrides: must be a non-empty object") != std::string::npos);
  CHECK(error_of(with(R"([{"name": "a", "overrides": 3}])")).find("neighbours[0].overrides: must be a non-empty object") != std::string::npos);
  CHECK(error_of(with(R"([{"overrides": {"train.steps": 5}}])")).find("neighbours[0].name: missing") != std::string::npos);
  CHECK(error_of(with(R"([{"name": "a/b", "overrides": {"train.steps": 5}}])")).find("neighbours[0].name: 'a/b' is not a folder name") != std::string::npos);
  CHECK(error_of(with(R"([])")).find("neighbours: expected a non-empty array") != std::string::npos);
  CHECK(error_of(with(R"({"a": {"train.steps": 5}})")).find("neighbours: expected a non-empty array") != std::string::npos);
  // a neighbour moves the base: not a key compare owns, a variant's or a swept one
  CHECK(error_of(with(R"([{"name": "a", "overrides": {"train.seed": 5}}])")).find("'train.seed' is set by compare") != std::string::npos);
  CHECK(error_of(with(R"([{"name": "a", "overrides": {"model.norm.type": "rmsnorm"}}])"))
            .find("neighbours[0].overrides: 'model.norm.type' is set by variant 'layernorm' too") != std::string::npos);
  CHECK(error_of(with(R"([{"name": "a", "overrides": {"model.norm": {"type": "rmsnorm"}}}])")).find("is set by variant") != std::string::npos);
  ojson swept = with(R"([{"name": "a", "overrides": {"train.batch_size": 8}}])");
  swept["sweep"] = {{"train.batch_size", {4, 16}}};
  CHECK(error_of(swept).find("neighbours[0].overrides: 'train.batch_size' is swept") != std::string::npos);
  // an override the training config does not have, or a value it rejects, names the neighbour
  CHECK(error_of(with(R"([{"name": "a", "overrides": {"model.widht": 5}}])")).find("n.json: neighbours.a: ") == 0);
  CHECK(error_of(with(R"([{"name": "a", "overrides": {"model.d_model": -4}}])")).find("n.json: neighbours.a: ") == 0);
  // neighbours re-check claims: none without them; no variant may take their folder's name
  ojson no_claims = neighbour_compare();
  no_claims.erase("claims");
  CHECK(error_of(no_claims).find("n.json: neighbours: re-check the claims, and there are none") == 0);
  ojson clash = neighbour_compare();
  clash["variants"]["neighbours"] = {{"model.norm.type", "none"}};
  CHECK(error_of(clash).find("a variant is named 'neighbours'") != std::string::npos);
}

TEST_CASE("neighbours: the plan adds the claims' cells at each neighbour, on the exploratory seeds only", "[compare][neighbours]") {
  ojson j = neighbour_compare();
  nl::CompareConfig cc = nl::compare_config_from_json(j, "n.json", "");
  j.erase("neighbours");
  const nl::CompareConfig plain = nl::compare_config_from_json(j, "n.json", "");
  const std::vector<nl::CompareRun> plan = nl::plan_runs(cc, "out", 1), base = nl::plan_runs(plain, "out", 1);
  // the base's runs come first, exactly as without neighbours
  REQUIRE(base.size() == 3 * 6);
  REQUIRE(plan.size() == base.size() + 2 * 2 * 3);  // 2 neighbours x {batchnorm, layernorm} x seeds 1..3
  for (size_t i = 0; i < base.size(); ++i) {
    CHECK(plan[i].neighbour.empty());
    CHECK(plan[i].config == base[i].config);
  }
  std::map<std::string, int> per_variant;
  for (size_t i = base.size(); i < plan.size(); ++i) {
    const nl::CompareRun& r = plan[i];
    CHECK((r.neighbour == "wide" || r.neighbour == "longer"));
    CHECK(r.seed <= 3);  // never a confirmatory seed
    ++per_variant[r.variant];
    CHECK(r.dir == nl::run_dir_for(nl::neighbour_dir("out", r.neighbour), r.variant, r.seed));
    CHECK(r.dir == "out/neighbours/" + r.neighbour + "/" + r.variant + "/seed" + std::to_string(r.seed));
    CHECK(r.config["train"]["out_dir"] == r.dir);
    CHECK(r.config["train"]["seed"] == r.seed);
    CHECK(r.config["model"]["norm"]["type"] == r.variant);  // the variant's override still applies
    if (r.neighbour == "wide") {
      CHECK(r.config["model"]["d_model"] == 64);
      CHECK(r.config["model"]["d_ff"] == 128);
      CHECK(r.config["train"]["steps"] == 20);
    } else {
      CHECK(r.config["model"]["d_model"] == base[0].config["model"]["d_model"]);
      CHECK(r.config["train"]["steps"] == 30);
    }
  }
  CHECK(per_variant == std::map<std::string, int>{{"batchnorm", 6}, {"layernorm", 6}});
  // --dry-run lists them as --only names them
  const std::string listing = nl::format_plan(plan);
  CHECK(listing.rfind("variant\tpoint\tseed\tfolder\n", 0) == 0);
  CHECK(listing.find("\nneighbours/wide/batchnorm\t-\t2\tout/neighbours/wide/batchnorm/seed2\n") != std::string::npos);
  const nl::CompareRun& wide_bn2 = *std::find_if(plan.begin(), plan.end(), [](const nl::CompareRun& r) {
    return r.neighbour == "wide" && r.variant == "batchnorm" && r.seed == 2;
  });
  CHECK(nl::only_matches("neighbours/wide", wide_bn2));
  CHECK(nl::only_matches("neighbours/wide/batchnorm", wide_bn2));
  CHECK(nl::only_matches("neighbours/wide/batchnorm/2", wide_bn2));
  CHECK(nl::only_matches("neighbours/wide/batchnorm/seed2", wide_bn2));
  CHECK_FALSE(nl::only_matches("neighbours/wide/batchnorm/3", wide_bn2));
  CHECK_FALSE(nl::only_matches("neighbours/wide/layernorm", wide_bn2));
  CHECK_FALSE(nl::only_matches("neighbours/wid", wide_bn2));
  CHECK_FALSE(nl::only_matches("neighbours/longer", wide_bn2));
  CHECK_FALSE(nl::only_matches("batchnorm", wide_bn2));       // the base's runs only
  CHECK_FALSE(nl::only_matches("neighbours/wide", plan[0]));  // not a base run
  nl::CompareOptions opt;
  opt.dry_run = true;
  opt.quiet = true;
  opt.only = "neighbours/wide/batchnorm";
  CHECK(nl::run_compare(cc, opt).runs.size() == plan.size());
  opt.only = "neighbours/nosuch";
  CHECK_THROWS_WITH(nl::run_compare(cc, opt), Catch::Contains("--only: 'neighbours/nosuch' names no run"));
}

TEST_CASE("neighbours: claims judged at each neighbour in a family of their own; the base's tests unchanged", "[compare][neighbours]") {
  fs::path out = testutil::unique_temp("compare_neighbours");
  fs::remove_all(out);
  ojson j = neighbour_compare();
  j["out_dir"] = out.string();
  const nl::CompareConfig cc = nl::compare_config_from_json(j, "n.json", "");
  // base: BatchNorm less accurate on 17..32; "wide": more accurate; "longer": the same
  std::map<std::string, double> base_acc = {{"layernorm", 0.80}, {"batchnorm", 0.50}, {"rmsnorm", 0.80}};
  for (const auto& v : cc.variants)
    for (uint64_t s : nl::all_seeds(cc)) write_run(nl::run_dir_for(out.string(), v.name, s), s, base_acc[v.name]);
  for (uint64_t s : cc.seeds) {
    write_run(nl::run_dir_for(nl::neighbour_dir(out.string(), "wide"), "layernorm", s), s, 0.70);
    write_run(nl::run_dir_for(nl::neighbour_dir(out.string(), "wide"), "batchnorm", s), s, 0.90);
    write_run(nl::run_dir_for(nl::neighbour_dir(out.string(), "longer"), "layernorm", s), s, 0.80);
    write_run(nl::run_dir_for(nl::neighbour_dir(out.string(), "longer"), "batchnorm", s), s, 0.80);
  }
  const ojson S = nl::summarize_compare(cc, out.string(), {});
  ojson plain_j = j;
  plain_j.erase("neighbours");
  const ojson P = nl::summarize_compare(nl::compare_config_from_json(plain_j, "n.json", ""), out.string(), {});
  CHECK(S["tests"]["list"] == P["tests"]["list"]);  // the base's Holm family is untouched
  CHECK(S["tests"]["count"] == P["tests"]["count"]);
  CHECK(S["variants"] == P["variants"]);
  CHECK_FALSE(P.contains("neighbours"));
  REQUIRE(S["neighbours"].size() == 2);
  const ojson& wide = S["neighbours"][0];
  CHECK(wide["name"] == "wide");
  CHECK(wide["dir"] == "neighbours/wide");
  CHECK(wide["variants"][2]["points"][0]["runs"].empty());  // rmsnorm is in no claim: not run there
  CHECK(wide["variants"][1]["points"][0]["runs"].size() == 3);
  CHECK(wide["tests"]["count"] == 2);  // its own family: the two claims' tests
  const ojson& wc = wide["tests"]["claims"];
  REQUIRE(wc.size() == 2);
  CHECK(wc[0]["exploratory"] == "fails");  // BatchNorm is more accurate there
  CHECK(wc[0]["diff"].get<double>() == Approx(0.20));
  CHECK(wc[0]["signs"]["higher"] == 3);
  CHECK_FALSE(wc[0].contains("confirmatory"));
  CHECK(wc[1]["exploratory"] == "holds");  // identical seen-length losses
  const ojson& longer = S["neighbours"][1]["tests"]["claims"];
  CHECK(longer[0]["exploratory"] == "fails");  // the same accuracies: equivalent, where "lower" was claimed
  // beside the base's verdicts, one per neighbour
  const ojson& claims = S["tests"]["claims"];
  CHECK(claims[0]["exploratory"] == "holds");
  CHECK(claims[0]["confirmatory"] == "holds");
  CHECK(claims[0]["neighbours"]["wide"] == "fails");
  CHECK(claims[0]["neighbours"]["longer"] == longer[0]["exploratory"]);
  const std::string md = nl::render_report(S, "");
  INFO(md);
  CHECK(md.find("### Around the base setting (neighbours)") != std::string::npos);
  CHECK(md.find("| `wide` | `model.d_model` = `64`, `model.d_ff` = `128` |") != std::string::npos);
  CHECK(md.find("| BN is less accurate on unseen lengths | fails | fails |") != std::string::npos);
  CHECK(md.find("| `wide` | BN is less accurate on unseen lengths | acc len_17_32 | 0.200 [") != std::string::npos);
  CHECK(nl::render_report(P, "").find("Around the base setting") == std::string::npos);

  // scripts/claims_table.py (figures.sh): the README's claims table from these summaries, a
  // comparison without neighbours ("plain") and one that re-checks its claims ("around")
  for (const auto& [name, summary] : {std::pair("plain", P), std::pair("around", S)}) {
    fs::create_directories(out / name);
    std::ofstream(out / name / "summary.json") << summary.dump(2);
  }
  const fs::path table = out / "table.md";
  const std::string cmd = "/usr/bin/python3 " + std::string(NORMLAB_TEST_DIR) + "/../scripts/claims_table.py --commit abc123 " +
                          (out / "plain").string() + " " + (out / "around").string() + " > " + table.string() + " 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const std::string t = testutil::slurp(table);
  INFO(t);
  CHECK(t.find("from plain, around, commit abc123") != std::string::npos);
  CHECK(t.find("| claim | comparison | metric | cells (a vs b) | seeds 1..3 | seeds 4..6 | neighbours |") != std::string::npos);
  CHECK(t.find("| BN is less accurate on unseen lengths | plain | acc len_17_32 | `batchnorm` vs `layernorm` | holds | holds | "
               "fails: wide, longer |") != std::string::npos);
  CHECK(t.find("| BN's seen-length loss is LN's | plain | loss len_4_16 | `batchnorm` vs `layernorm` | holds | holds | holds: wide, longer |") !=
        std::string::npos);
  CHECK(t.find("| around |") == std::string::npos);  // its claims are plain's: one row each
  fs::remove_all(out);
}

namespace {

// The equivalence claim's verdict when BatchNorm's seen-length loss is LayerNorm's + `delta`,
// with a per-seed wobble of ±`spread` in the difference (margin: the loss default, ±0.02).
std::string equivalence_verdict(double delta, double spread) {
  fs::path out = testutil::unique_temp("compare_equivalence_claim");
  fs::remove_all(out);
  ojson j = neighbour_compare();
  j.erase("neighbours");
  j.erase("replicate_seeds");
  j["seeds"] = {1, 2, 3, 4, 5, 6};
  j["out_dir"] = out.string();
  const nl::CompareConfig cc = nl::compare_config_from_json(j, "n.json", "");
  for (uint64_t s : cc.seeds) {
    const double base = 0.3 + 0.01 * (double)(s % 4), wobble = spread * ((int)(s % 3) - 1);
    write_run(nl::run_dir_for(out.string(), "layernorm", s), s, 0.8, base);
    write_run(nl::run_dir_for(out.string(), "rmsnorm", s), s, 0.8, base);
    write_run(nl::run_dir_for(out.string(), "batchnorm", s), s, 0.8, base + delta + wobble);
  }
  const ojson S = nl::summarize_compare(cc, out.string(), {});
  fs::remove_all(out);
  const ojson& claim = S["tests"]["claims"][1];
  REQUIRE(claim["expect"] == "equivalent");
  INFO(claim.dump());
  return claim["exploratory"].get<std::string>();
}

}  // namespace

TEST_CASE("claims: an expected equivalence holds when TOST shows it, even beside a detected negligible difference; fails only beyond the margin", "[compare][claims]") {
  CHECK(equivalence_verdict(0.001, 0.0001) == "holds");        // detected, but 0.001 is far inside ±0.02
  CHECK(equivalence_verdict(0.0, 0.001) == "holds");           // nothing detected, inside the margin
  CHECK(equivalence_verdict(0.05, 0.0001) == "fails");         // detected, CI wholly beyond +0.02
  CHECK(equivalence_verdict(-0.05, 0.0001) == "fails");        // ... or beyond -0.02
  CHECK(equivalence_verdict(0.021, 0.0001) == "fails");        // just beyond the margin, tightly
  CHECK(equivalence_verdict(0.015, 0.03) == "inconclusive");   // too noisy to say either way
  CHECK(equivalence_verdict(0.02, 0.004) == "inconclusive");   // detected, but its CI straddles the margin
}
