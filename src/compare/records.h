// compare/records.h — one run folder read once into a typed record (records.cpp).
//
// What it is: RunRecord, what a comparison uses of one run: read from its metrics.csv
// (column names in train/metrics_schema.h), result.json and resolved config, and written
// into summary.json by to_json() (the per-run entries; configs/compare/README.md defines
// each number). What it is not: statistics over seeds (summary.cpp).
#pragma once
#include <array>
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace nl {

// The final evaluation of one split: the last metrics row with an evaluation, and the
// per-split numbers of result.json listed in metrics_schema::kSplitExtras (when recorded).
struct SplitRecord {
  std::string name;
  int seen = -1;                    // inside the training lengths: 1, 0, or -1 unknown
  bool has_loss = false;            // metrics.csv has its eval_loss column
  double loss = NAN, acc = NAN, step = NAN;
  std::vector<std::pair<std::string, double>> extras;  // e.g. ("ece", 0.04)
  // result.json's eval[S].reliability bins: lower, upper, count, accuracy, confidence (NaN
  // when the bin is empty); empty when not recorded.
  std::vector<std::array<double, 5>> reliability;
};

struct DriftRecord {                // one BatchNorm layer's drift columns
  std::string layer;
  double mean = NAN, var = NAN;     // last row
  double mean_avg = NAN, var_avg = NAN;  // over every row with a value
  bool has_avg = false;
};

struct ShiftRecord {                // result.json eval[S].bn[layer], per split
  std::string layer;
  std::vector<std::pair<std::string, std::array<double, 2>>> by_split;  // split -> (shift_mean, shift_var)
};

struct JitterRecord {
  std::string layer;
  double mean_std = NAN, var_std = NAN;
};

struct RunRecord {
  bool has_metrics = false;         // metrics.csv exists
  size_t logged_rows = 0;
  double final_step = NAN, final_train_loss = NAN;
  double steps_to_target = NAN;     // NaN: never reached
  double max_grad_norm = NAN, overfit_gap = NAN;
  nlohmann::json seconds;           // result.json's, as written; null when absent
  std::vector<SplitRecord> eval;    // in metrics.csv's column order
  std::vector<DriftRecord> drift;
  std::vector<std::pair<std::string, double>> first_grad_norm;  // group -> first row's value
  std::map<int, std::array<double, 3>> by_length;  // length -> {count, loss sum, correct sum}
  std::vector<ShiftRecord> shift;
  std::vector<JitterRecord> jitter;
  nlohmann::json train_lengths;     // [min, max] from the resolved config, null if unknown
  nlohmann::json bn_stats;          // eval.bn_stats of the resolved config, null if absent
  nlohmann::json leak_gap;          // result.json's leak_gap object (train/leak.h), null if absent

  nlohmann::ordered_json to_json() const;  // the per-run entry of summary.json
};

// The run in `dir`; a folder without metrics.csv gives a record with has_metrics false.
// A corrupt metrics.csv is a UserError naming the file and line.
RunRecord read_run(const std::string& dir, double target_loss);

}  // namespace nl
