// compare/stats.h — the statistics of a comparison (src/compare/stats.cpp), written out in
// full with no dependencies and tested against independently computed values.
#pragma once
#include <string>
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
// Paired t-test of mean(a - b) over the pairs (a[i], b[i]) where both are finite (runs of
// two cells at the same seed): df = n - 1, the 95% interval of the mean difference, and how
// many pairs lie above, below or on zero.
struct PairedTest {
  bool ok = false;                  // n >= 2 pairs
  int n = 0;                        // pairs
  double diff = 0;                  // mean of a[i] - b[i]
  double se = 0, t = 0, df = 0;
  double p = 1;                     // two-sided
  double ci_lo = 0, ci_hi = 0;      // 95% interval of the mean difference
  int higher = 0, lower = 0, equal = 0;  // pairs with a[i] > b[i], <, ==
};
PairedTest paired_t_test(const std::vector<double>& a, const std::vector<double>& b);
// Two one-sided tests (Schuirmann 1987) that a difference with standard error `se` and `df`
// degrees of freedom lies inside (-margin, margin): p = max(P(T > (diff + margin)/se),
// P(T < (diff - margin)/se)); p < alpha shows equivalence within ±margin. se = 0: 0 when
// |diff| < margin, else 1.
double tost_p(double diff, double se, double df, double margin);
// "p = 0.048", "p = 0.31", "p < 0.001": two decimals from 0.01 up, three below, and as many
// more as it takes for the printed value to be on the same side of 0.05 as p.
std::string format_p(double p);
// Holm's step-down adjustment: p-values in any order, adjusted ones in the same order
// (monotone, capped at 1).
std::vector<double> holm_adjust(const std::vector<double>& p);
// Mean, sample std (n-1), min, max, n and the 95% confidence half-width of the mean
// (`ci95` = t_{0.975,n-1} * std / sqrt(n), null for n < 2) of the finite values in xs.
nlohmann::ordered_json stats_of(const std::vector<double>& xs);

}  // namespace nl
