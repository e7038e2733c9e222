#include "agents/play.h"

#include <filesystem>
#include <memory>

#include "agents/q_network.h"
#include "engine/error.h"
#include "envs/gif.h"
#include "nets/checkpoint.h"
#include "nets/data/host_rng.h"

namespace vkwb::agents {

namespace fs = std::filesystem;

std::string resolve_checkpoint(const std::string& file_or_run) {
  std::error_code ec;
  if (!fs::is_directory(file_or_run, ec)) {
    if (!fs::exists(file_or_run, ec)) throw Error("checkpoint " + file_or_run + " does not exist");
    return file_or_run;
  }
  std::string best;
  const fs::path dir = fs::path(file_or_run) / "checkpoints";
  for (auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("step_", 0) == 0 && e.path().extension() == ".ckpt" && e.path().string() > best) best = e.path().string();
  }
  if (best.empty()) throw Error("no checkpoint in " + dir.string());
  return best;
}

PlayResult play(Device& dev, const PlayOptions& opt) {
  if (opt.policy != "random" && opt.policy != "greedy")
    throw Error("play: --policy must be random or greedy, got '" + opt.policy + "'");
  if (opt.episodes < 1) throw Error("play: --episodes must be >= 1");
  if (opt.epsilon < 0.f || opt.epsilon > 1.f) throw Error("play: --epsilon must be in [0, 1]");
  if (opt.max_steps < 0) throw Error("play: --max-steps must be >= 0");

  PlayResult r;
  r.policy = opt.policy;
  envs::EnvOptions eo;
  std::unique_ptr<HostQNet> actor;
  DqnConfig trained;
  if (opt.policy == "greedy") {
    if (opt.checkpoint.empty()) throw Error("play: --policy greedy needs --checkpoint FILE (or a run directory)");
    const std::string path = resolve_checkpoint(opt.checkpoint);
    io::CheckpointData ck = io::read_checkpoint(path);
    if (!ck.meta.contains("config")) throw Error(path + " is not a `vkwb dqn` checkpoint (no config)");
    trained = config_from_json(ck.meta["config"]);
    eo = env_options(trained, false);
    r.env = opt.env.empty() ? trained.env : opt.env;
    auto env = envs::make_env(r.env, eo);
    auto train_env = envs::make_env(trained.env, eo);
    if (!(env->observation_shape() == train_env->observation_shape()) || env->num_actions() != train_env->num_actions())
      throw Error("play: " + path + " was trained on " + trained.env + ", whose observations/actions differ from " + r.env + "'s");
    nn::ModuleContext ctx(dev, 1);
    QNetwork net(ctx, {.obs = env->observation_shape(), .num_actions = env->num_actions(), .kind = trained.network,
                       .hidden = trained.hidden, .dueling = trained.dueling});
    nn::load_module(ck, "online/", net);
    actor = std::make_unique<HostQNet>(net.make_host());
    net.copy_weights(*actor);
  } else {
    if (opt.env.empty()) throw Error("play: --env is required with --policy random");
    r.env = opt.env;
  }
  if (opt.max_steps > 0) eo.max_episode_steps = opt.max_steps;
  if (opt.sticky_action_prob > 1 || opt.slip_prob > 1) throw Error("play: --sticky-action-prob and --slip-prob must be in [0, 1]");
  if (opt.sticky_action_prob >= 0) eo.sticky_action_prob = opt.sticky_action_prob;
  if (opt.difficulty_ramping >= 0) eo.difficulty_ramping = opt.difficulty_ramping != 0;
  if (opt.slip_prob >= 0) eo.slip_prob = opt.slip_prob;
  auto env = envs::make_env(r.env, eo);

  HostRng rng(derive_seed(opt.seed, 5));
  std::vector<float> obs_f(env->observation_shape().size());
  std::vector<envs::Image> frames;
  for (int e = 0; e < opt.episodes; ++e) {
    env->reset(derive_seed(opt.seed, 6, uint64_t(e)));
    if (e == 0 && !opt.gif.empty()) frames.push_back(env->render());
    double ret = 0;
    int64_t len = 0;
    for (;;) {
      int a;
      if (!actor || rng.uniform() < opt.epsilon) {
        a = int(rng.below(uint64_t(env->num_actions())));
      } else {
        env->observation_float(obs_f.data());
        a = actor->greedy(obs_f.data());
      }
      const envs::StepResult s = env->step(a);
      ret += s.reward;
      ++len;
      if (e == 0 && !opt.gif.empty() && int(frames.size()) < opt.gif_frames) frames.push_back(env->render());
      if (s.done()) break;
    }
    r.returns.push_back(ret);
    r.lengths.push_back(len);
  }
  if (!opt.gif.empty()) envs::write_gif(opt.gif, frames, 10);
  r.ret = ReturnStats::of(r.returns);
  r.length = ReturnStats::of(std::vector<double>(r.lengths.begin(), r.lengths.end()));
  return r;
}

nlohmann::json to_json(const PlayResult& r) {
  auto stats = [](const ReturnStats& s) { return nlohmann::json{{"mean", s.mean}, {"std", s.std}, {"min", s.min}, {"max", s.max}}; };
  return {{"env", r.env},         {"policy", r.policy},           {"episodes", r.returns.size()},
          {"return", stats(r.ret)}, {"length", stats(r.length)}, {"returns", r.returns},
          {"lengths", r.lengths}};
}

}  // namespace vkwb::agents
