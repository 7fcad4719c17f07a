// names.cpp — the lists of names that layers above register for config validation (names.h).
//
// What it is: a function-local vector of (kind, list function), so registration order
// across files does not matter.
// What it is not: the lists themselves; their owners hold them.
#include "normlab/core/names.h"

#include <stdexcept>
#include <utility>

namespace nl {

namespace {
std::vector<std::pair<std::string, NameList>>& lists() {
  static std::vector<std::pair<std::string, NameList>> v;
  return v;
}
}  // namespace

void register_names(const std::string& kind, NameList list) {
  for (const auto& [k, l] : lists())
    if (k == kind) throw std::logic_error("register_names: kind '" + kind + "' registered twice");
  lists().push_back({kind, list});
}

std::vector<std::string> registered_names(const std::string& kind) {
  for (const auto& [k, l] : lists())
    if (k == kind) return l();
  return {};
}

}  // namespace nl
