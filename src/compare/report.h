// compare/report.h — what report sections share (private to src/compare): number formats,
// one markdown_table(), the words of a test, verdict(), and Report, the summary.json being
// rendered with its lookups. report.cpp defines them; questions/ renders with them.
// What it is not: statistics: every number here is read from summary.json.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nl {

using ojson_t = nlohmann::ordered_json;

enum class Fmt { loss, acc, steps };

std::string fixed(double v, int digits);         // "n/a" when not finite
std::string sig(double v);                       // 3 significant digits (losses, drifts)
std::string fmt_val(double v, Fmt f);
std::string pm(const ojson_t& stats, Fmt f);     // mean ± 95% CI half-width (just the mean for one seed)
std::string fmt_p(double p);                     // "p = 0.048", "p < 0.001"
double num_or_nan(const ojson_t& j);
std::string signed_size(double d, Fmt f);        // "+0.012", "-3.1e-05", "0"
std::string margin_text(double m);               // an equivalence margin as configured: "0.01"

// One markdown table: a header row, the separator, one line per row.
std::string markdown_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows);

// The words for one test: what the numbers support, and no more. `more`/`less`: how a
// positive/negative difference reads ("higher", "lower").
std::string test_words(const ojson_t* test, Fmt f, const std::string& more, const std::string& less);

// A paper's conclusion checked against one test (Holm p < 0.05 or not). `expected` is the
// sign of the difference the paper reports (+1: variant above against, -1: below).
struct VerdictWords {
  std::string no_answer;            // no test or no p-value
  std::string undetected;           // p >= 0.05
  std::string agrees;               // "... here": followed by ", as <citation> report."
  std::string disagrees;            // followed by ", the opposite of <citation>'s finding."
};
std::string verdict(const ojson_t* test, int expected, const std::string& citation, const VerdictWords& words);

struct Report {
  const ojson_t& S;
  const ojson_t& meta;
  std::string ref;                  // the reference variant
  const ojson_t* R;                 // its entry, nullptr if missing
  int n_seeds;
  size_t n_points;
  bool swept;

  explicit Report(const ojson_t& summary);
  std::string point_name(size_t pi) const;     // the label, "-" without a sweep
  std::string point_heading(size_t pi) const;  // "### label\n\n" with a sweep, else ""
  const ojson_t& cell(const ojson_t& v, size_t pi) const { return v["points"][pi]; }
  int finished(const ojson_t& v, size_t pi) const { return cell(v, pi)["stats"]["finished"].get<int>(); }
  const ojson_t* variant(const std::string& name) const;
  const ojson_t* test(const std::string& metric, const std::string& variant, const std::string& against,
                      size_t pi) const;
  // A test between two points (contrasts); test() is the same point twice.
  const ojson_t* test_between(const std::string& metric, const std::string& variant, size_t pa,
                              const std::string& against, size_t pb) const;
  bool asks(const std::string& question) const;
  // The variant standing for a norm role (nn/norm.h), from summary.json's compare.roles.
  std::string role(const std::string& role) const;
  std::string seen_label(const ojson_t& split) const;
};

const ojson_t& at_path(const ojson_t& stats, const std::string& path);

}  // namespace nl
