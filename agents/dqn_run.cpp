#include "agents/dqn_run.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>

#include "engine/error.h"
#include "engine/kernels.h"
#include "envs/gif.h"
#include "nets/io/checkpoint_file.h"
#include "nets/io/metrics.h"
#include "nets/io/progress.h"
#include "nets/io/run_dir.h"

namespace vkwb::agents {

namespace fs = std::filesystem;

ReturnStats ReturnStats::of(const std::vector<double>& v) {
  ReturnStats s;
  if (v.empty()) return s;
  double sum = 0, sq = 0;
  s.min = s.max = v[0];
  for (double x : v) sum += x, s.min = std::min(s.min, x), s.max = std::max(s.max, x);
  s.mean = sum / double(v.size());
  for (double x : v) sq += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(sq / double(v.size()));
  return s;
}

envs::EnvOptions env_options(const DqnConfig& cfg, bool eval) {
  envs::EnvOptions o;
  o.sticky_action_prob = cfg.sticky_action_prob;
  o.difficulty_ramping = cfg.difficulty_ramping;
  o.max_episode_steps = cfg.max_episode_steps;
  o.full_action_set = cfg.full_action_set;
  o.slip_prob = cfg.slip_prob;
  o.step_reward = cfg.step_reward;
  if (eval && cfg.eval_max_steps > 0) o.max_episode_steps = cfg.eval_max_steps;
  return o;
}

float epsilon_at(const DqnConfig& cfg, int64_t frame) {
  if (frame < cfg.learning_starts) return 1.f;   // fill the replay buffer with random play first
  if (cfg.eps_frames <= 0) return cfg.eps_end;
  const double t = std::min(1.0, double(frame - cfg.learning_starts) / double(cfg.eps_frames));
  return float(cfg.eps_start + t * (double(cfg.eps_end) - cfg.eps_start));
}

EvalResult evaluate(Dqn& agent, envs::Env& env, const DqnConfig& cfg, uint64_t seed, int episodes,
                    const std::string& gif_path) {
  EvalResult r;
  HostRng rng(seed);
  std::vector<envs::Image> frames;
  const bool record = !gif_path.empty() && cfg.gif_frames > 0;
  for (int e = 0; e < episodes; ++e) {
    env.reset(rng.next_u64());
    double ret = 0;
    int64_t len = 0;
    if (record && e == 0) frames.push_back(env.render());
    for (;;) {
      const int a = agent.act(env.observation(), cfg.eval_eps, rng);
      const envs::StepResult s = env.step(a);
      ret += s.reward;
      ++len;
      if (record && e == 0 && int(frames.size()) < cfg.gif_frames) frames.push_back(env.render());
      if (s.done()) break;
    }
    r.returns.push_back(ret);
    r.lengths.push_back(len);
  }
  r.stats = ReturnStats::of(r.returns);
  r.length_stats = ReturnStats::of(std::vector<double>(r.lengths.begin(), r.lengths.end()));
  if (record) {
    envs::write_gif(gif_path, frames, 10);
    r.gif = gif_path;
  }
  return r;
}

DqnConfig load_run_config(const std::string& out) {
  return config_from_json(io::RunDir::at(out, /*resume=*/true).read_config());
}

namespace {

// Everything of the frame loop that a checkpoint must restore besides the agent.
struct LoopState {
  int64_t frame = 0;
  int64_t episode = 0;            // index of the running episode
  double ep_return = 0;
  int64_t ep_length = 0;
  // the metrics window since the last log row
  double win_return = 0, win_length = 0;
  int64_t win_episodes = 0;
};

nlohmann::json loop_json(const LoopState& s) {
  return {{"frame", s.frame},           {"episode", s.episode},           {"ep_return", s.ep_return},
          {"ep_length", s.ep_length},   {"win_return", s.win_return},     {"win_length", s.win_length},
          {"win_episodes", s.win_episodes}};
}

LoopState loop_from_json(const nlohmann::json& j) {
  LoopState s;
  try {
    s.frame = j.at("frame").get<int64_t>();
    s.episode = j.at("episode").get<int64_t>();
    s.ep_return = j.at("ep_return").get<double>();
    s.ep_length = j.at("ep_length").get<int64_t>();
    s.win_return = j.at("win_return").get<double>();
    s.win_length = j.at("win_length").get<double>();
    s.win_episodes = j.at("win_episodes").get<int64_t>();
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("checkpoint: bad loop state: ") + e.what());
  }
  return s;
}

std::string frame_tag(int64_t frame) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%010lld", (long long)frame);
  return buf;
}

// Keeps the newest `keep` checkpoints of the run.
void prune_checkpoints(const std::string& dir, int keep) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("step_", 0) == 0 && e.path().extension() == ".ckpt") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  for (size_t i = 0; i + size_t(keep) < files.size(); ++i) fs::remove(files[i], ec);
}

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

DqnRunResult run_dqn(const DqnConfig& cfg_in, Device& dev, const DqnRunOptions& opt) {
  DqnConfig cfg = cfg_in;
  validate(cfg);
  // Build the envs first: an unknown env name fails before anything is written.
  std::unique_ptr<envs::Env> env = envs::make_env(cfg.env, env_options(cfg, false));
  std::unique_ptr<envs::Env> eval_env = envs::make_env(cfg.env, env_options(cfg, true));
  if (opt.out.empty()) throw Error("dqn: no run directory given (--out runs/NAME)");
  io::RunDir run = io::RunDir::at(opt.out, opt.resume);

  // --- resume: everything is read and checked before any file of the run is touched -----------
  std::optional<io::CheckpointData> ck;
  std::string ck_path;
  if (opt.resume) {
    const nlohmann::json saved_json = run.read_config();
    DqnConfig saved = config_from_json(saved_json);
    saved.frames = cfg.frames;
    if (cfg.replicas == 0) cfg.replicas = saved.replicas;   // auto: the run's own
    // Runs from before target_net existed computed the TD target on the device.
    if (!saved_json.contains("target_net")) saved.target_net = "device";
    if (cfg.target_net == "auto") cfg.target_net = saved.target_net;
    if (to_json(saved) != to_json(cfg))
      throw Error("--resume: the configuration differs from " + run.config_path() + " (only --frames may change)");
    if (auto path = run.latest_checkpoint()) {
      ck_path = *path;
      try {
        ck = io::read_checkpoint(ck_path);
      } catch (const Error& e) {
        throw Error("cannot resume from " + ck_path + ": " + e.what() +
                    " (the file is left as it is; move it away to resume from an older checkpoint)");
      }
    }
  }

  if (cfg.replicas == 0) cfg.replicas = nn::auto_replicas(dev, cfg.batch_size);   // config.json records the number
  if (cfg.target_net == "auto") cfg.target_net = auto_target_net(dev);               // ... and the place
  Dqn agent(cfg, dev, env->observation_shape(), env->num_actions());
  LoopState st;
  HostRng act_rng(derive_seed(cfg.seed, 3));
  env->reset(derive_seed(cfg.seed, 1, 0));
  if (ck) {
    try {
      agent.load(*ck);
      st = loop_from_json(ck->meta.at("loop"));
      env->load_state(io::as_u8(io::get_blob(*ck, "env/state")));
      auto rs = io::as_u64(io::get_blob(*ck, "loop/act_rng"));
      if (rs.size() != 4) throw Error("bad RNG state");
      act_rng.set_state({rs[0], rs[1], rs[2], rs[3]});
    } catch (const nlohmann::json::exception& e) {
      throw Error("cannot resume from " + ck_path + ": " + e.what());
    } catch (const Error& e) {
      throw Error("cannot resume from " + ck_path + ": " + e.what());
    }
  }
  run.write_config(to_json(cfg));
  io::MetricsLogger metrics(run.path(), opt.resume, opt.resume ? std::optional<int64_t>(st.frame) : std::nullopt);
  io::MetricsLogger episodes(run.path() + "/episodes", opt.resume,
                             opt.resume ? std::optional<int64_t>(st.frame) : std::nullopt);

  DqnRunResult result;
  result.start_frame = st.frame;
  result.checkpoint = ck_path;
  if (opt.verbose) {
    std::printf("dqn: %s on %s%s, %s%s\n", cfg.env.c_str(), dev.name().c_str(),
                cfg.replicas > 1 ? (" x " + std::to_string(cfg.replicas) + " replicas").c_str() : "",
                opt.resume ? ("resuming at frame " + std::to_string(st.frame)).c_str() : "new run ",
                opt.resume ? "" : run.path().c_str());
    std::printf("config:\n%s", describe(cfg).c_str());
    std::printf("network: %s", agent.online().summary().c_str());
    std::fflush(stdout);
  }

  if (opt.resume) {
    for (int r = 0; r < agent.replicas().size(); ++r) {
      WarmUp w = warm_up_run(agent.replicas().device(r), run.path());
      if (w.pipelines && opt.verbose && r == 0)
        std::printf("warm-up: %zu pipelines from %s/pipelines.txt in %.0f ms\n", w.pipelines, run.path().c_str(), w.ms), std::fflush(stdout);
    }
  }

  auto save_checkpoint = [&]() {
    io::CheckpointData c;
    agent.save(c);
    c.meta["config"] = to_json(cfg);
    c.meta["loop"] = loop_json(st);
    c.meta["env"] = cfg.env;
    c.blobs["env/state"] = io::make_blob(env->save_state());
    auto rs = act_rng.state();
    c.blobs["loop/act_rng"] = io::make_blob(std::vector<uint64_t>(rs.begin(), rs.end()));
    const std::string path = run.checkpoint_path(st.frame);
    io::write_checkpoint(path, c);
    prune_checkpoints(run.checkpoints_dir(), cfg.keep_checkpoints);
    save_run_manifest(agent.device(), run.path());
    result.checkpoint = path;
  };

  std::unique_ptr<io::Progress> progress;
  if (opt.verbose) progress = std::make_unique<io::Progress>(cfg.frames, "dqn");
  using Clock = std::chrono::steady_clock;
  auto window_start = Clock::now();
  int64_t window_frame = st.frame;
  std::string progress_text;
  int64_t last_checkpoint = ck ? st.frame : -1;

  // Dashboard snapshots: the running curves are kept only when someone reads them.
  std::vector<std::pair<int64_t, double>> episode_returns;
  DqnStats last_stats;
  double last_fps = 0;
  auto publish = [&](bool finished) {
    if (!opt.monitor) return;
    DqnSnapshot s;
    s.frame = st.frame, s.total_frames = cfg.frames, s.updates = agent.updates(), s.episodes = st.episode;
    s.epsilon = epsilon_at(cfg, st.frame), s.loss = last_stats.loss, s.q_mean = last_stats.q_mean, s.fps = last_fps;
    s.episode_returns = episode_returns;
    s.evals = result.evals;
    s.screen = env->render();
    s.finished = finished;
    opt.monitor->publish(std::move(s));
  };

  const size_t obs_size = env->observation_shape().size();
  std::vector<uint8_t> obs(env->observation(), env->observation() + obs_size);
  publish(false);
  while (st.frame < cfg.frames) {
    if (opt.stop && opt.stop->load()) {
      result.stopped = true;
      break;
    }
    const float eps = epsilon_at(cfg, st.frame);
    // act
    const int action = agent.act(obs.data(), eps, act_rng);
    const envs::StepResult r = env->step(action);
    // store
    agent.store(obs.data(), action, r.reward, env->observation(), r.terminated, r.truncated);
    st.ep_return += r.reward;
    ++st.ep_length;
    ++st.frame;
    if (r.done()) {
      episodes.log(st.frame, {{"episode", double(st.episode)}, {"return", st.ep_return}, {"length", double(st.ep_length)},
                              {"epsilon", eps}});
      st.win_return += st.ep_return, st.win_length += double(st.ep_length), ++st.win_episodes;
      if (opt.monitor) episode_returns.emplace_back(st.frame, st.ep_return);
      st.ep_return = 0, st.ep_length = 0;
      env->reset(derive_seed(cfg.seed, 1, uint64_t(++st.episode)));
    }
    // The easy-to-miss line: continue from the new observation (the reset one after an episode end).
    obs.assign(env->observation(), env->observation() + obs_size);
    // learn: sample -> target -> loss -> step -> sync target
    if (st.frame >= cfg.learning_starts && st.frame % cfg.train_every == 0) agent.train_step();

    const bool do_eval = cfg.eval_every > 0 && st.frame % cfg.eval_every == 0;
    const bool do_log = st.frame % cfg.log_every == 0 || do_eval;
    EvalResult ev;
    if (do_eval) {
      ev = evaluate(agent, *eval_env, cfg, derive_seed(cfg.seed, 2, uint64_t(st.frame)), cfg.eval_episodes,
                    run.samples_dir() + "/eval_" + frame_tag(st.frame) + ".gif");
      ev.frame = st.frame;
      result.evals.push_back(ev);
    }
    if (do_log) {
      const DqnStats ds = agent.take_stats();
      const double secs = std::chrono::duration<double>(Clock::now() - window_start).count();
      const double fps = secs > 0 ? double(st.frame - window_frame) / secs : 0.0;
      last_stats = ds, last_fps = fps;
      const double ep_ret = st.win_episodes ? st.win_return / double(st.win_episodes) : kNaN;
      const double ep_len = st.win_episodes ? st.win_length / double(st.win_episodes) : kNaN;
      metrics.log(st.frame, {{"episodes", double(st.episode)},
                             {"episode_return", ep_ret},
                             {"episode_length", ep_len},
                             {"loss", ds.loss},
                             {"q_mean", ds.q_mean},
                             {"epsilon", epsilon_at(cfg, st.frame)},
                             {"updates", double(agent.updates())},
                             {"fps", fps},
                             {"eval_return", do_eval ? ev.stats.mean : kNaN},
                             {"eval_return_std", do_eval ? ev.stats.std : kNaN},
                             {"eval_length", do_eval ? ev.length_stats.mean : kNaN}});
      char buf[160];
      std::snprintf(buf, sizeof buf, "return %.2f  eps %.3f  loss %.4f  %.0f frames/s%s", ep_ret, epsilon_at(cfg, st.frame),
                    ds.loss, fps, do_eval ? ("  eval " + std::to_string(ev.stats.mean)).c_str() : "");
      progress_text = buf;
      st.win_return = st.win_length = 0, st.win_episodes = 0;
      window_start = Clock::now();
      window_frame = st.frame;
      if (do_eval && opt.verbose) {
        std::fprintf(stderr, "\neval at frame %lld: return %.3f +- %.3f (min %.2f, max %.2f, length %.1f) %s\n",
                     (long long)st.frame, ev.stats.mean, ev.stats.std, ev.stats.min, ev.stats.max, ev.length_stats.mean,
                     ev.gif.c_str());
      }
    }
    if (progress && (do_log || st.frame % 256 == 0)) progress->update(st.frame, progress_text);
    if (opt.monitor && (do_eval || (opt.publish_every > 0 && st.frame % opt.publish_every == 0))) publish(false);
    if (cfg.checkpoint_every > 0 && st.frame % cfg.checkpoint_every == 0) {
      save_checkpoint();
      last_checkpoint = st.frame;
    }
  }
  if (last_checkpoint != st.frame) save_checkpoint();   // the end of the run, or an interruption
  publish(true);
  if (progress) progress->finish(progress_text);
  result.frames = st.frame;
  result.updates = agent.updates();
  result.episodes = st.episode;
  return result;
}

}  // namespace vkwb::agents
