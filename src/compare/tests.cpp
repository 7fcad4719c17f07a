// compare/tests.cpp — the tests of a comparison: each question's, collected into one list,
// duplicates marked, one Holm family of distinct tests, an equivalence verdict per test, and
// the re-test of every difference on the confirmatory seeds (questions.h).
//
// What it is: TestPlan::add runs one test (stats.cpp) on the finished runs of two cells and
// records it as summary.json writes it:
//   paired t    runs of the two cells at the same seed are pairs (same data order and initial
//               values; an eval-only twin is the same trained model): a t-test of the per-seed
//               differences, the 95% interval of their mean and how many seeds lie each way
//   Welch t     config "pairing": "unpaired" (unpaired designs); never for eval-only twins
//   TOST        equivalence within ±margin (config "margins"; acc 0.01, losses 0.02)
// build_tests asks every question for its tests at every point, marks a test of the same
// metric on the same trained models as an earlier one as its duplicate (a batch-statistics
// variant's training loss is its twin's), Holm-corrects the distinct tests' p-values (one
// family) and their equivalence p-values (another), and gives each a verdict: different
// (Holm p < 0.05), equivalent (Holm TOST p < 0.05), inconclusive, or untestable. With
// replicate_seeds, each "different" test is re-run on the confirmatory seeds alone (Holm over
// those re-tests): replicated (p < 0.05, same sign), reversed (p < 0.05, other sign) or not
// replicated; and each "equivalent" test likewise (TOST, Holm over every re-test's TOST p):
// equivalence replicated (p < 0.05) or not.
// What it is not: the statistics themselves (stats.cpp) nor their words (report.cpp).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <map>
#include <tuple>

#include "questions.h"
#include "summary.h"

using ojson = nlohmann::ordered_json;

namespace nl {

static ojson num(double v) { return std::isfinite(v) ? ojson(v) : ojson(nullptr); }
static double val(const ojson& j) { return j.is_number() ? j.get<double>() : NAN; }

int TestPlan::find(const std::string& name) const {
  for (size_t i = 0; i < cc.variants.size(); ++i)
    if (cc.variants[i].name == name) return (int)i;
  return -1;
}

bool TestPlan::asks(const std::string& q) const {
  return std::find(cc.questions.begin(), cc.questions.end(), q) != cc.questions.end();
}

static double margin_of(const CompareConfig& cc, const std::string& metric) {
  return metric.rfind("acc", 0) == 0 ? cc.margin_acc : cc.margin_loss;
}

// The two samples of a test: the number at `pointer` of each finished run, aligned by seed
// (NaN where a run of that seed has no value).
struct Samples {
  std::vector<double> a, b;
};

static std::map<uint64_t, double> by_seed(const ojson& runs, const std::string& pointer) {
  std::map<uint64_t, double> out;
  const ojson::json_pointer p(pointer);
  for (const auto& r : runs)
    if (r.value("status", std::string()) == "finished") out[r["seed"].get<uint64_t>()] = r.contains(p) ? val(r.at(p)) : NAN;
  return out;
}

static Samples samples(const ojson& ra, const ojson& rb, const std::string& pointer, const std::vector<uint64_t>& seeds) {
  const auto ma = by_seed(ra, pointer), mb = by_seed(rb, pointer);
  Samples s;
  for (uint64_t seed : seeds) {
    auto ia = ma.find(seed), ib = mb.find(seed);
    s.a.push_back(ia == ma.end() ? NAN : ia->second);
    s.b.push_back(ib == mb.end() ? NAN : ib->second);
  }
  return s;
}

std::map<std::string, std::pair<std::string, std::string>> override_diff(const CompareVariant& a,
                                                                         const CompareVariant& b) {
  std::map<std::string, std::pair<std::string, std::string>> d;
  for (auto it = a.overrides.begin(); it != a.overrides.end(); ++it) d[it.key()].first = it.value().dump();
  for (auto it = b.overrides.begin(); it != b.overrides.end(); ++it) d[it.key()].second = it.value().dump();
  for (auto it = d.begin(); it != d.end();) it = it->second.first == it->second.second ? d.erase(it) : std::next(it);
  return d;
}

// Variants whose overrides differ only in eval.* keys: one trained model, evaluated twice.
bool eval_twins(const CompareVariant& a, const CompareVariant& b) {
  for (const auto& [k, v] : override_diff(a, b))
    if (k.rfind("eval.", 0) != 0) return false;
  return true;
}

// One test of a vs b on two aligned samples: paired or Welch, with TOST; the fields of
// summary.json's test entry that depend on the data.
// The numbers every two-sample test reports (null where the test could not be computed).
template <class Test>
static void put_test_numbers(ojson& t, const Test& r) {
  t["diff"] = r.ok ? num(r.diff) : ojson(nullptr);
  t["ci95"] = r.ok ? ojson::array({num(r.ci_lo), num(r.ci_hi)}) : ojson(nullptr);
  t["t"] = r.ok ? num(r.t) : ojson(nullptr);
  t["df"] = r.ok ? num(r.df) : ojson(nullptr);
  t["p"] = r.ok ? ojson(r.p) : ojson(nullptr);
}

static void run_test(ojson& t, const Samples& s, bool paired, double margin) {
  t["test"] = paired ? "paired t" : "Welch t";
  double diff = NAN, se = NAN, df = NAN;
  if (paired) {
    const PairedTest p = paired_t_test(s.a, s.b);
    t["n"] = {p.n, p.n};
    put_test_numbers(t, p);
    t["signs"] = {{"higher", p.higher}, {"lower", p.lower}, {"equal", p.equal}};
    if (p.ok) diff = p.diff, se = p.se, df = p.df;
  } else {
    const WelchTest w = welch_test(s.a, s.b);
    t["n"] = {w.n_a, w.n_b};
    put_test_numbers(t, w);
    if (w.ok) diff = w.diff, se = w.se, df = w.df;
  }
  t["margin"] = margin;
  t["p_equivalence"] = num(tost_p(diff, se, df, margin));
}

void TestPlan::add(const std::string& metric, const std::string& pointer, int a, int b, size_t pi, const std::string& why) {
  add(metric, pointer, a, pi, b, pi, why);
}

void TestPlan::add(const std::string& metric, const std::string& pointer, int a, size_t pa, int b, size_t pb,
                   const std::string& why) {
  if (a < 0 || b < 0 || (a == b && pa == pb)) return;
  const bool twins = pa == pb && eval_twins(cc.variants[a], cc.variants[b]);
  const bool paired = twins || cc.pairing == "seed";
  ojson t;
  t["metric"] = metric;
  t["point"] = points[pa].label;
  if (pb != pa) t["point_against"] = points[pb].label;
  t["variant"] = cc.variants[a].name;
  t["against"] = cc.variants[b].name;
  t["why"] = why;
  t["pointer"] = pointer;
  run_test(t, samples(variants[a]["points"][pa]["runs"], variants[b]["points"][pb]["runs"], pointer, cc.seeds), paired,
           margin_of(cc, metric));
  tests.push_back(t);
}

std::string metric_pointer(const std::string& metric) {
  for (const char* kind : {"acc", "loss"}) {
    const std::string k = std::string(kind) + " ";
    if (metric.rfind(k, 0) == 0) return "/eval/" + json_pointer_escape(metric.substr(k.size())) + "/" + kind;
  }
  return "/" + metric;
}

// ---- families -----------------------------------------------------------------------------

// Whether the number at `pointer` comes from training alone (an eval-only twin has the same).
static bool training_metric(const std::string& pointer) {
  for (const char* eval : {"/eval/", "/overfit_gap", "/by_length", "/bn_shift"})
    if (pointer.rfind(eval, 0) == 0) return false;
  return true;
}

// What a test compares, by design: the metric and its two cells, where for a training metric
// a variant stands for the first variant it is an eval-only twin of (the same trained
// models). Two tests with one key (either way round) are one test.
static std::pair<std::string, std::string> design_key(const ojson& t, const CompareConfig& cc) {
  const bool training = training_metric(t["pointer"]);
  auto model = [&](const std::string& name) {
    const CompareVariant* v = nullptr;
    for (const auto& x : cc.variants)
      if (x.name == name) v = &x;
    if (training && v)
      for (const auto& x : cc.variants)
        if (eval_twins(x, *v)) return x.name;
    return name;
  };
  const std::string pa = t["point"], pb = t.value("point_against", pa);
  const std::string a = model(t["variant"]) + "@" + pa, b = model(t["against"]) + "@" + pb;
  const std::string m = t["metric"].get<std::string>() + "|";
  return {m + a + "|" + b, m + b + "|" + a};
}

// Holm over the tests at `idx` of the numbers at `key`, written to `out_key`.
static void holm_over(ojson& tests, const std::vector<size_t>& idx, const char* key, const char* out_key) {
  std::vector<double> ps;
  std::vector<size_t> at;
  for (size_t i : idx)
    if (tests[i][key].is_number()) ps.push_back(tests[i][key].get<double>()), at.push_back(i);
  const std::vector<double> adj = holm_adjust(ps);
  for (size_t k = 0; k < at.size(); ++k) tests[at[k]][out_key] = adj[k];
}

static std::string verdict_of(const ojson& t) {
  if (!t["p_holm"].is_number()) return "untestable";
  if (t["p_holm"].get<double>() < 0.05) return "different";
  if (t["p_equivalence_holm"].is_number() && t["p_equivalence_holm"].get<double>() < 0.05) return "equivalent";
  return "inconclusive";
}

// Marks duplicates, then Holm over the distinct tests; returns the distinct tests' indices.
static std::vector<size_t> families(ojson& tests, const CompareConfig& cc) {
  std::map<std::string, size_t> first;
  std::vector<size_t> distinct;
  for (size_t i = 0; i < tests.size(); ++i) {
    const auto [key, reversed] = design_key(tests[i], cc);
    auto it = first.find(reversed);
    bool fresh = it == first.end();
    if (fresh) std::tie(it, fresh) = first.insert({key, i});
    tests[i]["duplicate_of"] = fresh ? ojson(nullptr) : ojson(it->second);
    tests[i]["p_holm"] = nullptr;
    tests[i]["p_equivalence_holm"] = nullptr;
    if (fresh) distinct.push_back(i);
  }
  holm_over(tests, distinct, "p", "p_holm");
  holm_over(tests, distinct, "p_equivalence", "p_equivalence_holm");
  for (auto& t : tests) {
    if (t["duplicate_of"].is_number()) {
      const ojson& o = tests[t["duplicate_of"].get<size_t>()];
      t["p_holm"] = o["p_holm"];
      t["p_equivalence_holm"] = o["p_equivalence_holm"];
    }
    t["verdict"] = verdict_of(t);
  }
  return distinct;
}

// ---- replication ----------------------------------------------------------------------------

// Every distinct "different" or "equivalent" test, and every test a claim stands on, re-run on
// the confirmatory seeds alone. Two Holm families over the re-tests: the difference p-values of
// those re-tested for a difference or a claim, and the TOST p-values of all of them.
static void replicate(ojson& tests, const std::vector<size_t>& distinct, const ojson& variants, const CompareConfig& cc) {
  if (cc.replicate_seeds.empty()) return;
  auto runs_of = [&](const std::string& v, const std::string& point) -> const ojson& {
    for (const auto& V : variants)
      if (V["name"] == v)
        for (const auto& P : V["points"])
          if (P["label"] == point) return P["replicate_runs"];
    static const ojson kNone = ojson::array();
    return kNone;
  };
  // The tests a claim stands on (their first occurrence) are re-tested whatever they found.
  std::vector<bool> claimed(tests.size(), false);
  for (size_t i = 0; i < tests.size(); ++i)
    if (tests[i]["why"] == "claim") claimed[tests[i]["duplicate_of"].is_number() ? tests[i]["duplicate_of"].get<size_t>() : i] = true;
  std::vector<size_t> retested;
  for (size_t i : distinct) {
    if (tests[i]["verdict"] != "different" && tests[i]["verdict"] != "equivalent" && !claimed[i]) continue;
    const ojson& t = tests[i];
    const std::string pa = t["point"], pb = t.value("point_against", pa);
    ojson r;
    run_test(r, samples(runs_of(t["variant"], pa), runs_of(t["against"], pb), t["pointer"], cc.replicate_seeds),
             t["test"] == "paired t", t["margin"].get<double>());
    tests[i]["replication"] = r;
    retested.push_back(i);
  }
  // A re-test is in the difference family unless it was re-tested for its equivalence alone.
  auto for_difference = [&](size_t i) { return tests[i]["verdict"] == "different" || claimed[i]; };
  std::vector<double> ps, pe;
  std::vector<size_t> at, at_e;
  for (size_t i : retested) {
    const ojson& r = tests[i]["replication"];
    if (!r["p"].is_number()) continue;
    if (for_difference(i)) ps.push_back(r["p"].get<double>()), at.push_back(i);
    pe.push_back(r["p_equivalence"].is_number() ? r["p_equivalence"].get<double>() : 1.0), at_e.push_back(i);
  }
  const std::vector<double> adj = holm_adjust(ps), adj_e = holm_adjust(pe);
  for (size_t i : retested) {
    ojson& r = tests[i]["replication"];
    r["p_holm"] = nullptr;
    r["p_equivalence_holm"] = nullptr;
    for (size_t k = 0; k < at.size(); ++k)
      if (at[k] == i) r["p_holm"] = adj[k];
    for (size_t k = 0; k < at_e.size(); ++k)
      if (at_e[k] == i) r["p_equivalence_holm"] = adj_e[k];
    const bool found = r["p_holm"].is_number() && r["p_holm"].get<double>() < 0.05;
    const bool within = r["p_equivalence_holm"].is_number() && r["p_equivalence_holm"].get<double>() < 0.05;
    const bool same_sign = found && (r["diff"].get<double>() > 0) == (tests[i]["diff"].get<double>() > 0);
    if (tests[i]["verdict"] == "equivalent") r["verdict"] = within ? "equivalence replicated" : "equivalence not replicated";
    else if (tests[i]["verdict"] != "different") r["verdict"] = "re-tested for a claim";
    else r["verdict"] = !found ? "not replicated" : same_sign ? "replicated" : "reversed";
  }
}

// A claim judged from one test's numbers (`t` a test, or its replication): holds, fails or
// inconclusive (docs/math.md, "Claims"). An expected equivalence holds when TOST puts the difference inside the margin (Holm p < 0.05),
// even if a (negligible) difference is also detected; it fails only when a difference is detected
// and its 95% CI lies wholly outside the margin (the difference shown larger than the margin).
// A direction claim holds when detected the expected way; it fails on the other sign or when the
// difference is shown equivalent (no difference where one was expected).
static std::string claim_status(const ojson& t, const std::string& expect) {
  if (!t.is_object() || !t["p_holm"].is_number()) return "not tested";
  const bool different = t["p_holm"].get<double>() < 0.05;
  const bool within = t["p_equivalence_holm"].is_number() && t["p_equivalence_holm"].get<double>() < 0.05;
  if (expect == "equivalent") {
    if (within) return "holds";
    const double m = t.value("margin", 0.0);
    const bool beyond = t.contains("ci95") && t["ci95"].is_array() && t["ci95"].size() == 2 &&
                        t["ci95"][0].is_number() && t["ci95"][1].is_number() &&
                        (t["ci95"][0].get<double>() > m || t["ci95"][1].get<double>() < -m);
    return different && beyond ? "fails" : "inconclusive";
  }
  if (!different) return within ? "fails" : "inconclusive";
  return (t["diff"].get<double>() > 0) == (expect == "higher") ? "holds" : "fails";
}

static ojson judge_claims(const CompareConfig& cc, const ojson& tests, bool with_numbers) {
  ojson out = ojson::array();
  for (size_t ci = 0; ci < cc.claims.size(); ++ci)
    for (const auto& t : tests) {
      const auto& c = cc.claims[ci];
      if (t["why"] != "claim" || t.value("claim", (size_t)-1) != ci) continue;
      const ojson& o = t["duplicate_of"].is_number() ? tests[t["duplicate_of"].get<size_t>()] : t;
      const std::string at = t["point"].get<std::string>();
      out.push_back({{"claim", c.claim + (c.a_point.empty() && !at.empty() ? " (" + at + ")" : "")},
                     {"metric", c.metric},
                     {"a", c.a + (t["point"].get<std::string>().empty() ? "" : "/" + at)},
                     {"b", c.b + (t.value("point_against", t["point"]).get<std::string>().empty()
                                      ? "" : "/" + t.value("point_against", t["point"]).get<std::string>())},
                     {"expect", c.expect},
                     {"exploratory", claim_status(o, c.expect)},
                     {"confirmatory", o.contains("replication") ? claim_status(o["replication"], c.expect) : "not run"}});
      if (with_numbers)  // what the verdict rests on
        for (const char* k : {"test", "n", "diff", "ci95", "p_holm", "p_equivalence_holm", "signs"})
          if (o.contains(k)) out.back()[k] = o[k];
    }
  return out;
}

ojson build_claim_tests(const CompareConfig& cc, const std::vector<SweepPoint>& points, const ojson& variants) {
  TestPlan plan{cc, points, variants, {}};
  for (size_t pi = 0; pi < points.size(); ++pi) claims_question().add_tests(plan, pi);
  const std::vector<size_t> distinct = families(plan.tests, cc);
  size_t with_p = 0;
  for (size_t i : distinct) with_p += plan.tests[i]["p"].is_number();
  ojson T;
  T["count"] = with_p;
  T["duplicates"] = plan.tests.size() - distinct.size();
  T["list"] = plan.tests;
  T["claims"] = judge_claims(cc, plan.tests, true);
  for (auto& c : T["claims"]) c.erase("confirmatory");
  return T;
}

ojson build_tests(const CompareConfig& cc, const std::vector<SweepPoint>& points, const ojson& variants,
                  const std::vector<std::string>& splits) {
  TestPlan plan{cc, points, variants, splits};
  for (size_t pi = 0; pi < points.size(); ++pi)
    for (const Question& q : questions())
      if (q.add_tests) q.add_tests(plan, pi);
  ojson& tests = plan.tests;
  const std::vector<size_t> distinct = families(tests, cc);
  replicate(tests, distinct, variants, cc);
  size_t with_p = 0;
  for (size_t i : distinct) with_p += tests[i]["p"].is_number();
  ojson T;
  T["method"] = cc.pairing == "seed"
                    ? "paired t-test on the per-seed differences (runs at the same seed pair), two-sided"
                    : "Welch's two-sample t-test (unequal variances), two-sided; eval-only twins paired by seed";
  T["alpha"] = 0.05;
  T["count"] = with_p;
  T["duplicates"] = tests.size() - distinct.size();
  T["equivalence"] = {{"method", "TOST (two one-sided t-tests), Holm-corrected as a second family"},
                      {"margin_acc", cc.margin_acc}, {"margin_loss", cc.margin_loss}};
  T["list"] = tests;
  if (!cc.claims.empty()) T["claims"] = judge_claims(cc, tests, false);
  return T;
}

}  // namespace nl
