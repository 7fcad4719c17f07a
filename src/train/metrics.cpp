// metrics.cpp — metrics.csv's columns and rows (see train/metrics.h).
//
// What it is: the column list, the number format, and the file: rewritten with its header
// (and on resume the rows up to the checkpoint's step), then appended to row by row.
// What it is not: the values (trainer.cpp fills each row).
#include "normlab/train/metrics.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <filesystem>
#include <sstream>

#include "normlab/core/io.h"
#include "normlab/train/metrics_schema.h"

namespace nl {

std::string group_of(const std::string& name) {
  size_t dot = name.find('.');
  std::string first = name.substr(0, dot);
  if (first == "layers" && dot != std::string::npos) {
    size_t dot2 = name.find('.', dot + 1);
    return name.substr(0, dot2);
  }
  return first;
}

std::vector<std::string> metrics_columns(const std::vector<std::string>& splits,
                                         const std::vector<std::string>& bn_layers,
                                         const std::vector<std::string>& groups) {
  namespace ms = metrics_schema;  // the names compare reads back
  std::vector<std::string> columns{ms::kStep, ms::kLoss, ms::kLr, ms::kGradNorm, ms::kTokensPerS};
  for (const std::string& s : splits) {
    columns.push_back(ms::kEvalLoss + s);
    columns.push_back(ms::kEvalAcc + s);
  }
  for (const std::string& l : bn_layers) {
    columns.push_back(ms::kDriftMean + l);
    columns.push_back(ms::kDriftVar + l);
  }
  for (const std::string& g : groups) columns.push_back(ms::kGroupGradNorm + g);
  return columns;
}

std::string metric_text(double v, int precision) {
  if (std::isnan(v)) return "nan";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", precision, v);
  return buf;
}

void MetricsCsv::open(bool resume, int up_to) {
  std::vector<std::string> keep;
  if (resume && std::filesystem::exists(path_)) {
    std::ifstream in(path_);
    std::string line;
    bool header = true;
    while (std::getline(in, line)) {
      if (header) { header = false; continue; }
      int step = std::atoi(line.c_str());
      if (step <= up_to) keep.push_back(line);
    }
  }
  std::ostringstream o;
  for (size_t i = 0; i < columns_.size(); ++i) o << (i ? "," : "") << columns_[i];
  o << "\n";
  for (auto& l : keep) o << l << "\n";
  write_file_atomic(path_, o.str());
  out_.open(path_);
}

void MetricsCsv::row(const std::map<std::string, std::string>& values) {
  std::string line;
  for (size_t i = 0; i < columns_.size(); ++i) {
    auto it = values.find(columns_[i]);
    line += (i ? "," : "") + (it == values.end() ? std::string() : it->second);
  }
  out_.append(line + "\n");  // one checked write: a full disk stops the run here
}

}  // namespace nl
