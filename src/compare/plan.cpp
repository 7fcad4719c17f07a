// plan.cpp — the plan of a comparison: sweep points, one resolved training config per
// variant x point x seed, run folders, and --only.
//
// What it is: the cartesian product of the sweep axes (first axis slowest), each run's
// config (base, the variant's overrides, the point's values, then train.seed, out_dir and
// threads; validated by config_from_json, an error naming the variant or the sweep value to
// blame), the folder <out>/<variant>[/<point>]/seed<k>, and the --only selector.
// What it is not: the compare config (config.cpp) nor the runner (runner.cpp).
#include <cctype>
#include <filesystem>
#include <set>

#include "normlab/compare/compare.h"
#include "normlab/config/config.h"
#include "normlab/core/error.h"

namespace fs = std::filesystem;

namespace nl {

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

std::vector<uint64_t> all_seeds(const CompareConfig& cc) {
  std::vector<uint64_t> s = cc.seeds;
  s.insert(s.end(), cc.replicate_seeds.begin(), cc.replicate_seeds.end());
  return s;
}

std::string neighbour_dir(const std::string& out_dir, const std::string& neighbour) {
  return (fs::path(out_dir) / "neighbours" / neighbour).string();
}

std::vector<std::pair<size_t, size_t>> claim_cells(const CompareConfig& cc) {
  const std::vector<SweepPoint> points = sweep_points(cc);
  std::set<std::pair<size_t, size_t>> cells;  // ordered: variant, then point
  auto point_of = [&](const std::string& label) {
    for (size_t i = 0; i < points.size(); ++i)
      if (points[i].label == label) return i;
    return points.size();
  };
  for (const auto& c : cc.claims)
    for (const auto& [v, p] : {std::pair(c.a, c.a_point), std::pair(c.b, c.b_point)}) {
      const int vi = variant_index(cc, v);
      if (vi < 0) continue;
      for (size_t pi = 0; pi < points.size(); ++pi)
        if (p.empty() || pi == point_of(p)) cells.insert({(size_t)vi, pi});
    }
  return {cells.begin(), cells.end()};
}

CompareConfig neighbour_config(const CompareConfig& cc, const CompareConfig::Neighbour& n) {
  CompareConfig out = cc;
  std::vector<std::string> overrides;
  for (auto it = n.overrides.begin(); it != n.overrides.end(); ++it) overrides.push_back(it.key() + "=" + it.value().dump());
  try {
    apply_overrides(out.base, overrides);
  } catch (const UserError& e) {
    throw UserError(cc.source + ": neighbours." + n.name + ": " + e.what(), 2);
  }
  out.neighbours.clear();
  return out;
}

// The runs of one neighbour: the claims' cells on the exploratory seeds, in its own folder.
// A config that does not resolve there is an error naming the neighbour (and the variant).
static void plan_neighbour(const CompareConfig& cc, const CompareConfig::Neighbour& n, const std::string& out_dir,
                           int threads, std::vector<CompareRun>& plan) {
  const CompareConfig nc = neighbour_config(cc, n);
  const std::vector<SweepPoint> points = sweep_points(cc);
  const std::string dir = neighbour_dir(out_dir, n.name);
  for (const auto& [vi, pi] : claim_cells(cc))
    for (uint64_t s : cc.seeds) {
      CompareRun r;
      r.neighbour = n.name;
      r.variant = cc.variants[vi].name;
      r.point = points[pi].label;
      r.seed = s;
      r.dir = run_dir_for(dir, r.variant, s, r.point);
      try {
        r.config = resolve_run_config(nc, cc.variants[vi], points[pi], s, r.dir, threads);
      } catch (const UserError& e) {
        std::string why = e.what();
        if (why.rfind(cc.source + ": ", 0) == 0) why = why.substr(cc.source.size() + 2);
        throw UserError(cc.source + ": neighbours." + n.name + ": " + why, 2);
      }
      plan.push_back(std::move(r));
    }
}

std::vector<CompareRun> plan_runs(const CompareConfig& cc, const std::string& out_dir, int threads) {
  std::vector<CompareRun> plan;
  const std::vector<SweepPoint> points = sweep_points(cc);
  for (const auto& v : cc.variants)
    for (const auto& pt : points)
      for (uint64_t s : all_seeds(cc)) {
        CompareRun r;
        r.variant = v.name;
        r.point = pt.label;
        r.seed = s;
        r.dir = run_dir_for(out_dir, v.name, s, pt.label);
        r.config = resolve_run_config(cc, v, pt, s, r.dir, threads);
        plan.push_back(std::move(r));
      }
  for (const auto& n : cc.neighbours) plan_neighbour(cc, n, out_dir, threads, plan);
  return plan;
}

// A neighbour's run is listed as "neighbours/NAME/VARIANT", what --only takes.
std::string format_plan(const std::vector<CompareRun>& plan) {
  std::string out = "variant\tpoint\tseed\tfolder\n";
  for (const auto& r : plan)
    out += (r.neighbour.empty() ? "" : "neighbours/" + r.neighbour + "/") + r.variant + "\t" +
           (r.point.empty() ? "-" : r.point) + "\t" + std::to_string(r.seed) + "\t" + r.dir + "\n";
  return out;
}

bool only_matches(const std::string& only_arg, const CompareRun& run) {
  if (only_arg.empty()) return true;
  std::string only = only_arg;
  if (!run.neighbour.empty()) {  // "neighbours/NAME[/rest]": rest as for the base's runs
    const std::string prefix = "neighbours/" + run.neighbour;
    if (only.rfind(prefix, 0) != 0 || (only.size() > prefix.size() && only[prefix.size()] != '/')) return false;
    if (only.size() <= prefix.size() + 1) return true;
    only = only.substr(prefix.size() + 1);
  }
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

}  // namespace nl
