// questions/differences.cpp — every variant against the reference: the final training loss
// always, and each split's accuracy and loss when the config asks about lengths
// ("length_generalization"; asked by default).
#include <ostream>

#include "../questions.h"
#include "../report.h"

using ojson = nlohmann::ordered_json;

namespace nl {

static bool applies(const CompareConfig&) { return true; }

static void add_tests(TestPlan& plan, size_t pi) {
  const int ref = plan.find(plan.cc.reference);
  for (size_t vi = 0; vi < plan.cc.variants.size(); ++vi) {
    plan.add("final_train_loss", "/final_train_loss", (int)vi, ref, pi, "reference");
    if (!plan.asks("length_generalization")) continue;
    for (const auto& s : plan.splits) {
      plan.add("acc " + s, "/eval/" + json_pointer_escape(s) + "/acc", (int)vi, ref, pi, "reference");
      plan.add("loss " + s, "/eval/" + json_pointer_escape(s) + "/loss", (int)vi, ref, pi, "reference");
    }
  }
}

// One line per metric: the reference's value, then each variant's with its test's words.
static void render_point(const Report& r, size_t pi, std::ostream& md) {
  struct M { std::string label, metric, path; Fmt fmt; };
  std::vector<M> ms = {{"final train loss", "final_train_loss", "/final_train_loss", Fmt::loss}};
  if (r.asks("length_generalization"))
    for (const char* what : {"acc", "loss"})
      for (const auto& sp : r.S["splits"]) {
        const std::string s = sp["name"];
        ms.push_back({std::string(what[0] == 'a' ? "accuracy " : "eval loss ") + s + " (" + r.seen_label(sp) + ")",
                      std::string(what) + " " + s, "/eval/" + json_pointer_escape(s) + "/" + what,
                      what[0] == 'a' ? Fmt::acc : Fmt::loss});
      }
  for (const auto& m : ms) {
    md << "- " << m.label << ": `" << r.ref << "` " << pm(at_path(r.cell(*r.R, pi)["stats"], m.path), m.fmt) << ".";
    for (const auto& v : r.S["variants"]) {
      if (v["name"] == r.ref || r.finished(v, pi) == 0) continue;
      md << " `" << v["name"].get<std::string>() << "` " << pm(at_path(r.cell(v, pi)["stats"], m.path), m.fmt) << ": "
         << test_words(r.test(m.metric, v["name"], r.ref, pi), m.fmt, "higher", "lower") << ".";
    }
    md << "\n";
  }
  md << "\n";
}

static void render(const Report& r, std::ostream& md) {
  md << "## Differences against `" << r.ref << "`\n\n";
  if (r.n_seeds < 2) md << "With one seed there is no noise estimate: differences below are listed, not tested.\n\n";
  if (!r.R) {
    md << "The reference variant `" << r.ref << "` is missing, so nothing is compared.\n\n";
    return;
  }
  for (size_t pi = 0; pi < r.n_points; ++pi) {
    md << r.point_heading(pi);
    if (r.finished(*r.R, pi) == 0) {
      md << "The reference `" << r.ref << "` has no finished run here, so nothing is compared.\n\n";
      continue;
    }
    render_point(r, pi, md);
  }
}

const Question& differences_question() {
  static const Question q{"length_generalization", applies, add_tests, render};
  return q;
}

}  // namespace nl
