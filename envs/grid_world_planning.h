// Dynamic programming on a GridWorld's exact model (GridWorld::transitions): the ground truth that
// tabular and deep agents are checked against.
#pragma once
#include <vector>

#include "envs/grid_world.h"

namespace vkwb::envs {

struct ValueIterationResult {
  std::vector<double> values;  // V*(s); 0 for walls and terminal states
  std::vector<int> policy;     // a greedy optimal action per state (lowest index on ties), -1 where no decision
  double start_value = 0.0;    // V*(start): the optimal expected discounted return of an episode
  int iterations = 0;
};

// Synchronous value iteration until the largest update is below tolerance. Ignores the env's
// time limit (plans for the untruncated MDP). gamma in (0, 1]; with gamma = 1 every state must be
// able to reach a terminal state, otherwise this throws vkwb::Error after max_iterations.
ValueIterationResult value_iteration(const GridWorld& env, double gamma, double tolerance = 1e-10,
                                     int max_iterations = 100000);

// V^pi for a deterministic policy (one action per state; entries for non-decision states ignored).
std::vector<double> evaluate_policy(const GridWorld& env, const std::vector<int>& policy, double gamma,
                                    double tolerance = 1e-10, int max_iterations = 100000);

}  // namespace vkwb::envs
