// kernels/attention.cpp — the fused attention core (see kernels/attention.h).
//
// What it is: per (sequence b, head h), four small sgemm calls on strided blocks of the
// [B,T,D] q, k, v tensors plus one masked softmax pass, forward and backward.
// What it is not: the readable version; nn/attention.cpp's composed path (permute,
// matmul, masked_fill, softmax, matmul) is the plain twin, and it runs under
// `--kernels reference`.
#include "normlab/kernels/attention.h"

#include <omp.h>

#include <cmath>

#include "normlab/kernels/matmul.h"
#include "normlab/core/parallel.h"

namespace nl::kernels {

std::vector<int> attention_key_extent(const float* mask, int B, int T) {
  std::vector<int> extent(B, 0);
  for (int b = 0; b < B; ++b) {
    const float* m = mask + (size_t)b * T * T;
    int last = -1;
    bool empty_row = false;
    for (int t = 0; t < T; ++t) {
      int row_last = -1;
      for (int s = T - 1; s >= 0; --s)
        if (m[(size_t)t * T + s] == 0.0f) { row_last = s; break; }
      if (row_last < 0) empty_row = true;
      if (row_last > last) last = row_last;
    }
    extent[b] = empty_row ? T : last + 1;
  }
  return extent;
}

namespace {

// One (sequence, head) block. Queries are `rows` rows of q at stride ld (the first one
// at q), keys the first `keys` rows of k and v. P: rows x keys at stride ldP. Key s is
// skipped for query t where mask[t*ldm + s] != 0 (mask may be null) or, if causal, s > t.
struct Block {
  const float *q, *k, *v, *mask;
  float* out;
  float* P;
  int rows, keys, ldP, ldm;
  bool causal;
};

bool skipped(const Block& b, int t, int s) {
  return (b.mask && b.mask[(size_t)t * b.ldm + s] != 0.0f) || (b.causal && s > t);
}

// Whether any key may be skipped at all: packed bidirectional blocks have neither a mask nor
// a causal cut, and their softmax loops then run without a test per element.
bool has_skips(const Block& b) { return b.mask != nullptr || b.causal; }

void block_forward(const Block& b, int ld, int dh, float scale) {
  // S = scale * q_h k_h^T
  sgemm_strided(false, true, b.rows, b.keys, dh, scale, b.q, ld, b.k, ld, 0.0f, b.P, b.ldP);
  const bool skips = has_skips(b);
  for (int t = 0; t < b.rows; ++t) {
    float* row = b.P + (size_t)t * b.ldP;
    float mx = -INFINITY;
    for (int s = 0; s < b.keys; ++s) {
      if (skips && skipped(b, t, s)) row[s] = kMaskedScore;
      mx = std::max(mx, row[s]);
    }
    float sum = 0.0f;
    for (int s = 0; s < b.keys; ++s) {
      row[s] = std::exp(row[s] - mx);
      sum += row[s];
    }
    const float inv = 1.0f / sum;
    for (int s = 0; s < b.keys; ++s) row[s] *= inv;
    for (int s = b.keys; s < b.ldP; ++s) row[s] = 0.0f;
  }
  // o_h = P v_h
  sgemm_strided(false, false, b.rows, dh, b.keys, 1.0f, b.P, b.ldP, b.v, ld, 0.0f, b.out, ld);
}

// dq, dk, dv: the same block of the gradients (null: not wanted); dout likewise.
void block_backward(const Block& b, float* dq, float* dk, float* dv, const float* dout, int ld,
                    int dh, float scale, float* dS) {
  // dv_h += P^T do_h
  if (dv) sgemm_strided(true, false, b.keys, dh, b.rows, 1.0f, b.P, b.ldP, dout, ld, 1.0f, dv, ld);
  if (!dq && !dk) return;
  // dP = do_h v_h^T, then dS = P * (dP - sum_s dP * P) row by row
  sgemm_strided(false, true, b.rows, b.keys, dh, 1.0f, dout, ld, b.v, ld, 0.0f, dS, b.keys);
  const bool skips = has_skips(b);
  for (int t = 0; t < b.rows; ++t) {
    float* row = dS + (size_t)t * b.keys;
    const float* p = b.P + (size_t)t * b.ldP;
    float dot = 0.0f;
    for (int s = 0; s < b.keys; ++s) dot += row[s] * p[s];
    // masked scores were overwritten by -1e9 in the forward: no gradient reaches them
    for (int s = 0; s < b.keys; ++s) row[s] = skips && skipped(b, t, s) ? 0.0f : p[s] * (row[s] - dot);
  }
  // dq_h += scale dS k_h;  dk_h += scale dS^T q_h
  if (dq) sgemm_strided(false, false, b.rows, dh, b.keys, scale, dS, b.keys, b.k, ld, 1.0f, dq, ld);
  if (dk) sgemm_strided(true, false, b.keys, dh, b.rows, scale, dS, b.keys, b.q, ld, 1.0f, dk, ld);
}

// The block of (sequence b, head h) in the padded [B,T,D] layout, P [B,H,T,T].
Block padded_block(int bh, const float* q, const float* k, const float* v, const float* mask,
                   float* out, const float* P, const std::vector<int>& extent, int T, int D,
                   int H) {
  const int b = bh / H, h = bh % H, dh = D / H;
  const size_t base = (size_t)b * T * D + (size_t)h * dh;  // row 0 of head h in sequence b
  return {q + base, k + base, v + base, mask + (size_t)b * T * T, out ? out + base : nullptr,
          const_cast<float*>(P) + (size_t)bh * T * T, T, extent[b], T, T, false};
}

// The block of (sequence b, head h) in the packed [N,D] layout: rows off[b]..off[b]+len[b]-1.
Block packed_block(int bh, const float* q, const float* k, const float* v, float* out,
                   const float* P, const std::vector<int64_t>& off, const std::vector<int>& len,
                   const std::vector<int64_t>& p_off, int D, int H, bool causal) {
  const int b = bh / H, h = bh % H, dh = D / H, n = len[b];
  const size_t base = (size_t)off[b] * D + (size_t)h * dh;
  return {q + base, k + base, v + base, nullptr, out ? out + base : nullptr,
          const_cast<float*>(P) + p_off[b] + (size_t)h * n * n, n, n, n, 0, causal};
}

}  // namespace

void attention_forward(float* out, float* P, const float* q, const float* k, const float* v,
                       const float* mask, const std::vector<int>& extent, int B, int T, int D,
                       int H, float scale) {
  const int64_t work = (int64_t)B * H * T * T * (2 * (D / H) + kCostRow);
#pragma omp parallel for schedule(dynamic, 1) if (parallel_worth(work))
  for (int bh = 0; bh < B * H; ++bh)
    block_forward(padded_block(bh, q, k, v, mask, out, P, extent, T, D, H), D, D / H, scale);
}

void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* P,
                        const float* q, const float* k, const float* v, const float* mask,
                        const std::vector<int>& extent, int B, int T, int D, int H, float scale,
                        float* scratch) {
  const int64_t work = (int64_t)B * H * T * T * (4 * (D / H) + kCostRow);
#pragma omp parallel for schedule(dynamic, 1) if (parallel_worth(work))
  for (int bh = 0; bh < B * H; ++bh) {
    const Block blk = padded_block(bh, q, k, v, mask, nullptr, P, extent, T, D, H);
    const size_t base = (size_t)(bh / H) * T * D + (size_t)(bh % H) * (D / H);
    block_backward(blk, dq ? dq + base : nullptr, dk ? dk + base : nullptr,
                   dv ? dv + base : nullptr, dout + base, D, D / H, scale,
                   scratch + (size_t)omp_get_thread_num() * T * T);
  }
}

std::vector<int64_t> packed_attention_offsets(const std::vector<int>& len, int H) {
  std::vector<int64_t> p_off(len.size() + 1, 0);
  for (size_t b = 0; b < len.size(); ++b) p_off[b + 1] = p_off[b] + (int64_t)H * len[b] * len[b];
  return p_off;
}

void packed_attention_forward(float* out, float* P, const float* q, const float* k,
                              const float* v, const std::vector<int64_t>& off,
                              const std::vector<int>& len, const std::vector<int64_t>& p_off,
                              int D, int H, bool causal, float scale) {
  const int B = (int)len.size();
  const int64_t work = p_off[B] * (2 * (D / H) + kCostRow);
#pragma omp parallel for schedule(dynamic, 1) if (parallel_worth(work))
  for (int bh = 0; bh < B * H; ++bh)
    block_forward(packed_block(bh, q, k, v, out, P, off, len, p_off, D, H, causal), D, D / H, scale);
}

void packed_attention_backward(float* dq, float* dk, float* dv, const float* dout,
                               const float* P, const float* q, const float* k, const float* v,
                               const std::vector<int64_t>& off, const std::vector<int>& len,
                               const std::vector<int64_t>& p_off, int D, int H, bool causal,
                               float scale, float* scratch, int64_t scratch_per_thread) {
  const int B = (int)len.size();
  const int64_t work = p_off[B] * (4 * (D / H) + kCostRow);
#pragma omp parallel for schedule(dynamic, 1) if (parallel_worth(work))
  for (int bh = 0; bh < B * H; ++bh) {
    const Block blk = packed_block(bh, q, k, v, nullptr, P, off, len, p_off, D, H, causal);
    const size_t base = (size_t)off[bh / H] * D + (size_t)(bh % H) * (D / H);
    block_backward(blk, dq ? dq + base : nullptr, dk ? dk + base : nullptr,
                   dv ? dv + base : nullptr, dout + base, D, D / H, scale,
                   scratch + (size_t)omp_get_thread_num() * scratch_per_thread);
  }
}

}  // namespace nl::kernels
