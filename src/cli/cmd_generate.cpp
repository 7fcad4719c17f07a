// cmd_generate.cpp — `normlab generate --checkpoint X --prompt P --tokens N
// [--temperature T] [--seed S]`: continue a prompt with a trained lm-head model (char_lm, brown_lm).
//
// What it is: autoregressive sampling from the checkpoint alone (train/saved_model.h).
// Each new token: run the model in evaluation mode on the last model.max_len tokens,
// take the logits at the last position, divide by T and sample from their softmax with
// the seeded Rng (T = 0: the most likely token). <pad>, <unk> and <bos> are never drawn.
// Same checkpoint, prompt, seed and thread count => the same text. The prompt is cut like
// the task's text (characters for char_lm, words for brown_lm); an unknown character becomes <unk> with a
// note; a prompt longer than model.max_len is an error. Prints the prompt, then each new
// token as it comes, up to --tokens of them or an <eos> (brown_lm's end of sentence).
// What it is not: a fast decoder (no key/value cache: every token reruns the context),
// nor beam search.
#include <cmath>
#include <cstdio>

#include "normlab/core/autograd.h"
#include "normlab/cli/cli.h"
#include "normlab/config/config.h"
#include "normlab/core/rng.h"
#include "normlab/core/runtime.h"
#include "normlab/train/saved_model.h"

namespace nl {

NL_COMMAND("generate", "Continue a prompt with a trained lm checkpoint (char_lm, brown_lm), sampling token by token", 24,
           [](CLI::App& sub) -> CommandRun {
  struct Args {
    std::string checkpoint, prompt;
    int tokens = 100;
    double temperature = 1.0;
    uint64_t seed = 1;
  };
  auto a = std::make_shared<Args>();
  sub.add_option("--checkpoint", a->checkpoint, "checkpoint.safetensors of an lm run (task char_lm or brown_lm)")->required();
  sub.add_option("--prompt", a->prompt, "Text to continue (at least one token)")->required();
  sub.add_option("--tokens", a->tokens, "How many tokens to generate (default 100)")->check(non_negative());
  sub.add_option("--temperature", a->temperature, "Softmax temperature; 0 = always the most likely token (default 1)")
      ->check(non_negative());
  sub.add_option("--seed", a->seed, "Sampling seed (default 1)");
  return [a]() {
    CheckpointModel m = open_checkpoint("generate", a->checkpoint, "", {}, /*with_task=*/false);
    const SavedModel& saved = m.saved;
    const Config& cfg = m.cfg;
    Encoder* model = m.model.get();
    if (saved.head != "lm")
      throw UserError("generate: checkpoint " + a->checkpoint + " has a " + saved.head + " head (task " + saved.task +
                          "), not lm: use `normlab predict --checkpoint " + a->checkpoint + " TEXT`",
                      2);
    const Tokenizer& tok = saved.tokenizer;

    std::vector<std::string> unknown;
    std::vector<int> ids = tok.encode(a->prompt, "generate: --prompt", &unknown);
    if (ids.size() == tok.prefix.size()) throw UserError("generate: --prompt is empty", 2);
    if ((int)ids.size() > cfg.model.max_len)
      throw UserError("generate: --prompt is " + std::to_string(ids.size()) + " tokens, longer than model.max_len = " +
                          std::to_string(cfg.model.max_len),
                      2);
    if (!unknown.empty()) {
      std::string list;
      for (const std::string& u : unknown) list += (list.empty() ? "'" : ", '") + u + "'";
      std::fprintf(stderr, "normlab generate: note: --prompt: %s not in the vocabulary, read as <unk>\n", list.c_str());
    }
    // Tokens that may be drawn: every class except the special ones.
    const int C = (int)saved.classes.size();
    std::vector<bool> allowed(C, true);
    for (int c = 0; c < C; ++c)
      allowed[c] = saved.classes[c] != "<pad>" && saved.classes[c] != "<unk>" && saved.classes[c] != "<bos>";

    std::fputs(a->prompt.c_str(), stdout);
    std::fflush(stdout);
    NoGrad no_grad;
    Rng rng(a->seed);
    for (int n = 0; n < a->tokens; ++n) {
      // The context: the last max_len tokens (positions are learned up to max_len).
      const size_t from = ids.size() > (size_t)cfg.model.max_len ? ids.size() - cfg.model.max_len : 0;
      Dataset d;
      Example e;
      e.tokens.assign(ids.begin() + (std::ptrdiff_t)from, ids.end());
      e.labels.assign(e.tokens.size(), 0);  // unused: forward reads tokens only
      d.examples.push_back(std::move(e));
      Batch batch = make_batch(d, {0}, "lm");
      Tensor logits = model->forward(batch);  // [T, C]
      const float* row = logits.data() + (size_t)(batch.T - 1) * C;
      int next = -1;
      if (a->temperature == 0) {
        for (int c = 0; c < C; ++c)
          if (allowed[c] && (next < 0 || row[c] > row[next])) next = c;
      } else {
        // p_c = exp((l_c - max) / T) / sum, over the allowed tokens; one uniform draw.
        double mx = -INFINITY;
        for (int c = 0; c < C; ++c)
          if (allowed[c]) mx = std::max(mx, (double)row[c]);
        std::vector<double> p(C, 0.0);
        double sum = 0;
        for (int c = 0; c < C; ++c)
          if (allowed[c]) sum += p[c] = std::exp(((double)row[c] - mx) / a->temperature);
        const double u = (double)rng.uniform() * sum;
        double acc = 0;
        for (int c = 0; c < C && next < 0; ++c) {
          if (!allowed[c]) continue;
          acc += p[c];
          if (u < acc) next = c;
        }
        for (int c = C - 1; next < 0 && c >= 0; --c)  // rounding left u past the end
          if (allowed[c]) next = c;
      }
      if (next < 0) throw UserError("generate: the vocabulary has no token to draw");
      ids.push_back(next);
      const std::string piece = (tok.characters ? "" : " ") + saved.classes[next];
      std::fputs(piece.c_str(), stdout);
      std::fflush(stdout);
      if (saved.classes[next] == "<eos>") break;  // brown_lm: the sentence is over
    }
    std::fputs("\n", stdout);
    return 0;
  };
});

}  // namespace nl
