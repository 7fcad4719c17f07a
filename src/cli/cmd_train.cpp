// cmd_train.cpp — `normlab train CONFIG`, `normlab init CONFIG` (the step-0 checkpoint) and
// `normlab eval [CONFIG] --checkpoint FILE`.
//
// What it is: the command-line side of train/trainer.h — read the config, apply --set,
// --threads and --kernels, call train() or evaluate(), print the result table.
// What it is not: the training loop itself (src/train/trainer.cpp).
#include <cctype>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "normlab/cli/cli.h"
#include "normlab/config/config.h"
#include "normlab/data/export.h"
#include "normlab/parallel/comm.h"
#include "normlab/core/io.h"
#include "normlab/core/profile.h"
#include "normlab/core/runtime.h"
#include "normlab/core/signals.h"
#include "normlab/train/checkpoint.h"
#include "normlab/train/run_lock.h"
#include "normlab/train/saved_model.h"
#include "normlab/train/trainer.h"

namespace fs = std::filesystem;

namespace nl {

// A word for a POSIX shell: as is when it is plain, else in single quotes.
static std::string shell_quote(const std::string& s) {
  bool plain = !s.empty();
  for (char c : s)
    plain = plain && (std::isalnum((unsigned char)c) || (c != 0 && std::strchr("/._-=+,:@%", c) != nullptr));
  if (plain) return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// The command that continues a run folder: the same config and --set overrides.
static std::string resume_command(const std::string& config, const std::vector<std::string>& overrides,
                                  const std::string& out_dir) {
  std::string again = "normlab";
  if (!global_options().kernels.empty()) again += " --kernels " + global_options().kernels;
  again += " train " + shell_quote(config);
  for (const std::string& o : overrides) again += " --set " + shell_quote(o);
  return again + " --out " + shell_quote(out_dir) + " --resume";
}

// count: examples (classify) or real tokens (tag, lm), what loss and accuracy average over.
static void print_evals(FILE* out, const std::vector<EvalResult>& evals) {
  std::fprintf(out, "%-14s %-9s %-7s %10s %10s %8s\n", "split", "lengths", "seen", "loss", "accuracy", "count");
  for (const EvalResult& e : evals)
    std::fprintf(out, "%-14s %3d..%-4d %-7s %10.4f %10.4f %8d\n", e.split.c_str(), e.lengths.min, e.lengths.max,
                e.seen_in_training ? "yes" : "no", e.loss, e.accuracy, e.count);
}

NL_COMMAND("train", "Train a model from a JSON config", 10, [](CLI::App& sub) -> CommandRun {
  struct Args {
    std::string config, out;
    std::vector<std::string> overrides;
    bool resume = false, overwrite = false, quiet = false, verbose = false, profile = false;
    int stop_after = -1;
  };
  auto a = std::make_shared<Args>();
  sub.add_option("config", a->config, "Config file (JSON); keys are documented in configs/README.md")->required();
  sub.add_option("--out", a->out, "Run folder (default: train.out_dir from the config)");
  sub.add_option("--set", a->overrides, "Override a key: --set model.norm.type=batchnorm (repeatable)");
  CLI::Option* resume = sub.add_flag("--resume", a->resume, "Continue from the run folder's checkpoint, bit-identically");
  sub.add_flag("--overwrite", a->overwrite,
               "Start again from step 0 in a folder that holds a run (its checkpoint, metrics.csv and result.json "
               "are replaced); without it such a folder is refused")
      ->excludes(resume);
  sub.add_flag("--quiet", a->quiet, "No progress on stderr; the result table still prints");
  sub.add_flag("--verbose", a->verbose, "Also print the resolved config first (it is always saved in the run folder as config.json)");
  sub.add_option("--stop-after", a->stop_after, "Stop after N more steps, with a checkpoint (then --resume); 0: the step-0 checkpoint, as init");
  sub.add_flag("--profile", a->profile,
               "Time every training step per op, direction and part of the model: a table after the results, "
               "and profile.json in the run folder (README, Performance)");
  return [a]() {
    // Under `mpirun -np K`: K ranks, data parallel (MPI starts here); otherwise one process.
    Comm& world = world_comm();
    Config cfg = resolve_config(a->config, a->overrides);
    // Rank 0 alone (it writes the folder): another rank checking after rank 0 took the lock
    // would find the folder "in use" by its own run.
    if (!a->resume && world.is_root()) refuse_to_overwrite_run(a->out.empty() ? cfg.train.out_dir : a->out, a->overwrite);
    const bool root = world.is_root();  // under mpirun, rank 0 alone prints
    if (a->verbose && root) std::printf("%s\n", config_to_json(cfg).dump(2).c_str());
    std::fflush(stdout);
    TrainOptions opt;
    opt.out_dir = a->out;
    opt.resume = a->resume;
    opt.quiet = a->quiet;
    opt.stop_after = a->stop_after;
    opt.comm = &world;
    Profile profile;
    if (a->profile) opt.profile = &profile;
    TrainResult r = train(cfg, opt);
    if (r.interrupted_by) {
      std::fflush(stdout);
      if (world.is_root())  // K ranks stop after the same step; rank 0 says it once
        std::fprintf(stderr, "normlab: interrupted at step %d by %s; resume with: %s\n", r.steps,
                     signal_name(r.interrupted_by), resume_command(a->config, a->overrides, r.out_dir).c_str());
      return 128 + r.interrupted_by;
    }
    if (!root) return 0;
    if (r.steps < cfg.train.steps && !r.already_finished) {  // --stop-after
      std::printf("\nstopped at step %d of %d (--stop-after %d); checkpoint: %s/checkpoint.safetensors\n"
                  "continue with: %s\n",
                  r.steps, cfg.train.steps, a->stop_after, r.out_dir.c_str(),
                  resume_command(a->config, a->overrides, r.out_dir).c_str());
    } else if (r.already_finished) {
      std::printf("\nalready finished at step %d; nothing ran, result.json left as it was\nrun folder: %s\n", r.steps,
                  r.out_dir.c_str());
    } else {
      std::printf("\nfinished %d steps in %.1f s; final training loss %.4f\n", r.steps, r.seconds,
                  r.final_train_loss);
      if (!r.evals.empty()) print_evals(stdout, r.evals);
      std::printf("run folder: %s\n", r.out_dir.c_str());
    }
    if (profile.steps() > 0) {  // --profile: rank 0's steps (on K ranks, its shard of each batch)
      write_file_atomic(r.out_dir + "/profile.json", profile.to_json().dump(2) + "\n");
      std::printf("\nprofile of %d training steps (also in %s/profile.json):\n%s", profile.steps(),
                  r.out_dir.c_str(), profile.table().c_str());
    }
    return 0;
  };
});

NL_COMMAND("init", "Write a run folder's step-0 checkpoint: the initial weights, resumable with train --resume", 15,
           [](CLI::App& sub) -> CommandRun {
  struct Args {
    std::string config, out;
    std::vector<std::string> overrides;
    bool overwrite = false;
  };
  auto a = std::make_shared<Args>();
  sub.add_option("config", a->config, "Config file (JSON), as for train")->required();
  sub.add_option("--out", a->out, "Run folder (default: train.out_dir from the config)");
  sub.add_option("--set", a->overrides, "Override a key: --set model.norm.type=batchnorm (repeatable)");
  sub.add_flag("--overwrite", a->overwrite,
               "Start again in a folder that holds a run (its checkpoint, metrics.csv and result.json are "
               "replaced); without it such a folder is refused");
  return [a]() {
    // Exactly `train CONFIG --stop-after 0`: the same folder (config.json, metrics.csv's
    // header, the lock) and the checkpoint train would write at step 0.
    Config cfg = resolve_config(a->config, a->overrides);
    refuse_to_overwrite_run(a->out.empty() ? cfg.train.out_dir : a->out, a->overwrite);
    TrainOptions opt;
    opt.out_dir = a->out;
    opt.quiet = true;
    opt.stop_after = 0;
    TrainResult r = train(cfg, opt);
    std::printf("wrote %s/checkpoint.safetensors (step 0 of %d)\ntrain it with: %s\n", r.out_dir.c_str(),
                cfg.train.steps, resume_command(a->config, a->overrides, r.out_dir).c_str());
    return 0;
  };
});

NL_COMMAND("eval", "Evaluate a checkpoint: loss and accuracy per length bucket", 20, [](CLI::App& sub) -> CommandRun {
  struct Args {
    std::string config, checkpoint, json_out, data;
    std::vector<std::string> overrides;
  };
  auto a = std::make_shared<Args>();
  sub.add_option("config", a->config,
                 "Config to evaluate with (default: the one stored in the checkpoint); its model keys must "
                 "match the checkpoint's");
  sub.add_option("--checkpoint", a->checkpoint, "checkpoint.safetensors to evaluate")->required();
  sub.add_option("--set", a->overrides, "Override a key (e.g. task.eval_lengths)");
  sub.add_option("--data", a->data, "Evaluate on this TSV (the `normlab data export` format) instead");
  sub.add_option("--json", a->json_out,
                 "Also write the results as JSON to this file; '-': only the JSON on stdout (the table goes to stderr)");
  return [a]() {
    // The stored config unless CONFIG is given; the task built from it (train/run.h).
    CheckpointModel m = open_checkpoint("eval", a->checkpoint, a->config, a->overrides, /*with_task=*/true);
    const Config& cfg = m.cfg;
    const TaskData& task = m.task;
    Encoder& model = *m.model;
    std::vector<EvalSplit> splits = task.evals;
    if (!a->data.empty())  // texts longer than the positions the model has are an error
      splits = {import_split(task, a->data, cfg.task.train_lengths,
                             cfg.model.positions == Positions::none ? 0 : cfg.model.max_len)};
    const EvalOptions eval_opt = eval_options(cfg);  // --set eval.bn_stats=batch, eval.batch_size=...
    std::vector<EvalResult> evals = evaluate(model, splits, eval_opt);
    const bool json_stdout = a->json_out == "-";
    print_evals(json_stdout ? stderr : stdout, evals);
    if (!a->json_out.empty()) {
      const std::string text = eval_to_json(evals).dump(2) + "\n";
      if (json_stdout) {
        std::fputs(text.c_str(), stdout);
      } else {
        write_file_atomic(a->json_out, text);
      }
    }
    return 0;
  };
});

}  // namespace nl
