// cmd_graph.cpp — `normlab graph CONFIG --out DIR`: the autograd tape of one training step,
// forward and backward, as DOT and (with Graphviz) SVG.
//
// What it is: builds the task and model exactly as `train` does, runs one training
// forward on the first batch, then the backward walk, and writes into DIR:
//   forward.dot   one node per tensor: the op that made it, shape, first values, min/max/mean
//   backward.dot  the same nodes, edges the way gradients flow, ops numbered in the order
//                 their closures ran (as gdb's `nlnext-op` numbers them), each gradient's norm
// and forward.svg / backward.svg rendered by Graphviz's `dot` when it is installed.
// What it is not: a renderer — without `dot` it says how to render the files.
#include <spawn.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>

#include "normlab/cli/cli.h"
#include "normlab/config/config.h"
#include "normlab/core/graph.h"
#include "normlab/core/io.h"
#include "normlab/train/step_tape.h"

extern char** environ;

namespace nl {

namespace {

// `dot -Tsvg IN -o OUT`, found on PATH; false if it is not there or fails.
bool render_svg(const std::string& in, const std::string& out) {
  std::string a0 = "dot", a1 = "-Tsvg", a3 = "-o";
  char* argv[] = {a0.data(), a1.data(), const_cast<char*>(in.c_str()), a3.data(), const_cast<char*>(out.c_str()),
                  nullptr};
  pid_t pid;
  if (posix_spawnp(&pid, "dot", nullptr, nullptr, argv, environ) != 0) return false;
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

NL_COMMAND("graph", "Write the autograd tape of one training step, forward and backward, as Graphviz DOT (and SVG)", 60,
           [](CLI::App& sub) -> CommandRun {
  struct Args {
    std::string config, out = "runs/graph";
    std::vector<std::string> overrides;
  };
  auto a = std::make_shared<Args>();
  sub.add_option("config", a->config, "Config file (JSON), as for train")->required();
  sub.add_option("--out", a->out, "Folder to write forward.dot, backward.dot and their SVGs into (default runs/graph)");
  sub.add_option("--set", a->overrides, "Override a key: --set model.layers=1 (repeatable)");
  return [a]() {
    Config cfg = resolve_config(a->config, a->overrides);
    StepTape step = first_training_step(cfg);
    const BackwardTrace trace = traced_backward(step.loss);
    const std::string title = "normlab " + cfg.model.norm.type + "/" + name_of(cfg.model.norm.position) +
                              ", " + std::to_string(cfg.model.layers) + " layer(s), batch " +
                              shape_str({step.batch.B, step.batch.T}) + ", loss " +
                              std::to_string(step.loss.item());
    std::filesystem::create_directories(a->out);
    const std::string dir = a->out + "/";
    write_file_atomic(dir + "forward.dot", autograd_dot(step.loss, title + ", forward", true));
    write_file_atomic(dir + "backward.dot", backward_dot(step.loss, trace, title + ", backward"));
    int tensors = 0, ops = 0;
    for (auto& [op, n] : op_histogram(step.loss)) tensors += n;
    for (auto& [t, g] : trace) ops += g.order > 0;
    std::printf("wrote %sforward.dot and %sbackward.dot (%d tensors; %d ops in backward order)\n", dir.c_str(),
                dir.c_str(), tensors, ops);
    bool rendered = true;
    for (const char* name : {"forward", "backward"})
      rendered = rendered && render_svg(dir + name + ".dot", dir + name + ".svg");
    if (rendered) {
      std::printf("rendered %sforward.svg and %sbackward.svg\n", dir.c_str(), dir.c_str());
    } else {
      std::printf("Graphviz's `dot` is missing or failed (Debian package graphviz; scripts/setup.sh installs it);\n"
                  "render with:  dot -Tsvg %sforward.dot -o %sforward.svg  (and the same for backward)\n",
                  dir.c_str(), dir.c_str());
    }
    return 0;
  };
});

}  // namespace nl
