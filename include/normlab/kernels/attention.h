// kernels/attention.h — fused multi-head attention core on raw floats: scores, mask,
// softmax and the weighted sum in one pass per (sequence, head), and its backward.
//
// What it is: the fast twin of nn/attention.cpp's composed path
//   scores = q_h k_h^T * scale;  scores = -1e9 where mask;  P = softmax(scores);  o_h = P v_h
// computed for each (b, h) straight from q, k, v laid out [B,T,D] (head h is the column
// block h*dh .. h*dh+dh-1, so no permute copies), with sgemm on strided blocks. It reads
// the same [B,1,T,T] mask (1 = skip) and gives the same numbers as the composed ops,
// including a row whose keys are all masked (uniform weights over all T keys). Keys past
// the last one any query may see (the pads at the end of a short sequence) are never
// computed: for a batch of lengths 8..64 padded to 64, that is most of the pad work.
// OpenMP over the B*H blocks; each block is one thread's, so results do not depend on
// the thread count.
// What it is not: memory-free (flash) attention: P [B,H,T,T] is kept for the backward.
// Nor dropout on the weights: with attention dropout the composed path runs.
#pragma once
#include <cstdint>
#include <vector>

namespace nl::kernels {

// The score a masked (query, key) pair gets before softmax, here and in nn/attention.cpp's
// composed path: exp(-1e9 - max) underflows to exactly 0 (never attended), yet it is finite,
// so a row with every key masked gives uniform weights, not NaN.
constexpr float kMaskedScore = -1e9f;

// For each sequence b: how many leading key columns any query may attend to (1 + the
// last unmasked column of mask[b]), or T if some query row has every key masked (then
// softmax is uniform over all T keys, as in the composed path).
std::vector<int> attention_key_extent(const float* mask, int B, int T);

// q, k, v, out: [B,T,D]; P: [B,H,T,T] (written: softmax weights, 0 past the key extent).
void attention_forward(float* out, float* P, const float* q, const float* k, const float* v,
                       const float* mask, const std::vector<int>& extent, int B, int T, int D,
                       int H, float scale);

// forward: S = scale q_h k_h^T (masked), P = softmax(S), o_h = P v_h   =>
//   dv_h += P^T do_h;  dP = do_h v_h^T;  dS = P * (dP - rowsum(dP * P));
//   dq_h += scale dS k_h;  dk_h += scale dS^T q_h.
// (dS is 0 where the mask skips: for a row with every key masked, P is uniform but no
// gradient reaches the scores, as masked_fill's backward gives in the composed path.)
// dq, dk, dv may be null (that input needs no gradient). scratch: threads*T*T floats.
void attention_backward(float* dq, float* dk, float* dv, const float* dout, const float* P,
                        const float* q, const float* k, const float* v, const float* mask,
                        const std::vector<int>& extent, int B, int T, int D, int H, float scale,
                        float* scratch);

// ---- packed (variable-length) layout: no pads at all --------------------------------
// q, k, v, out: [N,D], the B sequences one after another (sequence b is rows
// off[b] .. off[b]+len[b]-1), each attending within itself (and causally if asked).
// P holds, per sequence b, H blocks of len[b] x len[b] starting at p_off[b].
std::vector<int64_t> packed_attention_offsets(const std::vector<int>& len, int H);  // p_off, B+1
void packed_attention_forward(float* out, float* P, const float* q, const float* k,
                              const float* v, const std::vector<int64_t>& off,
                              const std::vector<int>& len, const std::vector<int64_t>& p_off,
                              int D, int H, bool causal, float scale);
// The same backward as above, per (sequence, head) block. scratch: threads x
// scratch_per_thread floats, scratch_per_thread >= max len[b]^2.
void packed_attention_backward(float* dq, float* dk, float* dv, const float* dout,
                               const float* P, const float* q, const float* k, const float* v,
                               const std::vector<int64_t>& off, const std::vector<int>& len,
                               const std::vector<int64_t>& p_off, int D, int H, bool causal,
                               float scale, float* scratch, int64_t scratch_per_thread);

}  // namespace nl::kernels
