// data/export.h — a task's splits written as files other tools can read.
//
// What it is: `normlab data export` in library form. Each split becomes one TSV,
// `text<TAB>label` a line, the format text_classify reads:
//   - text: the token names joined by single spaces ("3 1 4", "( [ ] )"); for text tasks
//     (text_classify, wordlang, char_lm) the characters themselves, no spaces;
//   - label: the class name (classify), or the class names of every position joined like
//     the text (tag; lm: the next characters).
//   A tab, newline or carriage return inside a text or label is written as \t, \n, \r;
//   a character outside the training vocabulary is written as <unk>.
// What it is not: a dump of ids or a reversible binary format.
#pragma once
#include <string>
#include <vector>

#include "normlab/data/task.h"

namespace nl {

// One line for one example (no trailing newline).
std::string export_line(const TaskData& task, const Example& e);
// Writes DIR/train.tsv and DIR/eval_<split>.tsv for every evaluation split (creating DIR);
// returns the paths written, train first. UserError if DIR cannot be written.
std::vector<std::string> export_task(const TaskData& task, const std::string& dir);

// The inverse, for `normlab eval --data FILE`: read a TSV in the format above into an
// evaluation split of `task` (tokens and labels mapped back through the task's names;
// an unknown character of a text task, or word of a Brown task, becomes <unk>). The split is named after the
// file, its range is the file's shortest..longest text, and it counts as seen in
// training when that range lies inside `train_lengths`. UserError on a malformed line
// or, for generated tasks, an unknown token or label (with the line number); also when a
// text has more tokens than `max_len` (the model's position table; 0 = no limit).
EvalSplit import_split(const TaskData& task, const std::string& path, const LengthRange& train_lengths,
                       int max_len = 0);

}  // namespace nl
