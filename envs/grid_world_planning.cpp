#include "envs/grid_world_planning.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/error.h"

namespace vkwb::envs {

namespace {

// transitions() allocates; sweeps call it millions of times on larger maps, so build it once.
struct Model {
  std::vector<std::vector<Transition>> table;  // [state * 4 + action]
  explicit Model(const GridWorld& env) : table(size_t(env.num_states()) * GridWorld::kNumActions) {
    for (int s = 0; s < env.num_states(); ++s)
      for (int a = 0; a < GridWorld::kNumActions; ++a) table[size_t(s) * 4 + a] = env.transitions(s, a);
  }
  const std::vector<Transition>& at(int s, int a) const { return table[size_t(s) * 4 + a]; }
};

double backup(const std::vector<Transition>& ts, const std::vector<double>& v, double gamma) {
  double q = 0.0;
  for (const auto& t : ts) q += t.prob * (t.reward + (t.done ? 0.0 : gamma * v[size_t(t.next_state)]));
  return q;
}

void check_gamma(double gamma, double tolerance) {
  if (!(gamma > 0.0 && gamma <= 1.0)) throw Error("value iteration: gamma must be in (0, 1], got " + std::to_string(gamma));
  if (!(tolerance > 0.0)) throw Error("value iteration: tolerance must be > 0, got " + std::to_string(tolerance));
}

}  // namespace

ValueIterationResult value_iteration(const GridWorld& env, double gamma, double tolerance, int max_iterations) {
  check_gamma(gamma, tolerance);
  const Model model(env);
  const int n = env.num_states();
  ValueIterationResult result;
  result.values.assign(size_t(n), 0.0);
  result.policy.assign(size_t(n), -1);
  std::vector<double> next(size_t(n), 0.0);
  bool converged = false;
  while (result.iterations < max_iterations && !converged) {
    double delta = 0.0;
    for (int s = 0; s < n; ++s) {
      if (model.at(s, 0).empty()) continue;
      double best = -INFINITY;
      for (int a = 0; a < GridWorld::kNumActions; ++a) best = std::max(best, backup(model.at(s, a), result.values, gamma));
      delta = std::max(delta, std::abs(best - result.values[size_t(s)]));
      next[size_t(s)] = best;
    }
    result.values.swap(next);
    ++result.iterations;
    converged = delta < tolerance;
  }
  if (!converged) {
    throw Error("value iteration on '" + env.map().name + "' did not converge in " + std::to_string(max_iterations) +
                " sweeps; use gamma < 1 or make sure every cell can reach a goal or pit");
  }
  for (int s = 0; s < n; ++s) {
    if (model.at(s, 0).empty()) continue;
    double best = 0.0;
    for (int a = 0; a < GridWorld::kNumActions; ++a) {
      const double q = backup(model.at(s, a), result.values, gamma);
      // A relative slack keeps round-off from breaking ties towards a higher action index.
      if (a == 0 || q > best + 1e-12 * (1.0 + std::abs(best))) {
        best = q;
        result.policy[size_t(s)] = a;
      }
    }
  }
  result.start_value = result.values[size_t(env.start_state())];
  return result;
}

std::vector<double> evaluate_policy(const GridWorld& env, const std::vector<int>& policy, double gamma,
                                    double tolerance, int max_iterations) {
  check_gamma(gamma, tolerance);
  const int n = env.num_states();
  if (int(policy.size()) != n) {
    throw Error("evaluate_policy: policy has " + std::to_string(policy.size()) + " entries, the map has " +
                std::to_string(n) + " states");
  }
  std::vector<std::vector<Transition>> chosen(static_cast<size_t>(n));
  for (int s = 0; s < n; ++s) {
    if (env.is_wall(s) || env.is_terminal(s)) continue;
    if (policy[size_t(s)] < 0 || policy[size_t(s)] >= GridWorld::kNumActions) {
      throw Error("evaluate_policy: state " + std::to_string(s) + " has no valid action");
    }
    chosen[size_t(s)] = env.transitions(s, policy[size_t(s)]);
  }
  std::vector<double> v(size_t(n), 0.0), next(size_t(n), 0.0);
  for (int it = 0; it < max_iterations; ++it) {
    double delta = 0.0;
    for (int s = 0; s < n; ++s) {
      next[size_t(s)] = backup(chosen[size_t(s)], v, gamma);
      delta = std::max(delta, std::abs(next[size_t(s)] - v[size_t(s)]));
    }
    v.swap(next);
    if (delta < tolerance) return v;
  }
  throw Error("evaluate_policy on '" + env.map().name + "' did not converge in " + std::to_string(max_iterations) +
              " sweeps; with gamma = 1 the policy must reach a goal or pit from every state");
}

}  // namespace vkwb::envs
