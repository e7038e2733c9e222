// DQN: config plumbing, the host actor against the device network, learning on Catch and a
// GridWorld, exact resume, corrupt checkpoints, and every algorithm variant's update step.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <utility>

#include "agents/dqn.h"
#include "agents/dqn_run.h"
#include "agents/play.h"
#include "engine/autograd.h"
#include "engine/ops.h"
#include "envs/grid_world.h"
#include "envs/grid_world_planning.h"
#include "nets/io/checkpoint_file.h"
#include "support/op_check.h"

using namespace vkwb;
using namespace vkwb::agents;
namespace fs = std::filesystem;

namespace {

// A scratch directory per test, removed afterwards.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& name) {
    path = fs::temp_directory_path() / ("vkwb_dqn_" + std::to_string(getpid()) + "_" + name);
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string run(const std::string& name) const { return (path / name).string(); }
};

DqnConfig tiny(const std::string& env = "catch") {
  DqnConfig c = dqn_preset("small");
  c.env = env;
  c.seed = 3;
  c.hidden = 32;
  c.frames = 600;
  c.learning_starts = 200;
  c.eps_frames = 300;
  c.target_every = 50;
  c.eval_every = 0;
  c.log_every = 100;
  c.checkpoint_every = 0;
  c.gif_frames = 0;
  c.replicas = 1;   // (the default) the tests that look inside the agent use its one device
  return c;
}

std::vector<nlohmann::json> read_jsonl(const std::string& path, bool drop_timing) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (drop_timing) j.erase("fps");
    rows.push_back(j);
  }
  return rows;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(minatar_preset_has_the_paper_values) {
  const DqnConfig c = dqn_preset("minatar");
  BOOST_TEST(c.optimizer == "rmsprop");
  BOOST_TEST(c.lr == 2.5e-4f);
  BOOST_TEST(c.rms_alpha == 0.95f);
  BOOST_TEST(c.rms_centered);
  BOOST_TEST(c.optim_eps == 0.01f);
  BOOST_TEST(c.gamma == 0.99f);
  BOOST_TEST(c.replay_capacity == 100000);
  BOOST_TEST(c.batch_size == 32);
  BOOST_TEST(c.train_every == 1);
  BOOST_TEST(c.learning_starts == 5000);
  BOOST_TEST(c.eps_start == 1.0f);
  BOOST_TEST(c.eps_end == 0.1f);
  BOOST_TEST(c.eps_frames == 100000);
  BOOST_TEST(c.target_every == 1000);
  BOOST_TEST(default_preset("minatar-freeway") == "minatar");
  BOOST_TEST(default_preset("catch") == "small");
  BOOST_CHECK_THROW(dqn_preset("atari"), Error);
}

BOOST_AUTO_TEST_CASE(json_round_trip_and_strict_parsing) {
  DqnConfig c = dqn_preset("small");
  set_field(c, "lr", "3e-3");
  set_field(c, "double_q", "true");
  set_field(c, "frames", "2e5");
  BOOST_TEST(c.lr == 3e-3f);
  BOOST_TEST(c.double_q);
  BOOST_TEST(c.frames == 200000);
  const DqnConfig back = config_from_json(to_json(c));
  BOOST_TEST(to_json(back) == to_json(c));
  BOOST_CHECK_THROW(set_field(c, "lr", "fast"), Error);
  BOOST_CHECK_THROW(set_field(c, "n_step", "1.5"), Error);
  BOOST_CHECK_THROW(set_field(c, "no_such_field", "1"), Error);
  BOOST_CHECK_THROW(config_from_json({{"bogus", 1}}), Error);
  BOOST_CHECK_THROW(config_from_json({{"lr", "high"}}), Error);
  c.n_step = 0;
  BOOST_CHECK_THROW(validate(c), Error);
  BOOST_TEST(describe(dqn_preset("minatar")).find("lr = 0.00025") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(env_settings_reach_the_env) {
  DqnConfig c = dqn_preset("minatar");
  c.env = "minatar-breakout";
  BOOST_TEST(envs::make_env(c.env, env_options(c, false))->num_actions() == 3);
  c.full_action_set = true;
  c.sticky_action_prob = 0.25;
  c.difficulty_ramping = false;
  c.slip_prob = 0.3;
  c.step_reward = -0.5;
  const envs::EnvOptions o = env_options(c, false);
  BOOST_TEST(envs::make_env(c.env, o)->num_actions() == 6);
  BOOST_TEST(o.sticky_action_prob == 0.25);
  BOOST_TEST(!o.difficulty_ramping);
  BOOST_TEST(o.slip_prob == 0.3);
  BOOST_TEST(o.step_reward == -0.5);
  // Every field is a flag and a config.json key.
  DqnConfig back = config_from_json(to_json(c));
  BOOST_TEST(to_json(back) == to_json(c));
  c.slip_prob = 1.5;
  BOOST_CHECK_THROW(validate(c), Error);
}

BOOST_AUTO_TEST_CASE(epsilon_schedule) {
  DqnConfig c = dqn_preset("minatar");
  BOOST_TEST(epsilon_at(c, 0) == 1.f);
  BOOST_TEST(epsilon_at(c, 4999) == 1.f);
  BOOST_TEST(epsilon_at(c, 5000) == 1.f);
  BOOST_TEST(std::abs(epsilon_at(c, 55000) - 0.55f) < 1e-6);
  BOOST_TEST(epsilon_at(c, 105000) == 0.1f);
  BOOST_TEST(epsilon_at(c, 10000000) == 0.1f);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(network)

// The host actor must compute what the device network computes, for every architecture, one
// observation at a time (acting) and in batches (the TD targets): hidden widths below and above
// the host loops' 32-output register block, 11 observations (not a multiple of its group of 8).
BOOST_AUTO_TEST_CASE(host_actor_matches_the_device_network) {
  Device& dev = test::gpu();
  struct Case { envs::ObsShape obs; std::string kind; bool dueling; };
  const Case cases[] = {{{4, 10, 10}, "conv", false}, {{4, 10, 10}, "conv", true}, {{2, 4, 7}, "conv", false},
                        {{3, 5, 6}, "mlp", false},     {{3, 5, 6}, "mlp", true}};
  constexpr int A = 5, n = 11;
  for (const auto& c : cases)
    for (int hidden : {24, 72}) {
      nn::ModuleContext ctx(dev, 11);
      QNetwork net(ctx, {.obs = c.obs, .num_actions = A, .kind = c.kind, .hidden = hidden, .dueling = c.dueling});
      HostQNet host = net.make_host();
      net.copy_weights(host);
      HostRng rng(5);
      const size_t m = c.obs.size();
      std::vector<float> x(n * m);
      for (auto& v : x) v = rng.uniform() < 0.3 ? 1.f : 0.f;
      std::vector<float> want;
      {
        NoGradGuard ng;
        want = net.forward(Tensor::from(x, {n, c.obs.c, c.obs.h, c.obs.w}, dev)).to_vector();
      }
      std::vector<float> batch(n * A), one(A);
      host.forward_batch(x.data(), n, batch.data());
      const std::string name = c.kind + (c.dueling ? " dueling" : "") + " hidden " + std::to_string(hidden);
      for (int i = 0; i < n; ++i) {
        host.forward(x.data() + size_t(i) * m, one.data());
        for (int a = 0; a < A; ++a) {
          const float w = want[size_t(i * A + a)], b = batch[size_t(i * A + a)];
          BOOST_TEST(std::abs(b - w) < 1e-4 + 1e-4 * std::abs(w),
                     name << " obs " << i << " action " << a << ": host " << b << " device " << w);
          BOOST_TEST(one[size_t(a)] == b, name << " obs " << i << " action " << a << ": one at a time " << one[size_t(a)]
                                              << " in the batch " << b);
        }
      }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(variants)

// Each option trains for a few hundred frames with a finite loss that actually changes the weights.
BOOST_AUTO_TEST_CASE(every_variant_runs_with_a_finite_loss) {
  Device& dev = test::gpu();
  struct Variant { const char* name; std::function<void(DqnConfig&)> set; };
  const Variant variants[] = {
      {"double", [](DqnConfig& c) { c.double_q = true; }},
      {"dueling", [](DqnConfig& c) { c.dueling = true; }},
      {"n-step 3", [](DqnConfig& c) { c.n_step = 3; }},
      {"prioritized", [](DqnConfig& c) { c.prioritized = true; }},
      {"prioritized mse", [](DqnConfig& c) { c.prioritized = true, c.loss = "mse"; }},
      {"rmsprop centered, clipped", [](DqnConfig& c) { c.optimizer = "rmsprop", c.lr = 2.5e-4f, c.optim_eps = 0.01f, c.grad_clip = 1.f; }},
      {"soft target", [](DqnConfig& c) { c.tau = 0.05f, c.target_every = 1; }},
      {"device actor", [](DqnConfig& c) { c.actor = "device"; }},
      {"device target", [](DqnConfig& c) { c.target_net = "device"; }},
      {"device target, double, soft", [](DqnConfig& c) { c.target_net = "device", c.double_q = true, c.tau = 0.05f, c.target_every = 1; }},
      {"conv net", [](DqnConfig& c) { c.network = "conv", c.hidden = 16; }},
      {"all together", [](DqnConfig& c) { c.double_q = c.dueling = c.prioritized = true, c.n_step = 3, c.actor_sync_every = 4; }},
  };
  for (const auto& v : variants) {
    DqnConfig c = tiny();
    c.learning_starts = 64;
    v.set(c);
    auto env = envs::make_env(c.env);
    Dqn agent(c, dev, env->observation_shape(), env->num_actions());
    const std::vector<float> before = agent.online().parameters()[0]->to_vector();
    HostRng rng(1);
    env->reset(1);
    std::vector<uint8_t> obs(env->observation(), env->observation() + env->observation_shape().size());
    uint64_t episode = 0;
    for (int frame = 1; frame <= 200; ++frame) {
      const int a = agent.act(obs.data(), frame < 64 ? 1.f : 0.2f, rng);
      const auto r = env->step(a);
      agent.store(obs.data(), a, r.reward, env->observation(), r.terminated, r.truncated);
      if (r.done()) env->reset(++episode + 1);
      obs.assign(env->observation(), env->observation() + obs.size());
      if (frame >= c.learning_starts) agent.train_step();
    }
    const DqnStats s = agent.take_stats();
    BOOST_TEST(s.updates == 137, v.name);
    BOOST_TEST(std::isfinite(s.loss), v.name << ": loss " << s.loss);
    BOOST_TEST(std::isfinite(s.q_mean), v.name << ": mean Q " << s.q_mean);
    BOOST_TEST(agent.online().parameters()[0]->to_vector() != before, v.name << ": weights did not change");
  }
}

namespace {
std::vector<float> flat(std::vector<Tensor*> ps) {
  std::vector<float> all;
  for (auto* t : ps) {
    auto v = t->to_vector();
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}
// The largest |a - b| and the largest |a - start|: how far two runs from the same start parted,
// against how far they moved.
std::pair<double, double> divergence(const std::vector<float>& a, const std::vector<float>& b, const std::vector<float>& start) {
  double worst = 0, moved = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    worst = std::max(worst, double(std::abs(a[i] - b[i])));
    moved = std::max(moved, double(std::abs(a[i] - start[i])));
  }
  return {worst, moved};
}
// Fills the replay buffer of `agent` with `n` random Catch transitions.
void fill_replay(Dqn& agent, int n, uint64_t seed) {
  auto env = envs::make_env("catch");
  HostRng rng(seed);
  env->reset(seed);
  std::vector<uint8_t> obs(env->observation(), env->observation() + env->observation_shape().size());
  for (int i = 0; i < n; ++i) {
    const int a = int(rng.uniform() * env->num_actions()) % env->num_actions();
    const auto r = env->step(a);
    agent.store(obs.data(), a, r.reward, env->observation(), r.terminated, r.truncated);
    if (r.done()) env->reset(seed + uint64_t(i) + 1);
    obs.assign(env->observation(), env->observation() + obs.size());
  }
}
}  // namespace

BOOST_AUTO_TEST_CASE(hard_target_sync_copies_every_c_updates) {
  DqnConfig c = tiny();
  c.target_every = 5;
  auto env = envs::make_env(c.env);
  Dqn agent(c, test::gpu(), env->observation_shape(), env->num_actions());
  fill_replay(agent, 100, 2);
  const auto start = flat(agent.target().parameters());
  BOOST_TEST((start == flat(agent.online().parameters())));   // the target starts as a copy
  for (int u = 1; u <= 4; ++u) agent.train_step();
  BOOST_TEST((flat(agent.target().parameters()) == start));   // untouched between syncs
  BOOST_TEST((flat(agent.online().parameters()) != start));
  agent.train_step();   // update 5: copy
  const auto synced = flat(agent.target().parameters());
  BOOST_TEST((synced == flat(agent.online().parameters())));
  agent.train_step();
  BOOST_TEST((flat(agent.target().parameters()) == synced));
  BOOST_TEST((flat(agent.online().parameters()) != synced));
}

// Two data-parallel replicas learn what one learns from the same batches (each replica on half
// of every batch; gradients averaged): the same weights up to float summation order, the same
// statistics, and both replicas (and their targets) in step.
BOOST_AUTO_TEST_CASE(two_replicas_update_like_one) {
  for (bool per : {false, true}) {
    BOOST_TEST_CONTEXT("prioritized " << per) {
      DqnConfig c = tiny();
      c.target_every = 4;
      c.double_q = true;
      c.prioritized = per;
      c.batch_size = 33;
      auto env = envs::make_env(c.env);
      Dqn one(c, test::gpu(), env->observation_shape(), env->num_actions());
      c.replicas = 2;
      Dqn two(c, test::gpu(), env->observation_shape(), env->num_actions());
      BOOST_REQUIRE_EQUAL(two.replicas().size(), 2);
      fill_replay(one, 100, 2);
      fill_replay(two, 100, 2);
      const auto start = flat(one.online().parameters());
      BOOST_TEST((flat(two.online().parameters()) == start));
      for (int u = 0; u < 10; ++u) one.train_step(), two.train_step();
      const auto a = flat(one.online().parameters()), b = flat(two.online().parameters());
      const auto [worst, moved] = divergence(a, b, start);
      BOOST_TEST(moved > 1e-4);
      BOOST_TEST(worst < 1e-3 * moved, "largest difference " << worst << ", largest move " << moved);
      BOOST_TEST((flat(two.replicas().model(1).parameters()) == b));   // replica 1 took the same steps
      const auto sa = one.take_stats(), sb = two.take_stats();
      BOOST_TEST(sa.updates == sb.updates);
      BOOST_TEST(std::abs(sa.loss - sb.loss) < 1e-4 * std::max(1.0, std::abs(sa.loss)));
      BOOST_TEST(std::abs(sa.q_mean - sb.q_mean) < 1e-4 * std::max(1.0, std::abs(sa.q_mean)));
    }
  }
}

// The TD target from the host copy of the target network (target_net = host, what auto picks on
// a CPU driver) drives the same learning as the device's: the same weights up to float summation
// order over updates that span several target syncs (the copy must follow each one), for the
// plain and the Double DQN target, soft syncs, and two replicas sharing the one host computation.
BOOST_AUTO_TEST_CASE(host_td_target_learns_like_the_device_one) {
  struct Case { const char* name; bool double_q; float tau; int replicas; const char* network; };
  for (Case k : {Case{"plain", false, 1.f, 1, "mlp"}, Case{"double", true, 1.f, 1, "mlp"}, Case{"soft", false, 0.3f, 1, "mlp"},
                 Case{"conv, double, 2 replicas", true, 1.f, 2, "conv"}}) {
    BOOST_TEST_CONTEXT(k.name) {
      DqnConfig c = tiny();
      c.target_every = 3;
      c.lr = 1e-2f;   // big steps, so a stale target copy would show
      c.double_q = k.double_q;
      c.tau = k.tau;
      c.replicas = k.replicas;
      c.network = k.network;
      c.hidden = 16;
      auto env = envs::make_env(c.env);
      BOOST_TEST(Dqn(c, test::gpu(), env->observation_shape(), env->num_actions()).config().target_net == auto_target_net(test::gpu()));
      c.target_net = "device";
      Dqn on_device(c, test::gpu(), env->observation_shape(), env->num_actions());
      c.target_net = "host";
      Dqn on_host(c, test::gpu(), env->observation_shape(), env->num_actions());
      fill_replay(on_device, 100, 2);
      fill_replay(on_host, 100, 2);
      const auto start = flat(on_device.online().parameters());
      BOOST_REQUIRE((flat(on_host.online().parameters()) == start));
      double worst_loss = 0;
      for (int u = 0; u < 12; ++u) {
        on_device.train_step(), on_host.train_step();
        const auto sd = on_device.take_stats(), sh = on_host.take_stats();
        worst_loss = std::max(worst_loss, std::abs(sd.loss - sh.loss) / std::max(1e-3, std::abs(sd.loss)));
      }
      const auto a = flat(on_device.online().parameters()), b = flat(on_host.online().parameters());
      const auto [worst, moved] = divergence(a, b, start);
      BOOST_TEST(moved > 1e-3);
      BOOST_TEST(worst < 1e-4 * moved, "largest difference " << worst << ", largest move " << moved);
      BOOST_TEST(worst_loss < 1e-4, "largest relative loss difference " << worst_loss);
    }
  }
}

// The optimizer's updates on the host (what a CPU driver with one replica gets) are the kernel's
// bit for bit: the same weights, optimizer state and statistics after updates across target syncs,
// for centred RMSprop (the preset) and Adam with gradient clipping. VKWB_HOST_OPTIM overrides
// the choice.
BOOST_AUTO_TEST_CASE(host_optimizer_updates_bit_for_bit_like_the_kernel) {
  for (const char* optimizer : {"rmsprop", "adam"}) {
    BOOST_TEST_CONTEXT(optimizer) {
      DqnConfig c = tiny();
      c.target_every = 3;
      c.optimizer = optimizer;
      c.grad_clip = std::string(optimizer) == "adam" ? 0.5f : 0.f;
      c.network = "conv";
      auto env = envs::make_env(c.env);
      setenv("VKWB_HOST_OPTIM", "0", 1);
      Dqn on_device(c, test::gpu(), env->observation_shape(), env->num_actions());
      BOOST_TEST(!on_device.replicas().optimizer(0).host_update());
      setenv("VKWB_HOST_OPTIM", "1", 1);
      Dqn on_host(c, test::gpu(), env->observation_shape(), env->num_actions());
      BOOST_TEST(on_host.replicas().optimizer(0).host_update());
      unsetenv("VKWB_HOST_OPTIM");
      BOOST_TEST(use_host_optimizer(test::gpu(), 1) == test::gpu().runs_on_host_cores());
      BOOST_TEST(!use_host_optimizer(test::gpu(), 2));
      fill_replay(on_device, 100, 2);
      fill_replay(on_host, 100, 2);
      const auto start = flat(on_device.online().parameters());
      for (int u = 0; u < 10; ++u) on_device.train_step(), on_host.train_step();
      BOOST_TEST((flat(on_device.online().parameters()) != start));
      BOOST_TEST((flat(on_device.online().parameters()) == flat(on_host.online().parameters())));
      BOOST_TEST((flat(on_device.target().parameters()) == flat(on_host.target().parameters())));
      const auto sd = on_device.replicas().optimizer(0).state_dict(), sh = on_host.replicas().optimizer(0).state_dict();
      BOOST_REQUIRE_EQUAL(sd.size(), sh.size());
      for (const auto& [k, t] : sd) BOOST_TEST((t.to_vector() == sh.at(k).to_vector()), "state " << k);
      const auto a = on_device.take_stats(), b = on_host.take_stats();
      BOOST_TEST(a.loss == b.loss);
      BOOST_TEST(a.q_mean == b.q_mean);
    }
  }
}

// The hidden layers on the host (weight gradients overlapped with the device's backward pass;
// also forward and data gradients), what a CPU driver with one replica gets, train exactly like
// the device's GEMMs: plain and dueling (two hidden layers share the trunk's gradient), conv and
// MLP networks.
BOOST_AUTO_TEST_CASE(host_linear_layers_train_bit_for_bit_like_the_kernels) {
  struct Case { const char* network; bool dueling; };
  for (Case k : {Case{"conv", false}, Case{"conv", true}, Case{"mlp", false}}) {
    BOOST_TEST_CONTEXT(k.network << (k.dueling ? " dueling" : "")) {
      DqnConfig c = tiny();
      c.target_every = 3;
      c.network = k.network;
      c.dueling = k.dueling;
      auto env = envs::make_env(c.env);
      setenv("VKWB_LINEAR", "device", 1);
      Dqn on_device(c, test::gpu(), env->observation_shape(), env->num_actions());
      BOOST_TEST((on_device.online().options().hidden_exec == LinearExec::device));
      setenv("VKWB_LINEAR", "host_wgrad", 1);
      Dqn wgrad(c, test::gpu(), env->observation_shape(), env->num_actions());
      BOOST_TEST((wgrad.online().options().hidden_exec == LinearExec::host_wgrad));
      setenv("VKWB_LINEAR", "host", 1);
      Dqn on_host(c, test::gpu(), env->observation_shape(), env->num_actions());
      BOOST_TEST((on_host.online().options().hidden_exec == LinearExec::host));
      setenv("VKWB_LINEAR", "fast", 1);
      BOOST_CHECK_THROW(hidden_linear_exec(test::gpu(), 1), Error);
      unsetenv("VKWB_LINEAR");
      const bool host_ok = test::gpu().runs_on_host_cores() && host_linear_supported(test::gpu());
      BOOST_TEST((hidden_linear_exec(test::gpu(), 1) == (host_ok ? LinearExec::host : LinearExec::device)));
      BOOST_TEST((hidden_linear_exec(test::gpu(), 2) == LinearExec::device));
      for (Dqn* a : {&on_device, &wgrad, &on_host}) fill_replay(*a, 100, 2);
      const auto start = flat(on_device.online().parameters());
      BOOST_REQUIRE((flat(on_host.online().parameters()) == start));
      for (int u = 0; u < 10; ++u) on_device.train_step(), wgrad.train_step(), on_host.train_step();
      BOOST_TEST((flat(on_device.online().parameters()) != start));
      BOOST_TEST((flat(on_device.online().parameters()) == flat(wgrad.online().parameters())));
      BOOST_TEST((flat(on_device.online().parameters()) == flat(on_host.online().parameters())));
      const auto a = on_device.take_stats(), b = wgrad.take_stats(), h = on_host.take_stats();
      BOOST_TEST(a.loss == b.loss);
      BOOST_TEST(a.loss == h.loss);
    }
  }
}

BOOST_AUTO_TEST_CASE(soft_target_sync_is_polyak_averaging) {
  DqnConfig c = tiny();
  c.tau = 0.25f;
  c.target_every = 2;   // averaging every second update
  auto env = envs::make_env(c.env);
  Dqn agent(c, test::gpu(), env->observation_shape(), env->num_actions());
  fill_replay(agent, 100, 3);
  for (int round = 0; round < 3; ++round) {
    const auto before = flat(agent.target().parameters());
    agent.train_step();
    BOOST_TEST((flat(agent.target().parameters()) == before));   // odd update: no sync
    agent.train_step();
    const auto online = flat(agent.online().parameters()), after = flat(agent.target().parameters());
    double worst = 0;
    for (size_t i = 0; i < after.size(); ++i) worst = std::max(worst, std::abs(double(after[i]) - (0.25 * online[i] + 0.75 * before[i])));
    BOOST_TEST(worst < 1e-6, "round " << round << ": |target - (tau online + (1 - tau) target_old)| = " << worst);
    BOOST_TEST((after != before));
  }
}

BOOST_AUTO_TEST_CASE(td_targets_plain_double_and_terminal) {
  // One stored transition, so every sampled batch is 32 copies of it and the MSE loss of the
  // first update is (Q(s, a) - y)^2 with y from the weights before the step, computed here.
  Device& dev = test::gpu();
  auto env = envs::make_env("catch");
  const auto shape = env->observation_shape();
  env->reset(5);
  std::vector<uint8_t> s(env->observation(), env->observation() + shape.size());
  // Candidates for s': frames of one episode; pick one where the online and the target networks
  // disagree on the best action, so that Double DQN's target differs from the plain one.
  std::vector<std::vector<uint8_t>> frames;
  for (int i = 0; i < 8; ++i) {
    env->step(i % 3);
    frames.emplace_back(env->observation(), env->observation() + shape.size());
  }
  auto q_of = [&](QNetwork& net, const std::vector<uint8_t>& o) {
    NoGradGuard ng;
    std::vector<float> x(o.begin(), o.end());
    return net.forward(Tensor::from(x, {1, shape.c, shape.h, shape.w}, dev)).to_vector();
  };
  auto argmax = [](const std::vector<float>& v) { return int(std::max_element(v.begin(), v.end()) - v.begin()); };
  struct Case { const char* name; bool double_q, terminated; };
  for (const char* where : {"host", "device"}) {   // the TD target's forward: target_net
  BOOST_TEST_CONTEXT("target_net " << where) {
  double plain_y = 0, double_y = 0;
  for (Case k : {Case{"plain", false, false}, Case{"double", true, false}, Case{"terminal", false, true}}) {
    DqnConfig c = tiny();
    c.loss = "mse";
    c.double_q = k.double_q;
    c.target_net = where;
    Dqn agent(c, dev, shape, env->num_actions());
    DqnConfig other_cfg = c;
    other_cfg.seed = 99;
    Dqn other(other_cfg, dev, shape, env->num_actions());
    {   // a target network different from the online one: another seed's weights
      NoGradGuard ng;
      auto dst = agent.target().parameters(), src = other.online().parameters();
      for (size_t i = 0; i < dst.size(); ++i) copy_(*dst[i], *src[i]);
    }
    const std::vector<uint8_t>* next = &frames[0];
    for (auto& f : frames)
      if (argmax(q_of(agent.online(), f)) != argmax(q_of(agent.target(), f))) { next = &f; break; }
    const auto q_s = q_of(agent.online(), s), q_on = q_of(agent.online(), *next), q_tg = q_of(agent.target(), *next);
    BOOST_REQUIRE(argmax(q_on) != argmax(q_tg));
    const int a = 1;
    const float r = 0.5f;
    agent.store(s.data(), a, r, next->data(), k.terminated, false);
    agent.train_step();
    double y = r;
    if (!k.terminated) y += c.gamma * (k.double_q ? q_tg[size_t(argmax(q_on))] : *std::max_element(q_tg.begin(), q_tg.end()));
    (k.double_q ? double_y : plain_y) = y;
    const double want = (q_s[a] - y) * (q_s[a] - y);
    const double got = agent.take_stats().loss;
    BOOST_TEST(std::abs(got - want) < 1e-5 + 1e-4 * want, k.name << ": loss " << got << ", want (Q(s,a) - y)^2 = " << want);
  }
  BOOST_TEST(std::abs(plain_y - double_y) > 1e-4);   // the two targets did differ
  }
  }
}

BOOST_AUTO_TEST_CASE(dueling_head_is_value_plus_centred_advantage) {
  // Q = V + A - mean(A): a constant added to the advantage stream's output bias leaves Q as it is,
  // the same constant on the value stream's bias shifts every Q by it.
  Device& dev = test::gpu();
  nn::ModuleContext ctx(dev, 4);
  QNetwork net(ctx, {.obs = {4, 10, 10}, .num_actions = 5, .kind = "conv", .hidden = 16, .dueling = true});
  Tensor x = Tensor::rand({3, 4, 10, 10}, dev, 9);
  auto q = [&] {
    NoGradGuard ng;
    return net.forward(x).to_vector();
  };
  const auto q0 = q();
  Tensor* adv_bias = nullptr;
  Tensor* value_bias = nullptr;
  for (auto& [name, t] : net.named_parameters()) {
    if (name.rfind("advantage.", 0) == 0 && name.find("bias") != std::string::npos) adv_bias = t;   // the last one wins
    if (name.rfind("value.", 0) == 0 && name.find("bias") != std::string::npos) value_bias = t;
  }
  BOOST_REQUIRE(adv_bias && value_bias);
  BOOST_REQUIRE_EQUAL(adv_bias->numel(), 5);
  BOOST_REQUIRE_EQUAL(value_bias->numel(), 1);
  {
    NoGradGuard ng;
    copy_(*adv_bias, add(*adv_bias, 5.f));
  }
  const auto q1 = q();
  for (size_t i = 0; i < q0.size(); ++i) BOOST_TEST(std::abs(q1[i] - q0[i]) < 1e-4);
  {
    NoGradGuard ng;
    copy_(*value_bias, add(*value_bias, 5.f));
  }
  const auto q2 = q();
  for (size_t i = 0; i < q0.size(); ++i) BOOST_TEST(std::abs(q2[i] - (q0[i] + 5.f)) < 1e-4);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(learning)

BOOST_AUTO_TEST_CASE(solves_catch) {
  TempDir tmp("catch");
  DqnConfig c = dqn_preset("small");
  c.env = "catch";
  // Plain DQN (no n-step): PyTorch with the same settings needs 5-6k frames too. Catch at 6-10k
  // frames is not solved by every seed (seeds 1-5, 30 greedy episodes: 3 of 5 reach 0.9 at 8k
  // with the TD target on the host and on the device alike); seed 1 at 8k gives 1.0 on both.
  c.seed = 1;
  c.frames = 8000;
  c.eval_every = 8000;
  c.eval_episodes = 30;
  c.gif_frames = 20;
  const DqnRunResult r = run_dqn(c, test::gpu(), {.out = tmp.run("catch"), .verbose = false});
  BOOST_TEST(load_run_config(tmp.run("catch")).replicas == 1);
  BOOST_REQUIRE(!r.evals.empty());
  BOOST_TEST(r.evals.back().stats.mean >= 0.9, "evaluation mean return " << r.evals.back().stats.mean);
  BOOST_TEST(fs::file_size(r.evals.back().gif) > 0);
  BOOST_TEST(fs::exists(tmp.run("catch") + "/config.json"));
  BOOST_TEST(read_jsonl(tmp.run("catch") + "/metrics.jsonl", false).size() == size_t(c.frames / c.log_every));   // one row per log_every frames

  // play: the trained greedy policy also catches, the random one mostly does not
  PlayOptions po;
  po.policy = "greedy";
  po.checkpoint = tmp.run("catch");
  po.episodes = 50;
  po.gif = tmp.run("play.gif");
  const PlayResult greedy = play(test::gpu(), po);
  BOOST_TEST(greedy.env == "catch");
  BOOST_TEST(greedy.ret.mean >= 0.9);
  BOOST_TEST(fs::exists(po.gif));
  const PlayResult random = play(test::gpu(), {.env = "catch", .policy = "random", .episodes = 50});
  BOOST_TEST(random.ret.mean < 0.5);
  BOOST_TEST(random.length.mean == 9.0);
}

BOOST_AUTO_TEST_CASE(finds_the_optimal_path_in_a_grid_world) {
  TempDir tmp("grid");
  DqnConfig c = dqn_preset("small");
  c.env = "gridworld:empty5";
  c.seed = 1;
  c.n_step = 3;   // plain 1-step DQN finds the goal too, but needs ~4k frames here
  c.frames = 2500;
  c.eps_frames = 1500;
  c.eval_every = 0;
  const DqnRunResult r = run_dqn(c, test::gpu(), {.out = tmp.run("grid"), .verbose = false});
  BOOST_TEST(r.frames == 2500);

  auto env = envs::make_env(c.env, env_options(c, false));
  auto& grid = dynamic_cast<envs::GridWorld&>(*env);
  const double optimum = envs::value_iteration(grid, c.gamma).start_value;
  const PlayResult p = play(test::gpu(), {.policy = "greedy", .checkpoint = r.checkpoint, .episodes = 1});
  double discounted = 0, scale = 1;
  // The greedy episode is deterministic (no slip): rebuild its discounted return from its length.
  const int64_t steps = p.lengths[0];
  for (int64_t t = 0; t < steps; ++t, scale *= c.gamma) discounted += scale * (t + 1 == steps ? 1.0 : grid.options().step_reward);
  BOOST_TEST(p.returns[0] > 0.9, "greedy return " << p.returns[0] << " in " << steps << " steps");
  BOOST_TEST(std::abs(discounted - optimum) < 1e-6, "greedy discounted return " << discounted << ", optimum " << optimum);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(checkpoints)

// Train N frames in one go, and N/2 + resume + N/2: weights, optimizer, replay and metrics must match.
void check_resume(const std::string& name, DqnConfig c) {
  TempDir tmp(name);
  Device& dev = test::gpu();
  const int64_t n = c.frames;
  const DqnRunResult full = run_dqn(c, dev, {.out = tmp.run("full"), .verbose = false});
  DqnConfig half = c;
  half.frames = n / 2;
  const DqnRunResult first = run_dqn(half, dev, {.out = tmp.run("split"), .verbose = false});
  BOOST_TEST(first.frames == n / 2);
  DqnConfig resumed_cfg = load_run_config(tmp.run("split"));
  resumed_cfg.frames = n;
  const DqnRunResult second = run_dqn(resumed_cfg, dev, {.out = tmp.run("split"), .resume = true, .verbose = false});
  BOOST_TEST(second.start_frame == n / 2);
  BOOST_TEST(second.frames == n);
  BOOST_TEST(second.updates == full.updates);
  BOOST_TEST(second.episodes == full.episodes);

  const io::CheckpointData a = io::read_checkpoint(full.checkpoint);
  const io::CheckpointData b = io::read_checkpoint(second.checkpoint);
  BOOST_TEST(a.blobs.size() == b.blobs.size());
  for (const auto& [key, blob] : a.blobs) {
    auto it = b.blobs.find(key);
    BOOST_REQUIRE_MESSAGE(it != b.blobs.end(), key);
    BOOST_TEST((blob.bytes == it->second.bytes), name << ": " << key << " differs after resume");
  }
  BOOST_TEST(a.meta["loop"] == b.meta["loop"]);
  for (const char* file : {"/metrics.jsonl", "/episodes/metrics.jsonl"}) {
    const auto ra = read_jsonl(tmp.run("full") + file, true), rb = read_jsonl(tmp.run("split") + file, true);
    BOOST_TEST(ra.size() == rb.size(), file);
    for (size_t i = 0; i < std::min(ra.size(), rb.size()); ++i) BOOST_TEST(ra[i] == rb[i], file << " row " << i);
  }
  BOOST_TEST(fs::exists(tmp.run("split") + "/samples"));
}

BOOST_AUTO_TEST_CASE(resume_continues_exactly) {
  DqnConfig c = tiny();
  c.frames = 800;
  c.eval_every = 200;
  c.eval_episodes = 3;
  c.checkpoint_every = 300;   // not aligned with the half: the split run also ends mid-window
  check_resume("resume_plain", c);
}

BOOST_AUTO_TEST_CASE(resume_continues_exactly_with_every_option) {
  DqnConfig c = tiny();
  c.frames = 600;
  c.double_q = c.dueling = c.prioritized = true;
  c.n_step = 3;
  c.actor_sync_every = 7;
  c.tau = 0.5f;
  c.log_every = 70;
  check_resume("resume_all", c);
}

// Two data-parallel learner replicas: the resumed run is still exact, with every option.
BOOST_AUTO_TEST_CASE(resume_continues_exactly_on_two_replicas) {
  DqnConfig c = tiny();
  c.frames = 600;
  c.replicas = 2;
  c.batch_size = 31;   // shards of 16 and 15
  c.double_q = c.dueling = c.prioritized = true;
  c.n_step = 3;
  c.log_every = 70;
  check_resume("resume_replicas", c);
}

// config.json records where target_net = auto put the TD target; resuming with auto keeps the
// run's own choice, and a run recorded before the option existed (no key) continues on the device.
BOOST_AUTO_TEST_CASE(resume_keeps_the_runs_target_net) {
  TempDir tmp("target_net");
  DqnConfig c = tiny();
  c.frames = 300;
  run_dqn(c, test::gpu(), {.out = tmp.run("run"), .verbose = false});
  const std::string chosen = auto_target_net(test::gpu());   // lavapipe: host
  BOOST_TEST(load_run_config(tmp.run("run")).target_net == chosen);
  c.frames = 400;
  run_dqn(c, test::gpu(), {.out = tmp.run("run"), .resume = true, .verbose = false});
  BOOST_TEST(load_run_config(tmp.run("run")).target_net == chosen);
  const std::string path = tmp.run("run") + "/config.json";
  auto j = nlohmann::json::parse(slurp(path));
  j.erase("target_net");
  std::ofstream(path, std::ios::trunc) << j.dump(2);
  c.frames = 500;
  const DqnRunResult r = run_dqn(c, test::gpu(), {.out = tmp.run("run"), .resume = true, .verbose = false});
  BOOST_TEST(r.frames == 500);
  BOOST_TEST(load_run_config(tmp.run("run")).target_net == "device");
  c.target_net = "host";   // an explicit place other than the recorded one is a changed configuration
  c.frames = 600;
  BOOST_CHECK_THROW(run_dqn(c, test::gpu(), {.out = tmp.run("run"), .resume = true, .verbose = false}), Error);
}

BOOST_AUTO_TEST_CASE(corrupt_checkpoint_gives_a_clear_error_and_loses_nothing) {
  TempDir tmp("corrupt");
  DqnConfig c = tiny();
  c.frames = 300;
  const DqnRunResult r = run_dqn(c, test::gpu(), {.out = tmp.run("run"), .verbose = false});
  const std::string metrics_before = slurp(tmp.run("run") + "/metrics.csv");
  std::string bytes = slurp(r.checkpoint);
  bytes[bytes.size() / 2] ^= 0x5a;
  {
    std::ofstream out(r.checkpoint, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
  }
  DqnConfig more = c;
  more.frames = 600;
  try {
    run_dqn(more, test::gpu(), {.out = tmp.run("run"), .resume = true, .verbose = false});
    BOOST_FAIL("resume from a corrupt checkpoint did not throw");
  } catch (const Error& e) {
    const std::string msg = e.what();
    BOOST_TEST(msg.find("cannot resume from") != std::string::npos, msg);
    BOOST_TEST(msg.find(r.checkpoint) != std::string::npos, msg);
    BOOST_TEST(msg.find('\n') == std::string::npos, msg);
  }
  BOOST_TEST(slurp(r.checkpoint) == bytes);   // left in place
  BOOST_TEST(slurp(tmp.run("run") + "/metrics.csv") == metrics_before);
  DqnConfig recorded = c;
  recorded.target_net = auto_target_net(test::gpu());   // config.json records where "auto" put it
  BOOST_TEST(to_json(load_run_config(tmp.run("run"))) == to_json(recorded));

  // A changed hyper-parameter on resume is refused, an unknown env fails before creating anything.
  DqnConfig other = c;
  other.lr = 0.5f;
  BOOST_CHECK_THROW(run_dqn(other, test::gpu(), {.out = tmp.run("run"), .resume = true, .verbose = false}), Error);
  DqnConfig bad = c;
  bad.env = "pong";
  BOOST_CHECK_THROW(run_dqn(bad, test::gpu(), {.out = tmp.run("never"), .verbose = false}), Error);
  BOOST_TEST(!fs::exists(tmp.run("never")));
  BOOST_CHECK_THROW(run_dqn(c, test::gpu(), {.out = tmp.run("run"), .verbose = false}), Error);   // exists already
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(monitor)

// A reader thread sees consistent, growing snapshots while the run trains, and the last one
// matches the run's result.
BOOST_AUTO_TEST_CASE(snapshots_for_a_dashboard_thread) {
  TempDir tmp("monitor");
  DqnConfig c = tiny();
  c.eval_every = 300;
  c.eval_episodes = 2;
  DqnMonitor mon;
  std::atomic<bool> done{false};
  std::atomic<int> bad{0}, seen{0};
  std::thread reader([&] {
    uint64_t last_version = 0;
    int64_t last_frame = -1;
    while (!done.load()) {
      if (mon.version() != last_version) {
        DqnSnapshot s = mon.snapshot();
        last_version = mon.version();
        if (s.frame < last_frame || s.total_frames != c.frames || s.screen.rgb.size() != size_t(3 * s.screen.width * s.screen.height) ||
            s.screen.width <= 0 || int64_t(s.episode_returns.size()) > s.episodes)
          ++bad;
        last_frame = s.frame;
        ++seen;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  const DqnRunResult r = run_dqn(c, test::gpu(), {.out = tmp.run("run"), .verbose = false, .monitor = &mon, .publish_every = 100});
  done = true;
  reader.join();
  BOOST_TEST(bad.load() == 0);
  BOOST_TEST(seen.load() >= 1);
  // 1 at the start, 6 every 100 frames (the evaluations at 300 and 600 among them), 1 at the end.
  BOOST_TEST(mon.version() == 8u);
  const DqnSnapshot last = mon.snapshot();
  BOOST_TEST(last.finished);
  BOOST_TEST(last.frame == r.frames);
  BOOST_TEST(last.updates == r.updates);
  BOOST_TEST(last.episodes == r.episodes);
  BOOST_TEST(int64_t(last.episode_returns.size()) == r.episodes);
  BOOST_TEST(last.evals.size() == 2u);
  BOOST_TEST(last.evals.size() == r.evals.size());
  BOOST_TEST(std::isfinite(last.loss));
  for (auto& [frame, ret] : last.episode_returns) BOOST_TEST((ret == 1.0 || ret == -1.0));
}

BOOST_AUTO_TEST_SUITE_END()
