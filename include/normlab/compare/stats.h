// compare/stats.h — the statistics of a comparison (src/compare/stats.cpp), written out in
// full with no dependencies and tested against independently computed values.
#pragma once
#include <vector>

#include <nlohmann/json.hpp>

namespace nl {

// Regularized incomplete beta I_x(a, b) (continued fraction, Numerical Recipes 6.4).
double incomplete_beta(double a, double b, double x);
// Student t with df degrees of freedom (df may be fractional): CDF, and the quantile.
double student_t_cdf(double t, double df);
double student_t_quantile(double p, double df);
// Welch's two-sample t-test of mean(a) - mean(b) from the samples' finite values.
struct WelchTest {
  bool ok = false;                  // both samples have n >= 2
  double diff = 0;                  // mean(a) - mean(b)
  double se = 0, t = 0, df = 0;     // Welch-Satterthwaite df
  double p = 1;                     // two-sided
  double ci_lo = 0, ci_hi = 0;      // 95% interval of the difference
  int n_a = 0, n_b = 0;
};
WelchTest welch_test(const std::vector<double>& a, const std::vector<double>& b);
// Holm's step-down adjustment: p-values in any order, adjusted ones in the same order
// (monotone, capped at 1).
std::vector<double> holm_adjust(const std::vector<double>& p);
// Mean, sample std (n-1), min, max, n and the 95% confidence half-width of the mean
// (`ci95` = t_{0.975,n-1} * std / sqrt(n), null for n < 2) of the finite values in xs.
nlohmann::ordered_json stats_of(const std::vector<double>& xs);

}  // namespace nl
