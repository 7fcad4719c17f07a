// runner.cpp — the compare config, the plan of runs, and the runner of child processes.
//
// What it is: parse/validate the compare config (configs/compare/README.md), resolve one
// training config per variant x sweep point x seed, run each as `normlab --threads T train ... --out DIR`
// in its own process (`jobs` at a time), skip runs whose result.json reached train.steps,
// report runs that fail, pass SIGINT/SIGTERM on to the runs (and have the kernel send them
// SIGTERM if compare dies), then summarise (summary.cpp, report.cpp) and draw the plots (a python script).
// A run whose train.ranks is K > 1 is launched as `mpirun --bind-to none -np K normlab
// --threads max(1, T/K) train ...` (data parallel; --oversubscribe, and --allow-run-as-root
// when root). Under `mpirun -np R normlab compare` the R compare processes share the plan:
// run i is rank i % R's (a fixed assignment, whatever is finished already), each rank runs
// its own runs `jobs` at a time, then rank 0 gathers every outcome and writes the summary,
// plots and report; a failed run on any rank is in them, and every rank exits with the same
// code. Its children must not believe they are ranks of compare's own job: the variables
// mpirun gave compare (OMPI_*, PMIX_*, PMI_*, PRTE_*, ...) are left out of their environment,
// so a run without train.ranks is a plain single process, and one with it starts a job of
// its own.
// What it is not: training (the child processes do that) nor the statistics of the report.
#include "normlab/compare/compare.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "normlab/dist/comm.h"
#include "normlab/error.h"
#include "normlab/config.h"
#include "normlab/io.h"
#include "normlab/files.h"
#include "normlab/json_io.h"
#include "normlab/nn/norm.h"
#include "normlab/signals.h"
#include "normlab/train/progress.h"
#include "normlab/train/run_lock.h"

namespace fs = std::filesystem;

namespace nl {

// ---------------------------------------------------------------------------
// The compare config
// ---------------------------------------------------------------------------

std::vector<std::string> compare_question_names() {
  // length_generalization: every variant vs the reference, on seen and unseen lengths.
  // batchnorm_drift: running vs batch statistics of every BatchNorm layer (Shen et al. 2020).
  // overfit: training loss vs validation loss per variant (Xu et al. 2019, finding a).
  // detach: detachnorm vs layernorm_simple (Xu et al. 2019, finding b).
  // placement: post-norm with/without warmup vs pre-norm (Xiong et al. 2020).
  return {"length_generalization", "batchnorm_drift", "overfit", "detach", "placement"};
}

static UserError cerr2(const std::string& source, const std::string& msg) {
  return UserError(source + ": " + msg, 2);
}

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

// variants x sweep points x seeds, counted before any point is built (a 1000 x 1000 sweep
// is a million points, gigabytes of resolved configs): at most kMaxCompareRuns.
static void check_run_count(const CompareConfig& cc) {
  double runs = (double)cc.variants.size() * (double)cc.seeds.size();  // double: no overflow
  std::string product = std::to_string(cc.variants.size()) + " variants";
  for (const auto& axis : cc.sweep) {
    runs *= (double)axis.values.size();
    product += " x " + std::to_string(axis.values.size()) + " " + axis.key;
  }
  product += " x " + std::to_string(cc.seeds.size()) + " seeds";
  if (runs <= (double)kMaxCompareRuns) return;
  char count[64];
  std::snprintf(count, sizeof count, runs < 1e15 ? "%.0f" : "%.3g", runs);
  throw cerr2(cc.source, std::string(count) + " runs (" + product + ") is more than the limit of " +
                             std::to_string(kMaxCompareRuns) + " runs in one comparison");
}

CompareConfig compare_config_from_json(const nlohmann::ordered_json& j, const std::string& source,
                                       const std::string& base_dir) {
  CompareConfig cc;
  cc.source = source;
  if (!j.is_object()) throw cerr2(source, "a compare config is a JSON object");
  static const std::set<std::string> known = {"base",   "variants", "seeds",     "target_loss",
                                              "out_dir", "jobs",     "title",     "description",
                                              "reference", "questions", "sweep"};
  for (auto it = j.begin(); it != j.end(); ++it)
    if (!known.count(it.key()))
      throw cerr2(source, "unknown key '" + it.key() +
                              "' (known: base, variants, seeds, target_loss, out_dir, jobs, title, "
                              "description, reference, questions, sweep)");

  // base: a path to a training config, or the config itself.
  if (!j.contains("base")) throw cerr2(source, "base: missing (a training config path or object)");
  const auto& base = j["base"];
  if (base.is_string()) {
    std::string p = base.get<std::string>();
    fs::path path(p);
    if (path.is_relative() && !base_dir.empty() && fs::exists(fs::path(base_dir) / path))
      path = fs::path(base_dir) / path;
    // A regular file of at most kMaxConfigBytes; every JSON error one line (json_io.h).
    const std::string label = source + ": base: '" + path.string() + "'";
    cc.base = parse_json(read_regular_file(path.string(), label, "config", kMaxConfigBytes, 2), label);
    if (!cc.base.is_object()) throw cerr2(source, "base: '" + path.string() + "' is not a JSON object");
    cc.base_source = path.string();
  } else if (base.is_object()) {
    cc.base = nlohmann::json::parse(base.dump());
    cc.base_source = source + " (inline base)";
  } else {
    throw cerr2(source, "base: must be a path (string) or a training config (object)");
  }

  // variants: name -> {key.path: JSON value}
  if (!j.contains("variants")) throw cerr2(source, "variants: missing");
  const auto& vs = j["variants"];
  if (!vs.is_object() || vs.empty())
    throw cerr2(source, "variants: must be a non-empty object {name: {key.path: value}}");
  for (auto it = vs.begin(); it != vs.end(); ++it) {
    const std::string& name = it.key();
    if (!valid_name(name))
      throw cerr2(source, "variants." + name + ": a variant name is a folder name ([A-Za-z0-9_.-]+)");
    if (!it.value().is_object())
      throw cerr2(source, "variants." + name + ": must be an object {key.path: value}");
    for (auto ov = it.value().begin(); ov != it.value().end(); ++ov) {
      const std::string& k = ov.key();
      if (!valid_key_path(k))
        throw cerr2(source, "variants." + name + ": '" + k + "' is not a key path like model.norm.type");
      if (k == "train" || k == "train.seed" || k == "train.out_dir" || k == "train.threads")
        throw cerr2(source, "variants." + name + ": '" + k +
                                "' is set by compare (seeds, out_dir, jobs), not by a variant");
    }
    CompareVariant v;
    v.name = name;
    v.overrides = it.value();
    cc.variants.push_back(std::move(v));  // norm_type, batch_stats: below, once base and sweep are known
  }

  // seeds: distinct non-negative integers
  if (!j.contains("seeds")) throw cerr2(source, "seeds: missing (e.g. [1, 2, 3])");
  const auto& ss = j["seeds"];
  if (!ss.is_array() || ss.empty()) throw cerr2(source, "seeds: must be a non-empty array of integers");
  std::set<uint64_t> seen;
  for (const auto& s : ss) {
    if (!s.is_number_integer() || (!s.is_number_unsigned() && s.get<int64_t>() < 0))
      throw cerr2(source, "seeds: " + json_brief(s) + " is not a non-negative integer");
    uint64_t v = s.get<uint64_t>();
    if (!seen.insert(v).second) throw cerr2(source, "seeds: " + json_brief(s) + " appears twice");
    cc.seeds.push_back(v);
  }

  if (!j.contains("target_loss")) throw cerr2(source, "target_loss: missing (a training loss to reach)");
  if (!j["target_loss"].is_number() || !std::isfinite(j["target_loss"].get<double>()) ||
      j["target_loss"].get<double>() < 0)
    throw cerr2(source, "target_loss: must be a finite number >= 0, not " + json_describe(j["target_loss"]));
  cc.target_loss = j["target_loss"].get<double>();

  std::string stem = fs::path(source).stem().string();
  if (stem.empty() || !valid_name(stem)) stem = "compare";
  cc.out_dir = "runs/compare/" + stem;
  if (j.contains("out_dir")) {
    if (!j["out_dir"].is_string() || j["out_dir"].get<std::string>().empty())
      throw cerr2(source, "out_dir: must be a non-empty string");
    cc.out_dir = j["out_dir"].get<std::string>();
  }

  cc.jobs = 1;
  if (j.contains("jobs")) {
    if (!j["jobs"].is_number_integer() || j["jobs"].get<int64_t>() < 1 || j["jobs"].get<int64_t>() > 256)
      throw cerr2(source, "jobs: must be an integer in [1, 256], not " + json_describe(j["jobs"]));
    cc.jobs = j["jobs"].get<int>();
  }

  cc.title = stem;
  for (const char* key : {"title", "description"}) {
    if (!j.contains(key)) continue;
    if (!j[key].is_string()) throw cerr2(source, std::string(key) + ": must be a string");
    (std::string(key) == "title" ? cc.title : cc.description) = j[key].get<std::string>();
  }

  // sweep: {key.path: [value, ...], ...}; every point of the cartesian product is run for
  // every variant. Values are any JSON (numbers, strings, objects like {"min": 4, "max": 16}).
  if (j.contains("sweep")) {
    const auto& sw = j["sweep"];
    if (!sw.is_object() || sw.empty())
      throw cerr2(source, "sweep: must be a non-empty object {key.path: [values]}");
    for (auto it = sw.begin(); it != sw.end(); ++it) {
      const std::string& k = it.key();
      if (!valid_key_path(k)) throw cerr2(source, "sweep: '" + k + "' is not a key path like train.batch_size");
      if (k == "train" || k == "train.seed" || k == "train.out_dir" || k == "train.threads")
        throw cerr2(source, "sweep." + k + ": set by compare (seeds, out_dir, jobs), not by a sweep");
      if (!it.value().is_array() || it.value().empty())
        throw cerr2(source, "sweep." + k + ": must be a non-empty array of values, not " + json_describe(it.value()));
      // The key must exist in the training config (the --set check, on a copy of base).
      try {
        nlohmann::json probe = cc.base;
        apply_overrides(probe, {k + "=" + it.value()[0].dump()});
      } catch (const UserError& e) {
        throw cerr2(source, "sweep." + k + ": " + e.what());
      }
      SweepAxis axis;
      axis.key = k;
      std::set<std::string> labels;
      for (const auto& v : it.value()) {
        std::string label = sweep_label(v);
        if (!labels.insert(label).second)
          throw cerr2(source, "sweep." + k + ": two values have the same folder label '" + label + "'");
        axis.values.push_back(nlohmann::json::parse(v.dump()));
        axis.labels.push_back(label);
      }
      // A variant that sets the swept key (or a key inside it, or around it) would hide the sweep.
      for (const auto& var : cc.variants)
        for (auto ov = var.overrides.begin(); ov != var.overrides.end(); ++ov) {
          const std::string& o = ov.key();
          if (o == k || o.rfind(k + ".", 0) == 0 || k.rfind(o + ".", 0) == 0)
            throw cerr2(source, "sweep." + k + ": variant '" + var.name + "' sets '" + o +
                                    "' too; a swept key cannot also be a variant's override");
        }
      cc.sweep.push_back(std::move(axis));
    }
  }

  check_run_count(cc);  // before any sweep point is built

  // What each variant is, from its config resolved at the first sweep point (a variant that
  // does not resolve is reported, naming its key, when the runs are planned).
  for (auto& v : cc.variants) {
    try {
      SweepPoint first = sweep_points(cc).front();
      Config c = config_from_json(resolve_run_config(cc, v, first, 1, "probe", 1), cc.base_source);
      v.norm_type = c.model.norm.type;
      NormConfig local = c.model.norm;
      local.sync = false;  // asked of a lone layer: no ranks to sync with
      v.batch_stats = make_norm(local, c.model.d_model)->batch_stats() != nullptr;
    } catch (const UserError&) {
    }
  }

  cc.reference = variant_of_norm(cc, "layernorm");
  if (cc.reference.empty()) cc.reference = cc.variants.front().name;
  if (j.contains("reference")) {
    if (!j["reference"].is_string()) throw cerr2(source, "reference: must be a variant name");
    cc.reference = j["reference"].get<std::string>();
    bool found = false;
    for (const auto& v : cc.variants) found |= v.name == cc.reference;
    if (!found) throw cerr2(source, "reference: '" + cc.reference + "' is not one of the variants");
  }

  if (j.contains("questions")) {
    const auto names = compare_question_names();
    if (!j["questions"].is_array()) throw cerr2(source, "questions: must be an array of names");
    for (const auto& q : j["questions"]) {
      if (!q.is_string() || std::find(names.begin(), names.end(), q.get<std::string>()) == names.end()) {
        std::string list;
        for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
        throw cerr2(source, "questions: " + json_brief(q) + " is not one of " + list);
      }
      cc.questions.push_back(q.get<std::string>());
    }
  } else {
    // Without a list, the report answers what the variants' norms make answerable.
    auto has = [&](const std::string& type) { return !variant_of_norm(cc, type).empty(); };
    bool any_bn = false;
    for (const auto& v : cc.variants) any_bn |= v.batch_stats;
    cc.questions.push_back("length_generalization");
    if (any_bn) cc.questions.push_back("batchnorm_drift");
    if (has("layernorm") && has("layernorm_simple")) cc.questions.push_back("overfit");
    if (has("detachnorm") && has("layernorm_simple")) cc.questions.push_back("detach");
  }
  return cc;
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
  nlohmann::ordered_json j =
      parse_ordered_json(read_regular_file(path, path, "compare config", kMaxConfigBytes, 2), path, opt);
  return compare_config_from_json(j, path, fs::path(path).parent_path().string());
}

// ---------------------------------------------------------------------------
// The plan
// ---------------------------------------------------------------------------

std::string sweep_label(const nlohmann::ordered_json& value) {
  std::string raw;
  if (value.is_string()) {
    raw = value.get<std::string>();
  } else if (value.is_object() || value.is_array()) {
    for (const auto& x : value) raw += (raw.empty() ? "" : "-") + sweep_label(x);
  } else {
    raw = value.dump();  // numbers as written (4, 0.001), true/false/null
  }
  for (char& c : raw)
    if (!std::isalnum((unsigned char)c) && c != '_' && c != '.' && c != '+' && c != '-') c = '_';
  if (raw.empty() || raw == "." || raw == "..") raw = "_" + raw;
  return raw;
}

std::vector<SweepPoint> sweep_points(const CompareConfig& cc) {
  std::vector<SweepPoint> points(1);  // without a sweep: one empty point
  for (const auto& axis : cc.sweep) {
    std::vector<SweepPoint> next;
    for (const auto& p : points)
      for (size_t i = 0; i < axis.values.size(); ++i) {
        SweepPoint q = p;
        q.label += (q.label.empty() ? "" : ",") + axis.key + "=" + axis.labels[i];
        q.values.push_back({axis.key, axis.values[i]});
        next.push_back(std::move(q));
      }
    points = std::move(next);
  }
  return points;
}

std::string run_dir_for(const std::string& out_dir, const std::string& variant, uint64_t seed,
                        const std::string& point) {
  fs::path p = fs::path(out_dir) / variant;
  if (!point.empty()) p /= point;
  return (p / ("seed" + std::to_string(seed))).string();
}

nlohmann::json resolve_run_config(const CompareConfig& cc, const CompareVariant& v, const SweepPoint& point,
                                  uint64_t seed, const std::string& run_dir, int threads) {
  nlohmann::json j = cc.base;
  std::vector<std::string> overrides;
  for (auto it = v.overrides.begin(); it != v.overrides.end(); ++it)
    overrides.push_back(it.key() + "=" + it.value().dump());
  try {
    apply_overrides(j, overrides);
  } catch (const UserError& e) {
    throw UserError(cc.source + ": variants." + v.name + ": " + e.what(), 2);
  }
  for (const auto& [key, value] : point.values) {
    try {
      apply_overrides(j, {key + "=" + value.dump()});
    } catch (const UserError& e) {
      throw UserError(cc.source + ": sweep." + key + ": " + e.what(), 2);
    }
  }
  try {
    j["train"]["seed"] = seed;
    j["train"]["out_dir"] = run_dir;
    j["train"]["threads"] = threads;
    return config_to_json(config_from_json(j, cc.base_source));
  } catch (const UserError& e) {
    // Which part is to blame: the variant alone, or a sweep value (tried one axis at a time).
    std::string where = "variants." + v.name;
    auto resolves = [&](const SweepPoint& p) {
      try {
        resolve_run_config(cc, v, p, seed, run_dir, threads);
        return true;
      } catch (const UserError&) {
        return false;
      }
    };
    if (!point.values.empty() && resolves(SweepPoint{})) {
      std::string keys;
      for (const auto& kv : point.values) {
        SweepPoint one;
        one.values.push_back(kv);
        if (point.values.size() == 1 || !resolves(one)) {
          keys = kv.first + "=" + kv.second.dump();
          break;
        }
      }
      if (keys.empty())  // only the combination fails
        for (const auto& kv : point.values) keys += (keys.empty() ? "" : ",") + kv.first + "=" + kv.second.dump();
      where = "sweep." + keys + " (variant " + v.name + ")";
    }
    throw UserError(cc.source + ": " + where + ": " + e.what(), 2);
  }
}

nlohmann::json resolve_run_config(const CompareConfig& cc, const CompareVariant& v, uint64_t seed,
                                  const std::string& run_dir, int threads) {
  return resolve_run_config(cc, v, SweepPoint{}, seed, run_dir, threads);
}

std::vector<CompareRun> plan_runs(const CompareConfig& cc, const std::string& out_dir, int threads) {
  std::vector<CompareRun> plan;
  const std::vector<SweepPoint> points = sweep_points(cc);
  for (const auto& v : cc.variants)
    for (const auto& pt : points)
      for (uint64_t s : cc.seeds) {
        CompareRun r;
        r.variant = v.name;
        r.point = pt.label;
        r.seed = s;
        r.dir = run_dir_for(out_dir, v.name, s, pt.label);
        r.config = resolve_run_config(cc, v, pt, s, r.dir, threads);
        plan.push_back(std::move(r));
      }
  return plan;
}

std::string format_plan(const std::vector<CompareRun>& plan) {
  std::string out = "variant\tpoint\tseed\tfolder\n";
  for (const auto& r : plan)
    out += r.variant + "\t" + (r.point.empty() ? "-" : r.point) + "\t" + std::to_string(r.seed) + "\t" + r.dir + "\n";
  return out;
}

bool only_matches(const std::string& only, const CompareRun& run) {
  if (only.empty()) return true;
  std::vector<std::string> parts;
  for (size_t b = 0;;) {
    size_t d = only.find('/', b);
    parts.push_back(only.substr(b, d == std::string::npos ? std::string::npos : d - b));
    if (d == std::string::npos) break;
    b = d + 1;
  }
  auto seed_is = [&](std::string s) {
    if (s.rfind("seed", 0) == 0) s = s.substr(4);
    return s == std::to_string(run.seed);
  };
  if (parts[0] != run.variant || parts.size() > 3) return false;
  if (parts.size() == 1) return true;
  if (parts.size() == 3) return parts[1] == run.point && seed_is(parts[2]);
  // VARIANT/X: X is a point of the sweep, or a seed
  return (!run.point.empty() && parts[1] == run.point) || seed_is(parts[1]);
}

// ---------------------------------------------------------------------------
// The runner: child processes, `jobs` at a time
// ---------------------------------------------------------------------------

static bool file_exists(const std::string& p) { return fs::exists(p); }

// Two resolved configs describe the same run when they differ at most in train.threads.
static bool same_run(nlohmann::json a, nlohmann::json b) {
  if (a.is_null() || b.is_null()) return false;
  if (a.contains("train")) a["train"].erase("threads");
  if (b.contains("train")) b["train"].erase("threads");
  return a == b;
}

// A run is finished when its result.json says it reached the train.steps of its config (a
// result of a shorter run, or a half-written folder, is not finished).
static bool finished_run(const std::string& dir, const nlohmann::json& config) {
  const nlohmann::json result = read_json_or_null((fs::path(dir) / "result.json").string());
  return result.is_object() && result.contains("steps") && config.contains("train") &&
         config["train"].contains("steps") && result["steps"] == config["train"]["steps"];
}

static std::string last_line(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    // progress bars redraw with '\r': keep the last segment
    auto cr = line.find_last_of('\r');
    if (cr != std::string::npos) line = line.substr(cr + 1);
    if (line.find_first_not_of(" \t") != std::string::npos) last = line;
  }
  return last;
}

struct Child {
  pid_t pid = -1;
  size_t index = 0;
  std::chrono::steady_clock::time_point start;
};

std::string default_mpirun() {
#ifdef NORMLAB_MPIEXEC
  if (std::string(NORMLAB_MPIEXEC).size() && fs::exists(NORMLAB_MPIEXEC)) return NORMLAB_MPIEXEC;
#endif
  return "mpirun";
}

// `name` as execv needs it: itself if it has a '/', else the first executable on PATH.
static std::string on_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  for (size_t b = 0; b <= dirs.size();) {
    size_t e = dirs.find(':', b);
    if (e == std::string::npos) e = dirs.size();
    const std::string cand = (e > b ? dirs.substr(b, e - b) : std::string(".")) + "/" + name;
    if (access(cand.c_str(), X_OK) == 0) return cand;
    b = e + 1;
  }
  return name;  // execv fails; the child reports "cannot execute"
}

// The variables with which a launcher (Open MPI, PMIx, MPICH's Hydra, Intel MPI) tells a
// process that it is a rank of a job.
static bool launcher_variable(const std::string& kv) {
  for (const char* p : {"OMPI_", "PMIX_", "PMI_", "PRTE_", "ORTE_", "OPAL_", "HYDRA_", "HYDI_", "MPIR_",
                        "MPI_LOCALNRANKS=", "MPI_LOCALRANKID="})
    if (kv.rfind(p, 0) == 0) return true;
  return false;
}

// The children's environment: compare's own, less launcher_variable()s when compare is a rank.
static std::vector<std::string> child_environment() {
  std::vector<std::string> env;
  const bool strip = launched_by_mpirun();
  for (char** e = ::environ; e && *e; ++e)  // unistd.h (_GNU_SOURCE)
    if (!strip || !launcher_variable(*e)) env.push_back(*e);
  return env;
}

// fork + execve: stdout -> <dir>/train.log, stderr -> <dir>/stderr.log.
static pid_t spawn(const std::vector<std::string>& argv, const std::string& dir) {
  std::string out = (fs::path(dir) / "train.log").string();
  std::string err = (fs::path(dir) / "stderr.log").string();
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const std::vector<std::string> env_strings = child_environment();  // built before fork
  std::vector<char*> envp;
  for (const auto& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) throw UserError("compare: fork failed", 1);
  if (pid == 0) {
    // If compare dies (even by SIGKILL), the kernel sends this run SIGTERM: it checkpoints
    // and stops. Compare may have died before prctl took effect: then stop now.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(128 + SIGTERM);
    int fo = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fo >= 0) dup2(fo, 1);
    if (fe >= 0) dup2(fe, 2);
    execve(args[0], args.data(), envp.data());
    std::fprintf(stderr, "compare: cannot execute %s\n", args[0]);
    _exit(127);
  }
  return pid;
}

static void remove_run_outputs(const std::string& dir) {
  for (const char* f : {"result.json", "metrics.csv", "checkpoint.safetensors", "config.json",
                        "train.log", "stderr.log"})
    fs::remove(fs::path(dir) / f);
}

static std::string fmt_seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", s);
  return buf;
}

// Installed beside the binary (share/normlab/scripts), else in the source tree (files.h).
static std::string default_plot_script() {
  std::string p = shipped_file("scripts/plot_compare.py");
  return p.empty() ? "scripts/plot_compare.py" : p;
}

// Runs the plot script; returns "" on success, else a one-line reason.
static std::string draw_plots(const std::string& python, const std::string& script,
                              const std::string& out_dir) {
  if (!file_exists(script)) return "the plot script " + script + " was not found";
  fs::create_directories(fs::path(out_dir) / "plots");
  std::string log = (fs::path(out_dir) / "plots" / "plot.log").string();
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return "fork failed";
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(128 + SIGTERM);
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) { dup2(fd, 1); dup2(fd, 2); }
    execl(python.c_str(), python.c_str(), script.c_str(), out_dir.c_str(), (char*)nullptr);
    std::fprintf(stderr, "cannot execute %s\n", python.c_str());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
  std::string why = last_line(log);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 3) why = "install python3-matplotlib";
  return "the plot script failed (" + (why.empty() ? std::string("no output") : why) + "; see " + log + ")";
}

// A run's outcome as the ranks exchange it (compare over ranks).
static nlohmann::json outcome_to_json(size_t index, const RunOutcome& o) {
  return {{"index", index},        {"status", o.status},           {"exit_code", o.exit_code},
          {"signal", o.signal},    {"last_stderr", o.last_stderr}, {"seconds", o.seconds}};
}

CompareResult run_compare(const CompareConfig& cc, const CompareOptions& opt) {
  CompareResult res;
  Comm& world = opt.comm ? *opt.comm : local_comm();
  const int n_ranks = world.size(), me = world.rank();
  res.out_dir = opt.out_dir.empty() ? cc.out_dir : opt.out_dir;
  // The binary every run executes: resolved here, since /proc/self/exe in an mpirun child
  // would be mpirun.
  std::string exe = opt.exe;
  if (exe == "/proc/self/exe") {
    std::error_code ec;
    const fs::path real = fs::read_symlink(exe, ec);
    if (!ec) exe = real.string();
  }
  int jobs = opt.jobs > 0 ? opt.jobs : cc.jobs;
  // The machine's cores, shared by the compare ranks on this host (Open MPI's local size).
  int local_ranks = 1;
  if (n_ranks > 1)
    if (const char* l = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE")) local_ranks = std::max(1, std::atoi(l));
  int cores = opt.cores > 0 ? opt.cores
                            : std::max(1, (int)std::max(1u, std::thread::hardware_concurrency()) / local_ranks);
  int threads = std::max(1, cores / jobs);
  std::vector<CompareRun> plan = plan_runs(cc, res.out_dir, threads);  // validates every run first
  const size_t n_points = sweep_points(cc).size();
  auto run_name = [](const CompareRun& r) {
    return r.variant + (r.point.empty() ? "" : "/" + r.point) + "/seed" + std::to_string(r.seed);
  };
  if (!opt.only.empty()) {  // also under --dry-run: a plan of nothing is a typo
    bool any = false;
    for (const auto& r : plan) any |= only_matches(opt.only, r);
    if (!any)
      throw UserError("--only: '" + opt.only + "' names no run (use VARIANT, VARIANT/SEED" +
                          (plan.front().point.empty() ? "" : " or VARIANT/POINT/SEED") + ", e.g. " +
                          plan.front().variant + "/" +
                          (plan.front().point.empty() ? "" : plan.front().point + "/") +
                          std::to_string(plan.front().seed) + ")",
                      2);
  }
  if (opt.dry_run) {
    // The plan, and nothing else: no folder, no file, no child.
    if (!opt.quiet && world.is_root()) std::printf("%s", format_plan(plan).c_str()), std::fflush(stdout);
    for (const auto& r : plan) {
      RunOutcome o;
      o.variant = r.variant;
      o.point = r.point;
      o.seed = r.seed;
      o.dir = r.dir;
      o.status = "planned";
      res.runs.push_back(o);
    }
    return res;
  }
  fs::create_directories(res.out_dir);
  // One comparison per output folder: rank 0 holds the folder's lock (run_lock.h) until the
  // report is written; a second compare exits 2 at once naming its pid. The other ranks
  // wait here, so none starts a run when rank 0 could not lock (its error ends them all).
  std::optional<RunLock> folder_lock;
  if (world.is_root()) folder_lock.emplace(res.out_dir);
  if (n_ranks > 1) world.barrier();
  // Rank 0 says what concerns the whole comparison; every rank reports its own runs.
  auto say = [&](const std::string& s) {
    if (!opt.quiet && world.is_root()) std::printf("%s\n", s.c_str()), std::fflush(stdout);
  };
  const std::string rank_tag = n_ranks > 1 ? world.where() + ": " : "";
  auto say_run = [&](const std::string& s) {
    if (!opt.quiet) std::printf("compare: %s%s\n", rank_tag.c_str(), s.c_str()), std::fflush(stdout);
  };

  // Decide what runs: --only reruns its runs; otherwise a finished run of the same config is
  // skipped. Every rank decides for every run, and keeps its own (i % n_ranks == me) in todo.
  std::vector<size_t> todo;
  size_t todo_all = 0;
  res.runs.resize(plan.size());
  for (size_t i = 0; i < plan.size(); ++i) {
    const CompareRun& r = plan[i];
    RunOutcome& o = res.runs[i];
    o.variant = r.variant;
    o.point = r.point;
    o.seed = r.seed;
    o.dir = r.dir;
    std::string cfg_path = (fs::path(r.dir) / "compare_config.json").string();
    bool finished = finished_run(r.dir, r.config);
    bool same = same_run(read_json_or_null(cfg_path), r.config);
    bool run_it = false;
    if (!opt.only.empty()) {
      if (only_matches(opt.only, r)) run_it = true;
      else o.status = finished && same ? "skipped" : "missing";
    } else if (finished && same) {
      o.status = "skipped";
    } else {
      if (finished && !same) say("compare: " + run_name(r) + ": the config changed since it ran; rerunning");
      run_it = true;
    }
    if (!run_it) continue;
    ++todo_all;
    if ((int)(i % n_ranks) == me) todo.push_back(i);
  }
  int skipped = 0;
  for (const auto& o : res.runs) skipped += o.status == "skipped";
  say("compare: " + std::to_string(plan.size()) + " runs (" + std::to_string(cc.variants.size()) + " variants x " +
      (n_points > 1 ? std::to_string(n_points) + " sweep points x " : std::string()) +
      std::to_string(cc.seeds.size()) + " seeds) in " + res.out_dir + "; " +
      std::to_string(todo_all) + " to run, " + std::to_string(skipped) + " already finished; " +
      (n_ranks > 1 ? "over " + std::to_string(n_ranks) + " compare ranks (run i on rank i mod " +
                         std::to_string(n_ranks) + "), " : std::string()) +
      std::to_string(jobs) + " at a time" + (n_ranks > 1 ? " on each" : "") + ", " +
      std::to_string(threads) + " thread(s) each");

  // Start each run: write its resolved config, resume when a checkpoint of the same config exists.
  // A folder another process is writing (its lock is held) is left alone: pid -1.
  auto start = [&](size_t i) -> Child {
    const CompareRun& r = plan[i];
    Child c;
    c.index = i;
    c.start = std::chrono::steady_clock::now();
    fs::create_directories(r.dir);
    std::string cfg_path = (fs::path(r.dir) / "compare_config.json").string();
    bool resume = false;
    try {
      // The run's own lock while its files are read and removed: a folder another process
      // writes is never touched, and none can start writing it in between. Released before
      // the child starts, which takes it again.
      RunLock run_lock(r.dir);
      resume = opt.only.empty() && same_run(read_json_or_null(cfg_path), r.config) &&
               file_exists((fs::path(r.dir) / "checkpoint.safetensors").string()) && !finished_run(r.dir, r.config);
      if (!resume) remove_run_outputs(r.dir);
      write_file_atomic(cfg_path, r.config.dump(2) + "\n");
    } catch (const UserError& e) {
      if (e.code != 2) throw;  // not "in use": a real failure to read or write the folder
      RunOutcome& o = res.runs[i];
      o.status = "failed";
      o.exit_code = 2;
      o.last_stderr = std::string(e.what()) + "; not touched";
      return c;
    }
    // train.ranks = K > 1: a data-parallel job of its own, the run's threads shared by its
    // ranks; --bind-to none, since mpirun would pin every job's rank 0 to the same core.
    const int ranks = r.config.contains("train") && r.config["train"].contains("ranks")
                          ? r.config["train"]["ranks"].get<int>() : 0;
    std::vector<std::string> argv;
    if (ranks > 1) {
      argv = {on_path(opt.mpirun), "-q", "--oversubscribe", "--bind-to", "none"};
      if (geteuid() == 0) argv.push_back("--allow-run-as-root");
      argv.insert(argv.end(), {"-np", std::to_string(ranks)});
    }
    argv.insert(argv.end(), {exe, "--threads", std::to_string(std::max(1, threads / std::max(1, ranks))), "train",
                             cfg_path, "--out", r.dir});
    if (resume) argv.push_back("--resume");
    c.pid = spawn(argv, r.dir);
    StopSignals::forward_to(c.pid);  // a SIGINT/SIGTERM to compare reaches the run
    return c;
  };

  // SIGINT/SIGTERM: start no more runs, pass the stop on to the running ones (each
  // checkpoints and exits), wait for them, and return without a report.
  StopSignals stop_signals;
  std::vector<Child> running;
  size_t next = 0, done = 0;
  auto wall0 = std::chrono::steady_clock::now();
  while ((next < todo.size() && stop_signal() == 0) || !running.empty()) {
    while (next < todo.size() && (int)running.size() < jobs && stop_signal() == 0) {
      Child c = start(todo[next++]);
      if (c.pid > 0) {
        running.push_back(c);
        continue;
      }
      const RunOutcome& o = res.runs[c.index];
      ++done;
      say_run("[" + std::to_string(done) + "/" + std::to_string(todo.size()) + "] " + run_name(plan[c.index]) +
              " FAILED: " + o.last_stderr);
    }
    if (running.empty()) continue;
    int status = 0;
    pid_t pid = waitpid(-1, &status, 0);
    if (pid < 0) {
      if (errno == EINTR) continue;
      break;
    }
    auto it = std::find_if(running.begin(), running.end(), [&](const Child& c) { return c.pid == pid; });
    if (it == running.end()) continue;
    StopSignals::forget(pid);
    RunOutcome& o = res.runs[it->index];
    o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - it->start).count();
    if (WIFSIGNALED(status)) {
      o.signal = WTERMSIG(status);
      o.exit_code = 128 + o.signal;
    } else {
      o.exit_code = WEXITSTATUS(status);
    }
    bool has_result = finished_run(o.dir, plan[it->index].config);
    o.status = o.exit_code == 0 && has_result ? "ok" : "failed";
    ++done;
    std::string tag = "[" + std::to_string(done) + "/" + std::to_string(todo.size()) + "] " +
                      run_name(plan[it->index]);
    if (o.status == "ok") {
      // Runs done / total, and the time left at the pace so far (train/progress.h).
      const double wall_so_far = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
      say_run(tag + " finished in " + fmt_seconds(o.seconds) + "; " + format_duration(wall_so_far) +
              " elapsed, ETA " + format_duration(eta_seconds(wall_so_far, (int)done, (int)(todo.size() - done))));
    } else {
      o.last_stderr = last_line((fs::path(o.dir) / "stderr.log").string());
      if (o.exit_code == 0 && !has_result) o.last_stderr = "exited 0 but its result.json does not reach train.steps";
      say_run(tag + " FAILED (" +
              (o.signal ? "killed by signal " + std::to_string(o.signal) : "exit code " + std::to_string(o.exit_code)) +
              ")" + (o.last_stderr.empty() ? "" : ": " + o.last_stderr));
    }
    running.erase(it);
  }
  int stopped = stop_signal();
  if (n_ranks > 1) {
    // Every rank's outcomes to every rank (a rank done early sleeps here, not spins).
    world.idle_barrier();
    nlohmann::json mine = {{"stop", stopped}, {"runs", nlohmann::json::array()}};
    for (size_t i : todo) mine["runs"].push_back(outcome_to_json(i, res.runs[i]));
    for (const std::string& s : world.all_gather(mine.dump())) {
      const nlohmann::json theirs = nlohmann::json::parse(s);
      if (!stopped) stopped = theirs["stop"].get<int>();
      for (const auto& o : theirs["runs"]) {
        RunOutcome& r = res.runs.at(o["index"].get<size_t>());
        r.status = o["status"].get<std::string>();
        r.exit_code = o["exit_code"].get<int>();
        r.signal = o["signal"].get<int>();
        r.last_stderr = o["last_stderr"].get<std::string>();
        r.seconds = o["seconds"].get<double>();
      }
    }
  }
  if (stopped != 0) {
    res.interrupted_by = stopped;
    for (const auto& o : res.runs) res.incomplete += o.status != "ok" && o.status != "skipped";
    return res;
  }
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  if (todo_all > 0) say("compare: runs took " + fmt_seconds(wall) + " wall time");

  for (const auto& o : res.runs) res.incomplete += o.status == "failed" || o.status == "missing";
  if (!world.is_root()) {
    world.idle_barrier();  // until rank 0 has written the report
    return res;
  }

  // summary.json, plots, report.md
  nlohmann::ordered_json summary = summarize_compare(cc, res.out_dir, res.runs);
  res.summary_path = (fs::path(res.out_dir) / "summary.json").string();
  write_file_atomic(res.summary_path, summary.dump(2) + "\n");
  const std::string plot_script = opt.plot_script.empty() ? default_plot_script() : opt.plot_script;
  std::string plots_note = draw_plots(opt.python, plot_script, res.out_dir);
  res.plots_ok = plots_note.empty();
  if (!res.plots_ok) say("compare: plots are missing: " + plots_note);
  else say("compare: plots   " + (fs::path(res.out_dir) / "plots").string() + " (drawn by " + plot_script + ")");
  res.report_path = (fs::path(res.out_dir) / "report.md").string();
  write_file_atomic(res.report_path, render_report(summary, plots_note));
  if (res.incomplete) {
    std::string list;
    for (const auto& o : res.runs)
      if (o.status == "failed" || o.status == "missing")
        list += (list.empty() ? "" : ", ") + o.variant + (o.point.empty() ? "" : "/" + o.point) + "/seed" +
                std::to_string(o.seed) + " (" + o.status + ")";
    say("compare: " + std::to_string(res.incomplete) + " run(s) without a result: " + list +
        "; rerun one with --only " + (n_points > 1 ? "VARIANT/POINT/SEED" : "VARIANT/SEED"));
  }
  say("compare: summary " + res.summary_path);
  say("compare: report  " + res.report_path);
  world.idle_barrier();
  return res;
}

}  // namespace nl
