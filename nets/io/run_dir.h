// RunDir: the directory a run writes everything into,
//   <runs_root>/<name>/config.json, metrics.csv, metrics.jsonl, checkpoints/, samples/
// A fresh run refuses to reuse a directory that already holds a run (config.json exists) so results
// are never silently mixed; resume requires it to exist.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace vkwb::io {

struct RunDirOptions {
  std::string runs_root = "runs";
  std::string name;     // one path component, no '/' and not "." or ".."
  bool resume = false;  // continue an existing run instead of starting one
};

class RunDir {
 public:
  // Creates (or, with resume, opens) the run directory and its checkpoints/ and samples/.
  explicit RunDir(const RunDirOptions& opt);
  // The run directory at `path` ("runs/NAME", "NAME" or "/abs/NAME"): its parent is the runs root.
  static RunDir at(const std::string& path, bool resume);

  const std::string& path() const { return path_; }
  std::string checkpoints_dir() const { return path_ + "/checkpoints"; }
  std::string samples_dir() const { return path_ + "/samples"; }
  std::string config_path() const { return path_ + "/config.json"; }

  // config.json, written atomically (temp file + fsync + rename), pretty-printed.
  void write_config(const nlohmann::json& config) const;
  nlohmann::json read_config() const;

  // checkpoints/step_<step, 10 digits>.ckpt: zero padding keeps `ls` in step order.
  std::string checkpoint_path(int64_t step) const;
  // The checkpoint with the highest step, if any (ignores temp files of interrupted writes).
  std::optional<std::string> latest_checkpoint() const;
  std::optional<int64_t> latest_checkpoint_step() const;

 private:
  std::string path_;
};

}  // namespace vkwb::io
