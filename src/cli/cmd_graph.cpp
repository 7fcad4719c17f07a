// cmd_graph.cpp — `normlab graph CONFIG`: the autograd tape of one training step as DOT.
//
// What it is: builds the task and model exactly as `train` does, runs one training
// forward on the first batch and writes the loss's graph (graph.h): one node per tensor,
// labelled with the op that made it and its shape, parameters as filled boxes.
// What it is not: a renderer — Graphviz's `dot` turns the file into a picture.
#include <cstdio>

#include "normlab/cli.h"
#include "normlab/config.h"
#include "normlab/graph.h"
#include "normlab/io.h"
#include "normlab/train/step_tape.h"

namespace nl {


NL_COMMAND("graph", "Write the autograd graph of one training step as Graphviz DOT", 60,
           [](CLI::App& sub) -> CommandRun {
  struct Args {
    std::string config, out = "graph.dot";
    std::vector<std::string> overrides;
  };
  auto a = std::make_shared<Args>();
  sub.add_option("config", a->config, "Config file (JSON), as for train")->required();
  sub.add_option("--out", a->out, "DOT file to write (default graph.dot; - for stdout)");
  sub.add_option("--set", a->overrides, "Override a key: --set model.layers=1 (repeatable)");
  return [a]() {
    Config cfg = resolve_config(a->config, a->overrides);
    StepTape step = first_training_step(cfg);
    const std::string title = "normlab " + cfg.model.norm.type + "/" + name_of(cfg.model.norm.position) +
                              ", " + std::to_string(cfg.model.layers) + " layer(s), batch " +
                              shape_str({step.batch.B, step.batch.T}) + ", loss " +
                              std::to_string(step.loss.item());
    const std::string dot = autograd_dot(step.loss, title);
    if (a->out == "-") {
      std::fputs(dot.c_str(), stdout);
      return 0;
    }
    write_file_atomic(a->out, dot);
    int nodes = 0;
    for (auto& [op, n] : op_histogram(step.loss)) nodes += n;
    std::printf("wrote %s (%d tensors)\n", a->out.c_str(), nodes);
    std::printf("render it:  dot -Tpng %s -o graph.png\n", a->out.c_str());
    return 0;
  };
});

}  // namespace nl
