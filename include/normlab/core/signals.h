// signals.h — SIGINT and SIGTERM as a request to stop cleanly, not a kill.
//
// What it is: while a StopSignals object lives, SIGINT and SIGTERM only record which signal
// came (stop_signal()); the program checks it at a safe point (the trainer after a step,
// compare between waits), saves what it must and exits 128 + signal. A second signal while
// the first is being handled ends the process at once, as if there were no handler (the
// files normlab writes are atomic, so that loses nothing but the step in progress).
// A process can register children to forward the stop to (compare's training runs): the
// handler sends them SIGTERM, unless the signal came from the terminal (Ctrl-C), which
// already reached them through the shared process group.
// What it is not: a general signal library; other signals keep their default actions.
#pragma once
#include <sys/types.h>

namespace nl {

class StopSignals {
 public:
  StopSignals();   // installs the handlers; clears a previously recorded signal
  ~StopSignals();  // restores the previous handlers
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Children the handler forwards SIGTERM to (at most 1024 at a time).
  static void forward_to(pid_t pid);
  static void forget(pid_t pid);
};

// The signal that asked to stop (SIGINT or SIGTERM), or 0.
int stop_signal();

// "SIGINT", "SIGTERM", else "signal N".
const char* signal_name(int sig);

}  // namespace nl
