// stats.cpp — the few statistics a comparison report needs, written out in full.
//
// What it is: the regularized incomplete beta function I_x(a, b), from it Student's t
// distribution (CDF and quantile), the 95% confidence interval of a mean, Welch's two-sample
// t-test (unequal variances, Welch-Satterthwaite degrees of freedom) and Holm's step-down
// correction for many tests in one report. No dependencies beyond <cmath>; checked against
// published table values and closed forms in tests/unit/compare/test_compare_stats.cpp.
// What it is not: a statistics library. Which numbers are tested, and the words the report
// uses for a result, live in summary.cpp and report.cpp.
//
// The math:
//   I_x(a, b) = B(x; a, b) / B(a, b), evaluated by its continued fraction (Numerical Recipes,
//     2nd ed., section 6.4), using the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) where the
//     fraction converges slowly.
//   Student t, df = v: P(|T| > t) = I_{v/(v+t^2)}(v/2, 1/2), so CDF(t) = 1 - tail/2 for t > 0.
//   Quantile: bisection on the CDF (monotone), to double precision.
//   Welch: diff = mean_a - mean_b, s^2 = var_a/n_a + var_b/n_b (sample variances, n-1),
//     t = diff / s, df = s^4 / ((var_a/n_a)^2/(n_a-1) + (var_b/n_b)^2/(n_b-1)),
//     p = P(|T_df| > |t|), 95% CI of the difference: diff ± t_{0.975,df} * s.
//   Paired: d_i = a_i - b_i over the n complete pairs, diff = mean(d), se = sd(d) / sqrt(n),
//     t = diff / se, df = n - 1, p = P(|T_df| > |t|), 95% CI diff ± t_{0.975,n-1} * se.
//   TOST (equivalence within ±m): p = max(1 - F_df((diff + m) / se), F_df((diff - m) / se)).
//   Holm: sort the m p-values ascending, p_(i) -> max_{j<=i} min(1, (m - j + 1) p_(j)).
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <cstdio>
#include <cstdlib>

#include "normlab/compare/stats.h"

namespace nl {

// Continued fraction of the incomplete beta function (modified Lentz's method).
static double beta_continued_fraction(double a, double b, double x) {
  const double tiny = 1e-300, eps = 1e-15;
  double qab = a + b, qap = a + 1, qam = a - 1;
  double c = 1, d = 1 - qab * x / qap;
  if (std::fabs(d) < tiny) d = tiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 1000; ++m) {
    int m2 = 2 * m;
    // even step: d_{2m} = m (b - m) x / ((a + 2m - 1)(a + 2m))
    double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    // odd step: d_{2m+1} = -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1))
    aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
    d = 1 + aa * d;
    if (std::fabs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (std::fabs(c) < tiny) c = tiny;
    d = 1 / d;
    double del = d * c;
    h *= del;
    if (std::fabs(del - 1) < eps) break;
  }
  return h;
}

double incomplete_beta(double a, double b, double x) {
  if (!(a > 0) || !(b > 0) || std::isnan(x)) return NAN;
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  // x^a (1-x)^b / B(a, b), in logs
  double front = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) +
                          b * std::log1p(-x));
  if (x < (a + 1) / (a + b + 2)) return front * beta_continued_fraction(a, b, x) / a;
  return 1 - front * beta_continued_fraction(b, a, 1 - x) / b;
}

double student_t_cdf(double t, double df) {
  if (std::isnan(t) || !(df > 0)) return NAN;
  if (std::isinf(t)) return t > 0 ? 1 : 0;
  double tail = incomplete_beta(df / 2, 0.5, df / (df + t * t));  // P(|T| > |t|)
  return t > 0 ? 1 - tail / 2 : tail / 2;
}

double student_t_quantile(double p, double df) {
  if (!(p > 0 && p < 1) || !(df > 0)) return NAN;
  if (p == 0.5) return 0;
  // Bracket, then bisect: the CDF is monotone, so 200 halvings reach double precision.
  double lo = -1, hi = 1;
  while (student_t_cdf(lo, df) > p) lo *= 2;
  while (student_t_cdf(hi, df) < p) hi *= 2;
  for (int i = 0; i < 200; ++i) {
    double mid = 0.5 * (lo + hi);
    if (mid == lo || mid == hi) break;
    (student_t_cdf(mid, df) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

static void mean_var(const std::vector<double>& xs, int& n, double& mean, double& var) {
  n = 0;
  mean = 0;
  for (double x : xs)
    if (std::isfinite(x)) mean += x, ++n;
  if (n == 0) { var = NAN; return; }
  mean /= n;
  double s = 0;
  for (double x : xs)
    if (std::isfinite(x)) s += (x - mean) * (x - mean);
  var = n > 1 ? s / (n - 1) : NAN;
}

WelchTest welch_test(const std::vector<double>& a, const std::vector<double>& b) {
  WelchTest w;
  double ma, va, mb, vb;
  mean_var(a, w.n_a, ma, va);
  mean_var(b, w.n_b, mb, vb);
  if (w.n_a < 2 || w.n_b < 2) return w;
  w.ok = true;
  w.diff = ma - mb;
  double ea = va / w.n_a, eb = vb / w.n_b;  // squared standard errors of the two means
  w.se = std::sqrt(ea + eb);
  if (w.se == 0) {
    // Both samples constant: either the same value (no difference) or a difference with no
    // spread at all; Welch's t is undefined, the data are not.
    w.df = w.n_a + w.n_b - 2;
    w.t = w.diff == 0 ? 0 : std::copysign(std::numeric_limits<double>::infinity(), w.diff);
    w.p = w.diff == 0 ? 1 : 0;
    w.ci_lo = w.ci_hi = w.diff;
    return w;
  }
  w.df = (ea + eb) * (ea + eb) / (ea * ea / (w.n_a - 1) + eb * eb / (w.n_b - 1));
  w.t = w.diff / w.se;
  w.p = incomplete_beta(w.df / 2, 0.5, w.df / (w.df + w.t * w.t));
  double q = student_t_quantile(0.975, w.df);
  w.ci_lo = w.diff - q * w.se;
  w.ci_hi = w.diff + q * w.se;
  return w;
}

PairedTest paired_t_test(const std::vector<double>& a, const std::vector<double>& b) {
  PairedTest r;
  std::vector<double> d;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    if (std::isfinite(a[i]) && std::isfinite(b[i])) {
      d.push_back(a[i] - b[i]);
      r.higher += a[i] > b[i], r.lower += a[i] < b[i], r.equal += a[i] == b[i];
    }
  double var = 0;
  mean_var(d, r.n, r.diff, var);
  if (r.n < 2) return r;
  r.ok = true;
  r.df = r.n - 1;
  r.se = std::sqrt(var / r.n);
  if (r.se == 0) {  // every pair differs by the same amount: no spread to test against
    r.t = r.diff == 0 ? 0 : std::copysign(std::numeric_limits<double>::infinity(), r.diff);
    r.p = r.diff == 0 ? 1 : 0;
    r.ci_lo = r.ci_hi = r.diff;
    return r;
  }
  r.t = r.diff / r.se;
  r.p = incomplete_beta(r.df / 2, 0.5, r.df / (r.df + r.t * r.t));
  const double q = student_t_quantile(0.975, r.df);
  r.ci_lo = r.diff - q * r.se;
  r.ci_hi = r.diff + q * r.se;
  return r;
}

double tost_p(double diff, double se, double df, double margin) {
  if (!std::isfinite(diff) || !(margin > 0) || !(df > 0) || !(se >= 0)) return NAN;
  if (se == 0) return std::fabs(diff) < margin ? 0 : 1;
  const double p_low = 1 - student_t_cdf((diff + margin) / se, df);  // H0: diff <= -margin
  const double p_high = student_t_cdf((diff - margin) / se, df);     // H0: diff >= +margin
  return std::max(p_low, p_high);
}

std::string format_p(double p) {
  if (!std::isfinite(p)) return "n/a";
  if (p < 0.001) return "p < 0.001";
  char buf[48];
  for (int digits = p < 0.01 ? 3 : 2; digits <= 20; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*f", digits, p);
    if ((std::strtod(buf, nullptr) < 0.05) == (p < 0.05)) break;
  }
  return std::string("p = ") + buf;
}

std::vector<double> holm_adjust(const std::vector<double>& p) {
  const size_t m = p.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t i, size_t j) { return p[i] < p[j]; });
  std::vector<double> adj(m);
  double running = 0;
  for (size_t k = 0; k < m; ++k) {
    double v = std::min(1.0, (double)(m - k) * p[order[k]]);
    running = std::max(running, v);  // step-down: never smaller than an earlier (smaller) one
    adj[order[k]] = running;
  }
  return adj;
}

nlohmann::ordered_json stats_of(const std::vector<double>& xs_in) {
  std::vector<double> xs;
  for (double x : xs_in)
    if (std::isfinite(x)) xs.push_back(x);
  nlohmann::ordered_json s;
  s["n"] = xs.size();
  if (xs.empty()) {
    s["mean"] = nullptr, s["std"] = nullptr, s["ci95"] = nullptr, s["min"] = nullptr, s["max"] = nullptr;
    return s;
  }
  double m = 0;
  for (double x : xs) m += x;
  m /= xs.size();
  double v = 0;
  for (double x : xs) v += (x - m) * (x - m);
  const size_t n = xs.size();
  double sd = n > 1 ? std::sqrt(v / (n - 1)) : 0.0;
  s["mean"] = m;
  s["std"] = sd;
  s["ci95"] = n > 1 ? nlohmann::ordered_json(student_t_quantile(0.975, (double)(n - 1)) * sd / std::sqrt((double)n))
                    : nlohmann::ordered_json(nullptr);
  s["min"] = *std::min_element(xs.begin(), xs.end());
  s["max"] = *std::max_element(xs.begin(), xs.end());
  return s;
}

}  // namespace nl
