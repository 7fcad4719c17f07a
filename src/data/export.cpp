// export.cpp — write a task's splits as TSV files (see data/export.h for the format).
//
// What it is: each split's examples turned back into text (token names, class names) and
// escaped, one `text<TAB>label` line each.
// What it is not: a reader; text_files.cpp reads such files back as a text_classify task.
#include "normlab/data/export.h"

#include <filesystem>

#include "normlab/core/error.h"
#include "normlab/core/io.h"
#include "task_parts.h"

namespace nl {

static std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '\t') out += "\\t";
    else if (c == '\n') out += "\\n";
    else if (c == '\r') out += "\\r";
    else out += c;
  }
  return out;
}

static std::string name_of(const std::vector<std::string>& names, int id) {
  if (id == kIgnoreLabel) return "_";  // a position without a label (histogram's <bos>)
  return (id >= 0 && id < (int)names.size()) ? names[id] : std::to_string(id);
}

std::string export_line(const TaskData& task, const Example& e) {
  const std::string sep = data::is_text_task(task.task) ? "" : " ";
  std::string text, label;
  for (size_t t = 0; t < e.tokens.size(); ++t) text += (t ? sep : "") + name_of(task.token_names, e.tokens[t]);
  for (size_t t = 0; t < e.labels.size(); ++t) label += (t ? sep : "") + name_of(task.class_names, e.labels[t]);
  return escape(text) + "\t" + escape(label);
}

static std::string write_split(const TaskData& task, const Dataset& d, const std::string& path) {
  AtomicFile f(path);
  std::string chunk;
  for (const Example& e : d.examples) {
    chunk += export_line(task, e) + '\n';
    if (chunk.size() >= (1 << 20)) f.write(chunk), chunk.clear();
  }
  f.write(chunk);
  f.commit();
  return path;
}

std::vector<std::string> export_task(const TaskData& task, const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw UserError("data export: cannot create '" + dir + "': " + ec.message());
  std::vector<std::string> paths;
  paths.push_back(write_split(task, task.train, dir + "/train.tsv"));
  for (const EvalSplit& s : task.evals) paths.push_back(write_split(task, s.data, dir + "/eval_" + s.name + ".tsv"));
  return paths;
}

}  // namespace nl
