// questions/replication.cpp — the findings that survive fresh seeds, first in the report:
// every difference found on the exploratory seeds, re-tested on the confirmatory seeds
// alone (replicate_seeds; tests.cpp), listed as replicated, reversed or not replicated; then
// every equivalence shown on the exploratory seeds, listed as replicated or not.
// Rendered before the results (report.cpp) when the config has replicate_seeds.
#include <ostream>

#include "../questions.h"
#include "../report.h"

using ojson = nlohmann::ordered_json;

namespace nl {

static std::string cell_text(const ojson& t) {
  const std::string pa = t["point"], pb = t.value("point_against", pa);
  const std::string a = "`" + t["variant"].get<std::string>() + (pa.empty() ? "" : "/" + pa) + "`";
  const std::string b = "`" + t["against"].get<std::string>() + (pb.empty() ? "" : "/" + pb) + "`";
  return t["metric"].get<std::string>() + ", " + a + " vs " + b;
}

static Fmt fmt_of(const ojson& t) { return t["metric"].get<std::string>().rfind("acc", 0) == 0 ? Fmt::acc : Fmt::loss; }

// The equivalences (TOST) shown on the exploratory seeds, each re-tested on the confirmatory ones.
static void render_equivalences(const Report& r, std::ostream& md) {
  std::string kept, lost;
  for (const auto& t : r.S["tests"]["list"]) {
    if (!t.contains("replication") || t["verdict"] != "equivalent") continue;
    const ojson& rep = t["replication"];
    const std::string margin = "±" + margin_text(num_or_nan(t.value("margin", ojson(nullptr))));
    const std::string numbers = "difference " + (rep["diff"].is_number() ? signed_size(rep["diff"].get<double>(), fmt_of(t)) : std::string("n/a")) +
                                ", TOST Holm " + fmt_p(num_or_nan(rep["p_equivalence_holm"])) + ", " + rep["n"][0].dump() + " seeds";
    const bool within = rep["verdict"] == "equivalence replicated";
    ojson exploratory = t;
    exploratory.erase("replication");  // its words without "replicated" again
    (within ? kept : lost) += "- " + cell_text(t) + ": exploratory " + test_words(&exploratory, fmt_of(t), "higher", "lower") +
                              "; confirmatory " + (within ? "equivalent within " : "not shown equivalent within ") + margin +
                              " (" + numbers + ").\n";
  }
  if (kept.empty() && lost.empty()) return;
  md << "### Equivalences on fresh seeds\n\nEvery equivalence shown on the exploratory seeds is re-tested the same way on the "
        "confirmatory seeds alone (TOST, Holm-corrected over every re-test's TOST p). Only a replicated equivalence is "
        "shown.\n\n";
  if (!kept.empty()) md << "Replicated:\n\n" << kept << "\n";
  if (!lost.empty()) md << "Not replicated:\n\n" << lost << "\n";
}

void render_replication(const Report& r, std::ostream& md) {
  if (!r.meta.contains("replicate_seeds") || !r.S.contains("tests")) return;
  md << "## Replication on fresh seeds\n\nEvery difference found on the exploratory seeds " << r.meta["seeds"].dump()
     << " is re-tested on the confirmatory seeds " << r.meta["replicate_seeds"].dump()
     << " alone (the same test, Holm-corrected over the re-tests): *replicated* when that p < 0.05 the same way, "
        "*reversed* when p < 0.05 the other way, *not replicated* otherwise. Only replicated findings are findings.\n\n";
  int shown = 0;
  for (const char* kind : {"replicated", "reversed", "not replicated"}) {
    std::string lines;
    for (const auto& t : r.S["tests"]["list"]) {
      if (!t.contains("replication") || t["replication"]["verdict"] != kind) continue;
      ojson rep = t["replication"];
      const bool found = rep["p_holm"].is_number() && rep["p_holm"].get<double>() < 0.05;
      rep["verdict"] = "different";
      const std::string conf =
          found ? test_words(&rep, fmt_of(t), "higher", "lower")
                : "no difference detectable with " + rep["n"][0].dump() + " seeds (difference " +
                      (rep["diff"].is_number() ? fmt_val(rep["diff"].get<double>(), fmt_of(t)) : std::string("n/a")) +
                      ", Holm " + fmt_p(num_or_nan(rep["p_holm"])) + ")";
      lines += "- " + cell_text(t) + ": exploratory " + test_words(&t, fmt_of(t), "higher", "lower") +
               "; confirmatory " + conf + ".\n";
    }
    if (lines.empty()) continue;
    md << "### " << (std::string(kind) == "replicated" ? "Replicated" : std::string(kind) == "reversed" ? "Reversed"
                                                                                                    : "Not replicated")
       << "\n\n" << lines << "\n";
    ++shown;
  }
  if (!shown) md << "No difference was found on the exploratory seeds, so no difference is re-tested.\n\n";
  render_equivalences(r, md);
}

}  // namespace nl
