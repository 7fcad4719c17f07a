// import.cpp — read an exported TSV back as an evaluation split (see data/export.h).
//
// What it is: import_split(), behind `normlab eval --data FILE`: each `text<TAB>label`
// line unescaped, split into pieces and mapped through the task's token and class names.
// What it is not: a way to grow the vocabulary or train on new data: an unknown character
// of a text task (or word of a Brown task) becomes <unk>, any other unknown name is a
// UserError with the line number.
// The writer is export.cpp.
#include <filesystem>
#include <map>
#include <sstream>

#include "normlab/core/error.h"
#include "normlab/data/export.h"
#include "normlab/core/files.h"
#include "task_parts.h"

namespace nl {

namespace {

std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == 't' || s[i + 1] == 'n' || s[i + 1] == 'r')) {
      out += s[i + 1] == 't' ? '\t' : s[i + 1] == 'n' ? '\n' : '\r';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Text tasks: characters ("<unk>" is one token); generated tasks: space-separated names.
std::vector<std::string> pieces(const std::string& s, bool text) {
  std::vector<std::string> out;
  if (text) {
    std::vector<std::string> chars = data::utf8_chars(s);
    for (size_t i = 0; i < chars.size(); ++i) {
      if (chars[i] == "<") {
        std::string joined;
        size_t j = i;
        while (j < chars.size() && joined.size() < 5) joined += chars[j++];
        if (joined == "<unk>") {
          out.push_back(joined);
          i = j - 1;
          continue;
        }
      }
      out.push_back(chars[i]);
    }
  } else {
    size_t b = 0;
    while (b <= s.size()) {
      size_t e = s.find(' ', b);
      if (e == std::string::npos) e = s.size();
      if (e > b) out.push_back(s.substr(b, e - b));
      b = e + 1;
    }
  }
  return out;
}

}  // namespace

EvalSplit import_split(const TaskData& task, const std::string& path, const LengthRange& train_lengths,
                       int max_len) {
  // A regular file only, at most kMaxDataFileBytes, without a byte-order mark (files.h).
  std::string contents = read_regular_file(path, "--data " + path, "data file", kMaxDataFileBytes, 1);
  strip_utf8_bom(contents);
  require_utf8_text(contents, "--data " + path, 1);
  std::istringstream in(contents);
  const bool text = data::is_text_task(task.task);
  std::map<std::string, int> token_id, class_id;
  for (size_t i = 0; i < task.token_names.size(); ++i) token_id[task.token_names[i]] = (int)i;
  for (size_t i = 0; i < task.class_names.size(); ++i) class_id[task.class_names[i]] = (int)i;
  if (task.head == "tag") class_id["_"] = kIgnoreLabel;  // export's "no label" (a <bos>)
  const int prefix = task_prefix_tokens(task.task);        // <bos>: not part of the length
  const auto unk_it = token_id.find("<unk>");              // text and Brown word tasks have one
  const int unk = unk_it == token_id.end() ? -1 : unk_it->second;
  auto lookup = [&](const std::map<std::string, int>& ids, const std::string& name, int line,
                    const char* what) {
    auto it = ids.find(name);
    if (it != ids.end()) return it->second;
    if (what[0] == 't' && unk >= 0) return unk;  // a text or word task: <unk>
    throw UserError("--data " + path + ":" + std::to_string(line) + ": unknown " + what + " '" + name + "'");
  };

  EvalSplit split;
  split.name = std::filesystem::path(path).stem().string();
  split.lengths = {1 << 30, 0};
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const size_t tab = line.find('\t');
    if (tab == std::string::npos)
      throw UserError("--data " + path + ":" + std::to_string(n) + ": expected text<TAB>label");
    Example e;
    for (const std::string& p : pieces(unescape(line.substr(0, tab)), text))
      e.tokens.push_back(lookup(token_id, p, n, "token"));
    const std::string label = unescape(line.substr(tab + 1));
    if (task.head == "classify") {
      e.labels.push_back(lookup(class_id, label, n, "label"));
    } else {
      for (const std::string& p : pieces(label, text)) e.labels.push_back(lookup(class_id, p, n, "label"));
      if (e.labels.size() != e.tokens.size())
        throw UserError("--data " + path + ":" + std::to_string(n) + ": " + std::to_string(e.labels.size()) +
                        " labels for " + std::to_string(e.tokens.size()) + " tokens");
    }
    if (e.tokens.empty()) throw UserError("--data " + path + ":" + std::to_string(n) + ": empty text");
    if (max_len > 0 && (int64_t)e.tokens.size() > max_len)
      throw UserError("--data " + path + ":" + std::to_string(n) + ": text of " + std::to_string(e.tokens.size()) +
                      " tokens" + (prefix ? " (with <bos>)" : "") + " is longer than model.max_len = " +
                      std::to_string(max_len));
    const int length = std::max(1, (int)e.tokens.size() - prefix);
    split.lengths.min = std::min(split.lengths.min, length);
    split.lengths.max = std::max(split.lengths.max, length);
    split.data.examples.push_back(std::move(e));
  }
  if (split.data.examples.empty()) throw UserError("--data " + path + ": no examples");
  split.seen_in_training = data::range_inside(split.lengths, train_lengths);
  return split;
}

}  // namespace nl
