// vkwb dqn: train a DQN agent (agents/dqn_run.h) or, with --agent tabular, tabular Q-learning on a
// GridWorld. Every DqnConfig field is a flag (--lr, --n-step, --double, --eval-every, ...), applied
// on top of a preset (--preset minatar|small; default by env). Ctrl-C writes a checkpoint first.
#include <cstdlib>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>

#include "agents/core/tabular_q.h"
#include "agents/dqn_run.h"
#include "apps/cli.h"
#include "envs/grid_world.h"
#include "envs/grid_world_planning.h"

namespace vkwb::app {

namespace {

std::atomic<bool> g_stop{false};
extern "C" void on_sigint(int) { g_stop.store(true); }

std::string flag_name(const std::string& field) {
  if (field == "double_q") return "--double,--double-q";
  std::string f = field;
  for (auto& c : f)
    if (c == '_') c = '-';
  return "--" + f;
}

struct DqnArgs {
  std::string out, preset, agent = "dqn";
  bool resume = false;
  int episodes = 500;   // tabular
  std::map<std::string, CLI::Option*> opts;
  std::map<std::string, std::string> text;
  std::map<std::string, bool> flags;
};

void run_tabular(const agents::DqnConfig& cfg, const DqnArgs& a) {
  auto env = envs::make_env(cfg.env, agents::env_options(cfg, false));
  auto* grid = dynamic_cast<envs::GridWorld*>(env.get());
  if (!grid) throw Error("--agent tabular needs a gridworld env (gridworld[:map]), got '" + cfg.env + "'");
  agents::TabularQOptions o;
  o.gamma = cfg.gamma;
  o.episodes = a.episodes;
  o.seed = cfg.seed;
  const agents::TabularQResult q = agents::tabular_q_learning(*grid, o);
  const envs::ValueIterationResult vi = envs::value_iteration(*grid, cfg.gamma);
  const double greedy = agents::rollout_return(*grid, q.greedy_policy, cfg.gamma, cfg.seed);
  double last = 0;
  const size_t n = std::min<size_t>(100, q.episode_returns.size());
  for (size_t i = q.episode_returns.size() - n; i < q.episode_returns.size(); ++i) last += q.episode_returns[i];
  std::printf("tabular Q-learning on %s: %d episodes (alpha %.2f, epsilon %.2f, gamma %.3f)\n", cfg.env.c_str(), a.episodes,
              o.alpha, o.epsilon, o.gamma);
  std::printf("mean return of the last %zu episodes: %.4f\n", n, n ? last / double(n) : 0.0);
  std::printf("greedy policy: discounted return %.6f; value-iteration optimum %.6f%s\n", greedy, vi.start_value,
              std::abs(greedy - vi.start_value) < 1e-6 ? " (optimal)" : "");
  const char* arrows = "^>v<";
  const auto& map = grid->map();
  for (int y = 0; y < map.height; ++y) {
    std::string row;
    for (int x = 0; x < map.width; ++x) {
      const int s = y * map.width + x;
      const char c = map.at(x, y);
      row += (c == '.' || c == 'S') && q.greedy_policy[size_t(s)] >= 0 ? arrows[q.greedy_policy[size_t(s)]] : c;
    }
    std::printf("  %s\n", row.c_str());
  }
}

void run(const DqnArgs& a) {
  agents::DqnConfig cfg;
  std::string env = a.text.count("env") && a.opts.at("env")->count() ? a.text.at("env") : "";
  if (a.resume) {
    if (a.out.empty()) throw Error("--resume needs --out runs/NAME");
    if (!a.preset.empty()) throw Error("--preset cannot be combined with --resume (the run's config.json fixes it)");
    cfg = agents::load_run_config(a.out);
    for (auto& [field, opt] : a.opts) {
      if (!opt->count() || field == "frames") continue;
      throw Error(flag_name(field).substr(0, flag_name(field).find(',')) +
                  " cannot be changed on --resume (the run's config.json fixes it; only --frames may change)");
    }
    if (a.opts.at("frames")->count()) agents::set_field(cfg, "frames", a.text.at("frames"));
  } else {
    if (env.empty()) throw Error("--env is required (e.g. --env minatar-breakout, catch, gridworld:maze)");
    cfg = agents::dqn_preset(a.preset.empty() ? agents::default_preset(env) : a.preset);
    for (auto& [field, opt] : a.opts) {
      if (!opt->count()) continue;
      if (a.flags.count(field)) agents::set_field(cfg, field, a.flags.at(field) ? "true" : "false");
      else agents::set_field(cfg, field, a.text.at(field));
    }
  }
  agents::validate(cfg);
  if (a.agent == "tabular") return run_tabular(cfg, a);
  if (a.agent != "dqn") throw Error("--agent must be dqn or tabular, got '" + a.agent + "'");
  if (a.out.empty()) throw Error("--out is required (the run directory, e.g. runs/breakout-s1)");

  // DQN's kernels are small (batch 32): on llvmpipe the thread-pool hand-off per dispatch costs
  // more than the second core gains (72 -> 91 updates/s measured, docs/PERFORMANCE.md), so run
  // them on the driver's queue thread unless the user chose. Other drivers ignore the variable;
  // results are identical either way (no atomics in any kernel).
  setenv("LP_NUM_THREADS", "0", /*overwrite=*/0);
  Device& dev = open_device();
  g_stop.store(false);
  auto previous = std::signal(SIGINT, on_sigint);
  agents::DqnRunResult r;
  try {
    r = agents::run_dqn(cfg, dev, {.out = a.out, .resume = a.resume, .verbose = true, .stop = &g_stop});
  } catch (...) {
    std::signal(SIGINT, previous);
    throw;
  }
  std::signal(SIGINT, previous);
  std::printf("%s at frame %lld (%lld updates, %lld episodes); checkpoint %s\n", r.stopped ? "interrupted" : "done",
              (long long)r.frames, (long long)r.updates, (long long)r.episodes, r.checkpoint.c_str());
  if (!r.evals.empty()) {
    const auto& e = r.evals.back();
    std::printf("last evaluation (frame %lld): return %.3f +- %.3f over %zu episodes\n", (long long)e.frame, e.stats.mean,
                e.stats.std, e.returns.size());
  }
  if (r.stopped) std::printf("continue with: vkwb dqn --out %s --resume\n", a.out.c_str());
}

void register_dqn(CLI::App& app) {
  auto* cmd = app.add_subcommand("dqn", "train a DQN agent (MinAtar, Catch, GridWorld); see docs/DQN.md");
  auto a = std::make_shared<DqnArgs>();
  cmd->add_option("--out", a->out, "run directory (config.json, metrics, checkpoints/, samples/), e.g. runs/breakout-s1");
  cmd->add_option("--preset", a->preset, "hyper-parameter preset: minatar or small (default: minatar for minatar-*, else small)");
  cmd->add_flag("--resume", a->resume, "continue the run in --out from its newest checkpoint (--frames may be raised)");
  cmd->add_option("--agent", a->agent, "dqn, or tabular (tabular Q-learning on a gridworld; prints the policy)");
  cmd->add_option("--episodes", a->episodes, "tabular: training episodes");
  agents::DqnConfig defaults;
  agents::for_each_field(defaults, [&](const char* name, auto& v, const char* help) {
    using T = std::decay_t<decltype(v)>;
    if constexpr (std::is_same_v<T, bool>) {
      a->flags[name] = false;
      a->opts[name] = cmd->add_flag(flag_name(name), a->flags[name], help);
    } else {
      a->text[name] = "";
      const char* type = std::is_same_v<T, std::string> ? "TEXT" : std::is_integral_v<T> ? "INT" : "FLOAT";
      std::string h = help;
      if constexpr (!std::is_same_v<T, std::string>) {
        std::ostringstream d;
        d << v;
        h += " [minatar preset: " + d.str() + "]";
      } else if (std::string(name) != "env") {
        h += " [minatar preset: " + v + "]";
      }
      a->opts[name] = cmd->add_option(flag_name(name), a->text[name], h)->type_name(type);
    }
  });
  cmd->callback([a] { run(*a); });
}

}  // namespace

static Registrar reg(60, register_dqn);

}  // namespace vkwb::app
