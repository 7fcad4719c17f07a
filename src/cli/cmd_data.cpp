// cmd_data.cpp — `normlab data export CONFIG [--out DIR] [--set key=value]...`: write the
// config's task, training set and every evaluation split, as TSV files (data/export.h),
// so the data can be read by people and by other tools. Prints the paths written.
// What it is not: a converter between formats; the files are always TSV.
#include <cstdio>

#include "normlab/cli.h"
#include "normlab/config.h"
#include "normlab/data/export.h"
#include "normlab/data/task.h"
#include "normlab/train/run.h"

namespace nl {

NL_COMMAND("data", "Inspect a config's task: `data export CONFIG` writes its splits as TSV", 30,
           [](CLI::App& sub) -> CommandRun {
  sub.require_subcommand(1);
  CLI::App* exp = sub.add_subcommand("export", "Write the training set and every evaluation split as TSV "
                                               "(text<TAB>label), one file each, and print their paths");
  struct Args {
    std::string config, out;
    std::vector<std::string> overrides;
  };
  auto a = std::make_shared<Args>();
  exp->add_option("config", a->config, "Config file (JSON)")->required();
  exp->add_option("--out", a->out, "Output folder (default: <train.out_dir>/data)");
  exp->add_option("--set", a->overrides, "Override a config key: key.path=value (repeatable)");
  return [a]() {
    Config cfg = resolve_config(a->config, a->overrides);
    TaskData td = make_task(cfg.task, data_seed_of(cfg));  // the data train() draws (train/run.h)
    const std::string out = a->out.empty() ? cfg.train.out_dir + "/data" : a->out;
    for (const std::string& p : export_task(td, out)) std::printf("%s\n", p.c_str());
    return 0;
  };
});

}  // namespace nl
