// run_dqn: the training loop behind `vkwb dqn`, CleanRL style: for every frame act -> store ->
// train_step (sample -> target -> loss -> step -> sync target), plus evaluation on a separate env,
// metrics, GIFs and checkpoints in a run directory:
//   <out>/config.json             the DqnConfig (re-read by --resume)
//   <out>/metrics.csv|.jsonl      every log_every frames (and at evaluations): episode return and
//                                 length, loss, mean Q, epsilon, frames/s, evaluation returns
//   <out>/episodes/metrics.csv    one row per training episode
//   <out>/samples/eval_<frame>.gif  one episode of each evaluation
//   <out>/checkpoints/step_<frame>.ckpt  networks, optimizer, replay buffer, RNGs, env state, counters
// A resumed run continues from the newest checkpoint and produces exactly the numbers the
// uninterrupted run would have (tests/dqn checks weights and metrics).
#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "agents/dqn.h"
#include "agents/dqn_config.h"
#include "envs/env.h"

namespace vkwb::agents {

struct ReturnStats {
  double mean = 0, std = 0, min = 0, max = 0;
  static ReturnStats of(const std::vector<double>& v);   // population std; zeros for an empty list
};

struct EvalResult {
  int64_t frame = 0;
  std::vector<double> returns;
  std::vector<int64_t> lengths;
  ReturnStats stats, length_stats;
  std::string gif;   // path of the recorded episode ("" if none)
};

// What a run publishes for a reader on another thread (the dashboard): a copy made under the
// monitor's mutex every `publish_every` frames, at each evaluation and at the end. The reader
// never touches the agent, the env or the device.
struct DqnSnapshot {
  int64_t frame = 0, total_frames = 0, updates = 0, episodes = 0;
  double epsilon = 1, loss = 0, q_mean = 0, fps = 0;
  std::vector<std::pair<int64_t, double>> episode_returns;   // (frame at its end, return), this call's
  std::vector<EvalResult> evals;                              // this call's evaluations
  envs::Image screen;                                         // the training env at `frame`
  bool finished = false;
};

class DqnMonitor {
 public:
  void publish(DqnSnapshot s) {
    std::lock_guard<std::mutex> lock(mu_);
    snap_ = std::move(s);
    ++version_;
  }
  DqnSnapshot snapshot() const {
    std::lock_guard<std::mutex> lock(mu_);
    return snap_;
  }
  // Increases with every publish: a reader copies only when it changed.
  uint64_t version() const {
    std::lock_guard<std::mutex> lock(mu_);
    return version_;
  }

 private:
  mutable std::mutex mu_;
  DqnSnapshot snap_;
  uint64_t version_ = 0;
};

struct DqnRunOptions {
  std::string out;                           // run directory, e.g. runs/breakout-s1
  bool resume = false;                       // continue the run in `out` from its newest checkpoint
  bool verbose = true;                       // print the config and a progress bar (stderr)
  const std::atomic<bool>* stop = nullptr;   // when set (Ctrl-C): checkpoint and return early
  DqnMonitor* monitor = nullptr;             // when set: snapshots for another thread
  int64_t publish_every = 1000;              // frames between snapshots
};

struct DqnRunResult {
  int64_t frames = 0, updates = 0, episodes = 0;
  int64_t start_frame = 0;                   // > 0 when resumed
  std::vector<EvalResult> evals;             // evaluations made by this call
  std::string checkpoint;                    // the last checkpoint written
  bool stopped = false;
};

// Trains (or resumes) a run. On resume, `cfg` must equal the run's config.json except for
// `frames`, which may be raised to train longer (load_run_config gives that config).
DqnRunResult run_dqn(const DqnConfig& cfg, Device& dev, const DqnRunOptions& opt);
DqnConfig load_run_config(const std::string& out);

// Options for the env of a config (training and, with eval = true, evaluation).
envs::EnvOptions env_options(const DqnConfig& cfg, bool eval);
// Epsilon for the action at `frame` (frames done so far): 1 before learning_starts, then linear.
float epsilon_at(const DqnConfig& cfg, int64_t frame);
// `episodes` episodes with epsilon-greedy actions (eps from cfg.eval_eps) on `env`, seeded by
// seed; records the first one as a GIF at gif_path unless it is empty or cfg.gif_frames is 0.
EvalResult evaluate(Dqn& agent, envs::Env& env, const DqnConfig& cfg, uint64_t seed, int episodes,
                    const std::string& gif_path);

}  // namespace vkwb::agents
