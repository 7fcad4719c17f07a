// signals.cpp — SIGINT/SIGTERM handlers that record the signal and forward it (signals.h).
//
// What it is: one sigaction handler doing only async-signal-safe things: store the signal
// number, kill() the registered children, or, on a second signal, restore the default
// action and re-raise it.
// What it is not: a place that decides what stopping means: the trainer and compare do.
#include "normlab/core/signals.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>

namespace nl {

namespace {

constexpr int kMaxForward = 1024;
volatile sig_atomic_t g_signal = 0;
volatile sig_atomic_t g_forward[kMaxForward];  // child pids (pid_t fits an int), 0 = free
struct sigaction g_old_int, g_old_term;

void on_stop(int sig, siginfo_t* info, void*) {
  if (g_signal != 0) {  // the second one: stop now
    signal(sig, SIG_DFL);
    raise(sig);
    return;
  }
  g_signal = sig;
  // From the terminal (Ctrl-C: si_code SI_KERNEL), every process of the foreground group
  // got it already; from kill() only this one did, so pass it on.
  if (info == nullptr || info->si_code != SI_KERNEL)
    for (int i = 0; i < kMaxForward; ++i)
      if (g_forward[i] > 0) kill((pid_t)g_forward[i], SIGTERM);
}

}  // namespace

StopSignals::StopSignals() {
  g_signal = 0;
  struct sigaction sa {};
  sa.sa_sigaction = on_stop;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;  // interrupted system calls resume
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

void StopSignals::forward_to(pid_t pid) {
  for (int i = 0; i < kMaxForward; ++i)
    if (g_forward[i] == 0) {
      g_forward[i] = (sig_atomic_t)pid;
      // Asked to stop before this child was registered: the handler could not reach it.
      if (g_signal != 0) kill(pid, SIGTERM);
      return;
    }
}

void StopSignals::forget(pid_t pid) {
  for (int i = 0; i < kMaxForward; ++i)
    if (g_forward[i] == (sig_atomic_t)pid) g_forward[i] = 0;
}

int stop_signal() { return (int)g_signal; }

const char* signal_name(int sig) {
  if (sig == SIGINT) return "SIGINT";
  if (sig == SIGTERM) return "SIGTERM";
  static char buf[32];
  std::snprintf(buf, sizeof buf, "signal %d", sig);
  return buf;
}

}  // namespace nl
