// names.h — lists of names owned by a layer above, for a layer below to check against.
//
// What it is: config validation (src/config/) sits below nn/ and data/ but must check
// names that they own. So each owner registers, at start-up, a function that returns its
// list under a kind; config asks registered_names(kind) when it validates:
//   "norm"            every norm type (nn/norms/registry.cpp: one NL_NORM line per norm)
//   "task"            every task name (data/task.cpp)
//   "task.bos"        tasks whose examples start with one <bos> token (max_len must cover it)
//   "task.needs_path" tasks that read their examples from task.path
//   "task.text"       tasks made from text files (their vocabulary is characters or words)
//   "task.words"      tasks whose tokens are words (the Brown corpus tasks: a vocabulary of
//                     up to ~35,000 words)
// A new norm or task therefore needs no edit in config, and config includes nothing from
// the layers above it. The lists are asked for when needed (not copied at registration),
// so the order in which files are initialised does not matter.
// What it is not: a factory; make_norm and make_task stay with their layers.
#pragma once
#include <string>
#include <vector>

namespace nl {

using NameList = std::vector<std::string> (*)();

// Called from a static initialiser of the owning layer. A kind has one list.
void register_names(const std::string& kind, NameList list);
// The current list of `kind`; empty when nothing registered it.
std::vector<std::string> registered_names(const std::string& kind);

// Registers at static initialisation: `static const NamesRegistrar r("task", task_names);`
struct NamesRegistrar {
  NamesRegistrar(const char* kind, NameList list) { register_names(kind, list); }
};

}  // namespace nl
