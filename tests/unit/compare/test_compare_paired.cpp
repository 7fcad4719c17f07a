// test_compare_paired.cpp — the statistics issue 20 added to compare (src/compare/stats.cpp):
// the paired t-test, TOST equivalence, t quantiles at fractional df, Holm, and the p-value
// formatter, against values computed independently with SciPy 1.10.1:
//   /usr/bin/python3 -c 'import numpy as np; from scipy import stats
//     a=np.array([0.81,0.79,0.84,0.80,0.83]); b=np.array([0.78,0.77,0.80,0.79,0.78]); d=a-b
//     se=d.std(ddof=1)/np.sqrt(5); q=stats.t.ppf(0.975,4); r=stats.ttest_rel(a,b)
//     print(d.mean(), se, r.statistic, r.pvalue, d.mean()-q*se, d.mean()+q*se)
//     for m in (0.01,0.05): print(max(stats.t.sf((d.mean()+m)/se,4), stats.t.cdf((d.mean()-m)/se,4)))'
// (and the same for the second sample below; stats.t.ppf for the quantiles; Holm written
// out in numpy: sort, (m - k) p_(k), running max, cap at 1).
//
// What it is not: a test of which tests a report runs (test_compare_summary.cpp).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdlib>
#include <string>

#include "normlab/compare/stats.h"

TEST_CASE("stats: paired t-test against scipy.stats.ttest_rel", "[compare][stats]") {
  nl::PairedTest t = nl::paired_t_test({0.81, 0.79, 0.84, 0.80, 0.83}, {0.78, 0.77, 0.80, 0.79, 0.78});
  REQUIRE(t.ok);
  CHECK(t.n == 5);
  CHECK(t.df == 4);
  CHECK(t.diff == Approx(0.02999999999999998).epsilon(1e-12));
  CHECK(t.se == Approx(0.007071067811865457).epsilon(1e-10));
  CHECK(t.t == Approx(4.242640687119293).epsilon(1e-10));
  CHECK(t.p == Approx(0.013235599563682608).epsilon(1e-9));
  CHECK(t.ci_lo == Approx(0.010367568385224422).epsilon(1e-9));
  CHECK(t.ci_hi == Approx(0.04963243161477554).epsilon(1e-9));
  CHECK(t.higher == 5);
  CHECK(t.lower == 0);
  // A negative mean difference with a sign that varies: p 0.44818073202858866 (ttest_rel).
  t = nl::paired_t_test({1.20, 1.35, 1.10}, {1.25, 1.31, 1.22});
  CHECK(t.diff == Approx(-0.0433333333333333).epsilon(1e-10));
  CHECK(t.t == Approx(-0.9357604759733026).epsilon(1e-10));
  CHECK(t.p == Approx(0.44818073202858866).epsilon(1e-9));
  CHECK(t.higher == 1);
  CHECK(t.lower == 2);
  // Pairs with a missing side are dropped; one pair is not a test.
  t = nl::paired_t_test({1.0, NAN, 3.0, 5.0}, {0.5, 2.0, NAN, 4.0});
  CHECK(t.n == 2);
  CHECK(t.diff == Approx(0.75));
  CHECK_FALSE(nl::paired_t_test({1, NAN}, {2, 3}).ok);
  // Every pair differs by the same amount: p 0 (no spread), or 1 when that amount is 0.
  CHECK(nl::paired_t_test({1, 2, 3}, {0, 1, 2}).p == 0);
  CHECK(nl::paired_t_test({1, 2, 3}, {1, 2, 3}).p == 1);
}

TEST_CASE("stats: TOST equivalence p against scipy", "[compare][stats]") {
  const double diff = 0.02999999999999998, se = 0.007071067811865457;
  CHECK(nl::tost_p(diff, se, 4, 0.01) == Approx(0.9762896722078404).epsilon(1e-9));
  CHECK(nl::tost_p(diff, se, 4, 0.05) == Approx(0.023710327792159546).epsilon(1e-9));
  // second sample: diff -0.04333, se = |diff / t|, margin 0.2, df 2
  const double se2 = 0.0433333333333333 / 0.9357604759733026;
  CHECK(nl::tost_p(-0.0433333333333333, se2, 2, 0.2) == Approx(0.03868329520874648).epsilon(1e-8));
  CHECK(nl::tost_p(0.001, 0, 3, 0.01) == 0);  // no spread: inside the margin
  CHECK(nl::tost_p(0.02, 0, 3, 0.01) == 1);
  CHECK(std::isnan(nl::tost_p(0.0, 0.1, 3, 0)));  // no margin, no equivalence test
}

TEST_CASE("stats: t quantiles at fractional df against scipy.stats.t.ppf", "[compare][stats]") {
  struct Row { double p, df, q; };
  const Row rows[] = {{0.975, 4.053151, 2.76214493099456}, {0.995, 2.5, 7.16372813402124},
                      {0.975, 1.5, 6.016663107990447},     {0.9, 7.25, 1.409884895324731},
                      {0.025, 3.3, -3.0248744618409336}};
  for (const Row& r : rows) {
    INFO("p " << r.p << " df " << r.df);
    CHECK(nl::student_t_quantile(r.p, r.df) == Approx(r.q).epsilon(1e-9));
  }
}

TEST_CASE("stats: Holm against a numpy step-down", "[compare][stats]") {
  std::vector<double> adj = nl::holm_adjust({0.012, 0.3, 0.004, 0.049, 0.02, 0.5});
  const std::vector<double> want = {0.06, 0.6, 0.024, 0.147, 0.08, 0.6};
  REQUIRE(adj.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) CHECK(adj[i] == Approx(want[i]).epsilon(1e-12));
}

TEST_CASE("format_p: the printed p is never on the other side of 0.05", "[compare][stats]") {
  CHECK(nl::format_p(0.048) == "p = 0.048");
  CHECK(nl::format_p(0.31) == "p = 0.31");
  CHECK(nl::format_p(0.051) == "p = 0.05");  // 0.05 is not below 0.05: the same side as 0.051
  CHECK(nl::format_p(0.0499996) == "p = 0.0499996");
  CHECK(nl::format_p(0.0042) == "p = 0.004");
  CHECK(nl::format_p(0.0004) == "p < 0.001");
  CHECK(nl::format_p(NAN) == "n/a");
  // every p on a fine grid around 0.05, and a wide one
  for (int i = 0; i <= 20000; ++i) {
    const double p = i < 10000 ? 0.045 + i * 1e-6 : (i - 10000) * 1e-4;
    const std::string s = nl::format_p(p);
    if (s == "p < 0.001") {
      CHECK(p < 0.001);
      continue;
    }
    INFO(p << " -> " << s);
    REQUIRE(s.rfind("p = ", 0) == 0);
    CHECK((std::strtod(s.c_str() + 4, nullptr) < 0.05) == (p < 0.05));
  }
}
