#include "agents/dqn_config.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <sstream>
#include <type_traits>

#include "engine/error.h"

namespace vkwb::agents {

DqnConfig dqn_preset(const std::string& name) {
  DqnConfig c;   // the defaults are the MinAtar paper's
  if (name == "minatar") return c;
  if (name == "small") {
    c.network = "mlp";
    c.hidden = 64;
    c.optimizer = "adam";
    c.lr = 1e-3f;
    c.optim_eps = 1e-8f;
    c.replay_capacity = 10000;
    c.learning_starts = 500;
    c.eps_start = 1.0f;
    c.eps_end = 0.05f;
    c.eps_frames = 2000;
    c.target_every = 100;
    c.per_beta_updates = 10000;
    c.frames = 10000;
    c.eval_every = 1000;
    c.eval_episodes = 20;
    c.log_every = 500;
    c.checkpoint_every = 5000;
    c.gif_frames = 100;
    return c;
  }
  std::string names;
  for (auto& n : dqn_preset_names()) names += (names.empty() ? "" : ", ") + n;
  throw Error("unknown DQN preset '" + name + "'; valid presets: " + names);
}

std::string default_preset(const std::string& env) { return env.rfind("minatar-", 0) == 0 ? "minatar" : "small"; }

std::vector<std::string> dqn_preset_names() { return {"minatar", "small"}; }

namespace {

template <class T>
void parse_value(const std::string& name, const std::string& text, T& out) {
  auto bad = [&](const char* what) {
    throw Error("--" + name + ": '" + text + "' is not " + what);
  };
  if constexpr (std::is_same_v<T, std::string>) {
    out = text;
  } else if constexpr (std::is_same_v<T, bool>) {
    if (text == "1" || text == "true" || text == "on" || text == "yes") out = true;
    else if (text == "0" || text == "false" || text == "off" || text == "no") out = false;
    else bad("a boolean (true/false)");
  } else if constexpr (std::is_integral_v<T>) {
    errno = 0;
    char* end = nullptr;
    // Accept "1e6" and "1000000" alike for frame counts: parse as double when it has an exponent.
    if (text.find_first_of("eE.") != std::string::npos) {
      double v = std::strtod(text.c_str(), &end);
      if (end == text.c_str() || *end || errno || v != std::floor(v) || std::abs(v) > 9e18) bad("an integer");
      out = T(v);
    } else {
      long long v = std::strtoll(text.c_str(), &end, 10);
      if (text.empty() || end == text.c_str() || *end || errno) bad("an integer");
      if (std::is_unsigned_v<T> && v < 0) bad("a non-negative integer");
      out = T(v);
      if ((long long)out != v) bad("an integer in range");
    }
  } else {
    errno = 0;
    char* end = nullptr;
    double v = std::strtod(text.c_str(), &end);
    if (text.empty() || end == text.c_str() || *end || errno || !std::isfinite(v)) bad("a number");
    out = T(v);
  }
}

template <class T>
std::string show(const T& v) {
  if constexpr (std::is_same_v<T, std::string>) return v;
  else if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
  else {
    std::ostringstream s;
    s << v;
    return s.str();
  }
}

}  // namespace

nlohmann::json to_json(const DqnConfig& c) {
  nlohmann::json j = nlohmann::json::object();
  for_each_field(c, [&](const char* name, const auto& v, const char*) { j[name] = v; });
  return j;
}

DqnConfig config_from_json(const nlohmann::json& j, const DqnConfig& base) {
  if (!j.is_object()) throw Error("DQN config must be a JSON object");
  DqnConfig c = base;
  size_t known = 0;
  for_each_field(c, [&](const char* name, auto& v, const char*) {
    if (!j.contains(name)) return;
    ++known;
    using T = std::decay_t<decltype(v)>;
    const auto& x = j.at(name);
    bool ok = std::is_same_v<T, std::string> ? x.is_string()
              : std::is_same_v<T, bool>      ? x.is_boolean()
              : std::is_integral_v<T>        ? x.is_number_integer()
                                             : x.is_number();
    if (!ok) throw Error("DQN config: '" + std::string(name) + "' has the wrong type (" + x.dump() + ")");
    v = x.get<T>();
  });
  if (known != j.size()) {
    DqnConfig probe;
    for (auto& [key, value] : j.items()) {
      bool found = false;
      for_each_field(probe, [&](const char* name, auto&, const char*) { found = found || key == name; });
      if (!found) throw Error("DQN config: unknown key '" + key + "'");
    }
  }
  return c;
}

void set_field(DqnConfig& c, const std::string& name, const std::string& value) {
  bool found = false;
  for_each_field(c, [&](const char* n, auto& v, const char*) {
    if (name != n) return;
    found = true;
    parse_value(name, value, v);
  });
  if (!found) throw Error("unknown DQN config field '" + name + "'");
}

void validate(const DqnConfig& c) {
  auto need = [](bool ok, const std::string& msg) {
    if (!ok) throw Error("DQN config: " + msg);
  };
  need(c.frames >= 0, "frames must be >= 0");
  need(c.sticky_action_prob >= 0 && c.sticky_action_prob <= 1, "sticky_action_prob must be in [0, 1]");
  need(c.slip_prob >= 0 && c.slip_prob <= 1, "slip_prob must be in [0, 1]");
  need(c.max_episode_steps >= 0, "max_episode_steps must be >= 0");
  need(c.network == "conv" || c.network == "mlp", "network must be conv or mlp, got '" + c.network + "'");
  need(c.hidden >= 1, "hidden must be >= 1");
  need(c.loss == "huber" || c.loss == "mse", "loss must be huber or mse, got '" + c.loss + "'");
  need(c.optimizer == "rmsprop" || c.optimizer == "adam", "optimizer must be rmsprop or adam, got '" + c.optimizer + "'");
  need(c.lr > 0, "lr must be > 0");
  need(c.rms_alpha > 0 && c.rms_alpha < 1, "rms_alpha must be in (0, 1)");
  need(c.optim_eps > 0, "optim_eps must be > 0");
  need(c.grad_clip >= 0, "grad_clip must be >= 0");
  need(c.gamma >= 0 && c.gamma <= 1, "gamma must be in [0, 1]");
  need(c.n_step >= 1 && c.n_step <= 100, "n_step must be in [1, 100]");
  need(c.replay_capacity >= 2, "replay_capacity must be >= 2");
  need(c.batch_size >= 1, "batch_size must be >= 1");
  need(c.replicas >= 0 && c.replicas <= c.batch_size, "replicas must be in [0, batch_size] (0: auto)");
  need(c.learning_starts >= 1, "learning_starts must be >= 1 (the replay buffer needs a transition to sample)");
  need(c.train_every >= 1, "train_every must be >= 1");
  need(c.eps_start >= 0 && c.eps_start <= 1 && c.eps_end >= 0 && c.eps_end <= 1, "eps_start and eps_end must be in [0, 1]");
  need(c.eps_frames >= 0, "eps_frames must be >= 0");
  need(c.target_every >= 1, "target_every must be >= 1");
  need(c.tau > 0 && c.tau <= 1, "tau must be in (0, 1]");
  need(c.target_net == "auto" || c.target_net == "host" || c.target_net == "device",
       "target_net must be auto, host or device, got '" + c.target_net + "'");
  need(c.per_alpha >= 0, "per_alpha must be >= 0");
  need(c.per_beta0 >= 0 && c.per_beta0 <= 1, "per_beta0 must be in [0, 1]");
  need(c.per_beta_updates >= 1, "per_beta_updates must be >= 1");
  need(c.per_eps > 0, "per_eps must be > 0");
  need(c.actor == "host" || c.actor == "device", "actor must be host or device, got '" + c.actor + "'");
  need(c.actor_sync_every >= 1, "actor_sync_every must be >= 1");
  need(c.eval_every >= 0, "eval_every must be >= 0");
  need(c.eval_episodes >= 1, "eval_episodes must be >= 1");
  need(c.eval_eps >= 0 && c.eval_eps <= 1, "eval_eps must be in [0, 1]");
  need(c.eval_max_steps >= 0, "eval_max_steps must be >= 0");
  need(c.gif_frames >= 0, "gif_frames must be >= 0");
  need(c.log_every >= 1, "log_every must be >= 1");
  need(c.checkpoint_every >= 0, "checkpoint_every must be >= 0");
  need(c.keep_checkpoints >= 1, "keep_checkpoints must be >= 1");
}

std::string describe(const DqnConfig& c) {
  std::string out;
  for_each_field(c, [&](const char* name, const auto& v, const char* help) {
    std::string line = "  " + std::string(name) + " = " + show(v);
    if (line.size() < 36) line.resize(36, ' ');
    out += line + "  # " + help + "\n";
  });
  return out;
}

}  // namespace vkwb::agents
