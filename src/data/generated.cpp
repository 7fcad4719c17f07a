// generated.cpp — the built-in tasks, generated from the seed: no files needed.
//
// What it is: six small sequence tasks over an alphabet of S = task.symbols symbols
// (token ids 1..S; id 0 is PAD), every example with its own length drawn uniformly from
// a length range, so that the same task can be evaluated on lengths never seen in
// training. Each example is a pure function of (task config, seed, split): the training
// set and each evaluation range draw from their own random stream (split_rng).
// What it is not: a benchmark suite with tuned difficulty. The tasks are chosen so that
// the interesting ones ignore token order (then `model.positions: none` removes position
// extrapolation from the comparison) and the others need it.
//
//  task       head      classes                 label                                  chance
//  ---------  --------  ----------------------  -------------------------------------  ---------------
//  majority   classify  S (class c = symbol c+1) the symbol that occurs most often;      1/S
//                                               ties are resampled, so it is unique
//  histogram  tag       10: counts 1..9, "10+"  per token: how many times its symbol    most common count
//                                               occurs in the sequence (capped at 10)   (depends on lengths)
//  sort       tag       S                       at position t: the t-th smallest token  ~1/S (position-aware
//                                                                                       guess does better)
//  reverse    tag       S                       at position t: token T-1-t              1/S
//  parity     classify  2: even, odd            is the count of symbol 1 odd?           1/2 (labels drawn 50/50)
//  dyck       classify  2: unbalanced, balanced is the bracket string well nested?      1/2 (labels drawn 50/50)
//
// Permutation invariance (`model.positions: none`, docs/math.md, Encoder): majority and parity labels do not
// change when the tokens are permuted, and histogram labels move with their tokens
// (equivariant). sort, reverse and dyck depend on order and need positions.
//
// Counting needs a <bos>. Without positions, every attention output is a softmax-weighted
// average, so a model sees only the *fractions* of each symbol: [1 2] and [1 1 2 2] look
// alike, yet their histograms (1 1 vs 2 2 2 2) and parities differ. So histogram and
// parity sequences start with a <bos> token (id S+1, not counted in the length, label
// -1 = ignored for histogram): a token attending to its own symbol and to <bos> puts
// weight 1/(count+1) on <bos>, which recovers the count (Weiss et al. 2021, "Thinking
// Like Transformers", whose RASP histogram uses the same BOS trick). Majority needs only
// fractions and has no <bos>.
#include <algorithm>
#include <functional>
#include <vector>

#include "normlab/core/error.h"
#include "task_parts.h"

namespace nl::data {

const char* const kGeneratedTasks[6] = {"majority", "histogram", "sort", "reverse", "parity", "dyck"};

bool is_generated_task(const std::string& name) {
  for (const char* t : kGeneratedTasks)
    if (name == t) return true;
  return false;
}

constexpr int kHistogramCap = 10;  // histogram classes: count 1..9 and "10 or more"

static std::vector<int> uniform_tokens(Rng& rng, int L, int S) {
  std::vector<int> x(L);
  for (int& v : x) v = rng.randint(1, S);
  return x;
}

// --- majority: the most frequent symbol ---------------------------------------------
// Tokens uniform over 1..S. A sequence whose most frequent count is shared by two symbols
// is drawn again (up to 100 times; then the first tied symbol gets one more occurrence by
// overwriting a token of another tied symbol), so the label is always unique. By symmetry
// every class is equally likely.
static Example gen_majority(Rng& rng, int L, int S) {
  Example e;
  for (int attempt = 0;; ++attempt) {
    e.tokens = uniform_tokens(rng, L, S);
    std::vector<int> count(S + 1, 0);
    for (int v : e.tokens) ++count[v];
    int best = *std::max_element(count.begin(), count.end());
    std::vector<int> tied;
    for (int s = 1; s <= S; ++s)
      if (count[s] == best) tied.push_back(s);
    if (tied.size() == 1) {
      e.labels = {tied[0] - 1};
      return e;
    }
    if (attempt == 100) {  // rare: short sequences over a large alphabet
      for (int& v : e.tokens)
        if (v == tied[1]) { v = tied[0]; break; }
      e.labels = {tied[0] - 1};
      return e;
    }
  }
}

// --- histogram: each token tagged with its symbol's count --------------------------------
static Example gen_histogram(Rng& rng, int L, int S) {
  Example e;
  e.tokens = uniform_tokens(rng, L, S);
  std::vector<int> count(S + 1, 0);
  for (int v : e.tokens) ++count[v];
  for (int v : e.tokens) e.labels.push_back(std::min(count[v], kHistogramCap) - 1);
  return e;
}

// --- sort: position t is tagged with the t-th smallest token -------------------------------
static Example gen_sort(Rng& rng, int L, int S) {
  Example e;
  e.tokens = uniform_tokens(rng, L, S);
  std::vector<int> sorted = e.tokens;
  std::sort(sorted.begin(), sorted.end());
  for (int v : sorted) e.labels.push_back(v - 1);
  return e;
}

// --- reverse: position t is tagged with token T-1-t -------------------------------------
static Example gen_reverse(Rng& rng, int L, int S) {
  Example e;
  e.tokens = uniform_tokens(rng, L, S);
  for (int t = L - 1; t >= 0; --t) e.labels.push_back(e.tokens[t] - 1);
  return e;
}

// --- parity: is the number of 1s odd? -------------------------------------------------
// The label is drawn first (50/50), then uniform tokens; if their parity is wrong, one
// random position is flipped (a 1 becomes another symbol, anything else becomes 1). So
// both classes are equally likely at every length, and no length is a shortcut.
static Example gen_parity(Rng& rng, int L, int S) {
  Example e;
  int want = rng.randint(0, 1);
  e.tokens = uniform_tokens(rng, L, S);
  int ones = (int)std::count(e.tokens.begin(), e.tokens.end(), 1);
  if (ones % 2 != want) {
    int& v = e.tokens[rng.randint(0, L - 1)];
    v = (v == 1) ? rng.randint(2, S) : 1;
  }
  e.labels = {want};
  return e;
}

// --- dyck: balanced brackets of K = S/2 types -------------------------------------------
// Token 2k+1 opens type k, token 2k+2 closes it (k = 0..K-1; with odd S the last symbol is
// unused). Only even lengths are drawn (an odd length could never be balanced, which would
// make length a shortcut). The label is drawn first (50/50). A balanced string is a random
// walk that opens with probability 1/2 whenever both moves can still end at depth 0, with a
// uniformly random type per pair. A negative is a balanced string with two different tokens
// swapped until it is no longer balanced: a hard negative, with exactly the same count of
// every token as a balanced string, so counting cannot solve the task; order must be read.
static bool dyck_balanced(const std::vector<int>& x) {
  std::vector<int> stack;
  for (int v : x) {
    if (v % 2 == 1) {
      stack.push_back(v + 1);  // the closing token it expects
    } else {
      if (stack.empty() || stack.back() != v) return false;
      stack.pop_back();
    }
  }
  return stack.empty();
}

static std::vector<int> dyck_word(Rng& rng, int L, int K) {
  std::vector<int> x, open;
  for (int t = 0; t < L; ++t) {
    int left = L - t, depth = (int)open.size();
    bool can_open = depth + 1 <= left - 1, can_close = depth > 0;
    bool do_open = can_open && (!can_close || rng.randint(0, 1) == 1);
    if (do_open) {
      int k = rng.randint(0, K - 1);
      open.push_back(k);
      x.push_back(2 * k + 1);
    } else {
      x.push_back(2 * open.back() + 2);
      open.pop_back();
    }
  }
  return x;
}

static Example gen_dyck(Rng& rng, int L, int S) {
  const int K = S / 2;
  Example e;
  int balanced = rng.randint(0, 1);
  e.tokens = dyck_word(rng, L, K);
  if (!balanced) {
    std::vector<int> x;
    for (int attempt = 0; attempt < 100; ++attempt) {
      x = e.tokens;
      int i = rng.randint(0, L - 1), j = rng.randint(0, L - 1);
      if (x[i] == x[j]) continue;
      std::swap(x[i], x[j]);
      if (!dyck_balanced(x)) break;
    }
    if (dyck_balanced(x)) {  // never seen in practice: first (an opener) <-> last (a closer)
      x = e.tokens;
      std::swap(x.front(), x.back());
    }
    e.tokens = x;
  }
  e.labels = {balanced};
  return e;
}

// --- the table ------------------------------------------------------------------------
struct Generated {
  const char* name;
  const char* head;
  std::function<Example(Rng&, int, int)> gen;
  bool even_lengths;
  bool bos;  // sequences start with <bos> (id S+1): the counting tasks, see the top
};

static const Generated& find_generated(const std::string& name) {
  static const std::vector<Generated> table = {
      {"majority", "classify", gen_majority, false, false},
      {"histogram", "tag", gen_histogram, false, true},
      {"sort", "tag", gen_sort, false, false},
      {"reverse", "tag", gen_reverse, false, false},
      {"parity", "classify", gen_parity, false, true},
      {"dyck", "classify", gen_dyck, true, false},
  };
  for (const Generated& g : table)
    if (name == g.name) return g;
  throw std::invalid_argument("make_generated_task: unknown task '" + name + "'");
}

int generated_prefix_tokens(const std::string& name) {
  return is_generated_task(name) && find_generated(name).bos ? 1 : 0;
}

// Lengths drawn uniformly from r (even ones only for dyck).
static Dataset generate(const Generated& g, Rng rng, const LengthRange& r, int n, int S,
                        const std::string& key) {
  int lo = r.min, hi = r.max;
  if (g.even_lengths) {
    lo = (r.min + 1) / 2;
    hi = r.max / 2;
    if (lo > hi)
      throw UserError(key + ": dyck needs an even length in [" + std::to_string(r.min) + ", " +
                          std::to_string(r.max) + "] (odd lengths are never balanced)",
                      2);
  }
  Dataset d;
  d.examples.reserve(n);
  for (int i = 0; i < n; ++i) {
    int L = rng.randint(lo, hi);
    if (g.even_lengths) L *= 2;
    Example e = g.gen(rng, L, S);
    if (g.bos) {
      e.tokens.insert(e.tokens.begin(), S + 1);
      if (std::string(g.head) == "tag") e.labels.insert(e.labels.begin(), kIgnoreLabel);
    }
    d.examples.push_back(std::move(e));
  }
  return d;
}

TaskData make_generated_task(const TaskConfig& cfg, uint64_t seed) {
  const Generated& g = find_generated(cfg.name);
  const int S = cfg.symbols;
  if (S < 2) throw UserError("task.symbols: " + std::to_string(S) + " is not allowed for " + cfg.name + " (need >= 2)", 2);
  if (cfg.train_size < 1) throw UserError("task.train_size: must be >= 1", 2);
  if (cfg.eval_size < 1) throw UserError("task.eval_size: must be >= 1", 2);

  TaskData td;
  td.task = cfg.name;
  td.head = g.head;
  if (cfg.name == "dyck") {
    const int K = S / 2;
    td.vocab = 2 * K + 1;
    static const char* pairs[4][2] = {{"(", ")"}, {"[", "]"}, {"{", "}"}, {"<", ">"}};
    td.token_names = {"<pad>"};
    for (int k = 0; k < K; ++k) {
      td.token_names.push_back(k < 4 ? pairs[k][0] : "o" + std::to_string(k + 1));
      td.token_names.push_back(k < 4 ? pairs[k][1] : "c" + std::to_string(k + 1));
    }
  } else {
    td.vocab = S + 1;
    td.token_names = {"<pad>"};
    for (int s = 1; s <= S; ++s) td.token_names.push_back(std::to_string(s));
  }
  if (g.bos) {
    td.vocab += 1;
    td.token_names.push_back("<bos>");
  }
  if (cfg.name == "parity") {
    td.class_names = {"even", "odd"};
  } else if (cfg.name == "dyck") {
    td.class_names = {"unbalanced", "balanced"};
  } else if (cfg.name == "histogram") {
    for (int c = 1; c < kHistogramCap; ++c) td.class_names.push_back(std::to_string(c));
    td.class_names.push_back(std::to_string(kHistogramCap) + "+");
  } else {  // majority, sort, reverse: class c is symbol c+1
    for (int s = 1; s <= S; ++s) td.class_names.push_back(std::to_string(s));
  }
  td.n_classes = (int)td.class_names.size();

  td.train = generate(g, split_rng(seed, cfg.name, "train"), cfg.train_lengths, cfg.train_size, S,
                      "task.train_lengths");
  for (size_t i = 0; i < cfg.eval_lengths.size(); ++i) {
    const LengthRange& r = cfg.eval_lengths[i];
    EvalSplit es;
    es.name = split_name(r);
    es.lengths = r;
    es.seen_in_training = range_inside(r, cfg.train_lengths);
    es.data = generate(g, split_rng(seed, cfg.name, "eval/" + es.name), r, cfg.eval_size, S,
                       "task.eval_lengths[" + std::to_string(i) + "]");
    td.evals.push_back(std::move(es));
  }
  return td;
}

}  // namespace nl::data
