// test_readme_gdb.cpp — the README's gdb walk ("Step through a training step") agrees with
// the code, without gdb.
//
// What it is: the README quotes a real gdb session on the debug build. This test reads that
// section, replays its two `gdb ... train configs/tiny.json --set ...` commands in-process
// (first_training_step: the same task, model, seeds and first batch as train()), and checks
// what the transcript quotes: the N, D and count the kernels print, every [B,T,D] shape the
// printers show, the start of `keep`, BatchNorm's feature-0 mean and rstd, and that each
// quoted stop ("Breakpoint K, nl::kernels::NAME") is a kernel session.gdb breaks on.
// What it is not: a test of gdb or of the printers (test_gdb.cpp runs gdb on a probe).
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <regex>
#include <sstream>

#include "normlab/config/config.h"
#include "normlab/core/graph.h"
#include "normlab/train/step_tape.h"

namespace {

const std::string kSrc = NORMLAB_SOURCE_DIR;

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  REQUIRE(f.good());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The README section, from its heading to the next top-level heading.
std::string gdb_section() {
  const std::string readme = read_text(kSrc + "/README.md");
  const size_t a = readme.find("\n# Step through a training step\n");
  REQUIRE(a != std::string::npos);
  const size_t b = readme.find("\n# ", a + 1);
  return readme.substr(a, b == std::string::npos ? std::string::npos : b - a);
}

// Each `gdb -x scripts/gdb/session.gdb --args build/debug/normlab ... train CONFIG ...`
// command of the section (backslash continuations joined), as its --set overrides.
struct GdbCommand {
  std::string config;
  std::vector<std::string> overrides;
};

std::vector<GdbCommand> gdb_commands(const std::string& section) {
  std::vector<GdbCommand> out;
  std::string joined = std::regex_replace(section, std::regex("\\\\\n\\s*"), " ");
  std::istringstream lines(joined);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("gdb -x scripts/gdb/session.gdb --args build/debug/normlab", 0) != 0) continue;
    GdbCommand c;
    std::istringstream words(line);
    std::string w, prev;
    while (words >> w) {
      if (prev == "train") c.config = w;
      if (prev == "--set") c.overrides.push_back(w);
      prev = w;
    }
    out.push_back(c);
  }
  return out;
}

nl::StepTape replay(const GdbCommand& c) {
  nlohmann::json j = nl::read_config_json(kSrc + "/" + c.config);
  nl::apply_overrides(j, c.overrides);
  nl::Config cfg = nl::config_from_json(j, c.config);
  cfg.train.threads = 1;  // as the README's --threads 1
  return nl::first_training_step(cfg);
}

bool has_override(const GdbCommand& c, const std::string& kv) {
  return std::find(c.overrides.begin(), c.overrides.end(), kv) != c.overrides.end();
}

// gdb's print of a float array, "{1 <repeats 14 times>, 0, 0, ...}", expanded (up to "...").
std::vector<float> expand_gdb_array(const std::string& text) {
  std::vector<float> v;
  std::regex item("\\s*([-0-9.e+]+)(?: <repeats (\\d+) times>)?\\s*");
  std::string body = text.substr(1, text.find('}') - 1);
  std::istringstream parts(body);
  std::string part;
  while (std::getline(parts, part, ',')) {
    std::smatch m;
    if (part.find("...") != std::string::npos) break;
    if (!std::regex_match(part, m, item)) break;
    const int times = m[2].matched ? std::stoi(m[2]) : 1;
    for (int k = 0; k < times; ++k) v.push_back(std::stof(m[1]));
  }
  return v;
}

}  // namespace

TEST_CASE("README gdb walk: the quoted stops, sizes, shapes and values are this build's", "[readme][gdb]") {
  const std::string section = gdb_section();
  const std::string session = read_text(kSrc + "/scripts/gdb/session.gdb");
  const std::vector<GdbCommand> cmds = gdb_commands(section);
  REQUIRE(cmds.size() == 2);  // the BatchNorm walk, then LayerNorm's

  // Every quoted stop is a kernel session.gdb sets a breakpoint on.
  std::regex stop("Breakpoint \\d+, nl::kernels::(\\w+) \\(");
  int stops = 0;
  for (auto it = std::sregex_iterator(section.begin(), section.end(), stop); it != std::sregex_iterator(); ++it) {
    const std::string fn = (*it)[1];
    INFO(fn);
    CHECK(session.find("break nl::kernels::" + fn + "(") != std::string::npos);
    ++stops;
  }
  CHECK(stops == 2);

  for (const GdbCommand& c : cmds) {
    INFO("README command with --set " << nlohmann::json(c.overrides).dump());
    CHECK(c.config == "configs/tiny.json");
    CHECK(has_override(c, "train.pack=false"));  // the padded grid: N = B*T, keep has zeros
    nl::StepTape s = replay(c);
    const int B = s.batch.B, T = s.batch.T, D = s.model->config().d_model;
    const float* keep = s.batch.keep.data();
    int real = 0;
    for (int n = 0; n < B * T; ++n) real += keep[n] != 0.0f;
    REQUIRE(real < B * T);  // pads exist, or the walk would show nothing to mask

    const bool bn = has_override(c, "model.norm.type=batchnorm");
    std::smatch m;
    if (bn) {
      std::regex line("batchnorm_backward_dx: N = (\\d+) token rows, D = (\\d+) features, count = (\\d+) real tokens");
      REQUIRE(std::regex_search(section, m, line));
      CHECK(std::stoi(m[1]) == B * T);
      CHECK(std::stoi(m[2]) == D);
      CHECK(std::stoi(m[3]) == real);
      // The keep print right after it: its expanded prefix is this batch's mask.
      std::regex keep_line("\\$1 = (\\{1 <repeats[^\n]*\\})");
      REQUIRE(std::regex_search(section, m, keep_line));
      std::vector<float> quoted = expand_gdb_array(m[1]);
      REQUIRE(quoted.size() >= 20);
      for (size_t n = 0; n < quoted.size(); ++n) CHECK(quoted[n] == keep[n]);
      // Feature 0's statistics, of the last norm (the first one backward reaches).
      std::regex stats("feature 0: mean = ([-0-9.e+]+), rstd = ([-0-9.e+]+)");
      REQUIRE(std::regex_search(section, m, stats));
      const auto norms = s.model->norms();
      REQUIRE(!norms.empty());
      const nl::BatchNormStats* st = norms.back().second->batch_stats();
      REQUIRE(st);
      const float eps = 1e-5f;
      CHECK(std::stod(m[1]) == Approx(st->batch_mean[0]).margin(1e-5));
      CHECK(std::stod(m[2]) == Approx(1.0 / std::sqrt(st->batch_var[0] + eps)).epsilon(1e-4));
    } else {
      std::regex line("layernorm_backward: N = (\\d+) token rows, D = (\\d+) features");
      REQUIRE(std::regex_search(section, m, line));
      CHECK(std::stoi(m[1]) == B * T);
      CHECK(std::stoi(m[2]) == D);
    }
    // Each quoted `nlnext-op: #k OP -> [shape]` is the k-th op the backward walk runs.
    if (bn) {
      const nl::BackwardTrace trace = nl::traced_backward(s.loss);
      std::regex next_op("nlnext-op: #(\\d+) (\\w+) -> (\\[[0-9,]+\\])");
      int quoted = 0;
      for (auto it = std::sregex_iterator(section.begin(), section.end(), next_op); it != std::sregex_iterator(); ++it) {
        const int k = std::stoi((*it)[1]);
        INFO("nlnext-op #" << k);
        const nl::TensorImpl* at_k = nullptr;
        for (auto& [t, g] : trace)
          if (g.order == k) at_k = t;
        REQUIRE(at_k);
        CHECK(std::string(at_k->node->op) == (*it)[2]);
        CHECK(nl::shape_str(at_k->shape) == (*it)[3]);
        ++quoted;
      }
      CHECK(quoted >= 3);
    }
    // Every shape the printers show in the section is the padded activation [B,T,D].
    std::regex shape("(?:Tensor|d\\(x\\) )\\[(\\d+),(\\d+),(\\d+)\\]");
    int shapes = 0;
    for (auto it = std::sregex_iterator(section.begin(), section.end(), shape); it != std::sregex_iterator(); ++it) {
      CHECK(std::stoi((*it)[1]) == B);
      CHECK(std::stoi((*it)[2]) == T);
      CHECK(std::stoi((*it)[3]) == D);
      ++shapes;
    }
    CHECK(shapes >= 3);
  }
}

namespace {

std::vector<std::string> source_lines(const std::string& rel) {
  std::istringstream in(read_text(kSrc + "/" + rel));
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

std::string trimmed(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

// The function a quoted frame names, short: "backward" for "nl::Tensor::backward(nl::Tensor
// const&)" and for "nl::OpNode<...>::backward(...)", "train" for "nl::train(...)"; "" for a
// lambda ("operator()").
std::string short_name(const std::string& fn) {
  if (fn.rfind("operator()", 0) == 0) return "";
  std::string s;  // without template arguments: "nl::OpNode<...>::backward(" -> "nl::OpNode::backward("
  int depth = 0;
  for (char c : fn) {
    depth += c == '<' ? 1 : c == '>' ? -1 : 0;
    if (depth == 0 && c != '>') s += c;
  }
  s = s.substr(0, s.find('('));
  const size_t colons = s.rfind("::");
  return colons == std::string::npos ? s : s.substr(colons + 2);
}

// Line L (from 1) of a source lies in function `fn`: the line itself or the nearest
// definition above it (a line starting in column 0, as every function here does) names
// it; for a lambda, a lambda starts between that definition and L.
bool line_is_in(const std::vector<std::string>& src, int L, const std::string& fn) {
  const std::string name = short_name(fn);
  int def = L - 1;
  while (def > 0) {
    const std::string& l = src[(size_t)def];
    const bool starts_definition = !l.empty() && l[0] != ' ' && l[0] != '}' && l[0] != '/' && l[0] != '#' &&
                                   l.rfind("namespace", 0) != 0 && l.rfind("template", 0) != 0;
    if (starts_definition) break;
    --def;
  }
  if (!name.empty())
    return src[(size_t)L - 1].find(name + "(") != std::string::npos || src[(size_t)def].find(name + "(") != std::string::npos;
  for (int i = def; i < L; ++i)
    if (src[(size_t)i].find("](") != std::string::npos) return true;
  return false;
}

// The function of the frame whose location is at `pos`: its line (or, for a location on
// a continuation line, the indented lines' first line above) without the "#N 0x... in " or
// "Breakpoint N, " in front, up to the " (" of the arguments. A `step` prints the frame
// bare: "operator() (__closure=...".
std::string frame_function(const std::string& text, size_t pos) {
  size_t start = text.rfind('\n', pos);
  start = start == std::string::npos ? 0 : start + 1;
  while (start > 0 && text[start] == ' ') start = text.rfind('\n', start - 2) + 1;
  std::string line = text.substr(start, text.find('\n', start) - start);
  std::smatch m;
  if (std::regex_search(line, m, std::regex("^(?:#\\d+ +0x[0-9a-f.]+ in |#\\d+ +|(?:Temporary b|B)reakpoint \\d+, )")))
    line = line.substr((size_t)m.length(0));
  return line.substr(0, line.find(" ("));
}

}  // namespace

TEST_CASE("README gdb walk: every quoted file:line is this source's", "[readme][gdb]") {
  const std::string section = gdb_section();
  std::regex at("at \\.\\./\\.\\./([\\w/.]+):(\\d+)");
  int checked = 0, with_text = 0;
  for (auto it = std::sregex_iterator(section.begin(), section.end(), at); it != std::sregex_iterator(); ++it) {
    const std::string file = (*it)[1];
    const int L = std::stoi((*it)[2]);
    INFO("README quotes " << file << ":" << L);
    const std::vector<std::string> src = source_lines(file);
    REQUIRE(L >= 1);
    REQUIRE(L <= (int)src.size());
    const std::string fn = frame_function(section, (size_t)it->position());
    REQUIRE(!fn.empty());
    INFO("in " << fn << "; the source line is: " << src[(size_t)L - 1]);
    CHECK(line_is_in(src, L, fn));
    // gdb prints the line after a stop: "L<TAB>text" on the next line is that line's text.
    const size_t eol = section.find('\n', (size_t)(it->position() + it->length()));
    const std::string prefix = std::to_string(L) + "\t";
    if (eol != std::string::npos && section.compare(eol + 1, prefix.size(), prefix) == 0) {
      const std::string quoted = section.substr(eol + 1 + prefix.size(), section.find('\n', eol + 1) - eol - 1 - prefix.size());
      CHECK(trimmed(quoted) == trimmed(src[(size_t)L - 1]));
      ++with_text;
    }
    ++checked;
  }
  CHECK(checked >= 8);
  CHECK(with_text >= 3);
}
