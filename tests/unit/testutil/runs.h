// testutil/runs.h — helpers for tests that train a small model in-process and read what the
// run folder recorded: train into a fresh folder, read metrics.csv by column name, and
// metrics.csv without its wall-clock column (to compare two runs bit for bit).
//
// What it is not: a test, nor a second reader of metrics.csv for the program (compare reads
// it in src/compare/records.cpp); the column names come from train/metrics_schema.h.
#pragma once
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "normlab/config/config.h"
#include "normlab/train/metrics_schema.h"
#include "normlab/train/trainer.h"

namespace testutil {

namespace fs = std::filesystem;

inline std::vector<std::string> split_csv_line(const std::string& line) {
  std::vector<std::string> cells;
  std::stringstream ss(line);
  for (std::string cell; std::getline(ss, cell, ',');) cells.push_back(cell);
  return cells;
}

// metrics.csv as text cells: the header's column names and every row after it.
struct Metrics {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;

  // The index of column `name`, or -1.
  int column(const std::string& name) const {
    for (size_t i = 0; i < columns.size(); ++i)
      if (columns[i] == name) return (int)i;
    return -1;
  }
  // Row `r`'s value in column `name` (which must exist and be filled).
  double at(size_t r, const std::string& name) const { return std::stod(rows.at(r).at(column(name))); }
};

inline Metrics read_metrics(const fs::path& csv) {
  std::ifstream in(csv);
  Metrics m;
  std::string line;
  if (std::getline(in, line)) m.columns = split_csv_line(line);
  while (std::getline(in, line)) m.rows.push_back(split_csv_line(line));
  return m;
}

// Train `c` quietly into a fresh folder `dir` (removed first; left in place for the caller
// to read result.json or checkpoints) and return its metrics.csv.
inline Metrics train_and_read_metrics(const nl::Config& c, const fs::path& dir) {
  fs::remove_all(dir);
  nl::TrainOptions opt;
  opt.out_dir = dir.string();
  opt.quiet = true;
  nl::train(c, opt);
  return read_metrics(dir / "metrics.csv");
}

// metrics.csv's lines without the tokens_per_s column (wall-clock, never reproducible), so
// two runs that must agree bit for bit can be compared line by line.
inline std::vector<std::string> metrics_without_speed(const fs::path& csv) {
  std::ifstream in(csv);
  std::vector<std::string> lines;
  std::string line;
  int speed = -1;
  while (std::getline(in, line)) {
    const std::vector<std::string> cells = split_csv_line(line);
    if (lines.empty())
      for (size_t i = 0; i < cells.size(); ++i)
        if (cells[i] == nl::metrics_schema::kTokensPerS) speed = (int)i;
    std::string joined;
    for (size_t i = 0; i < cells.size(); ++i)
      if ((int)i != speed) joined += cells[i] + ",";
    lines.push_back(joined);
  }
  return lines;
}

}  // namespace testutil
