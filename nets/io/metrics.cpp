#include "nets/io/metrics.h"

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "nets/io/atomic_file.h"

namespace vkwb::io {
namespace {

std::string csv_escape(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

// Splits one CSV line (quotes as written by csv_escape).
std::vector<std::string> csv_split(const std::string& line) {
  std::vector<std::string> cells(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char ch = line[i];
    if (quoted) {
      if (ch == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cells.back() += '"';
        ++i;
      } else if (ch == '"') {
        quoted = false;
      } else {
        cells.back() += ch;
      }
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == ',') {
      cells.emplace_back();
    } else {
      cells.back() += ch;
    }
  }
  return cells;
}

std::string format_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  // Shortest text that reads back to the same double; integers come out without ".0".
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

nlohmann::ordered_json json_number(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9007199254740992.0)
    return static_cast<int64_t>(v);
  if (!std::isfinite(v)) return nullptr;
  return v;
}

// Complete lines only: a last line without '\n' is the remains of a crash mid-write.
std::vector<std::string> read_complete_lines(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
    lines.push_back(text.substr(start, nl - start));
  return lines;
}

bool parse_step(const std::string& s, int64_t* step) {
  // Steps may have been written as "1000" or, by other tools, "1000.0"/"1e3".
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !std::isfinite(v)) return false;
  *step = static_cast<int64_t>(v);
  return true;
}

FILE* open_append(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "ab");
  if (!f) throw Error("cannot write metrics file " + path + ": " + std::strerror(errno));
  return f;
}

}  // namespace

MetricsLogger::MetricsLogger(const std::string& dir, bool append, std::optional<int64_t> resume_step)
    : dir_(dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) throw Error("cannot create metrics directory " + dir_ + ": " + ec.message());

  if (append) {
    // Rewrite both files with only the rows to keep; atomically, so a crash here loses nothing.
    std::vector<std::string> csv_lines = read_complete_lines(csv_path());
    std::string kept_csv;
    if (!csv_lines.empty()) {
      columns_ = csv_split(csv_lines[0]);
      size_t step_col = 0;
      while (step_col < columns_.size() && columns_[step_col] != "step") ++step_col;
      kept_csv = csv_lines[0] + "\n";
      for (size_t i = 1; i < csv_lines.size(); ++i) {
        const std::vector<std::string> cells = csv_split(csv_lines[i]);
        int64_t step = 0;
        const bool has_step = step_col < cells.size() && parse_step(cells[step_col], &step);
        if (resume_step && (!has_step || step > *resume_step)) continue;
        kept_csv += csv_lines[i] + "\n";
      }
    }
    // Rewritten even when nothing is kept, so a torn header line does not survive.
    if (std::filesystem::exists(csv_path(), ec)) write_file_atomic(csv_path(), kept_csv);
    std::string kept_jsonl;
    for (const std::string& line : read_complete_lines(jsonl_path())) {
      nlohmann::json j;
      try {
        j = nlohmann::json::parse(line);
      } catch (const nlohmann::json::exception&) {
        continue;
      }
      if (resume_step && (!j.contains("step") || !j["step"].is_number() ||
                          j["step"].get<double>() > static_cast<double>(*resume_step)))
        continue;
      kept_jsonl += line + "\n";
    }
    if (std::filesystem::exists(jsonl_path(), ec)) write_file_atomic(jsonl_path(), kept_jsonl);
    csv_ = open_append(csv_path());
    jsonl_ = open_append(jsonl_path());
  } else {
    csv_ = std::fopen(csv_path().c_str(), "wb");
    if (!csv_) throw Error("cannot write metrics file " + csv_path() + ": " + std::strerror(errno));
    jsonl_ = std::fopen(jsonl_path().c_str(), "wb");
    if (!jsonl_) {
      std::fclose(csv_);
      throw Error("cannot write metrics file " + jsonl_path() + ": " + std::strerror(errno));
    }
  }
}

MetricsLogger::~MetricsLogger() {
  if (csv_) std::fclose(csv_);
  if (jsonl_) std::fclose(jsonl_);
}

void MetricsLogger::log(int64_t step, const Row& values) {
  if (columns_.empty()) {
    columns_.push_back("step");
    for (const auto& [key, value] : values)
      if (key != "step" && std::find(columns_.begin(), columns_.end(), key) == columns_.end())
        columns_.push_back(key);
    std::string header;
    for (size_t i = 0; i < columns_.size(); ++i) header += (i ? "," : "") + csv_escape(columns_[i]);
    header += "\n";
    std::fputs(header.c_str(), csv_);
  }

  std::string line;
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (i) line += ',';
    if (columns_[i] == "step") {
      line += std::to_string(step);
      continue;
    }
    for (const auto& [key, value] : values)
      if (key == columns_[i]) {
        line += format_number(value);
        break;
      }
  }
  line += '\n';

  // nlohmann::ordered_json keeps the caller's key order, which makes the file easier to read.
  nlohmann::ordered_json j;
  j["step"] = step;
  for (const auto& [key, value] : values)
    if (key != "step") j[key] = json_number(value);
  const std::string json_line = j.dump() + "\n";

  if (std::fputs(line.c_str(), csv_) < 0 || std::fflush(csv_) != 0)
    throw Error("cannot write metrics file " + csv_path() + ": " + std::strerror(errno));
  if (std::fputs(json_line.c_str(), jsonl_) < 0 || std::fflush(jsonl_) != 0)
    throw Error("cannot write metrics file " + jsonl_path() + ": " + std::strerror(errno));
}

}  // namespace vkwb::io
