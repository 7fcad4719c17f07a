// train_state.cpp — a training run's state to and from a checkpoint's metadata (see
// train/train_state.h).
//
// What it is: the writer and the strict reader of the same keys, side by side: a number is
// written with every bit (%.17g, integers in decimal, the RNG in hex words) and read back
// only when the whole text is that number.
// What it is not: the config comparison of a resume (resume.cpp).
#include "normlab/train/train_state.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "normlab/core/error.h"
#include "normlab/train/metrics.h"  // metric_text

namespace nl {

namespace {

std::string rng_text(const std::array<uint64_t, 4>& s) {  // "3a1f 9c 0 77": hex words
  std::ostringstream o;
  for (int i = 0; i < 4; ++i) o << (i ? " " : "") << std::hex << s[i];
  return o.str();
}

// The whole string as a number, else UserError naming the key.
[[noreturn]] void bad_meta(const std::string& path, const std::string& key, const std::string& text) {
  std::string shown = text.size() > 40 ? text.substr(0, 37) + "..." : text;
  throw UserError("checkpoint " + path + ": __metadata__." + key + " '" + shown + "' is not valid");
}

struct Reader {
  const std::map<std::string, std::string>& meta;
  const std::string& path;
  const std::string& text(const std::string& k) const {
    auto it = meta.find(k);
    if (it == meta.end()) throw UserError("checkpoint " + path + ": no '" + k + "' in __metadata__");
    return it->second;
  }
  long long integer(const std::string& k) const {
    const std::string& t = text(k);
    errno = 0;
    char* end = nullptr;
    const long long v = std::strtoll(t.c_str(), &end, 10);
    if (t.empty() || *end != '\0' || errno == ERANGE) bad_meta(path, k, t);
    return v;
  }
  double real(const std::string& k) const {
    const std::string& t = text(k);
    char* end = nullptr;
    const double v = std::strtod(t.c_str(), &end);
    if (t.empty() || *end != '\0') bad_meta(path, k, t);
    return v;
  }
  std::array<uint64_t, 4> rng(const std::string& k) const {
    std::istringstream in(text(k));
    std::array<uint64_t, 4> s{};
    for (auto& w : s) in >> std::hex >> w;
    std::string rest;
    if (!in || (in >> rest)) bad_meta(path, k, text(k));
    return s;
  }
};

}  // namespace

std::map<std::string, std::string> TrainState::to_metadata() const {
  return {{"step", std::to_string(step)},
          {"rng", rng_text(rng)},
          {"data_epoch", std::to_string(data.epoch)},
          {"data_cursor", std::to_string(data.cursor)},
          {"window_loss_sum", metric_text(window.loss_sum, 17)},
          {"window_steps", std::to_string(window.steps)},
          {"window_tokens", std::to_string(window.real_tokens)},
          {"last_logged_loss", metric_text(last_logged_loss, 17)},
          {"bn_jitter", jitter.to_string()}};
}

TrainState TrainState::from_metadata(const std::map<std::string, std::string>& meta, long long trained_for,
                                     const std::string& path) {
  const Reader r{meta, path};
  TrainState s;
  const long long step = r.integer("step");
  if (step < 0 || step > trained_for)
    throw UserError("checkpoint " + path + ": __metadata__.step " + std::to_string(step) + " is outside 0.." +
                    std::to_string(trained_for) + " (the train.steps it was trained with)");
  s.step = (int)step;
  s.rng = r.rng("rng");
  s.data.epoch = r.integer("data_epoch");
  s.data.cursor = r.integer("data_cursor");
  if (s.data.epoch < 0 || s.data.cursor < 0)
    bad_meta(path, "data_epoch/data_cursor", r.text("data_epoch") + "/" + r.text("data_cursor"));
  s.window.loss_sum = r.real("window_loss_sum");
  const long long wsteps = r.integer("window_steps");
  if (wsteps < 0 || wsteps > step) bad_meta(path, "window_steps", r.text("window_steps"));
  s.window.steps = (int)wsteps;
  s.window.real_tokens = r.integer("window_tokens");
  // Older checkpoints: without the last logged loss (NaN) or the jitter (incomplete).
  if (meta.count("last_logged_loss")) s.last_logged_loss = r.real("last_logged_loss");
  if (meta.count("bn_jitter"))
    s.jitter.from_string(r.text("bn_jitter"), "checkpoint " + path + ": __metadata__.bn_jitter");
  else
    s.jitter_complete = step == 0;
  return s;
}

}  // namespace nl
