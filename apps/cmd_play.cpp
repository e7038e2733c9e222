// vkwb play: run episodes without learning (random policy, or the greedy policy of a `vkwb dqn`
// checkpoint) and print mean/std/min/max of return and length.
#include <cstdio>
#include <memory>

#include "agents/play.h"
#include "apps/cli.h"

namespace vkwb::app {

namespace {

void register_play(CLI::App& app) {
  auto* cmd = app.add_subcommand("play", "run episodes without learning and summarise their returns");
  auto o = std::make_shared<agents::PlayOptions>();
  auto json = std::make_shared<bool>(false);
  cmd->add_option("--env", o->env, "environment (default with --checkpoint: the one it was trained on)");
  cmd->add_option("--policy", o->policy, "random or greedy (needs --checkpoint)");
  cmd->add_option("--checkpoint", o->checkpoint, "checkpoint file of `vkwb dqn`, or a run directory (its newest)");
  cmd->add_option("--episodes", o->episodes, "episodes to run");
  cmd->add_option("--seed", o->seed, "seed for the episodes and the random actions");
  cmd->add_option("--epsilon", o->epsilon, "greedy: probability of a random action");
  cmd->add_option("--max-steps", o->max_steps, "episode time limit (0: the env's default)");
  cmd->add_option("--gif", o->gif, "record the first episode as an animated GIF");
  cmd->add_option("--sticky-action-prob", o->sticky_action_prob, "MinAtar: sticky-action probability (default: env's / checkpoint's)");
  cmd->add_option("--difficulty-ramping", o->difficulty_ramping, "MinAtar: 1 on, 0 off (default: env's / checkpoint's)")
      ->check(CLI::IsMember({-1, 0, 1}));
  cmd->add_option("--slip-prob", o->slip_prob, "GridWorld: slip probability (default: env's / checkpoint's)");
  cmd->add_flag("--json", *json, "print JSON");
  cmd->callback([o, json] {
    Device* dev = o->policy == "greedy" ? &open_device() : &Device::cpu();
    agents::PlayResult r = agents::play(*dev, *o);
    if (*json) {
      std::printf("%s\n", agents::to_json(r).dump(2).c_str());
      return;
    }
    std::printf("%s, %s policy, %zu episodes\n", r.env.c_str(), r.policy.c_str(), r.returns.size());
    std::printf("  return: mean %.3f  std %.3f  min %.3f  max %.3f\n", r.ret.mean, r.ret.std, r.ret.min, r.ret.max);
    std::printf("  length: mean %.1f  std %.1f  min %.0f  max %.0f\n", r.length.mean, r.length.std, r.length.min,
                r.length.max);
    if (!o->gif.empty()) std::printf("  first episode: %s\n", o->gif.c_str());
  });
}

}  // namespace

static Registrar reg(70, register_play);

}  // namespace vkwb::app
