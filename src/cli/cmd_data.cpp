// cmd_data.cpp — `normlab data export CONFIG [--out DIR] [--set key=value]...`: write the
// config's task, training set and every evaluation split, as TSV files (data/export.h),
// so the data can be read by people and by other tools. Prints the paths written.
// `normlab data brown SRC_DIR OUT_DIR`: convert the Brown corpus files in SRC_DIR (word/tag,
// as scripts/corpora.sh fetches them) into OUT_DIR (data/brown.h), once; prints the counts.
// What it is not: a general converter: the one foreign format it reads is the Brown corpus's.
#include <cstdio>

#include "normlab/cli/cli.h"
#include "normlab/config/config.h"
#include "normlab/data/brown.h"
#include "normlab/data/export.h"
#include "normlab/data/task.h"
#include "normlab/train/run.h"

namespace nl {

NL_COMMAND("data", "Data sets: `data export CONFIG` writes a task's splits as TSV; `data brown SRC OUT` converts the Brown corpus", 30,
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
  CLI::App* brown = sub.add_subcommand("brown", "Convert the Brown corpus files in SRC (word/tag, e.g. ca01) into OUT "
                                                  "(pos/, pos_full/, genre/ train and test TSV, docs.tsv); OUT must not exist");
  brown->add_option("src", a->config, "Folder of the corpus files")->required();
  brown->add_option("out", a->out, "Output folder (created; written whole or not at all)")->required();
  return [a, brown]() {
    if (brown->parsed()) {
      const brown::ConvertReport r = brown::convert_brown(a->config, a->out);
      for (const auto& [name, c] : {std::pair{"train", r.train}, std::pair{"test", r.test}})
        std::printf("%s: %d documents, %ld sentences, %ld words\n", name, c.documents, c.sentences, c.words);
      return 0;
    }
    Config cfg = resolve_config(a->config, a->overrides);
    TaskData td = make_task(cfg.task, data_seed_of(cfg));  // the data train() draws (train/run.h)
    const std::string out = a->out.empty() ? cfg.train.out_dir + "/data" : a->out;
    for (const std::string& p : export_task(td, out)) std::printf("%s\n", p.c_str());
    return 0;
  };
});

}  // namespace nl
