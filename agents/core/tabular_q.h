// Tabular Q-learning (Watkins 1989) on a GridWorld: the smallest complete RL agent, and the check
// that the environment, its model and value iteration agree with what an agent actually learns.
#pragma once
#include <cstdint>
#include <vector>

#include "envs/grid_world.h"

namespace vkwb::agents {

struct TabularQOptions {
  double alpha = 0.1;    // step size of the update Q += alpha * (target - Q)
  double gamma = 0.99;   // discount
  double epsilon = 0.1;  // the behaviour policy acts uniformly at random with this probability
  int episodes = 500;
  uint64_t seed = 0;     // exploration and environment seeds derive from this
};

struct TabularQResult {
  int num_states = 0, num_actions = 0;
  std::vector<double> q;                 // [state * num_actions + action], 0 where never updated
  std::vector<int> greedy_policy;        // argmax_a Q (lowest index on ties); -1 for walls and terminal states
  std::vector<double> episode_returns;   // undiscounted return of each training episode
};

// Trains from scratch; the env is reset at the start of every episode.
TabularQResult tabular_q_learning(envs::GridWorld& env, const TabularQOptions& opts);

// Discounted return of one episode that follows `policy` from the start state (until the episode
// ends, including by the env's time limit).
double rollout_return(envs::GridWorld& env, const std::vector<int>& policy, double gamma, uint64_t seed);

}  // namespace vkwb::agents
