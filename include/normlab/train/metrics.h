// train/metrics.h — metrics.csv: its columns and its rows.
//
// What it is: the column layout of metrics.csv (its names are metrics_schema.h's, which
// compare reads back by), and the file itself: a header, then one row per logged step, each number with %.9g (every bit of a
// float32); on --resume the rows after the checkpoint's step are dropped first. Columns, in
// order:
//   step, loss, lr, grad_norm, tokens_per_s
//   eval_loss/<split>, eval_acc/<split>      per evaluation split; empty on rows without one
//   drift_mean/<layer>, drift_var/<layer>    per norm with batch statistics
//   grad_norm/<group>                        per layer group (group_of), before clipping
// Units: README, "The run folder".
// What it is not: the reader (compare), nor what the numbers mean (docs/math.md, Diagnostics).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "normlab/core/io.h"

namespace nl {

// The layer group of a parameter, for per-group gradient norms: "embed", "layers.0", ...,
// "head", "final_norm" (the name up to its second dot for layers.i, else its first).
std::string group_of(const std::string& param_name);

// The columns, in order, for these evaluation splits, batch-statistics layers and groups.
std::vector<std::string> metrics_columns(const std::vector<std::string>& splits,
                                         const std::vector<std::string>& bn_layers,
                                         const std::vector<std::string>& groups);

// A number as metrics.csv and checkpoints write it: %.9g (every bit of a float32), or with
// `precision` 17 every bit of a double; "nan" for NaN.
std::string metric_text(double v, int precision = 9);

class MetricsCsv {
 public:
  MetricsCsv(std::string path, std::vector<std::string> columns)
      : path_(std::move(path)), columns_(std::move(columns)) {}
  // A fresh file with the header, or (resume) the rows with step <= up_to kept.
  void open(bool resume, int up_to);
  // One row: each column's value from `values` ("" where absent). One checked write: a full
  // disk stops the run here.
  void row(const std::map<std::string, std::string>& values);

 private:
  std::string path_;
  std::vector<std::string> columns_;
  AppendFile out_;
};

}  // namespace nl
