// rng.h — the one random number generator: seeded, portable, serialisable.
//
// What it is: a xoshiro256** generator (seeded through SplitMix64) with
// uniform and normal draws that give the same numbers on every platform and
// compiler (std::normal_distribution does not), and whose whole state is four
// 64-bit words, so checkpoints can save it and resume bit-identically.
// What it is not: cryptographic.
#pragma once
#include <array>
#include <cstdint>

namespace nl {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { reseed(seed); }
  void reseed(uint64_t seed);
  uint64_t next_u64();
  // Uniform in [0, 1) (one next_u64 draw).
  float uniform();
  // Skip n draws of next_u64 (as n uniform() calls would).
  void discard(uint64_t n);
  // Uniform integer in [lo, hi] (inclusive).
  int randint(int lo, int hi);
  // Standard normal (Box–Muller, no cached second value, so state is just s_).
  float normal();
  // A child stream: same seed + same tag => same stream, independent of draw order.
  static Rng derive(uint64_t seed, uint64_t tag);

  std::array<uint64_t, 4> state() const { return s_; }
  void set_state(const std::array<uint64_t, 4>& s) { s_ = s; }

 private:
  std::array<uint64_t, 4> s_{};
};

}  // namespace nl
