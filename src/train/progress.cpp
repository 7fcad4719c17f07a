// progress.cpp — the training progress line (see train/progress.h).
//
// What it is: string formatting and "\r\033[K" redraws, kept apart from the training loop
// so the fitting rule can be tested on its own (tests/unit/train/test_progress.cpp).
// What it is not: a general terminal library (no colours, no cursor movement but \r).
#include "normlab/train/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace nl {

std::string format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  char buf[32];
  const long long t = (long long)std::llround(s);
  if (t < 60) std::snprintf(buf, sizeof buf, "%llds", t);
  else if (t < 3600) std::snprintf(buf, sizeof buf, "%lldm%02llds", t / 60, t % 60);
  else if (t < 86400) std::snprintf(buf, sizeof buf, "%lldh%02lldm", t / 3600, (t % 3600) / 60);
  else std::snprintf(buf, sizeof buf, "%lldd%02lldh", t / 86400, (t % 86400) / 3600);
  return buf;
}

std::string format_progress(const ProgressInfo& p, int width, bool bar) {
  char buf[96];
  // Each piece with its rank: lower ranks are kept longer. Printed in the order pushed.
  struct Piece { std::string text; int rank; };
  std::vector<Piece> pieces;
  std::snprintf(buf, sizeof buf, "step %d/%d", p.step, p.total);
  pieces.push_back({buf, 0});
  if (bar && p.total > 0) {
    const int n = 20, filled = std::max(0, std::min(n, (int)((double)p.step / p.total * n)));
    pieces.push_back({"[" + std::string(filled, '#') + std::string(n - filled, '.') + "]", 6});
  }
  if (!std::isnan(p.loss)) {
    std::snprintf(buf, sizeof buf, "loss %.4f", p.loss);
    pieces.push_back({buf, 1});
  }
  std::snprintf(buf, sizeof buf, "lr %.2e", p.lr);
  pieces.push_back({buf, 5});
  std::snprintf(buf, sizeof buf, "%.0f tok/s", p.tokens_per_s);
  pieces.push_back({buf, 4});
  pieces.push_back({"elapsed " + format_duration(p.elapsed_s), 3});
  pieces.push_back({"ETA " + format_duration(p.eta_s), 2});
  for (size_t i = 0; i < p.extra.size(); ++i) pieces.push_back({p.extra[i], 7 + (int)i});

  auto join = [&](int max_rank) {
    std::string line;
    for (const Piece& x : pieces)
      if (x.rank <= max_rank) line += (line.empty() ? "" : "  ") + x.text;
    return line;
  };
  int max_rank = 7 + (int)p.extra.size();
  std::string line = join(max_rank);
  if (width <= 0) return line;
  while ((int)line.size() > width && max_rank > 0) line = join(--max_rank);
  if ((int)line.size() > width) line.resize(width);
  return line;
}

double eta_seconds(double elapsed_s, int done, int left) {
  if (done <= 0 || left < 0) return -1;
  return elapsed_s / done * left;
}

int terminal_width(int fd) {
  struct winsize ws {};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* c = std::getenv("COLUMNS")) {
    const int n = std::atoi(c);
    if (n > 0) return n;
  }
  return 80;
}

void ProgressPrinter::update(const ProgressInfo& p, bool keep) {
  if (!tty_) {
    std::fprintf(out_, "%s\n", format_progress(p, 0, false).c_str());
    std::fflush(out_);
    return;
  }
  // One column short of the width: a line that fills the last column makes some terminals
  // wrap the cursor, and the next \r would redraw one row too low.
  const int width = terminal_width(fileno(out_)) - 1;
  ProgressInfo live = p;
  live.extra.clear();
  std::fprintf(out_, "\r\033[K%s", format_progress(live, width, true).c_str());
  open_ = true;
  if (keep) {  // the line stays; the evaluation under it, whole (a kept line may wrap)
    std::string extras;
    for (const std::string& e : p.extra) extras += "  " + e;
    std::fprintf(out_, "\n%s%s", extras.empty() ? "" : extras.c_str(), extras.empty() ? "" : "\n");
    open_ = false;
  }
  std::fflush(out_);
}

void ProgressPrinter::finish() {
  if (open_) std::fprintf(out_, "\n");
  open_ = false;
}

}  // namespace nl
