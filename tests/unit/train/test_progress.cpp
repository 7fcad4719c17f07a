// test_progress.cpp — the training progress line (train/progress.h): durations, the ETA
// rule, fitting into 40/80/120 columns, and what the printer writes on a terminal and on a
// log file. No clocks: every time is given.
//
// What it is not: the trainer's use of it (test_train.cpp runs training quietly).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "normlab/train/progress.h"

namespace {

nl::ProgressInfo example() {
  nl::ProgressInfo p;
  p.step = 1234;
  p.total = 5000;
  p.loss = 0.123456;
  p.lr = 3e-3;
  p.tokens_per_s = 123456;
  p.elapsed_s = 187;  // 3m07s
  p.eta_s = 3900;     // 1h05m
  return p;
}

// Everything a FILE* received.
std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string s;
  int c;
  while ((c = std::fgetc(f)) != EOF) s += (char)c;
  return s;
}

}  // namespace

TEST_CASE("format_duration: seconds, minutes, hours, days; ? when unknown", "[progress]") {
  CHECK(nl::format_duration(0) == "0s");
  CHECK(nl::format_duration(42.4) == "42s");
  CHECK(nl::format_duration(59.6) == "1m00s");
  CHECK(nl::format_duration(187) == "3m07s");
  CHECK(nl::format_duration(3900) == "1h05m");
  CHECK(nl::format_duration(2 * 86400 + 3 * 3600 + 59) == "2d03h");
  CHECK(nl::format_duration(-1) == "?");
  CHECK(nl::format_duration(NAN) == "?");
  CHECK(nl::format_duration(INFINITY) == "?");
}

TEST_CASE("eta_seconds: time left at the pace so far, unknown before the first step", "[progress]") {
  CHECK(nl::eta_seconds(10.0, 0, 100) == -1);
  CHECK(nl::eta_seconds(10.0, 2, 8) == 40.0);
  CHECK(nl::eta_seconds(10.0, 5, 0) == 0.0);
  CHECK(nl::format_duration(nl::eta_seconds(0.5, 0, 10)) == "?");
}

TEST_CASE("format_progress: everything without a width; 120, 80 and 40 columns drop the least useful first", "[progress]") {
  const nl::ProgressInfo p = example();
  const std::string all = "step 1234/5000  loss 0.1235  lr 3.00e-03  123456 tok/s  elapsed 3m07s  ETA 1h05m";
  CHECK(nl::format_progress(p, 0, false) == all);
  // 120: the bar fits too (1234/5000 of 20 cells: 4 filled).
  CHECK(nl::format_progress(p, 120, true) ==
        "step 1234/5000  [####................]  loss 0.1235  lr 3.00e-03  123456 tok/s  elapsed 3m07s  ETA 1h05m");
  // 80: the bar goes first; the rest is exactly 80 columns.
  CHECK(all.size() == 80);
  CHECK(nl::format_progress(p, 80, true) == all);
  // 79: then the learning rate.
  CHECK(nl::format_progress(p, 79, true) == "step 1234/5000  loss 0.1235  123456 tok/s  elapsed 3m07s  ETA 1h05m");
  // 40: step, loss and ETA.
  CHECK(nl::format_progress(p, 40, true) == "step 1234/5000  loss 0.1235  ETA 1h05m");
  // Narrower than step/total alone: cut, never wrapped.
  CHECK(nl::format_progress(p, 10, true) == "step 1234/");
  for (int w = 1; w <= 150; ++w) {
    INFO("width " << w);
    const std::string line = nl::format_progress(p, w, true);
    CHECK((int)line.size() <= w);
    if (w >= 14) CHECK(line.rfind("step 1234/5000", 0) == 0);
    if (w >= 38) CHECK(line.find("ETA 1h05m") != std::string::npos);
  }
}

TEST_CASE("format_progress: extras (evaluation) are the first to go; no loss yet, no loss piece", "[progress]") {
  nl::ProgressInfo p = example();
  p.extra = {"len_4_16 acc 1.000", "len_17_32* acc 0.871"};
  const std::string all = nl::format_progress(p, 0, false);
  CHECK(all.find("ETA 1h05m  len_4_16 acc 1.000  len_17_32* acc 0.871") != std::string::npos);
  CHECK(nl::format_progress(p, 100, false) ==
        "step 1234/5000  loss 0.1235  lr 3.00e-03  123456 tok/s  elapsed 3m07s  ETA 1h05m  len_4_16 acc 1.000");
  p.extra.clear();
  p.loss = NAN;
  p.eta_s = -1;
  CHECK(nl::format_progress(p, 40, false) == "step 1234/5000  elapsed 3m07s  ETA ?");
}

TEST_CASE("ProgressPrinter: plain lines on a log file; one redrawn, fitted line on a terminal", "[progress]") {
  nl::ProgressInfo p = example();
  p.extra = {"len_4_16 acc 1.000"};
  {
    std::FILE* f = std::tmpfile();
    REQUIRE(f);
    nl::ProgressPrinter log(f, /*tty=*/false);
    log.update(p);
    log.update(p, /*keep=*/true);
    log.finish();
    const std::string line = nl::format_progress(p, 0, false) + "\n";
    CHECK(contents(f) == line + line);
    std::fclose(f);
  }
  {
    // A file is no terminal, so the width comes from $COLUMNS (one column is kept free).
    const char* old = std::getenv("COLUMNS");
    const std::string saved = old ? old : "";
    setenv("COLUMNS", "41", 1);
    std::FILE* f = std::tmpfile();
    REQUIRE(f);
    {
      nl::ProgressPrinter tty(f, /*tty=*/true);
      tty.update(p);
      tty.update(p, /*keep=*/true);
      tty.update(p);
    }  // the destructor ends the open line
    const std::string line = "step 1234/5000  loss 0.1235  ETA 1h05m";
    CHECK(contents(f) == "\r\033[K" + line + "\r\033[K" + line + "\n  len_4_16 acc 1.000\n" + "\r\033[K" + line + "\n");
    std::fclose(f);
    if (old) setenv("COLUMNS", saved.c_str(), 1);
    else unsetenv("COLUMNS");
  }
}
