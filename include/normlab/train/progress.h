// train/progress.h — the training progress line: step/total, loss, tokens/s, elapsed, ETA.
//
// What it is: a formatting function that fits one line into a given width (dropping the
// least useful pieces first, never wrapping), durations as "42s", "3m07s", "1h05m", the
// ETA rule, and a small printer: on a terminal it redraws one line in place ("\r" + clear
// to end of line), fitted to the terminal's width (ioctl TIOCGWINSZ, else $COLUMNS, else
// 80); elsewhere (a pipe, a log file) it writes plain lines, one per call, with everything.
// What it is not: metrics (metrics.csv is written by trainer.cpp whatever is shown here).
#pragma once
#include <cstdio>
#include <string>
#include <vector>

namespace nl {

struct ProgressInfo {
  int step = 0, total = 0;       // steps done / train.steps
  double loss = 0;               // mean training loss since the last line (NaN: none)
  double lr = 0;                 // learning rate of the last step
  double tokens_per_s = 0;       // real tokens per second since the last line
  double elapsed_s = 0;          // wall time of this process's training so far
  double eta_s = -1;             // estimated time left; < 0: unknown
  std::vector<std::string> extra;  // evaluation results, e.g. "len_17_32* acc 0.998"
};

// "42s", "3m07s", "1h05m", "2d03h"; "?" for a negative or non-finite value.
std::string format_duration(double seconds);

// Time left at this process's pace so far: elapsed / done * left; -1 (unknown) before the
// first step is done.
double eta_seconds(double elapsed_s, int done, int left);

// The line for `p`, at most `width` bytes (ASCII only) when width > 0, else everything.
// Printed in the order step/total, [bar], loss, lr, tok/s, elapsed, ETA, extras. Pieces in
// order of what is kept longest: step/total, loss, ETA, elapsed, tok/s, lr, the progress
// bar (only with bar = true), the extra pieces. A piece that does not fit is left out
// (extras from the last one back); if even step/total does not fit, it is cut.
std::string format_progress(const ProgressInfo& p, int width, bool bar);

// Columns of the terminal on `fd`: ioctl TIOCGWINSZ, else $COLUMNS, else 80.
int terminal_width(int fd);

// Prints progress to `out`.
//   tty:  one line redrawn in place, fitted to terminal_width - 1 (re-read on every update,
//         so a resized window is followed). keep = true (an evaluation) leaves that line on
//         screen and prints the extras on a line of their own under it, complete.
//   else: every update is one plain line with everything in it (log files, pipes).
class ProgressPrinter {
 public:
  ProgressPrinter(std::FILE* out, bool tty) : out_(out), tty_(tty) {}
  ~ProgressPrinter() { finish(); }  // an error message then starts on a line of its own
  void update(const ProgressInfo& p, bool keep = false);
  void finish();   // ends a line left open on a terminal
 private:
  std::FILE* out_;
  bool tty_;
  bool open_ = false;  // a redrawn line is on screen without a newline
};

}  // namespace nl
