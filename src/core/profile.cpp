// profile.cpp — the step's clock in laps, and its table (see profile.h).
//
// What it is: one thread-local pointer (the active profile), one thread-local part name,
// and the lap bookkeeping: a lap adds the time since the previous one to a (part, op) slot.
// What it is not: the hooks themselves: autograd.cpp laps each recorded op and each backward
// closure; train_step.cpp and cmd_bench.cpp lap the work outside the tape.
#include "normlab/core/profile.h"

#include <algorithm>
#include <cstdio>
#include <map>

namespace nl {

namespace {
thread_local Profile* g_profile = nullptr;
thread_local const char* g_part = "step";

double seconds_between(Profile::Clock::time_point a, Profile::Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}
}  // namespace

Profile* active_profile() { return g_profile; }
const char* profile_part() { return g_part; }

void Profile::begin_step() {
  step_start_ = mark_ = Clock::now();
}

void Profile::end_step() {
  lap(slot("step", "other"), Phase::other, 0);
  total_s_ += seconds_between(step_start_, mark_);
  ++steps_;
}

int Profile::slot(const char* part, const char* op) {
  auto [it, fresh] = slots_.try_emplace(Key{part, op}, (int)rows_.size());
  if (fresh) {
    ProfileRow r;
    r.part = part;
    r.op = op;
    rows_.push_back(r);
  }
  return it->second;
}

void Profile::lap(int slot, Phase phase, double flops) {
  const Clock::time_point now = Clock::now();
  ProfileRow& r = rows_[slot];
  const int p = (int)phase;
  r.seconds[p] += seconds_between(mark_, now);
  r.calls[p] += 1;
  r.flops[p] += flops;
  mark_ = now;
  ++laps_;
}

std::vector<ProfileRow> Profile::rows() const {
  // merge by text (one op name may come from several pointers: a norm per layer)
  std::vector<std::string> part_order;
  std::map<std::pair<std::string, std::string>, ProfileRow> merged;
  for (const ProfileRow& r : rows_) {
    if (std::find(part_order.begin(), part_order.end(), r.part) == part_order.end()) part_order.push_back(r.part);
    ProfileRow& m = merged[{r.part, r.op}];
    m.part = r.part;
    m.op = r.op;
    for (int p = 0; p < 3; ++p) {
      m.seconds[p] += r.seconds[p];
      m.calls[p] += r.calls[p];
      m.flops[p] += r.flops[p];
    }
  }
  std::vector<ProfileRow> out;
  for (const std::string& part : part_order) {
    const size_t first = out.size();
    for (auto& [key, r] : merged)
      if (key.first == part && r.total_seconds() > 0) out.push_back(r);
    std::sort(out.begin() + first, out.end(),
              [](const ProfileRow& a, const ProfileRow& b) { return a.total_seconds() > b.total_seconds(); });
  }
  return out;
}

nlohmann::json Profile::to_json() const {
  const double per = steps_ > 0 ? 1e3 / steps_ : 0;  // seconds in total -> ms per step
  auto rate = [](double flops, double secs) -> nlohmann::json {
    if (flops <= 0 || secs <= 0) return nullptr;
    return flops / secs / 1e9;
  };
  nlohmann::json rows = nlohmann::json::array(), parts = nlohmann::json::array();
  std::map<std::string, double> part_s;
  std::vector<std::string> part_order;
  for (const ProfileRow& r : this->rows()) {
    rows.push_back({{"part", r.part}, {"op", r.op},
                    {"forward_ms", r.seconds[0] * per}, {"backward_ms", r.seconds[1] * per},
                    {"other_ms", r.seconds[2] * per},
                    {"share", total_s_ > 0 ? r.total_seconds() / total_s_ : 0.0},
                    {"forward_gflops", rate(r.flops[0], r.seconds[0])},
                    {"backward_gflops", rate(r.flops[1], r.seconds[1])},
                    {"calls_per_step", steps_ > 0 ? (double)(r.calls[0] + r.calls[1] + r.calls[2]) / steps_ : 0.0}});
    if (!part_s.count(r.part)) part_order.push_back(r.part);
    part_s[r.part] += r.total_seconds();
  }
  for (const std::string& p : part_order)
    parts.push_back({{"part", p}, {"ms", part_s[p] * per}, {"share", total_s_ > 0 ? part_s[p] / total_s_ : 0.0}});
  // the overhead: this many laps per step, each timed in a loop of its own
  const double lap_ms = profile_lap_cost_seconds(laps_per_step()) * 1e3;
  return {{"steps", steps_}, {"total_s", total_s_}, {"ms_per_step", total_s_ * per},
          {"overhead", {{"laps_per_step", laps_per_step()}, {"ms_per_step", lap_ms},
                        {"share", total_s_ > 0 ? lap_ms / (total_s_ * per) : 0.0}}},
          {"rows", rows}, {"parts", parts}};
}

std::string Profile::table() const {
  const nlohmann::json j = to_json();
  std::string out;
  char line[256];
  auto ms = [](double v) {
    char b[32];
    if (v == 0) return std::string("-");
    std::snprintf(b, sizeof b, "%.2f", v);
    return std::string(b);
  };
  auto gf = [](const nlohmann::json& v) {
    char b[32];
    if (v.is_null()) return std::string("");
    std::snprintf(b, sizeof b, "%.1f", v.get<double>());
    return std::string(b);
  };
  std::snprintf(line, sizeof line, "%-10s %-22s %10s %10s %10s %7s %9s %9s\n", "part", "op", "fwd ms",
                "bwd ms", "other ms", "share", "fwd GF/s", "bwd GF/s");
  out += line;
  for (const auto& part : j["parts"]) {
    for (const auto& r : j["rows"]) {
      if (r["part"] != part["part"]) continue;
      std::snprintf(line, sizeof line, "%-10s %-22s %10s %10s %10s %6.1f%% %9s %9s\n",
                    r["part"].get<std::string>().c_str(), r["op"].get<std::string>().c_str(),
                    ms(r["forward_ms"]).c_str(), ms(r["backward_ms"]).c_str(), ms(r["other_ms"]).c_str(),
                    100 * r["share"].get<double>(), gf(r["forward_gflops"]).c_str(),
                    gf(r["backward_gflops"]).c_str());
      out += line;
    }
    std::snprintf(line, sizeof line, "%-10s %-22s %32s %6.1f%%   (%.2f ms)\n", part["part"].get<std::string>().c_str(),
                  "= part total", "", 100 * part["share"].get<double>(), part["ms"].get<double>());
    out += line;
  }
  std::snprintf(line, sizeof line,
                "total: %.2f ms per step over %d steps; profiling overhead %ld laps per step, %.3f ms (%.2f%%)\n",
                j["ms_per_step"].get<double>(), steps_, laps_per_step(), j["overhead"]["ms_per_step"].get<double>(),
                100 * j["overhead"]["share"].get<double>());
  out += line;
  return out;
}

ProfileStep::ProfileStep(Profile* p) : p_(p) {
  if (!p_) return;
  g_profile = p_;
  g_part = "step";
  p_->begin_step();
}

ProfileStep::~ProfileStep() {
  if (!p_) return;
  p_->end_step();
  g_profile = nullptr;
}

ProfilePart::ProfilePart(const char* part) : outer_(g_part) {
  if (!g_profile) return;
  g_profile->lap(g_profile->slot(outer_, "other"), Phase::forward, 0);
  g_part = part;
}

ProfilePart::~ProfilePart() {
  if (!g_profile) return;
  g_profile->lap(g_profile->slot(g_part, "other"), Phase::forward, 0);
  g_part = outer_;
}

void profile_lap(const char* part, const char* op, Phase phase, double flops) {
  if (g_profile) g_profile->lap(g_profile->slot(part, op), phase, flops);
}

double profile_lap_cost_seconds(long laps) {
  if (laps <= 0) return 0;
  Profile scratch;
  const long n = 100000;
  const auto t0 = Profile::Clock::now();
  scratch.begin_step();
  for (long i = 0; i < n; ++i) scratch.lap(scratch.slot("cost", i % 2 ? "a" : "b"), Phase::forward, 0);
  const double per_lap = seconds_between(t0, Profile::Clock::now()) / n;
  return per_lap * laps;
}

}  // namespace nl
