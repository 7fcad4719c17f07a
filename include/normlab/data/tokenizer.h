// data/tokenizer.h — a task's way from a line of text to token ids and back, on its own.
//
// What it is: the vocabulary (id -> token string) and the rule each task uses to cut its
// text: built-in (generated) tasks read space-separated symbols ("1 2 2 3", "( [ ] )"),
// file tasks (text_classify, wordlang, char_lm) read UTF-8 characters; the counting tasks
// (histogram, parity) put <bos> before every input. It can be made from a TaskData or
// from a checkpoint's metadata (train/saved_model.h), so `normlab predict` and `normlab
// generate` need neither the config's data files nor the training set.
// What it is not: a learned tokenizer (no merges, no normalisation, no lower-casing).
#pragma once
#include <string>
#include <vector>

#include "normlab/data/task.h"

namespace nl {

struct Tokenizer {
  std::vector<std::string> vocab;   // id -> token; id 0 is <pad>
  bool characters = false;          // true: UTF-8 characters; false: space-separated symbols
  std::vector<int> prefix;          // ids put before every input (<bos> of histogram, parity)

  static Tokenizer of_task(const TaskData& task);

  // The id of "<unk>", or -1 when the vocabulary has none (built-in tasks).
  int unk_id() const;
  // Token ids of one input, prefix included. A piece not in the vocabulary (or one of the
  // reserved names <pad>, <bos>) becomes <unk> and is appended to *unknown; without an
  // <unk> in the vocabulary it is a UserError (code 2) "<where>: unknown token 'x' ...".
  // An input that already starts with the prefix ("<bos> 1 2", as `data export` writes
  // it) gets it once.
  std::vector<int> encode(const std::string& text, const std::string& where,
                          std::vector<std::string>* unknown) const;
  // The pieces of `text` as encode() cuts them (no prefix).
  std::vector<std::string> pieces(const std::string& text) const;
  // Token names of ids joined as the task writes them (characters unspaced, symbols spaced).
  std::string join(const std::vector<std::string>& names) const;
};

}  // namespace nl
