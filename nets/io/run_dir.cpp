#include "nets/io/run_dir.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/error.h"
#include "nets/io/atomic_file.h"

namespace vkwb::io {
namespace {

namespace fs = std::filesystem;

void make_dir(const fs::path& p) {
  std::error_code ec;
  fs::create_directories(p, ec);
  if (ec) throw Error("cannot create run directory " + p.string() + ": " + ec.message());
}

// "step_0000001000.ckpt" -> 1000; anything else (temp files, other names) -> nullopt.
std::optional<int64_t> parse_checkpoint_name(const std::string& name) {
  const std::string prefix = "step_", suffix = ".ckpt";
  if (name.size() <= prefix.size() + suffix.size() || name.rfind(prefix, 0) != 0 ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
    return std::nullopt;
  const std::string digits = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
  int64_t v = 0;
  for (char ch : digits) {
    if (ch < '0' || ch > '9') return std::nullopt;
    v = v * 10 + (ch - '0');
  }
  return v;
}

}  // namespace

RunDir::RunDir(const RunDirOptions& opt) {
  if (opt.name.empty() || opt.name == "." || opt.name == ".." || opt.name.find('/') != std::string::npos)
    throw Error("invalid run name '" + opt.name + "': use one path component without '/'");
  const fs::path root = fs::path(opt.runs_root) / opt.name;
  path_ = root.string();
  std::error_code ec;
  const bool exists = fs::exists(root / "config.json", ec);
  if (opt.resume && !fs::is_directory(root, ec))
    throw Error("cannot resume: run directory " + path_ + " does not exist");
  if (!opt.resume && exists)
    throw Error("run directory " + path_ +
                " already holds a run; pass --resume to continue it or choose another --name");
  make_dir(root / "checkpoints");
  make_dir(root / "samples");
}

RunDir RunDir::at(const std::string& path, bool resume) {
  const fs::path p(path);
  const std::string parent = p.parent_path().string();
  return RunDir({.runs_root = parent.empty() ? "." : parent, .name = p.filename().string(), .resume = resume});
}

void RunDir::write_config(const nlohmann::json& config) const {
  write_file_atomic(config_path(), config.dump(2) + "\n");
}

nlohmann::json RunDir::read_config() const {
  std::ifstream in(config_path());
  if (!in) throw Error("cannot open " + config_path() + ": no config in this run directory");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return nlohmann::json::parse(ss.str());
  } catch (const nlohmann::json::exception& ex) {
    throw Error(config_path() + ": bad JSON: " + ex.what());
  }
}

std::string RunDir::checkpoint_path(int64_t step) const {
  char name[64];
  std::snprintf(name, sizeof name, "step_%010lld.ckpt", static_cast<long long>(step));
  return checkpoints_dir() + "/" + name;
}

std::optional<int64_t> RunDir::latest_checkpoint_step() const {
  std::optional<int64_t> best;
  std::error_code ec;
  for (fs::directory_iterator it(checkpoints_dir(), ec), end; !ec && it != end; it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const auto step = parse_checkpoint_name(it->path().filename().string());
    if (step && (!best || *step > *best)) best = step;
  }
  return best;
}

std::optional<std::string> RunDir::latest_checkpoint() const {
  const auto step = latest_checkpoint_step();
  if (!step) return std::nullopt;
  return checkpoint_path(*step);
}

}  // namespace vkwb::io
