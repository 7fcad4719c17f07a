// compare/config.cpp — the compare config: one table of keys, read like the training config.
//
// What it is: compare_table(), one row per key of a compare file (configs/compare/README.md
// documents them), each row the key's name, what it allows, a one-line doc and how to read
// it (check, then store into CompareConfig). The rows are read in table order by the same
// read_object() as the training config (src/config/fields.h), which also rejects unknown
// keys with a did-you-mean. Every error is one line naming the file and the key (code 2):
//   configs/compare/x.json: variants.bn: 'train.seed' is set by compare (seeds, out_dir, jobs), not by a variant
// After the table: what each variant is (its norm type and whether that norm keeps batch
// statistics, from its resolved config and the norm registry's traits), and the defaults
// that depend on the variants (reference, questions).
// What it is not: the plan (plan.cpp) nor anything that runs.
#include <cctype>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <array>
#include <set>

#include "../config/fields.h"
#include "normlab/compare/compare.h"
#include "normlab/config/config.h"
#include "normlab/core/error.h"
#include "normlab/core/files.h"
#include "normlab/core/json_io.h"
#include "normlab/nn/norm.h"
#include "questions.h"

namespace fs = std::filesystem;
using ojson = nlohmann::ordered_json;

namespace nl {

using config::Where;
using Row = config::Field<CompareConfig, ojson>;

// [A-Za-z0-9_.-]+, and not "." or "..": safe as a folder name and in --only.
static bool valid_name(const std::string& s) {
  if (s.empty() || s == "." || s == "..") return false;
  for (char c : s)
    if (!std::isalnum((unsigned char)c) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

static bool valid_key_path(const std::string& k) {
  if (k.empty() || k.front() == '.' || k.back() == '.') return false;
  return k.find("..") == std::string::npos && k.find('=') == std::string::npos;
}

// Keys compare sets itself in every run: neither a variant nor a sweep may set them.
static bool set_by_compare(const std::string& k) {
  return k == "train" || k == "train.seed" || k == "train.out_dir" || k == "train.threads";
}

// ---- the rows ---------------------------------------------------------------------------

static void read_base(const ojson& base, CompareConfig& cc, const Where& at, const std::string& base_dir) {
  if (base.is_string()) {
    fs::path path(base.get<std::string>());
    // error_code: a name the system refuses (too long, ...) is "not there", and the read below
    // says why in one line, instead of a filesystem_error escaping as an internal error.
    std::error_code ec;
    if (path.is_relative() && !base_dir.empty() && fs::exists(fs::path(base_dir) / path, ec))
      path = fs::path(base_dir) / path;
    // A regular file of at most kMaxConfigBytes; every JSON error one line (json_io.h).
    const std::string label = at.source + ": base: '" + path.string() + "'";
    cc.base = parse_json(read_regular_file(path.string(), label, "config", kMaxConfigBytes, 2), label);
    if (!cc.base.is_object()) at.fail("'" + path.string() + "' is not a JSON object");
    cc.base_source = path.string();
  } else if (base.is_object()) {
    cc.base = nlohmann::json::parse(base.dump());
    cc.base_source = at.source + " (inline base)";
  } else {
    at.fail("must be a path (string) or a training config (object)");
  }
  // compare writes train.seed, train.out_dir and train.threads into every run's config.
  if (cc.base.contains("train") && !cc.base["train"].is_object())
    at.fail("train: must be an object (the training section), not " + std::string(cc.base["train"].type_name()));
}

static void read_variants(const ojson& vs, CompareConfig& cc, const Where& at) {
  if (!vs.is_object() || vs.empty()) at.fail("must be a non-empty object {name: {key.path: value}}");
  for (auto it = vs.begin(); it != vs.end(); ++it) {
    const Where here{at.source, at.path + "." + it.key()};
    if (!valid_name(it.key())) here.fail("a variant name is a folder name ([A-Za-z0-9_.-]+)");
    if (!it.value().is_object()) here.fail("must be an object {key.path: value}");
    for (auto ov = it.value().begin(); ov != it.value().end(); ++ov) {
      if (!valid_key_path(ov.key())) here.fail("'" + ov.key() + "' is not a key path like model.norm.type");
      if (set_by_compare(ov.key()))
        here.fail("'" + ov.key() + "' is set by compare (seeds, out_dir, jobs), not by a variant");
    }
    CompareVariant v;
    v.name = it.key();
    v.overrides = it.value();
    cc.variants.push_back(std::move(v));  // norm_type, batch_stats: in finish(), once base and sweep are known
  }
}

// Distinct non-negative integers.
static std::vector<uint64_t> read_seeds(const ojson& ss, const Where& at) {
  if (!ss.is_array() || ss.empty()) at.fail("must be a non-empty array of integers");
  std::vector<uint64_t> out;
  std::set<uint64_t> seen;
  for (const auto& s : ss) {
    if (!s.is_number_integer() || (!s.is_number_unsigned() && s.get<int64_t>() < 0))
      at.fail(json_brief(s) + " is not a non-negative integer");
    if (!seen.insert(s.get<uint64_t>()).second) at.fail(json_brief(s) + " appears twice");
    out.push_back(s.get<uint64_t>());
  }
  return out;
}

// One axis {key.path: [values]}: the key must exist in the training config (the --set
// check, on a copy of base) and no variant may set it (or a key inside or around it).
static SweepAxis read_axis(const std::string& k, const ojson& values, const CompareConfig& cc, const Where& at) {
  if (!valid_key_path(k)) at.fail("'" + k + "' is not a key path like train.batch_size");
  const Where here{at.source, at.path + "." + k};
  if (set_by_compare(k)) here.fail("set by compare (seeds, out_dir, jobs), not by a sweep");
  if (!values.is_array() || values.empty()) here.fail("must be a non-empty array of values, not " + json_describe(values));
  try {
    nlohmann::json probe = cc.base;
    apply_overrides(probe, {k + "=" + values[0].dump()});
  } catch (const UserError& e) {
    here.fail(e.what());
  }
  SweepAxis axis;
  axis.key = k;
  std::set<std::string> labels;
  for (const auto& v : values) {
    std::string label = sweep_label(v);
    if (!labels.insert(label).second) here.fail("two values have the same folder label '" + label + "'");
    axis.values.push_back(nlohmann::json::parse(v.dump()));
    axis.labels.push_back(label);
  }
  for (const auto& var : cc.variants)
    for (auto ov = var.overrides.begin(); ov != var.overrides.end(); ++ov) {
      const std::string& o = ov.key();
      if (o == k || o.rfind(k + ".", 0) == 0 || k.rfind(o + ".", 0) == 0)
        here.fail("variant '" + var.name + "' sets '" + o + "' too; a swept key cannot also be a variant's override");
    }
  return axis;
}

static void read_sweep(const ojson& sw, CompareConfig& cc, const Where& at) {
  if (!sw.is_object() || sw.empty()) at.fail("must be a non-empty object {key.path: [values]}");
  for (auto it = sw.begin(); it != sw.end(); ++it) cc.sweep.push_back(read_axis(it.key(), it.value(), cc, at));
}

static std::string read_string(const ojson& v, const Where& at, const char* what) {
  if (!v.is_string()) at.fail(std::string("must be ") + what);
  return v.get<std::string>();
}

static void read_questions(const ojson& qs, CompareConfig& cc, const Where& at) {
  const auto names = compare_question_names();
  if (!qs.is_array()) at.fail("must be an array of names");
  for (const auto& q : qs) {
    if (!q.is_string() || std::find(names.begin(), names.end(), q.get<std::string>()) == names.end())
      at.fail(json_brief(q) + " is not one of " + config::join(names));
    cc.questions.push_back(q.get<std::string>());
  }
}

static void read_margins(const ojson& m, CompareConfig& cc, const Where& at) {
  if (!m.is_object()) at.fail("expected an object {\"acc\": m, \"loss\": m}, got " + json_describe(m));
  for (auto it = m.begin(); it != m.end(); ++it) {
    const Where here{at.source, at.path + "." + it.key()};
    if (it.key() != "acc" && it.key() != "loss") here.fail("unknown key; allowed: acc, loss");
    if (!it.value().is_number() || !std::isfinite(it.value().get<double>()) || !(it.value().get<double>() > 0))
      here.fail("must be a number > 0, not " + json_describe(it.value()));
    (it.key() == "acc" ? cc.margin_acc : cc.margin_loss) = it.value().get<double>();
  }
}

// "VARIANT" or "VARIANT/POINT", checked against the variants and points in finish().
static void split_cell(const ojson& v, std::string& variant, std::string& point, const Where& at) {
  if (!v.is_string() || v.get<std::string>().empty()) at.fail("expected \"VARIANT\" or \"VARIANT/POINT\", got " + json_describe(v));
  const std::string s = v.get<std::string>();
  const size_t slash = s.find('/');
  variant = s.substr(0, slash);
  point = slash == std::string::npos ? "" : s.substr(slash + 1);
}

static void read_contrasts(const ojson& cs, CompareConfig& cc, const Where& at) {
  if (!cs.is_array()) at.fail("expected an array of {\"a\": cell, \"b\": cell}, got " + json_describe(cs));
  for (size_t i = 0; i < cs.size(); ++i) {
    const Where here{at.source, at.path + "[" + std::to_string(i) + "]"};
    const ojson& c = cs[i];
    if (!c.is_object() || !c.contains("a") || !c.contains("b") || c.size() != 2)
      here.fail("expected {\"a\": cell, \"b\": cell}, got " + json_describe(c));
    CompareConfig::Contrast k;
    split_cell(c["a"], k.a, k.a_point, Where{at.source, here.path + ".a"});
    split_cell(c["b"], k.b, k.b_point, Where{at.source, here.path + ".b"});
    if (k.a_point.empty() != k.b_point.empty()) here.fail("give a point for both cells or for neither");
    cc.contrasts.push_back(k);
  }
}

static void read_claims(const ojson& cs, CompareConfig& cc, const Where& at) {
  if (!cs.is_array()) at.fail("expected an array of claims, got " + json_describe(cs));
  for (size_t i = 0; i < cs.size(); ++i) {
    const Where here{at.source, at.path + "[" + std::to_string(i) + "]"};
    const ojson& c = cs[i];
    if (!c.is_object()) here.fail("expected {\"claim\", \"metric\", \"a\", \"b\", \"expect\"}, got " + json_describe(c));
    for (auto it = c.begin(); it != c.end(); ++it)
      if (it.key() != "claim" && it.key() != "metric" && it.key() != "a" && it.key() != "b" && it.key() != "expect")
        Where{at.source, here.path + "." + it.key()}.fail("unknown key; allowed: claim, metric, a, b, expect");
    for (const char* k : {"metric", "a", "b", "expect"})
      if (!c.contains(k)) Where{at.source, here.path + "." + k}.fail("missing");
    CompareConfig::Claim k;
    k.metric = read_string(c["metric"], Where{at.source, here.path + ".metric"}, "a metric name");
    const std::string& m = k.metric;
    if (m != "final_train_loss" && m != "overfit_gap" && m.rfind("acc ", 0) != 0 && m.rfind("loss ", 0) != 0)
      Where{at.source, here.path + ".metric"}.fail("'" + m + "' is not final_train_loss, overfit_gap, 'acc SPLIT' or 'loss SPLIT'");
    split_cell(c["a"], k.a, k.a_point, Where{at.source, here.path + ".a"});
    split_cell(c["b"], k.b, k.b_point, Where{at.source, here.path + ".b"});
    if (k.a_point.empty() != k.b_point.empty()) here.fail("give a point for both cells or for neither");
    k.expect = read_string(c["expect"], Where{at.source, here.path + ".expect"}, "higher, lower or equivalent");
    if (k.expect != "higher" && k.expect != "lower" && k.expect != "equivalent")
      Where{at.source, here.path + ".expect"}.fail("'" + k.expect + "' is not higher, lower or equivalent");
    k.claim = c.contains("claim") ? read_string(c["claim"], Where{at.source, here.path + ".claim"}, "a string")
                                  : k.a + " " + k.expect + " than " + k.b;
    cc.claims.push_back(k);
  }
}

// One override key of a neighbour: a key path compare does not own, that no variant and no
// sweep sets (the neighbour moves the base; the variants and points stay what they are).
static void check_neighbour_key(const std::string& k, const CompareConfig& cc, const Where& at) {
  if (!valid_key_path(k)) at.fail("'" + k + "' is not a key path like model.d_model");
  if (set_by_compare(k)) at.fail("'" + k + "' is set by compare (seeds, out_dir, jobs), not by a neighbour");
  auto overlaps = [&](const std::string& o) { return o == k || o.rfind(k + ".", 0) == 0 || k.rfind(o + ".", 0) == 0; };
  for (const auto& v : cc.variants)
    for (auto ov = v.overrides.begin(); ov != v.overrides.end(); ++ov)
      if (overlaps(ov.key())) at.fail("'" + k + "' is set by variant '" + v.name + "' too; a neighbour moves the base only");
  for (const auto& axis : cc.sweep)
    if (overlaps(axis.key)) at.fail("'" + k + "' is swept; a neighbour moves the base only");
}

// [{"name": NAME, "overrides": {key.path: value}}]: names distinct folder names, overrides
// non-empty; each override must apply to base (the --set check).
static void read_neighbours(const ojson& ns, CompareConfig& cc, const Where& at) {
  if (!ns.is_array() || ns.empty()) at.fail("expected a non-empty array of {\"name\", \"overrides\"}, got " + json_describe(ns));
  std::set<std::string> names;
  for (size_t i = 0; i < ns.size(); ++i) {
    const Where here{at.source, at.path + "[" + std::to_string(i) + "]"};
    const ojson& n = ns[i];
    if (!n.is_object()) here.fail("expected {\"name\", \"overrides\"}, got " + json_describe(n));
    for (auto it = n.begin(); it != n.end(); ++it)
      if (it.key() != "name" && it.key() != "overrides")
        Where{at.source, here.path + "." + it.key()}.fail("unknown key; allowed: name, overrides");
    for (const char* k : {"name", "overrides"})
      if (!n.contains(k)) Where{at.source, here.path + "." + k}.fail("missing");
    CompareConfig::Neighbour nb;
    nb.name = read_string(n["name"], Where{at.source, here.path + ".name"}, "a name");
    if (!valid_name(nb.name)) Where{at.source, here.path + ".name"}.fail("'" + nb.name + "' is not a folder name ([A-Za-z0-9_.-]+)");
    if (!names.insert(nb.name).second) Where{at.source, here.path + ".name"}.fail("'" + nb.name + "' appears twice");
    const Where ov_at{at.source, here.path + ".overrides"};
    if (!n["overrides"].is_object() || n["overrides"].empty())
      ov_at.fail("must be a non-empty object {key.path: value}, not " + json_describe(n["overrides"]));
    for (auto ov = n["overrides"].begin(); ov != n["overrides"].end(); ++ov) check_neighbour_key(ov.key(), cc, ov_at);
    nb.overrides = n["overrides"];
    neighbour_config(cc, nb);  // every override applies to base (an error names it)
    cc.neighbours.push_back(std::move(nb));
  }
  if (variant_index(cc, "neighbours") >= 0) at.fail("a variant is named 'neighbours', the neighbours' folder");
}

// Contrasts name variants and points that exist; replicate seeds are not exploratory ones.
static void check_cells(const CompareConfig& cc) {
  std::vector<std::string> labels;
  for (const auto& p : sweep_points(cc)) labels.push_back(p.label);
  std::vector<std::pair<std::string, std::array<std::string, 4>>> cells;
  for (size_t i = 0; i < cc.contrasts.size(); ++i) {
    const auto& k = cc.contrasts[i];
    cells.push_back({"contrasts[" + std::to_string(i) + "]", {k.a, k.a_point, k.b, k.b_point}});
  }
  for (size_t i = 0; i < cc.claims.size(); ++i) {
    const auto& k = cc.claims[i];
    cells.push_back({"claims[" + std::to_string(i) + "]", {k.a, k.a_point, k.b, k.b_point}});
  }
  for (const auto& [where, c] : cells) {
    for (const auto& [v, p] : {std::pair(c[0], c[1]), std::pair(c[2], c[3])}) {
      if (variant_index(cc, v) < 0) config::fail(cc.source, where, "'" + v + "' is not one of the variants");
      if (!p.empty() && std::find(labels.begin(), labels.end(), p) == labels.end())
        config::fail(cc.source, where, "'" + p + "' is not a sweep point (" + config::join(labels) + ")");
    }
  }
  if (!cc.neighbours.empty() && cc.claims.empty())
    config::fail(cc.source, "neighbours", "re-check the claims, and there are none (add \"claims\")");
  for (uint64_t s : cc.replicate_seeds)
    if (std::find(cc.seeds.begin(), cc.seeds.end(), s) != cc.seeds.end())
      config::fail(cc.source, "replicate_seeds", std::to_string(s) + " is also in seeds; confirmatory seeds are fresh ones");
}

// A row: the key, its type and allowed values in words, its doc, how to read it. `write`
// gives the value back as resolved (unused keys of a row write what the struct holds).
static Row row(const char* name, const char* type, const char* allowed, const char* doc,
               std::function<void(const ojson&, CompareConfig&, const Where&)> read) {
  return Row{name, type, allowed, doc, std::move(read), [](const CompareConfig&) { return ojson(); }, nullptr};
}

// The keys of a compare config, in the order they are read (later rows use earlier ones).
static config::Table<CompareConfig, ojson> compare_table(const std::string& base_dir) {
  return {
      row("base", "string | object", "a training config path or object", "the setting every variant starts from",
          [base_dir](const ojson& v, CompareConfig& cc, const Where& at) { read_base(v, cc, at, base_dir); }),
      row("variants", "object", "{name: {key.path: value}}", "named overrides of base, in file order",
          read_variants),
      row("seeds", "array", "distinct integers >= 0", "train.seed of each run",
          [](const ojson& v, CompareConfig& cc, const Where& at) { cc.seeds = read_seeds(v, at); }),
      row("target_loss", "number", ">= 0", "a training loss to reach (steps to target)",
          [](const ojson& v, CompareConfig& cc, const Where& at) {
            if (!v.is_number() || !std::isfinite(v.get<double>()) || v.get<double>() < 0)
              at.fail("must be a finite number >= 0, not " + json_describe(v));
            cc.target_loss = v.get<double>();
          }),
      row("out_dir", "string", "non-empty", "where the runs, summary and report go (default runs/compare/<stem>)",
          [](const ojson& v, CompareConfig& cc, const Where& at) {
            cc.out_dir = read_string(v, at, "a non-empty string");
            if (cc.out_dir.empty()) at.fail("must be a non-empty string");
          }),
      row("jobs", "int", "1..256", "runs at a time (default 1)",
          [](const ojson& v, CompareConfig& cc, const Where& at) {
            if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > 256)
              at.fail("must be an integer in [1, 256], not " + json_describe(v));
            cc.jobs = v.get<int>();
          }),
      row("title", "string", "", "report heading (default: the file stem)",
          [](const ojson& v, CompareConfig& cc, const Where& at) { cc.title = read_string(v, at, "a string"); }),
      row("description", "string", "", "one paragraph under the heading",
          [](const ojson& v, CompareConfig& cc, const Where& at) { cc.description = read_string(v, at, "a string"); }),
      row("sweep", "object", "{key.path: [values]}", "every variant at every point of the product",
          read_sweep),
      row("reference", "string", "a variant name", "the variant the others are tested against",
          [](const ojson& v, CompareConfig& cc, const Where& at) { cc.reference = read_string(v, at, "a variant name"); }),
      row("questions", "array", "names of compare_question_names()", "report sections (default: what applies)",
          read_questions),
      row("replicate_seeds", "array", "distinct integers >= 0, none in seeds",
          "confirmatory seeds: each difference found on seeds is re-tested on these alone",
          [](const ojson& v, CompareConfig& cc, const Where& at) { cc.replicate_seeds = read_seeds(v, at); }),
      row("pairing", "string", "seed, unpaired", "runs at the same seed are pairs (paired t-test), or not (Welch)",
          [](const ojson& v, CompareConfig& cc, const Where& at) {
            if (!v.is_string() || (v != "seed" && v != "unpaired")) at.fail("expected seed or unpaired, got " + json_describe(v));
            cc.pairing = v.get<std::string>();
          }),
      row("margins", "object", "{\"acc\": m, \"loss\": m}, 0 < m", "equivalence margins (TOST): accuracies, losses",
          read_margins),
      row("claims", "array", "[{\"claim\", \"metric\", \"a\", \"b\", \"expect\"}]",
          "claims judged holds / fails / inconclusive on the seeds and on replicate_seeds", read_claims),
      row("contrasts", "array", "[{\"a\": cell, \"b\": cell}]", "extra tests of cell a vs cell b (VARIANT or VARIANT/POINT)",
          read_contrasts),
      row("neighbours", "array", "[{\"name\", \"overrides\"}]",
          "settings around base where the claims' cells run again (seeds only) and the claims are judged",
          read_neighbours),
  };
}

// variants x sweep points x seeds, counted before any point is built (a 1000 x 1000 sweep
// is a million points, gigabytes of resolved configs): at most kMaxCompareRuns.
static void check_run_count(const CompareConfig& cc) {
  double runs = (double)cc.variants.size() * (double)(cc.seeds.size() + cc.replicate_seeds.size());  // double: no overflow
  double points = 1;
  std::string product = std::to_string(cc.variants.size()) + " variants";
  for (const auto& axis : cc.sweep) {
    points *= (double)axis.values.size();
    product += " x " + std::to_string(axis.values.size()) + " " + axis.key;
  }
  runs *= points;
  product += " x " + std::to_string(cc.seeds.size() + cc.replicate_seeds.size()) + " seeds";
  if (!cc.neighbours.empty()) {  // at most every variant at every point, on seeds
    runs += (double)cc.neighbours.size() * (double)cc.variants.size() * points * (double)cc.seeds.size();
    product += ", plus up to " + std::to_string(cc.neighbours.size()) + " neighbours x the claims' cells x " +
               std::to_string(cc.seeds.size()) + " seeds";
  }
  if (runs <= (double)kMaxCompareRuns) return;
  char count[64];
  std::snprintf(count, sizeof count, runs < 1e15 ? "%.0f" : "%.3g", runs);
  throw UserError(cc.source + ": " + count + " runs (" + product + ") is more than the limit of " +
                      std::to_string(kMaxCompareRuns) + " runs in one comparison", 2);
}

// Required keys, with what to write when one is missing.
static const std::vector<std::pair<const char*, const char*>> kRequired = {
    {"base", "missing (a training config path or object)"},
    {"variants", "missing"},
    {"seeds", "missing (e.g. [1, 2, 3])"},
    {"target_loss", "missing (a training loss to reach)"}};

// What each variant is, from its config resolved at the first sweep point (a variant that
// does not resolve is reported, naming its key, when the runs are planned); then the
// defaults that depend on the variants.
static void finish(CompareConfig& cc, bool has_reference, bool has_questions) {
  for (auto& v : cc.variants) {
    try {
      Config c = config_from_json(resolve_run_config(cc, v, sweep_points(cc).front(), 1, "probe", 1), cc.base_source);
      v.norm_type = c.model.norm.type;
      v.batch_stats = norm_batch_statistics(c.model.norm.type);
    } catch (const UserError&) {
    }
  }
  if (has_reference) {
    bool found = false;
    for (const auto& v : cc.variants) found |= v.name == cc.reference;
    if (!found) config::fail(cc.source, "reference", "'" + cc.reference + "' is not one of the variants");
  } else {
    cc.reference = variant_of_norm(cc, norm_for_role("standard"));
    if (cc.reference.empty()) cc.reference = cc.variants.front().name;
  }
  if (!has_questions) cc.questions = questions_that_apply(cc);
  check_cells(cc);
}

CompareConfig compare_config_from_json(const ojson& j, const std::string& source, const std::string& base_dir) {
  CompareConfig cc;
  cc.source = source;
  if (!j.is_object()) throw UserError(source + ": a compare config is a JSON object", 2);
  for (const auto& [key, why] : kRequired)
    if (!j.contains(key)) config::fail(source, key, why);
  std::string stem = fs::path(source).stem().string();
  if (stem.empty() || !valid_name(stem)) stem = "compare";
  cc.out_dir = "runs/compare/" + stem;
  cc.title = stem;
  config::read_object(compare_table(base_dir), j, cc, Where{source, ""});
  check_run_count(cc);  // before any sweep point is built
  finish(cc, j.contains("reference"), j.contains("questions"));
  return cc;
}

int variant_index(const CompareConfig& cc, const std::string& name) {
  for (size_t i = 0; i < cc.variants.size(); ++i)
    if (cc.variants[i].name == name) return (int)i;
  return -1;
}

std::string variant_of_norm(const CompareConfig& cc, const std::string& norm_type) {
  for (const auto& v : cc.variants)
    if (v.name == norm_type && v.norm_type == norm_type) return v.name;
  for (const auto& v : cc.variants)
    if (v.norm_type == norm_type) return v.name;
  return "";
}

CompareConfig load_compare_config(const std::string& path) {
  // A regular file of at most kMaxConfigBytes, depth-checked, duplicate keys rejected.
  JsonReadOptions opt;
  opt.code = 2;
  opt.reject_duplicate_keys = true;
  ojson j = parse_ordered_json(read_regular_file(path, path, "compare config", kMaxConfigBytes, 2), path, opt);
  return compare_config_from_json(j, path, fs::path(path).parent_path().string());
}

}  // namespace nl
