#include "agents/core/tabular_q.h"

#include <algorithm>
#include <string>

#include "engine/error.h"
#include "envs/rng.h"

namespace vkwb::agents {

namespace {

// Random tie-breaking matters early on, when all of a state's values are still equal: always
// picking the first action would make the greedy part of the behaviour walk into one wall forever.
int argmax_random_ties(const double* q, int n, envs::Rng& rng) {
  int best = 0, ties = 1;
  for (int a = 1; a < n; ++a) {
    if (q[a] > q[best]) {
      best = a;
      ties = 1;
    } else if (q[a] == q[best] && rng.below(uint32_t(++ties)) == 0) {
      best = a;  // reservoir sampling over the tied actions
    }
  }
  return best;
}

}  // namespace

TabularQResult tabular_q_learning(envs::GridWorld& env, const TabularQOptions& opts) {
  if (!(opts.alpha > 0.0 && opts.alpha <= 1.0)) throw Error("tabular Q: alpha must be in (0, 1], got " + std::to_string(opts.alpha));
  if (!(opts.gamma >= 0.0 && opts.gamma <= 1.0)) throw Error("tabular Q: gamma must be in [0, 1], got " + std::to_string(opts.gamma));
  if (!(opts.epsilon >= 0.0 && opts.epsilon <= 1.0)) throw Error("tabular Q: epsilon must be in [0, 1], got " + std::to_string(opts.epsilon));
  if (opts.episodes < 0) throw Error("tabular Q: episodes must be >= 0, got " + std::to_string(opts.episodes));

  const int num_actions = env.num_actions();
  TabularQResult result;
  result.num_states = env.num_states();
  result.num_actions = num_actions;
  result.q.assign(size_t(result.num_states) * num_actions, 0.0);
  result.episode_returns.reserve(size_t(opts.episodes));
  envs::Rng rng(opts.seed);
  auto q_row = [&](int s) { return result.q.data() + size_t(s) * num_actions; };

  for (int episode = 0; episode < opts.episodes; ++episode) {
    env.reset(envs::derive_seed(opts.seed, uint64_t(episode)));
    int s = env.agent_state();
    double episode_return = 0.0;
    for (;;) {
      const int a = rng.bernoulli(opts.epsilon) ? int(rng.below(uint32_t(num_actions)))
                                                : argmax_random_ties(q_row(s), num_actions, rng);
      const envs::StepResult r = env.step(a);
      const int next = env.agent_state();
      episode_return += r.reward;
      // A time-limit truncation is not a terminal state of the MDP: still bootstrap from it.
      const double* qn = q_row(next);
      const double bootstrap = r.terminated ? 0.0 : opts.gamma * *std::max_element(qn, qn + num_actions);
      double& q = q_row(s)[a];
      q += opts.alpha * (r.reward + bootstrap - q);
      if (r.done()) break;
      s = next;
    }
    result.episode_returns.push_back(episode_return);
  }

  result.greedy_policy.assign(size_t(result.num_states), -1);
  for (int s = 0; s < result.num_states; ++s) {
    if (env.is_wall(s) || env.is_terminal(s)) continue;
    const double* q = q_row(s);
    result.greedy_policy[size_t(s)] = int(std::max_element(q, q + num_actions) - q);
  }
  return result;
}

double rollout_return(envs::GridWorld& env, const std::vector<int>& policy, double gamma, uint64_t seed) {
  if (int(policy.size()) != env.num_states()) {
    throw Error("rollout_return: policy has " + std::to_string(policy.size()) + " entries, the map has " +
                std::to_string(env.num_states()) + " states");
  }
  env.reset(seed);
  double ret = 0.0, discount = 1.0;
  for (;;) {
    const envs::StepResult r = env.step(policy[size_t(env.agent_state())]);
    ret += discount * double(r.reward);
    discount *= gamma;
    if (r.done()) return ret;
  }
}

}  // namespace vkwb::agents
