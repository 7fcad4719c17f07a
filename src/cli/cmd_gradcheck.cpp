// cmd_gradcheck.cpp — `normlab gradcheck`: every registered gradient check, one line each.
//
// What it is: runs the NL_GRADCHECK_CASE registry (ops, norms, layers, the encoder),
// optionally filtered by a regular expression, and exits 1 if any case fails.
// What it is not: the checking itself (core/gradcheck.cpp) nor the cases (next to each op).
#include <cstdio>
#include <regex>

#include "normlab/cli.h"
#include "normlab/gradcheck.h"

namespace nl {

NL_COMMAND("gradcheck", "Check every op's and layer's backward against central differences", 90,
           [](CLI::App& sub) -> CommandRun {
  auto filter = std::make_shared<std::string>();
  sub.add_option("--filter", *filter, "Only cases whose name matches this regular expression");
  return [filter]() {
    std::regex re(filter->empty() ? ".*" : *filter);
    int n = 0, failed = 0;
    std::printf("%-44s %12s %12s  %s\n", "case", "max abs err", "max rel err", "result");
    for (const GradcheckCase& c : gradcheck_registry()) {
      if (!std::regex_search(c.name, re)) continue;
      GradcheckResult r = c.run();
      ++n;
      failed += r.ok ? 0 : 1;
      std::printf("%-44s %12.3e %12.3e  %s%s%s\n", c.name.c_str(), r.max_abs_err, r.max_rel_err,
                  r.ok ? "OK" : "FAIL", r.ok ? "" : "  ", r.detail.c_str());
    }
    std::printf("%d cases, %d passed, %d failed\n", n, n - failed, failed);
    if (n == 0) throw UserError("gradcheck: no case matches '" + *filter + "'");
    return failed ? 1 : 0;
  };
});

}  // namespace nl
