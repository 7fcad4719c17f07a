// profile.h — where a training step's time goes: per op kind, per direction, per part of
// the model (`normlab bench --profile`, `normlab train --profile`).
//
// What it is: one clock read in turns ("laps"). While a ProfileStep is alive on this thread,
// every op that records itself on the tape (autograd.h, record) ends a lap: the time since
// the previous lap is that op's forward (an op computes, then records). Every closure of the
// backward walk ends a lap too: that op's backward. The encoder names the part of the model
// its ops belong to (ProfilePart: embed, layers, attention, ffn, head, loss), and the step
// names what it does outside the tape (profile_lap: the batch, zero_grad, the gradient sum
// and clip, the optimizer). The step's last lap goes to ("step", "other"). So the rows add
// up to the steps' measured wall time exactly: nothing is sampled, nothing is left out.
// An op with FLOPs says how many (record's OpFlops: matmul, linear, attention), and the
// profile turns them into GFLOP/s per direction.
// Off, it costs one test of a thread-local pointer per recorded op and per backward closure.
// What it is not: a sampler of kernels (time inside an op is the op's; glue work that
// records nothing, such as building the attention mask, is the next op's), nor a timer to
// assert on (timings belong in benchmarks, never in tests).
#pragma once
#include <chrono>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

namespace nl {

// Which direction a lap belongs to: the forward (ops recording), the backward (their
// closures), or the step's work outside the tape (batch, gradient sum, clip, optimizer).
enum class Phase { forward, backward, other };

// What an op adds to the FLOP count: multiply-adds count 2. Zero for ops without FLOPs worth
// a rate (element-wise, reductions).
struct OpFlops {
  double forward = 0, backward = 0;
};

// One (part, op) row, summed over the profiled steps.
struct ProfileRow {
  std::string part, op;
  double seconds[3] = {0, 0, 0};   // by Phase
  long calls[3] = {0, 0, 0};
  double flops[3] = {0, 0, 0};
  double total_seconds() const { return seconds[0] + seconds[1] + seconds[2]; }
};

class Profile {
 public:
  using Clock = std::chrono::steady_clock;
  void begin_step();               // the clock starts (ProfileStep calls it)
  void end_step();                 // the last lap goes to ("step", "other")
  // Where the time since the previous lap goes. The part and op strings must outlive the
  // profile (literals, or names owned by the model); rows are merged by their text.
  int slot(const char* part, const char* op);
  void lap(int slot, Phase phase, double flops);
  // Rows merged by (part, op) text: parts in the order a step first met them, the ops of a
  // part by time, largest first.
  std::vector<ProfileRow> rows() const;
  int steps() const { return steps_; }
  double total_seconds() const { return total_s_; }  // the steps' wall time = sum of all rows
  long laps_per_step() const { return steps_ ? laps_ / steps_ : 0; }
  // {"steps", "total_s", "ms_per_step", "overhead": {laps_per_step, ms_per_step, share},
  //  "rows": [{part, op, forward_ms, backward_ms, other_ms, share, forward_gflops,
  //  backward_gflops, calls_per_step}], "parts": [{part, ms, share}]}; ms are per step, the
  //  GFLOP/s null where the op has no FLOPs. The overhead is the laps' cost, timed apart.
  nlohmann::json to_json() const;
  // The same as a text table, one line per row, a subtotal per part and the total.
  std::string table() const;

 private:
  struct Key {
    const char* part;
    const char* op;
    bool operator==(const Key& k) const { return part == k.part && op == k.op; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return std::hash<const void*>()(k.part) * 31 + std::hash<const void*>()(k.op);
    }
  };
  std::unordered_map<Key, int, KeyHash> slots_;
  std::vector<ProfileRow> rows_;
  Clock::time_point mark_{};
  Clock::time_point step_start_{};
  int steps_ = 0;
  long laps_ = 0;
  double total_s_ = 0;
};

// The profile this thread's ops report to, or null (then nothing is timed).
Profile* active_profile();

// While alive, this thread's step is timed into `p` (null: nothing happens). One per step.
class ProfileStep {
 public:
  explicit ProfileStep(Profile* p);
  ~ProfileStep();
  ProfileStep(const ProfileStep&) = delete;
  ProfileStep& operator=(const ProfileStep&) = delete;
 private:
  Profile* p_;
};

// While alive, the ops recorded on this thread belong to `part` (a literal); nested parts
// restore the outer one. Entering and leaving end a lap in the outer (inner) part, op "other",
// so glue between ops stays in the part it ran in. Does nothing while not profiling.
class ProfilePart {
 public:
  explicit ProfilePart(const char* part);
  ~ProfilePart();
  ProfilePart(const ProfilePart&) = delete;
  ProfilePart& operator=(const ProfilePart&) = delete;
 private:
  const char* outer_;
};

// The part ops are recorded in now ("step" outside any ProfilePart).
const char* profile_part();

// Ends a lap for (part, op) in `phase`: the time since the previous lap. Nothing when off.
void profile_lap(const char* part, const char* op, Phase phase, double flops = 0);

// What the laps of one step cost: `laps` clock reads and slot look-ups, timed in a loop of
// their own (seconds). The profiles' overhead, measured where the machine's load matters least.
double profile_lap_cost_seconds(long laps);

}  // namespace nl
