// rng.cpp — xoshiro256** (Blackman & Vigna, https://prng.di.unimi.it/), seeded through SplitMix64.
//
// What it is: the generator, its uniform draw (top 24 bits -> [0,1)) and a Box–Muller
// normal in double, written out so every platform draws the same numbers.
// What it is not: thread-safe; each user (init, dropout, data) owns its own Rng.
#include "normlab/core/rng.h"

#include <cmath>

namespace nl {

static uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void Rng::reseed(uint64_t seed) {
  uint64_t x = seed;
  for (auto& w : s_) w = splitmix64(x);
}

uint64_t Rng::next_u64() {
  const uint64_t result = rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

float Rng::uniform() {
  // 24 random bits -> a float in [0,1) with every value exactly representable.
  return (float)(next_u64() >> 40) * (1.0f / 16777216.0f);
}

void Rng::discard(uint64_t n) {
  for (uint64_t i = 0; i < n; ++i) next_u64();
}

int Rng::randint(int lo, int hi) {
  uint64_t span = (uint64_t)((int64_t)hi - (int64_t)lo + 1);
  return lo + (int)(next_u64() % span);  // modulo bias is < 2^-32 for our spans
}

float Rng::normal() {
  // Box–Muller in double; u1 in (0,1] so log(u1) is finite.
  double u1 = ((double)(next_u64() >> 11) + 1.0) * (1.0 / 9007199254740992.0);
  double u2 = (double)(next_u64() >> 11) * (1.0 / 9007199254740992.0);
  return (float)(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

Rng Rng::derive(uint64_t seed, uint64_t tag) {
  uint64_t x = seed ^ (tag * 0xD1B54A32D192ED03ull);
  return Rng(splitmix64(x));
}

}  // namespace nl
