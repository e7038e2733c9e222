// Properties every environment must have: factory and error paths, determinism in the seed,
// save/load round trips, action validation, rendering.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <functional>
#include <string>

#include "engine/error.h"
#include "env_test_util.h"
#include "envs/minatar/breakout.h"
#include "envs/rng.h"

using namespace vkwb::envs;
using vkwb::Error;

namespace {

struct Trace {
  std::vector<uint8_t> obs;
  std::vector<float> rewards;
  std::vector<uint8_t> flags;
  bool operator==(const Trace&) const = default;
};

// Random actions from a fixed stream; a finished episode is followed by reset(seed + episode).
void run(Env& env, Rng& actions, uint64_t seed, int steps, Trace& trace) {
  uint64_t episode = 1;
  for (int t = 0; t < steps; ++t) {
    const StepResult r = env.step(int(actions.below(uint32_t(env.num_actions()))));
    const uint8_t* o = env.observation();
    trace.obs.insert(trace.obs.end(), o, o + env.observation_shape().size());
    trace.rewards.push_back(r.reward);
    trace.flags.push_back(uint8_t(r.terminated | (r.truncated << 1)));
    if (r.done()) env.reset(seed + 1000 * episode++);
  }
}

Trace trace_of(const std::string& name, const EnvOptions& opts, uint64_t seed, int steps) {
  auto env = make_env(name, opts);
  env->reset(seed);
  Rng actions(99);
  Trace t;
  run(*env, actions, seed, steps, t);
  return t;
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "<no vkwb::Error thrown>";
}

}  // namespace

BOOST_AUTO_TEST_CASE(env_names_all_construct) {
  const auto names = env_names();
  for (const char* expected : {"catch", "gridworld", "gridworld:fourrooms", "minatar-breakout", "minatar-freeway",
                               "minatar-asterix", "minatar-seaquest", "minatar-space_invaders"}) {
    BOOST_TEST((std::find(names.begin(), names.end(), expected) != names.end()), expected);
  }
  for (const auto& name : names) {
    auto env = make_env(name);
    BOOST_TEST(env->name() == (name == "gridworld" ? std::string("gridworld:empty5") : name));
    const ObsShape s = env->observation_shape();
    BOOST_TEST(s.c > 0);
    BOOST_TEST(int(env->action_names().size()) == env->num_actions());
    // reset(seed) -> observation; step(action) -> {observation, reward, terminated, truncated}.
    const uint8_t* first = env->reset(1);
    BOOST_TEST(first != nullptr);
    BOOST_TEST(first == env->observation());
    for (int t = 0; t < 50; ++t) {
      const StepResult r = env->step(t % env->num_actions());
      BOOST_TEST(r.observation == env->observation(), name << " step " << t);
      if (r.done()) break;
    }
  }
}

BOOST_AUTO_TEST_CASE(minatar_shapes_and_action_sets) {
  struct Row { const char* name; int channels; int actions; };
  for (const Row& row : {Row{"minatar-breakout", 4, 3}, Row{"minatar-freeway", 7, 3}, Row{"minatar-asterix", 4, 5},
                         Row{"minatar-seaquest", 10, 6}, Row{"minatar-space_invaders", 6, 4}}) {
    auto env = make_env(row.name);
    BOOST_TEST((env->observation_shape() == ObsShape{row.channels, 10, 10}), row.name);
    BOOST_TEST(env->num_actions() == row.actions, row.name);
    EnvOptions full;
    full.full_action_set = true;
    auto full_env = make_env(row.name, full);
    BOOST_TEST(full_env->num_actions() == 6);
    BOOST_TEST((full_env->action_names() == std::vector<std::string>{"noop", "left", "up", "right", "down", "fire"}));
  }
  BOOST_TEST((make_env("minatar-breakout")->action_names() == std::vector<std::string>{"noop", "left", "right"}));
  BOOST_TEST((make_env("minatar-freeway")->action_names() == std::vector<std::string>{"noop", "up", "down"}));
  BOOST_TEST((make_env("minatar-space_invaders")->action_names() ==
              std::vector<std::string>{"noop", "left", "right", "fire"}));
}

BOOST_AUTO_TEST_CASE(unknown_name_lists_valid_names) {
  const std::string msg = message_of([] { make_env("minatar-pong"); });
  BOOST_TEST(msg.find("minatar-pong") != std::string::npos);
  for (const auto& name : env_names()) BOOST_TEST(msg.find(name) != std::string::npos, name);
}

BOOST_AUTO_TEST_CASE(bad_options_are_rejected) {
  EnvOptions o;
  o.sticky_action_prob = 1.5;
  BOOST_CHECK_THROW(make_env("minatar-breakout", o), Error);
  EnvOptions g;
  g.slip_prob = -0.1;
  BOOST_CHECK_THROW(make_env("gridworld", g), Error);
  EnvOptions m;
  m.max_episode_steps = -1;
  BOOST_CHECK_THROW(make_env("minatar-asterix", m), Error);
}

BOOST_AUTO_TEST_CASE(out_of_range_actions_throw) {
  for (const auto& name : env_names()) {
    auto env = make_env(name);
    env->reset(3);
    BOOST_CHECK_THROW(env->step(-1), Error);
    BOOST_CHECK_THROW(env->step(env->num_actions()), Error);
    const std::string msg = message_of([&] { env->step(env->num_actions() + 5); });
    BOOST_TEST(msg.find("out of range") != std::string::npos, msg);
    env->step(0);  // still usable after a rejected action
  }
}

BOOST_AUTO_TEST_CASE(step_before_reset_and_after_end_throw) {
  auto env = make_env("catch");
  BOOST_CHECK_THROW(env->step(1), Error);
  env->reset(0);
  StepResult r;
  while (!(r = env->step(1)).done()) {
  }
  BOOST_CHECK_THROW(env->step(1), Error);
}

BOOST_AUTO_TEST_CASE(same_seed_same_trajectory) {
  EnvOptions slippery;
  slippery.slip_prob = 0.3;
  for (const auto& name : env_names()) {
    const Trace a = trace_of(name, {}, 42, 400);
    const Trace b = trace_of(name, {}, 42, 400);
    BOOST_TEST((a == b), name);
  }
  BOOST_TEST((trace_of("gridworld:fourrooms", slippery, 5, 400) == trace_of("gridworld:fourrooms", slippery, 5, 400)));
}

BOOST_AUTO_TEST_CASE(different_seeds_differ) {
  EnvOptions slippery;
  slippery.slip_prob = 0.3;
  for (const char* name : {"catch", "minatar-breakout", "minatar-freeway", "minatar-asterix", "minatar-seaquest",
                           "minatar-space_invaders"}) {
    bool any_difference = false;
    const Trace base = trace_of(name, {}, 1, 300);
    for (uint64_t seed = 2; seed < 6 && !any_difference; ++seed) any_difference = !(trace_of(name, {}, seed, 300) == base);
    BOOST_TEST(any_difference, name);
  }
  BOOST_TEST(!(trace_of("gridworld:fourrooms", slippery, 1, 300) == trace_of("gridworld:fourrooms", slippery, 2, 300)));
}

BOOST_AUTO_TEST_CASE(save_load_round_trip_continues_identically) {
  EnvOptions opts;
  opts.slip_prob = 0.2;  // so that the grid world's RNG state matters too
  for (const auto& name : env_names()) {
    auto env = make_env(name, opts);
    env->reset(11);
    Rng actions(5);
    Trace warmup;
    run(*env, actions, 11, 57, warmup);
    const std::vector<uint8_t> saved = env->save_state();
    const Rng saved_actions = actions;

    Trace first;
    run(*env, actions, 11, 200, first);

    // Into the same object, and into a fresh one that was never reset.
    env->load_state(saved);
    actions = saved_actions;
    Trace second;
    run(*env, actions, 11, 200, second);
    BOOST_TEST((first == second), name);

    auto fresh = make_env(name, opts);
    fresh->load_state(saved);
    actions = saved_actions;
    Trace third;
    run(*fresh, actions, 11, 200, third);
    BOOST_TEST((first == third), name);
  }
}

BOOST_AUTO_TEST_CASE(load_state_rejects_foreign_blobs) {
  auto breakout = make_env("minatar-breakout");
  auto freeway = make_env("minatar-freeway");
  breakout->reset(1);
  freeway->reset(1);
  const auto before = test::obs_copy(*freeway);
  const std::string msg = message_of([&] { freeway->load_state(breakout->save_state()); });
  BOOST_TEST(msg.find("minatar-breakout") != std::string::npos, msg);
  BOOST_TEST((test::obs_copy(*freeway) == before));
  auto blob = freeway->save_state();
  blob.pop_back();
  BOOST_CHECK_THROW(freeway->load_state(blob), Error);
  BOOST_CHECK_THROW(freeway->load_state({1, 2, 3}), Error);
  BOOST_TEST((test::obs_copy(*freeway) == before));
  freeway->step(0);  // still consistent after the failed loads
}

BOOST_AUTO_TEST_CASE(sticky_actions_repeat_the_previous_action) {
  const int right = 2, left = 1;  // breakout's minimal set: noop, left, right
  EnvOptions always;
  always.sticky_action_prob = 1.0;
  BreakoutEnv sticky(always);
  sticky.reset(0);
  sticky.step(right);  // the first action of an episode is always executed
  for (int t = 0; t < 4; ++t) sticky.step(left);
  BOOST_TEST(sticky.state().paddle_x == 9);  // 4 + 5 moves right

  BreakoutEnv never(test::no_sticky());
  never.reset(0);
  never.step(right);
  for (int t = 0; t < 4; ++t) never.step(left);
  BOOST_TEST(never.state().paddle_x == 1);  // 4 + 1 - 4
}

BOOST_AUTO_TEST_CASE(sticky_probability_half_repeats_about_half_the_time) {
  EnvOptions half;
  half.sticky_action_prob = 0.5;
  BreakoutEnv env(half);
  Rng choices(17);
  int repeats = 0, trials = 0;
  int previous = 0;  // executed direction of the last step: -1 left, +1 right, 0 unknown
  env.reset(3);
  for (int t = 0; t < 6000; ++t) {
    const int before = env.state().paddle_x;
    const int chosen = choices.below(2) ? 2 : 1;  // right or left
    const int chosen_dir = chosen == 2 ? 1 : -1;
    const StepResult r = env.step(chosen);
    const int moved = env.state().paddle_x - before;  // 0 only when blocked at an edge
    // Only a step whose previous action differs from the chosen one reveals a sticky repeat.
    if (previous != 0 && previous != chosen_dir && moved != 0) {
      ++trials;
      repeats += moved != chosen_dir;
    }
    previous = moved;
    if (r.done()) {
      env.reset(uint64_t(t) + 10);
      previous = 0;
    }
  }
  BOOST_TEST(trials > 1000);
  const double rate = double(repeats) / trials;
  BOOST_TEST(rate > 0.45);
  BOOST_TEST(rate < 0.55);
}

BOOST_AUTO_TEST_CASE(render_and_float_observation) {
  for (const auto& name : env_names()) {
    auto env = make_env(name);
    env->reset(2);
    const ObsShape s = env->observation_shape();
    const Image img = env->render(7);
    BOOST_TEST(img.width == s.w * 7);
    BOOST_TEST(img.height == s.h * 7);
    BOOST_TEST(img.rgb.size() == size_t(img.width) * img.height * 3);
    BOOST_TEST((std::any_of(img.rgb.begin(), img.rgb.end(), [](uint8_t v) { return v != 0; })), name);
    std::vector<float> f(s.size());
    env->observation_float(f.data());
    for (size_t i = 0; i < f.size(); ++i) BOOST_REQUIRE(f[i] == float(env->observation()[i]));
    BOOST_CHECK_THROW(env->render(0), Error);
  }
}

BOOST_AUTO_TEST_CASE(minatar_observations_are_binary) {
  for (const auto& name : env_names()) {
    if (!name.starts_with("minatar-")) continue;
    auto env = make_env(name);
    env->reset(8);
    Rng actions(1);
    for (int t = 0; t < 2000; ++t) {
      const StepResult r = env->step(int(actions.below(uint32_t(env->num_actions()))));
      const uint8_t* o = env->observation();
      BOOST_REQUIRE((std::all_of(o, o + env->observation_shape().size(), [](uint8_t v) { return v <= 1; })));
      if (r.done()) env->reset(uint64_t(t));
    }
  }
}

BOOST_AUTO_TEST_CASE(max_episode_steps_truncates) {
  EnvOptions o;
  o.max_episode_steps = 7;
  o.sticky_action_prob = 0.0;
  auto env = make_env("minatar-freeway", o);
  env->reset(0);
  StepResult r;
  for (int t = 0; t < 6; ++t) BOOST_TEST(!env->step(0).done());
  r = env->step(0);
  BOOST_TEST(r.truncated);
  BOOST_TEST(!r.terminated);
}
