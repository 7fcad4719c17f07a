// cmd_gradcheck.cpp — `normlab gradcheck`: every registered gradient check, one line each.
//
// What it is: runs the NL_GRADCHECK_CASE registry (ops, norms, layers, the encoder),
// optionally filtered by name (substrings, comma-separated), and exits 1 if any case fails.
// What it is not: the checking itself (core/gradcheck.cpp) nor the cases (next to each op).
#include <cstdio>
#include <sstream>
#include <vector>

#include "normlab/cli/cli.h"
#include "normlab/core/gradcheck.h"

namespace nl {

// Printed above the table: what OK means, and why a large relative error can be OK.
static const char* kPassRule =
    "Each case compares backward()'s gradient with central differences (f(x+h) - f(x-h)) / 2h,\n"
    "element by element. An element passes when its absolute error <= atol OR its relative\n"
    "error <= rtol (the case's own tolerances, in the atol and rtol columns).\n"
    "A large max rel err beside OK comes from a near-zero gradient: the difference quotient\n"
    "carries float32 rounding (f's rounding divided by 2h), as large as such a gradient itself,\n"
    "so a true 1e-5 may come out as 2e-5 - relative error 1, absolute error 1e-5. There the\n"
    "absolute error, under atol, is the one that means something.\n";

NL_COMMAND("gradcheck", "Check every op's and layer's backward against central differences", 90,
           [](CLI::App& sub) -> CommandRun {
  auto filter = std::make_shared<std::string>();
  sub.add_option("--filter", *filter,
                 "Only cases whose name contains one of these comma-separated substrings");
  return [filter]() {
    // `normlab --kernels reference gradcheck` checks the plain twins.
    const KernelSet kernels =
        global_options().kernels.empty() ? KernelSet::fast : parse_kernel_set(global_options().kernels);
    std::vector<std::string> wanted;  // empty: every case
    std::istringstream parts(*filter);
    for (std::string w; std::getline(parts, w, ',');)
      if (!w.empty()) wanted.push_back(w);
    auto selected = [&](const std::string& name) {
      if (wanted.empty()) return true;
      for (const std::string& w : wanted)
        if (name.find(w) != std::string::npos) return true;
      return false;
    };
    int n = 0, failed = 0;
    std::printf("%s\n", kPassRule);
    std::printf("%-44s %12s %12s %8s %8s  %s\n", "case", "max abs err", "max rel err", "atol", "rtol", "result");
    for (const GradcheckCase& c : gradcheck_registry()) {
      if (!selected(c.name)) continue;
      GradcheckResult r = c.run(kernels);
      ++n;
      failed += r.ok ? 0 : 1;
      std::printf("%-44s %12.3e %12.3e %8.0e %8.0e  %s%s%s\n", c.name.c_str(), r.max_abs_err, r.max_rel_err,
                  r.atol, r.rtol, r.ok ? "OK" : "FAIL", r.ok ? "" : "  ", r.detail.c_str());
    }
    std::printf("%d cases, %d passed, %d failed\n", n, n - failed, failed);
    if (n == 0) throw UserError("gradcheck: no case matches '" + *filter + "'");
    return failed ? 1 : 0;
  };
});

}  // namespace nl
