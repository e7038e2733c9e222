// play: run episodes without learning, with a random policy or the greedy policy of a `vkwb dqn`
// checkpoint, and summarise return and length (behind `vkwb play`).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agents/dqn_run.h"
#include "engine/device.h"

namespace vkwb::agents {

struct PlayOptions {
  std::string env;                  // environment; "" takes the checkpoint's
  std::string policy = "random";    // random or greedy
  std::string checkpoint;           // greedy: a checkpoint file, or a run directory (its newest)
  int episodes = 10;
  uint64_t seed = 1;                // episode k is reset with a seed derived from (seed, k)
  float epsilon = 0.f;              // greedy: act randomly with this probability
  int max_steps = 0;                // episode time limit (0: the env's default)
  std::string gif;                  // record the first episode here ("" : no)
  int gif_frames = 1000;            // at most this many GIF frames
  // Env settings; negative: the env's defaults (random) or the checkpoint's (greedy).
  double sticky_action_prob = -1;   // MinAtar
  int difficulty_ramping = -1;      // MinAtar: 0 off, 1 on
  double slip_prob = -1;            // GridWorld
};

struct PlayResult {
  std::string env, policy;
  std::vector<double> returns;
  std::vector<int64_t> lengths;
  ReturnStats ret, length;
};

PlayResult play(Device& dev, const PlayOptions& opt);
nlohmann::json to_json(const PlayResult& r);

// A checkpoint path from a file or a run directory (newest checkpoint in <dir>/checkpoints).
std::string resolve_checkpoint(const std::string& file_or_run);

}  // namespace vkwb::agents
