// DqnConfig: every hyper-parameter of a DQN run in one documented struct (CleanRL style), its
// presets, and one field list (for_each_field) that drives config.json, the printed config and the
// `vkwb dqn` command-line flags, so the three can never disagree.
//
// Presets:
//   minatar  Young & Tian (2019), "MinAtar", DQN baseline: conv 16@3x3 -> FC 128, centered RMSprop
//            (lr 2.5e-4, alpha 0.95, eps 0.01), gamma 0.99, replay 100k, batch 32, one update per
//            frame, 5000 random frames first, epsilon 1.0 -> 0.1 over the next 100k frames, target
//            network copied every 1000 updates, Huber loss.
//   small    For Catch and small GridWorlds: the same algorithm scaled down so it learns in a few
//            thousand frames (Adam 1e-3, MLP 64, replay 10k, 500 random frames, epsilon over 2000
//            frames, target copied every 100 updates).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vkwb::agents {

struct DqnConfig {
  // --- experiment -------------------------------------------------------------------------------
  std::string env = "minatar-breakout";  // environment name (see envs::env_names())
  uint64_t seed = 1;                     // one seed for weights, exploration, replay and envs
  int64_t frames = 5000000;              // environment steps to train for (MinAtar: 5M)
  // --- environment ----------------------------------------------------------------------------------
  double sticky_action_prob = 0.1;       // MinAtar: probability the previous action repeats
  bool difficulty_ramping = true;        // MinAtar: games speed up over an episode
  int max_episode_steps = 0;             // time limit (0: the env's default)
  bool full_action_set = false;          // MinAtar: all 6 actions instead of the game's minimal set
  double slip_prob = 0.0;                // GridWorld: probability a move slips to a perpendicular one
  double step_reward = -0.01;            // GridWorld: reward of a step that ends nowhere special
  // --- network ----------------------------------------------------------------------------------------
  std::string network = "conv";          // conv: 16@3x3 conv -> FC hidden (MinAtar); mlp: FC hidden -> FC hidden
  int hidden = 128;                      // units of the hidden fully connected layer(s)
  bool dueling = false;                  // dueling heads: Q = V + A - mean(A) (Wang et al. 2016)
  // --- loss and optimizer ---------------------------------------------------------------------------
  std::string loss = "huber";            // huber (smooth L1, delta 1) or mse
  std::string optimizer = "rmsprop";     // rmsprop or adam
  float lr = 2.5e-4f;                    // learning rate
  float rms_alpha = 0.95f;               // RMSprop smoothing constant (PyTorch's alpha)
  bool rms_centered = true;              // centered RMSprop (divide by the gradient's std, not RMS)
  float optim_eps = 0.01f;               // epsilon of RMSprop / Adam
  float grad_clip = 0.f;                 // clip gradients to this global L2 norm (0: off)
  // --- reinforcement learning -----------------------------------------------------------------------
  float gamma = 0.99f;                   // discount
  int n_step = 1;                        // n-step returns (1: plain one-step TD target)
  bool double_q = false;                 // Double DQN: online net picks a', target net values it
  int64_t replay_capacity = 100000;      // transitions held by the replay buffer
  int batch_size = 32;                   // transitions per update
  int replicas = 1;                      // data-parallel learner replicas, each on a shard of every batch
                                         // (nets/parallel.h); 0: one per core on a CPU driver, else 1.
                                         // Two are not faster than 1 for the MinAtar net on lavapipe: its
                                         // update is bound by work every replica repeats (the 131k
                                         // weight-gradient stores, the target net, per-dispatch costs;
                                         // the optimizer itself is sharded), docs/PERFORMANCE.md
  int64_t learning_starts = 5000;        // frames of uniformly random actions before learning
  int train_every = 1;                   // frames per gradient update
  float eps_start = 1.0f;                // epsilon when learning starts ...
  float eps_end = 0.1f;                  // ... annealed linearly to this ...
  int64_t eps_frames = 100000;           // ... over this many frames after learning_starts
  int64_t target_every = 1000;           // updates between target-network syncs
  float tau = 1.0f;                      // target sync: target = tau * online + (1 - tau) * target (1: copy)
  std::string target_net = "auto";       // where the target network's forward (the TD target) runs: host (a
                                         // CPU copy of its weights, refreshed after every target sync, which
                                         // then waits for the device), device, or auto: host on a CPU driver
                                         // such as lavapipe, whose update runs on one core while the host
                                         // thread would wait on the other; device elsewhere
  // --- prioritized replay (Schaul et al. 2016) ------------------------------------------------------
  bool prioritized = false;              // proportional prioritized replay instead of uniform
  double per_alpha = 0.6;                // priority exponent
  double per_beta0 = 0.4;                // importance-sampling exponent at the first update ...
  int64_t per_beta_updates = 5000000;    // ... annealed linearly to 1 over this many updates
  double per_eps = 1e-6;                 // added to |TD error| so no transition starves
  // --- acting --------------------------------------------------------------------------------------
  std::string actor = "host";            // where greedy actions are computed: host (CPU copy) or device
  int64_t actor_sync_every = 1;          // updates between refreshes of the host copy of the weights
  // --- evaluation, logging, checkpoints ---------------------------------------------------------
  int64_t eval_every = 50000;            // frames between evaluations (0: never)
  int eval_episodes = 10;                // episodes per evaluation, on a separate env
  float eval_eps = 0.f;                  // epsilon during evaluation
  int eval_max_steps = 20000;            // time limit of an evaluation episode (0: the env's)
  int gif_frames = 300;                  // frames of the evaluation GIF (0: no GIF)
  int64_t log_every = 1000;              // frames between metrics rows
  int64_t checkpoint_every = 100000;     // frames between checkpoints (0: only at the end)
  int keep_checkpoints = 2;              // newest checkpoints kept; older ones are deleted
};

// Applies a named preset ("minatar", "small") on top of the defaults; throws vkwb::Error for an
// unknown name. The preset for an env when none is asked for: minatar for minatar-*, small otherwise.
DqnConfig dqn_preset(const std::string& name);
std::string default_preset(const std::string& env);
std::vector<std::string> dqn_preset_names();

// Calls f(name, member, help) for every field, in declaration order.
template <class Config, class F>
void for_each_field(Config& c, F&& f) {
  f("env", c.env, "environment: catch, gridworld[:map], minatar-{breakout,freeway,asterix,seaquest,space_invaders}");
  f("seed", c.seed, "one seed for weights, exploration, replay and environments");
  f("frames", c.frames, "environment steps to train for");
  f("sticky_action_prob", c.sticky_action_prob, "MinAtar sticky-action probability");
  f("difficulty_ramping", c.difficulty_ramping, "MinAtar difficulty ramping");
  f("max_episode_steps", c.max_episode_steps, "episode time limit (0: env default)");
  f("full_action_set", c.full_action_set, "MinAtar: all 6 actions (noop, left, up, right, down, fire)");
  f("slip_prob", c.slip_prob, "GridWorld: probability that a move slips sideways");
  f("step_reward", c.step_reward, "GridWorld: reward per ordinary step");
  f("network", c.network, "conv (MinAtar 16@3x3 -> FC) or mlp (FC -> FC)");
  f("hidden", c.hidden, "hidden units");
  f("dueling", c.dueling, "dueling heads");
  f("loss", c.loss, "huber or mse");
  f("optimizer", c.optimizer, "rmsprop or adam");
  f("lr", c.lr, "learning rate");
  f("rms_alpha", c.rms_alpha, "RMSprop smoothing constant");
  f("rms_centered", c.rms_centered, "centered RMSprop");
  f("optim_eps", c.optim_eps, "RMSprop/Adam epsilon");
  f("grad_clip", c.grad_clip, "global gradient-norm clip (0: off)");
  f("gamma", c.gamma, "discount");
  f("n_step", c.n_step, "n-step returns");
  f("double_q", c.double_q, "Double DQN");
  f("replay_capacity", c.replay_capacity, "replay buffer capacity");
  f("batch_size", c.batch_size, "batch size");
  f("replicas", c.replicas, "data-parallel learner replicas, each on a shard of every batch (0: one per core on a CPU driver such as lavapipe, else 1; two are not faster than one for the MinAtar net)");
  f("learning_starts", c.learning_starts, "random frames before learning");
  f("train_every", c.train_every, "frames per update");
  f("eps_start", c.eps_start, "epsilon at learning start");
  f("eps_end", c.eps_end, "final epsilon");
  f("eps_frames", c.eps_frames, "frames over which epsilon anneals");
  f("target_every", c.target_every, "updates between target syncs");
  f("tau", c.tau, "target sync rate (1: hard copy)");
  f("target_net", c.target_net, "TD target's forward on host (CPU copy), device, or auto (host on a CPU driver)");
  f("prioritized", c.prioritized, "prioritized replay");
  f("per_alpha", c.per_alpha, "PER priority exponent");
  f("per_beta0", c.per_beta0, "PER initial importance-sampling exponent");
  f("per_beta_updates", c.per_beta_updates, "updates over which the PER exponent anneals to 1");
  f("per_eps", c.per_eps, "PER priority epsilon");
  f("actor", c.actor, "greedy actions on host (CPU copy of the weights) or device");
  f("actor_sync_every", c.actor_sync_every, "updates between host-copy refreshes");
  f("eval_every", c.eval_every, "frames between evaluations (0: never)");
  f("eval_episodes", c.eval_episodes, "episodes per evaluation");
  f("eval_eps", c.eval_eps, "epsilon during evaluation");
  f("eval_max_steps", c.eval_max_steps, "evaluation episode time limit (0: env default)");
  f("gif_frames", c.gif_frames, "frames per evaluation GIF (0: none)");
  f("log_every", c.log_every, "frames between metrics rows");
  f("checkpoint_every", c.checkpoint_every, "frames between checkpoints (0: only at the end)");
  f("keep_checkpoints", c.keep_checkpoints, "checkpoints kept");
}

nlohmann::json to_json(const DqnConfig& c);
// Strict: unknown keys and wrong types are errors; missing keys keep `base`'s values.
DqnConfig config_from_json(const nlohmann::json& j, const DqnConfig& base = {});
// Sets one field from its text form ("lr", "1e-3"); throws vkwb::Error naming the field.
void set_field(DqnConfig& c, const std::string& name, const std::string& value);
// Throws vkwb::Error for inconsistent values (negative sizes, unknown names, ...).
void validate(const DqnConfig& c);
// "name = value" lines with the help text, for the start of a run.
std::string describe(const DqnConfig& c);

}  // namespace vkwb::agents
