// jitter.cpp — the spread of batch statistics over the logged training steps (see
// train/jitter.h).
//
// What it is: the sums (shifted by the first logged value), their JSON summary and their
// exact text form for checkpoints, parsed strictly.
// What it is not: where the statistics come from (the norms' batch_stats()).
#include "normlab/train/jitter.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "normlab/core/error.h"

namespace nl {

void BatchStatsJitter::add(const std::string& layer, const BatchNormStats& st) {
  const size_t D = st.batch_mean.size();
  if (D == 0 || st.batch_var.size() != D) return;  // no training forward yet
  Sums* s = nullptr;
  for (Sums& x : layers_)
    if (x.layer == layer) s = &x;
  if (!s) {
    layers_.push_back(Sums{});
    s = &layers_.back();
    s->layer = layer;
    s->ref_mean.assign(st.batch_mean.begin(), st.batch_mean.end());
    s->ref_var.assign(st.batch_var.begin(), st.batch_var.end());
    for (auto* v : {&s->s_mean, &s->ss_mean, &s->s_var, &s->ss_var}) v->assign(D, 0.0);
  }
  if (s->ref_mean.size() != D) return;  // a layer does not change width
  // Shifted by the first value: identical statistics add exact zeros (std exactly 0), and
  // sum_sq - sum^2/n does not cancel the statistics' own size away.
  for (size_t d = 0; d < D; ++d) {
    const double dm = (double)st.batch_mean[d] - s->ref_mean[d];
    const double dv = (double)st.batch_var[d] - s->ref_var[d];
    s->s_mean[d] += dm;
    s->ss_mean[d] += dm * dm;
    s->s_var[d] += dv;
    s->ss_var[d] += dv * dv;
  }
  s->n += 1;
}

nlohmann::json BatchStatsJitter::to_json() const {
  nlohmann::json j = nlohmann::json::object();
  // mean over features of the population std over the n logged steps:
  //   std_d = sqrt(sum (x - ref)^2 / n - (sum (x - ref) / n)^2)
  auto mean_std = [](const std::vector<double>& s, const std::vector<double>& ss, long long n) {
    double total = 0;
    for (size_t d = 0; d < s.size(); ++d) {
      const double m = s[d] / (double)n;
      total += std::sqrt(std::max(0.0, ss[d] / (double)n - m * m));
    }
    return s.empty() ? 0.0 : total / (double)s.size();
  };
  for (const Sums& x : layers_)
    j[x.layer] = {{"mean_std", mean_std(x.s_mean, x.ss_mean, x.n)},
                  {"var_std", mean_std(x.s_var, x.ss_var, x.n)},
                  {"steps", x.n}};
  return j;
}

std::string BatchStatsJitter::to_string() const {
  // Per layer, one line: name n D, then ref_mean, ref_var, s_mean, ss_mean, s_var, ss_var
  // (D numbers each, %.17g: every bit of a double).
  std::string out;
  char buf[40];
  for (const Sums& x : layers_) {
    out += x.layer + " " + std::to_string(x.n) + " " + std::to_string(x.ref_mean.size());
    for (const auto* v : {&x.ref_mean, &x.ref_var, &x.s_mean, &x.ss_mean, &x.s_var, &x.ss_var})
      for (double d : *v) {
        std::snprintf(buf, sizeof buf, " %.17g", d);
        out += buf;
      }
    out += "\n";
  }
  return out;
}

void BatchStatsJitter::from_string(const std::string& text, const std::string& what) {
  std::vector<Sums> layers;
  std::istringstream lines(text);
  std::string line;
  auto bad = [&](const std::string& why) {
    throw UserError(what + ": " + why);
  };
  while (std::getline(lines, line)) {
    std::istringstream in(line);
    Sums x;
    long long D = -1;
    if (!(in >> x.layer >> x.n >> D) || x.n < 0 || D < 0 || D > (1 << 24)) bad("a layer's name, steps or width is missing or invalid");
    for (auto* v : {&x.ref_mean, &x.ref_var, &x.s_mean, &x.ss_mean, &x.s_var, &x.ss_var}) {
      v->resize((size_t)D);
      for (double& d : *v) {
        std::string tok;
        if (!(in >> tok)) bad("layer " + x.layer + " has fewer than 6 x " + std::to_string(D) + " numbers");
        char* end = nullptr;
        d = std::strtod(tok.c_str(), &end);
        if (*end != '\0' || !std::isfinite(d)) bad("layer " + x.layer + ": '" + tok.substr(0, 30) + "' is not a number");
      }
    }
    std::string rest;
    if (in >> rest) bad("layer " + x.layer + " has more than 6 x " + std::to_string(D) + " numbers");
    layers.push_back(std::move(x));
  }
  layers_ = std::move(layers);
}

}  // namespace nl
