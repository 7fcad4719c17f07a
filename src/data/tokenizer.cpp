// tokenizer.cpp — cut an input line the way its task does and map the pieces to ids.
//
// What it is: the inverse of export.cpp's token names for one line typed by a user
// (data/tokenizer.h). Built-in tasks: pieces are separated by spaces (or tabs); file
// tasks: every UTF-8 character is a piece, spaces included.
// What it is not: the task builders (generated.cpp, text_files.cpp), which make ids
// directly, nor import.cpp, which reads whole labelled TSV files.
#include "normlab/data/tokenizer.h"

#include <map>

#include "normlab/core/error.h"
#include "task_parts.h"

namespace nl {

Tokenizer Tokenizer::of_task(const TaskData& task) {
  Tokenizer t;
  t.vocab = task.token_names;
  t.characters = data::is_text_task(task.task);
  if (task_prefix_tokens(task.task) > 0) {
    for (size_t i = 0; i < t.vocab.size(); ++i)
      if (t.vocab[i] == "<bos>") t.prefix.push_back((int)i);
    if (t.prefix.size() != 1) throw std::logic_error("Tokenizer: task " + task.task + " has no single <bos>");
  }
  return t;
}

int Tokenizer::unk_id() const {
  for (size_t i = 0; i < vocab.size(); ++i)
    if (vocab[i] == "<unk>") return (int)i;
  return -1;
}

std::vector<std::string> Tokenizer::pieces(const std::string& text) const {
  if (characters) return data::utf8_chars(text);
  std::vector<std::string> out;
  std::string cur;
  for (char c : text) {
    if (c == ' ' || c == '\t') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::vector<int> Tokenizer::encode(const std::string& text, const std::string& where,
                                   std::vector<std::string>* unknown) const {
  // <pad> and <bos> are names of ids the model sees only where the task puts them.
  std::map<std::string, int> id;
  for (size_t i = 0; i < vocab.size(); ++i)
    if (vocab[i] != "<pad>" && vocab[i] != "<bos>") id.emplace(vocab[i], (int)i);
  const int unk = unk_id();
  std::vector<int> ids = prefix;
  std::vector<std::string> ps = pieces(text);
  // The prefix may be written out (`data export` writes "<bos> 1 2 2"): it is put once.
  size_t skip = 0;
  while (!characters && skip < prefix.size() && skip < ps.size() && ps[skip] == vocab[prefix[skip]]) ++skip;
  if (skip < prefix.size()) skip = 0;
  for (size_t i = skip; i < ps.size(); ++i) {
    const std::string& p = ps[i];
    auto it = id.find(p);
    if (it != id.end()) {
      ids.push_back(it->second);
      continue;
    }
    if (unk < 0) {
      std::string known;
      for (const auto& v : vocab)
        if (v != "<pad>" && v != "<bos>") known += (known.empty() ? "" : " ") + v;
      throw UserError(where + ": unknown token '" + p + "' (the vocabulary is: " + known + ")", 2);
    }
    ids.push_back(unk);
    if (unknown) unknown->push_back(p);
  }
  return ids;
}

std::string Tokenizer::join(const std::vector<std::string>& names) const {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) out += (i && !characters ? " " : "") + names[i];
  return out;
}

}  // namespace nl
