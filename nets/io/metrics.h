// MetricsLogger: one row per logged step, written to <dir>/metrics.csv and <dir>/metrics.jsonl and
// flushed after every row (a crashed run keeps everything it logged; fsync is left to the OS).
//
// Columns: the CSV's columns are "step" followed by the keys of the first row ever logged, in that
// order, and never change afterwards (a CSV cannot grow columns without rewriting it). A key that
// first appears later goes to the JSON lines file only; a column missing from a row is left empty.
// metrics.jsonl always has every key of every row. Values are doubles; integral values are written
// as integers, NaN/inf as "nan"/"inf" in the CSV and null in JSON.
//
// Resume: with append = true the existing rows are kept and the CSV's header is reused. If
// resume_step is given, rows with step > resume_step are removed first: they were logged after the
// checkpoint being resumed and will be logged again, so keeping them would duplicate steps. A torn
// last line (the process died mid-write) is dropped in any case.
#pragma once
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace vkwb::io {

class MetricsLogger {
 public:
  using Row = std::vector<std::pair<std::string, double>>;

  explicit MetricsLogger(const std::string& dir, bool append = false,
                         std::optional<int64_t> resume_step = std::nullopt);
  ~MetricsLogger();
  MetricsLogger(const MetricsLogger&) = delete;
  MetricsLogger& operator=(const MetricsLogger&) = delete;

  void log(int64_t step, const Row& values);

  const std::vector<std::string>& csv_columns() const { return columns_; }
  std::string csv_path() const { return dir_ + "/metrics.csv"; }
  std::string jsonl_path() const { return dir_ + "/metrics.jsonl"; }

 private:
  std::string dir_;
  std::vector<std::string> columns_;  // empty until the header is known
  FILE* csv_ = nullptr;
  FILE* jsonl_ = nullptr;
};

}  // namespace vkwb::io
