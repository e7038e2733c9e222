// GridWorld: map parsing, the exact model, sampling, and value iteration against hand calculations.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>

#include "engine/error.h"
#include "env_test_util.h"
#include "envs/grid_world.h"
#include "envs/grid_world_planning.h"

using namespace vkwb::envs;
using vkwb::Error;

namespace {
constexpr int kUpA = 0, kRightA = 1, kDownA = 2, kLeftA = 3;

std::string parse_error(const std::string& text) {
  try {
    parse_grid_map(text, "test", "map 'test'");
  } catch (const Error& e) {
    return e.what();
  }
  return "<no error>";
}

GridWorld world(const std::string& text, double slip = 0.0, double step_reward = -0.01) {
  GridWorldOptions o;
  o.slip_prob = slip;
  o.step_reward = step_reward;
  return GridWorld(parse_grid_map(text, "test", "map 'test'"), o);
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }
}  // namespace

BOOST_AUTO_TEST_SUITE(grid_world)

BOOST_AUTO_TEST_CASE(parses_maps_and_ignores_outer_blank_lines) {
  const GridMap m = parse_grid_map("\n\n#####\r\n#S.G#  \n#####\n\n", "t", "t");
  BOOST_TEST(m.width == 5);
  BOOST_TEST(m.height == 3);
  BOOST_TEST(m.at(1, 1) == 'S');
  BOOST_TEST(m.at(3, 1) == 'G');
}

BOOST_AUTO_TEST_CASE(map_errors_name_the_source_and_line) {
  std::string e = parse_error("#####\n#S.G#\n###\n");
  BOOST_TEST(contains(e, "map 'test', line 3"), e);
  BOOST_TEST(contains(e, "same width"), e);
  e = parse_error("S.x.G\n");
  BOOST_TEST(contains(e, "line 1, column 3"), e);
  BOOST_TEST(contains(e, "'x'"), e);
  e = parse_error("S..\n\n..G\n");
  BOOST_TEST(contains(e, "line 2"), e);
  BOOST_TEST(contains(parse_error("...G\n"), "exactly one start"));
  BOOST_TEST(contains(parse_error("S.S.G\n"), "exactly one start"));
  BOOST_TEST(contains(parse_error("S...\n"), "goal"));
  BOOST_TEST(contains(parse_error("\n \n"), "empty"));
}

BOOST_AUTO_TEST_CASE(map_files_load_and_report_errors_with_the_path) {
  const auto dir = std::filesystem::temp_directory_path();
  const std::string good = (dir / "vkwb_test_map_good.txt").string();
  const std::string bad = (dir / "vkwb_test_map_bad.txt").string();
  std::ofstream(good) << "S..\n.#.\n..G\n";
  std::ofstream(bad) << "S..\n.#.\n..G!\n";
  EnvOptions o;
  o.map = good;
  auto env = make_env("gridworld", o);
  BOOST_TEST(env->name() == "gridworld:" + good);
  BOOST_TEST((env->observation_shape() == ObsShape{4, 3, 3}));
  BOOST_TEST(make_env("gridworld:" + good)->name() == "gridworld:" + good);
  try {
    make_env("gridworld:" + bad);
    BOOST_FAIL("expected an error");
  } catch (const Error& e) {
    BOOST_TEST(contains(e.what(), bad), e.what());
    BOOST_TEST(contains(e.what(), "line 3"), e.what());
  }
  try {
    make_env("gridworld:no_such_map_or_file");
    BOOST_FAIL("expected an error");
  } catch (const Error& e) {
    BOOST_TEST(contains(e.what(), "no_such_map_or_file"), e.what());
    BOOST_TEST(contains(e.what(), "fourrooms"), e.what());
  }
  std::remove(good.c_str());
  std::remove(bad.c_str());
}

BOOST_AUTO_TEST_CASE(moves_walls_goal_and_pit) {
  GridWorld env = world("#####\n#S.G#\n#P..#\n#####\n");
  env.reset(0);
  const int w = 5;
  BOOST_TEST(env.agent_state() == 1 * w + 1);
  BOOST_TEST(test::cell(env, 0, 1, 1));
  BOOST_TEST(test::cell(env, 1, 0, 0));
  BOOST_TEST(test::cell(env, 2, 1, 3));
  BOOST_TEST(test::cell(env, 3, 2, 1));
  StepResult r = env.step(kUpA);  // wall: stay
  BOOST_TEST(env.agent_state() == 1 * w + 1);
  BOOST_TEST(r.reward == -0.01f);
  r = env.step(kRightA);
  BOOST_TEST(env.agent_state() == 1 * w + 2);
  BOOST_TEST(!test::cell(env, 0, 1, 1));
  BOOST_TEST(test::cell(env, 0, 1, 2));
  r = env.step(kRightA);
  BOOST_TEST(r.reward == 1.0f);
  BOOST_TEST(r.terminated);
  env.reset(0);
  r = env.step(kDownA);
  BOOST_TEST(r.reward == -1.0f);
  BOOST_TEST(r.terminated);
}

BOOST_AUTO_TEST_CASE(time_limit_truncates) {
  GridWorldOptions o;
  o.max_episode_steps = 3;
  GridWorld env(load_grid_map("empty5"), o);
  env.reset(0);
  BOOST_TEST(!env.step(kLeftA).done());
  BOOST_TEST(!env.step(kLeftA).done());
  const StepResult r = env.step(kLeftA);
  BOOST_TEST(r.truncated);
  BOOST_TEST(!r.terminated);
  GridWorld dflt(load_grid_map("empty5"));
  BOOST_TEST(dflt.max_episode_steps() == 4 * 25);
}

BOOST_AUTO_TEST_CASE(transitions_describe_slip) {
  GridWorld env = world("#####\n#S.G#\n#...#\n#####\n", 0.2);
  const int s = 1 * 5 + 2;  // between start and goal
  const auto ts = env.transitions(s, kRightA);
  double total = 0.0;
  for (const auto& t : ts) total += t.prob;
  BOOST_TEST(std::abs(total - 1.0) < 1e-12);
  BOOST_TEST(ts.size() == 3);  // goal, bump into the top wall (stay), down
  for (const auto& t : ts) {
    if (t.next_state == 1 * 5 + 3) {
      BOOST_TEST(std::abs(t.prob - 0.8) < 1e-12);
      BOOST_TEST(t.done);
      BOOST_TEST(t.reward == 1.0);
    } else if (t.next_state == s) {
      BOOST_TEST(std::abs(t.prob - 0.1) < 1e-12);
    } else {
      BOOST_TEST(t.next_state == 2 * 5 + 2);
      BOOST_TEST(std::abs(t.prob - 0.1) < 1e-12);
      BOOST_TEST(!t.done);
    }
  }
  BOOST_TEST(env.transitions(0, kUpA).empty());          // wall
  BOOST_TEST(env.transitions(1 * 5 + 3, kUpA).empty());  // goal
  BOOST_CHECK_THROW(env.transitions(-1, 0), Error);
  BOOST_CHECK_THROW(env.transitions(0, 4), Error);
}

BOOST_AUTO_TEST_CASE(sampling_matches_the_model) {
  GridWorld env = world("#####\n#...#\n#.S.#\n#...#\n#G..#\n#####\n", 0.3);
  const int start = env.start_state();
  std::vector<int> counts(size_t(env.num_states()), 0);
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    env.reset(uint64_t(i));
    env.step(kRightA);
    ++counts[size_t(env.agent_state())];
  }
  for (const auto& t : env.transitions(start, kRightA)) {
    const double freq = double(counts[size_t(t.next_state)]) / n;
    BOOST_TEST(std::abs(freq - t.prob) < 0.015, "state " << t.next_state << " freq " << freq << " p " << t.prob);
  }
}

BOOST_AUTO_TEST_CASE(value_iteration_matches_hand_computation) {
  // S . G in a row, gamma 0.9, step -0.01: V(middle) = 1, V(start) = -0.01 + 0.9 * 1.
  {
    GridWorld env = world("S.G\n");
    const ValueIterationResult vi = value_iteration(env, 0.9);
    BOOST_TEST(std::abs(vi.values[1] - 1.0) < 1e-9);
    BOOST_TEST(std::abs(vi.start_value - 0.89) < 1e-9);
    BOOST_TEST(vi.policy[0] == kRightA);
    BOOST_TEST(vi.policy[1] == kRightA);
    BOOST_TEST(vi.policy[2] == -1);
  }
  // With slip 0.2 a move in a 1-row corridor goes sideways into the boundary (stay) w.p. 0.2:
  //   V1 = 0.8 * 1 + 0.2 * (-0.01 + 0.9 V1)                 => V1 = 0.798 / 0.82
  //   V0 = 0.8 * (-0.01 + 0.9 V1) + 0.2 * (-0.01 + 0.9 V0)  => V0 = (-0.01 + 0.72 V1) / 0.82
  {
    GridWorld env = world("S.G\n", 0.2);
    const ValueIterationResult vi = value_iteration(env, 0.9);
    const double v1 = 0.798 / 0.82;
    const double v0 = (-0.01 + 0.72 * v1) / 0.82;
    BOOST_TEST(std::abs(vi.values[1] - v1) < 1e-9);
    BOOST_TEST(std::abs(vi.start_value - v0) < 1e-9);
  }
  // Cliff walk, undiscounted: the best path goes up, along the top of the cliff and down:
  // 13 steps, the last one into the goal: 12 * -0.01 + 1.
  {
    GridWorld env(load_grid_map("cliff"));
    const ValueIterationResult vi = value_iteration(env, 1.0);
    BOOST_TEST(std::abs(vi.start_value - 0.88) < 1e-9);
    BOOST_TEST(vi.policy[size_t(env.start_state())] == kUpA);
  }
}

BOOST_AUTO_TEST_CASE(value_iteration_policy_is_optimal_when_followed) {
  for (const auto& name : builtin_grid_maps()) {
    GridWorld env(load_grid_map(name));
    const ValueIterationResult vi = value_iteration(env, 0.95);
    BOOST_TEST(vi.start_value > 0.0, name);
    const std::vector<double> v = evaluate_policy(env, vi.policy, 0.95);
    BOOST_TEST(std::abs(v[size_t(env.start_state())] - vi.start_value) < 1e-8, name);
    // Following the greedy policy in the (deterministic) env reaches the goal with that return.
    env.reset(0);
    double ret = 0.0, discount = 1.0;
    StepResult r;
    do {
      r = env.step(vi.policy[size_t(env.agent_state())]);
      ret += discount * r.reward;
      discount *= 0.95;
    } while (!r.done());
    BOOST_TEST(r.terminated, name);
    BOOST_TEST(std::abs(ret - vi.start_value) < 1e-5, name);  // rewards are floats in StepResult
  }
}

BOOST_AUTO_TEST_CASE(value_iteration_rejects_bad_arguments) {
  GridWorld env = world("S.G\n");
  BOOST_CHECK_THROW(value_iteration(env, 0.0), Error);
  BOOST_CHECK_THROW(value_iteration(env, 1.5), Error);
  BOOST_CHECK_THROW(value_iteration(env, 0.9, -1.0), Error);
  // Undiscounted with a goal that cannot be reached from a walled-off cell.
  GridWorld trapped = world("S#G\n", 0.0, -0.01);
  BOOST_CHECK_THROW(value_iteration(trapped, 1.0, 1e-10, 1000), Error);
}

BOOST_AUTO_TEST_SUITE_END()
