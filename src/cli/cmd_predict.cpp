// cmd_predict.cpp — `normlab predict --checkpoint X [TEXT ...] [--input FILE|-] [--json]`:
// apply a trained classify or tag model to new inputs, from the checkpoint alone.
//
// What it is: read the checkpoint's model card (train/saved_model.h: config, vocabulary,
// classes), cut each input the way its task does (space-separated symbols for built-in
// tasks, characters for file tasks, <bos> first for histogram and parity), run the model in
// evaluation mode (no dropout, BatchNorm's running statistics) and print, per input,
//   classify:  LABEL <TAB> PROBABILITY <TAB> INPUT
//   tag:       one label per input token, space-separated <TAB> INPUT
// or, with --json, one JSON array with an object per input. In the lines, control characters
// of an input or label are escaped (\n, \t, \xNN), so each input stays one line. A character or symbol the
// vocabulary lacks becomes <unk> with a note on stderr (built-in tasks have no <unk>: an
// error naming the token); an input longer than model.max_len is an error naming it.
// What it is not: evaluation against labels (`normlab eval`), nor text generation for an
// lm head (`normlab generate`, cmd_generate.cpp).
#include <cmath>
#include <cstdio>

#include "normlab/core/autograd.h"
#include "normlab/cli/cli.h"
#include "normlab/config/config.h"
#include "normlab/core/files.h"
#include "normlab/core/json_io.h"
#include "normlab/core/runtime.h"
#include "normlab/train/saved_model.h"

namespace nl {

namespace {

struct Input {
  std::string where;  // "argument 2", "texts.txt:3", "stdin:1": named in errors
  std::string text;
};

std::vector<Input> read_inputs(const std::vector<std::string>& texts, const std::string& file) {
  std::vector<Input> in;
  for (size_t i = 0; i < texts.size(); ++i) in.push_back({"argument " + std::to_string(i + 1), texts[i]});
  if (!file.empty()) {
    // A regular file (or '-', stdin) under the data cap, opened without blocking; UTF-8 (files.h).
    const std::string name = file == "-" ? "stdin" : file;
    const std::string text = read_input_file(file, "predict: --input " + name, "text file", kMaxDataFileBytes, 1);
    for (TextLine& l : text_lines(text, "predict: --input " + name, 2))
      in.push_back({name + ":" + std::to_string(l.number), std::move(l.text)});
  }
  if (in.empty()) throw UserError("predict: no input: give TEXT arguments or --input FILE (- for stdin)", 2);
  return in;
}

// An input or a label as the text output echoes it: one line whatever it holds (a NUL, a
// newline or a tab would cut it or split the columns), control characters as \n, \t, \xNN.
std::string echo(const std::string& s) { return printable(s, s.size() + 1); }

// Softmax of one row of logits, in double.
std::vector<double> softmax_row(const float* logits, int C) {
  double mx = logits[0];
  for (int c = 1; c < C; ++c) mx = std::max(mx, (double)logits[c]);
  std::vector<double> p(C);
  double sum = 0;
  for (int c = 0; c < C; ++c) sum += p[c] = std::exp((double)logits[c] - mx);
  for (double& v : p) v /= sum;
  return p;
}

int argmax(const std::vector<double>& p) {
  int best = 0;
  for (int c = 1; c < (int)p.size(); ++c)
    if (p[c] > p[best]) best = c;
  return best;
}

// The inputs as examples (token ids; labels unused, forward reads tokens only); an empty or
// too long input is a one-line error, an unknown token a note on stderr (read as <unk>).
Dataset encode_inputs(const std::vector<Input>& inputs, const Tokenizer& tok, int max_len, bool classify) {
  Dataset data;
  for (const Input& in : inputs) {
    std::vector<std::string> unknown;
    Example e;
    e.tokens = tok.encode(in.text, "predict: " + in.where, &unknown);
    if ((int)e.tokens.size() == (int)tok.prefix.size())
      throw UserError("predict: " + in.where + ": empty input", 2);
    if ((int)e.tokens.size() > max_len)
      throw UserError("predict: " + in.where + ": " + std::to_string(e.tokens.size()) + " tokens" +
                          (tok.prefix.empty() ? "" : " (with <bos>)") + " is longer than model.max_len = " +
                          std::to_string(max_len),
                      2);
    if (!unknown.empty()) {
      std::string list;
      for (const std::string& u : unknown) list += (list.empty() ? "'" : ", '") + u + "'";
      std::fprintf(stderr, "normlab predict: note: %s: %s not in the vocabulary, read as <unk>\n",
                   in.where.c_str(), list.c_str());
    }
    e.labels.assign(classify ? 1 : e.tokens.size(), 0);
    data.examples.push_back(std::move(e));
  }
  return data;
}

}  // namespace

NL_COMMAND("predict", "Label new inputs with a trained classify or tag checkpoint (no config or data needed)", 22,
           [](CLI::App& sub) -> CommandRun {
  struct Args {
    std::string checkpoint, input;
    std::vector<std::string> texts;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  sub.add_option("text", a->texts,
                 "Inputs: space-separated symbols for built-in tasks (\"1 2 2 3\"), plain text for file tasks");
  sub.add_option("--checkpoint", a->checkpoint, "checkpoint.safetensors of a classify or tag run")->required();
  sub.add_option("--input", a->input, "Also read inputs from this file, one per line ('-': stdin)");
  sub.add_flag("--json", a->json, "Write a JSON array (input, tokens, label(s), probabilities) instead of lines");
  return [a]() {
    CheckpointModel m = open_checkpoint("predict", a->checkpoint, "", {}, /*with_task=*/false);
    const SavedModel& saved = m.saved;
    const Config& cfg = m.cfg;
    Encoder* model = m.model.get();
    if (saved.head == "lm")
      throw UserError("predict: checkpoint " + a->checkpoint + " has an lm head (task " + saved.task +
                          "): use `normlab generate --checkpoint " + a->checkpoint + " --prompt TEXT`",
                      2);
    const Tokenizer& tok = saved.tokenizer;

    // Inputs -> ids, every error before any output.
    const std::vector<Input> inputs = read_inputs(a->texts, a->input);
    const bool classify = saved.head == "classify";
    const Dataset data = encode_inputs(inputs, tok, cfg.model.max_len, classify);

    // Forward in batches of train.batch_size, evaluation mode.
    NoGrad no_grad;
    const int n = (int)data.examples.size(), C = (int)saved.classes.size();
    const int bs = std::max(1, cfg.train.batch_size);
    nlohmann::json out = nlohmann::json::array();
    for (int start = 0; start < n; start += bs) {
      std::vector<int> idx;
      for (int i = start; i < std::min(n, start + bs); ++i) idx.push_back(i);
      Batch batch = make_batch(data, idx, saved.head);
      Tensor logits = model->forward(batch);
      const float* L = logits.data();
      for (int b = 0; b < batch.B; ++b) {
        const int i = idx[b];
        const Example& e = data.examples[i];
        nlohmann::json r;
        r["input"] = inputs[i].text;
        std::vector<std::string> names;
        for (size_t t = tok.prefix.size(); t < e.tokens.size(); ++t) names.push_back(tok.vocab[e.tokens[t]]);
        r["tokens"] = names;
        if (classify) {
          std::vector<double> p = softmax_row(L + (size_t)b * C, C);
          const int c = argmax(p);
          r["label"] = saved.classes[c];
          r["probability"] = p[c];
          nlohmann::json probs = nlohmann::json::object();
          for (int k = 0; k < C; ++k) probs[saved.classes[k]] = p[k];
          r["probabilities"] = probs;
          if (!a->json)
            std::printf("%s\t%.4f\t%s\n", echo(saved.classes[c]).c_str(), p[c], echo(inputs[i].text).c_str());
        } else {  // tag: one label per input token (the <bos> position has none)
          std::vector<std::string> labels;
          std::vector<double> probs;
          for (size_t t = tok.prefix.size(); t < e.tokens.size(); ++t) {
            std::vector<double> p = softmax_row(L + ((size_t)b * batch.T + t) * C, C);
            const int c = argmax(p);
            labels.push_back(saved.classes[c]);
            probs.push_back(p[c]);
          }
          r["labels"] = labels;
          r["probabilities"] = probs;
          if (!a->json) {
            std::string joined;
            for (size_t t = 0; t < labels.size(); ++t) joined += (t ? " " : "") + echo(labels[t]);
            std::printf("%s\t%s\n", joined.c_str(), echo(inputs[i].text).c_str());
          }
        }
        out.push_back(r);
      }
    }
    if (a->json)  // invalid UTF-8 in an input is replaced (U+FFFD), never an exception
      std::printf("%s\n", out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    return 0;
  };
});

}  // namespace nl
