// test_compare_stats.cpp — the statistics of compare reports (src/compare/stats.cpp) against
// published table values and closed forms: the incomplete beta function, Student t quantiles
// and CDF, Welch's t-test, Holm's correction, and the 95% interval stats_of writes.
//
// What it is not: a test of how the report words a result (test_compare_summary.cpp).
#include <catch2/catch.hpp>

#include <cmath>

#include "normlab/compare/compare.h"

TEST_CASE("stats: regularized incomplete beta against closed forms", "[compare][stats]") {
  // I_x(1, 1) = x; I_x(a, 1) = x^a; I_x(1, b) = 1 - (1-x)^b; I_0.5(a, a) = 1/2
  for (double x : {0.01, 0.3, 0.5, 0.77, 0.999}) {
    CHECK(nl::incomplete_beta(1, 1, x) == Approx(x).epsilon(1e-12));
    CHECK(nl::incomplete_beta(3.5, 1, x) == Approx(std::pow(x, 3.5)).epsilon(1e-10));
    CHECK(nl::incomplete_beta(1, 2.5, x) == Approx(1 - std::pow(1 - x, 2.5)).epsilon(1e-10));
  }
  for (double a : {0.5, 2.0, 7.3, 40.0}) CHECK(nl::incomplete_beta(a, a, 0.5) == Approx(0.5).epsilon(1e-12));
  // Integer a, b: I_x(a, b) = P(Binomial(a+b-1, x) >= a). a=2, b=3, x=0.4:
  // 6*.4^2*.6^2 + 4*.4^3*.6 + .4^4 = 0.3456 + 0.1536 + 0.0256
  CHECK(nl::incomplete_beta(2, 3, 0.4) == Approx(0.5248).epsilon(1e-12));
  CHECK(nl::incomplete_beta(2, 3, 0) == 0);
  CHECK(nl::incomplete_beta(2, 3, 1) == 1);
  CHECK(std::isnan(nl::incomplete_beta(-1, 3, 0.5)));
}

TEST_CASE("stats: Student t quantiles match the published table", "[compare][stats]") {
  // Two-sided 95% (p = 0.975) and other rows of the standard t table.
  struct Row { double p, df, t; };
  const Row table[] = {
      {0.975, 1, 12.7062}, {0.975, 2, 4.3027}, {0.975, 3, 3.1824}, {0.975, 4, 2.7764},
      {0.975, 5, 2.5706},  {0.975, 9, 2.2622}, {0.975, 10, 2.2281}, {0.975, 30, 2.0423},
      {0.95, 4, 2.1318},   {0.95, 30, 1.6973}, {0.995, 2, 9.9248},  {0.995, 10, 3.1693},
      {0.9, 1, 3.0777},    {0.999, 5, 5.8934},
  };
  for (const Row& r : table) {
    INFO("p " << r.p << " df " << r.df);
    CHECK(nl::student_t_quantile(r.p, r.df) == Approx(r.t).margin(5e-5));
    CHECK(nl::student_t_quantile(1 - r.p, r.df) == Approx(-r.t).margin(5e-5));
  }
  CHECK(nl::student_t_quantile(0.5, 3) == 0);
  // large df tends to the normal quantile 1.959964
  CHECK(nl::student_t_quantile(0.975, 1e6) == Approx(1.959964).margin(1e-5));
}

TEST_CASE("stats: Student t CDF against closed forms for df 1, 2 and 4", "[compare][stats]") {
  for (double t : {-7.0, -1.3, 0.0, 0.4, 2.12132, 12.0}) {
    INFO("t " << t);
    CHECK(nl::student_t_cdf(t, 1) == Approx(0.5 + std::atan(t) / M_PI).epsilon(1e-10));  // Cauchy
    CHECK(nl::student_t_cdf(t, 2) == Approx(0.5 + t / (2 * std::sqrt(2 + t * t))).epsilon(1e-10));
    double u = 1 + t * t / 4;  // df 4: 1/2 + 3/8 * t/sqrt(u) * (1 - t^2 / (12 u))
    CHECK(nl::student_t_cdf(t, 4) == Approx(0.5 + 0.375 * t / std::sqrt(u) * (1 - t * t / (12 * u))).epsilon(1e-10));
  }
}

TEST_CASE("stats: Welch's t-test", "[compare][stats]") {
  // Equal sizes and variances: df = 2n - 2. a = {1, 3}, b = {4, 6}: diff -3, se sqrt(2),
  // t = -2.12132, df 2; p = 2 (1 - F_2(2.12132)) with F_2(t) = 1/2 + t / (2 sqrt(2 + t^2)).
  nl::WelchTest w = nl::welch_test({1, 3}, {4, 6});
  REQUIRE(w.ok);
  CHECK(w.diff == Approx(-3));
  CHECK(w.se == Approx(std::sqrt(2.0)));
  CHECK(w.t == Approx(-2.1213203));
  CHECK(w.df == Approx(2));
  double t = 3 / std::sqrt(2.0);
  CHECK(w.p == Approx(2 * (0.5 - t / (2 * std::sqrt(2 + t * t)))).epsilon(1e-9));  // 0.16795
  CHECK(w.p == Approx(0.16795).margin(1e-5));
  // 95% interval of the difference: -3 ± 4.3027 * sqrt(2)
  CHECK(w.ci_lo == Approx(-3 - 4.30265 * std::sqrt(2.0)).epsilon(1e-5));
  CHECK(w.ci_hi == Approx(-3 + 4.30265 * std::sqrt(2.0)).epsilon(1e-5));

  // Unequal variances and sizes: a = {1,2,3} (var 1), b = {10..50} (var 250):
  // df = (1/3 + 50)^2 / ((1/3)^2/2 + 50^2/4) = 2533.444 / 625.0556 = 4.053151
  w = nl::welch_test({1, 2, 3}, {10, 20, 30, 40, 50});
  CHECK(w.df == Approx(4.053151).epsilon(1e-6));
  CHECK(w.t == Approx(-28 / std::sqrt(1.0 / 3 + 50)).epsilon(1e-9));
  CHECK(w.p == Approx(2 * nl::student_t_cdf(w.t, w.df)).epsilon(1e-9));
  CHECK(w.p < 0.05);
  CHECK(w.p > 0.001);

  // NaNs (unfinished runs) are skipped; one value is not enough.
  w = nl::welch_test({1, NAN, 3}, {4, 6});
  CHECK(w.n_a == 2);
  CHECK(w.p == Approx(0.16795).margin(1e-5));
  CHECK_FALSE(nl::welch_test({1}, {2, 3}).ok);
  // Constant samples: equal means give p = 1, different means p = 0.
  CHECK(nl::welch_test({1, 1, 1}, {1, 1}).p == 1);
  CHECK(nl::welch_test({1, 1, 1}, {2, 2}).p == 0);
}

TEST_CASE("stats: Holm's step-down correction", "[compare][stats]") {
  // m = 4: sorted 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 -> max(0.06, 0.04) = 0.06
  std::vector<double> adj = nl::holm_adjust({0.01, 0.04, 0.03, 0.005});
  REQUIRE(adj.size() == 4);
  CHECK(adj[0] == Approx(0.03));
  CHECK(adj[1] == Approx(0.06));
  CHECK(adj[2] == Approx(0.06));
  CHECK(adj[3] == Approx(0.02));
  adj = nl::holm_adjust({0.5, 0.9});
  CHECK(adj[0] == Approx(1.0));  // capped at 1
  CHECK(adj[1] == Approx(1.0));
  CHECK(nl::holm_adjust({}).empty());
}

TEST_CASE("stats: stats_of gives the 95% interval of the mean", "[compare][stats]") {
  // 1, 2, 3, 4, 5: mean 3, std sqrt(2.5), ci95 = t_{0.975,4} * std / sqrt(5) = 2.7764 * 0.70711
  auto s = nl::stats_of({1, 2, NAN, 3, 4, 5});
  CHECK(s["n"] == 5);
  CHECK(s["mean"].get<double>() == Approx(3));
  CHECK(s["std"].get<double>() == Approx(std::sqrt(2.5)));
  CHECK(s["ci95"].get<double>() == Approx(2.776445 * std::sqrt(2.5) / std::sqrt(5.0)).epsilon(1e-6));
  CHECK(nl::stats_of({7})["ci95"].is_null());
  CHECK(nl::stats_of({})["mean"].is_null());
}
