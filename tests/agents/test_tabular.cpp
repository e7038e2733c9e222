// Tabular Q-learning must find the optimum that value iteration computes from the exact model.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>

#include "agents/core/tabular_q.h"
#include "engine/error.h"
#include "envs/grid_map.h"
#include "envs/grid_world_planning.h"

using namespace vkwb;

namespace {
envs::GridWorld world(const std::string& text) {
  return envs::GridWorld(envs::parse_grid_map(text, "test", "map 'test'"), envs::GridWorldOptions{});
}
}  // namespace

BOOST_AUTO_TEST_SUITE(tabular_q)

BOOST_AUTO_TEST_CASE(value_iteration_matches_a_hand_computed_value) {
  // Start, floor, goal in a row; gamma 0.9, step reward -0.01:
  // V(floor) = +1 (the next step enters the goal), V(start) = -0.01 + 0.9 * 1 = 0.89.
  envs::GridWorld env = world("S.G\n");
  const envs::ValueIterationResult vi = envs::value_iteration(env, 0.9);
  BOOST_TEST(std::abs(vi.values[1] - 1.0) < 1e-9);
  BOOST_TEST(std::abs(vi.start_value - 0.89) < 1e-9);
}

BOOST_AUTO_TEST_CASE(q_learning_reaches_the_value_iteration_optimum) {
  // A pit next to the start makes the shortest-looking route a bad one.
  envs::GridWorld env = world(
      "######\n"
      "#S.P.#\n"
      "#....#\n"
      "#.#.G#\n"
      "######\n");
  const double gamma = 0.9;
  const envs::ValueIterationResult vi = envs::value_iteration(env, gamma);

  agents::TabularQOptions opts;
  opts.alpha = 0.5;
  opts.gamma = gamma;
  opts.epsilon = 0.2;
  opts.episodes = 2000;
  opts.seed = 7;
  const agents::TabularQResult q = agents::tabular_q_learning(env, opts);
  BOOST_TEST(q.episode_returns.size() == 2000);
  BOOST_TEST(q.num_actions == 4);

  const double learned = agents::rollout_return(env, q.greedy_policy, gamma, 0);
  BOOST_TEST(std::abs(learned - vi.start_value) < 1e-6, "learned " << learned << " optimal " << vi.start_value);
  // On a deterministic map Q converges to Q*: the start state's value should be close too.
  const double* q_start = q.q.data() + size_t(env.start_state()) * 4;
  BOOST_TEST(std::abs(*std::max_element(q_start, q_start + 4) - vi.start_value) < 1e-3);
}

BOOST_AUTO_TEST_CASE(rejects_bad_options) {
  envs::GridWorld env = world("S.G\n");
  agents::TabularQOptions bad;
  bad.alpha = 0.0;
  BOOST_CHECK_THROW(agents::tabular_q_learning(env, bad), Error);
  bad = {};
  bad.epsilon = 2.0;
  BOOST_CHECK_THROW(agents::tabular_q_learning(env, bad), Error);
}

BOOST_AUTO_TEST_SUITE_END()
