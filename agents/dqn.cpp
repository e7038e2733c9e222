#include "agents/dqn.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <span>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "engine/stream.h"
#include "nets/checkpoint.h"
#include "nets/parallel.h"

namespace vkwb::agents {

namespace {

std::unique_ptr<nn::Optimizer> make_dqn_optimizer(const DqnConfig& c, std::vector<Tensor*> params) {
  if (c.optimizer == "adam")
    return std::make_unique<nn::Adam>(std::move(params), nn::AdamOptions{.lr = c.lr, .eps = c.optim_eps});
  return std::make_unique<nn::RMSprop>(
      std::move(params), nn::RMSpropOptions{.lr = c.lr, .alpha = c.rms_alpha, .eps = c.optim_eps, .centered = c.rms_centered});
}

// Element-wise Huber (delta) or squared error: prioritized replay weights each sample's loss.
Tensor elementwise_loss(const std::string& kind, const Tensor& q, const Tensor& target) {
  Tensor d = sub(q, target);
  if (kind == "mse") return square(d);
  Tensor ad = abs(d);
  Tensor quad = clamp(ad, 0.f, 1.f);
  return add(mul(square(quad), 0.5f), sub(ad, quad));
}

}  // namespace

std::string auto_target_net(const Device& dev) { return dev.runs_on_host_cores() ? "host" : "device"; }

bool use_host_optimizer(const Device& dev, int replicas) { return nn::host_optimizer_pays(dev, replicas); }

LinearExec hidden_linear_exec(const Device& dev, int replicas) {
  if (const char* e = std::getenv("VKWB_LINEAR"); e && *e) return parse_linear_exec(e, "VKWB_LINEAR");
  return dev.runs_on_host_cores() && replicas == 1 && host_linear_supported(dev) ? LinearExec::host : LinearExec::device;
}

Dqn::Dqn(const DqnConfig& cfg, Device& dev, envs::ObsShape obs, int num_actions)
    : cfg_(cfg), obs_shape_(obs), num_actions_(num_actions),
      replay_rng_(derive_seed(cfg.seed, 4)) {
  validate(cfg_);
  if (cfg_.replicas == 0) cfg_.replicas = nn::auto_replicas(dev, cfg_.batch_size);
  if (cfg_.target_net == "auto") cfg_.target_net = auto_target_net(dev);
  host_target_ = cfg_.target_net == "host";
  const bool host_optimizer = use_host_optimizer(dev, cfg_.replicas);
  const QNetworkOptions qo{.obs = obs, .num_actions = num_actions, .kind = cfg.network, .hidden = cfg.hidden,
                           .dueling = cfg.dueling,
                           .hidden_exec = hidden_linear_exec(dev, cfg_.replicas)};
  dp_ = std::make_unique<nn::DataParallel>(
      Device::open_replicas(dev, cfg_.replicas), derive_seed(cfg.seed, 0),
      [&](nn::ModuleContext& ctx) { return std::make_shared<QNetwork>(ctx, qo); },
      [&](std::vector<Tensor*> params) {
        auto o = make_dqn_optimizer(cfg, std::move(params));
        if (cfg.grad_clip > 0) o->clip_grad_norm(cfg.grad_clip);
        o->set_host_update(host_optimizer);
        return o;
      });
  for (int r = 0; r < dp_->size(); ++r) {
    nn::ModuleContext ctx(dp_->device(r), derive_seed(cfg.seed, 1));
    auto t = std::make_shared<QNetwork>(ctx, qo);
    t->load_state_dict(dp_->model(r).state_dict());   // the target starts as a copy
    for (auto* p : t->parameters()) p->requires_grad_(false);
    targets_.push_back(t);
  }
  online_ = std::static_pointer_cast<QNetwork>(dp_->model_ptr(0));
  target_ = targets_[0];
  opt_ = &dp_->optimizer(0);

  rl::ReplayOptions ro;
  ro.capacity = cfg.replay_capacity;
  ro.obs_shape = {obs.c, obs.h, obs.w};
  ro.n_step = cfg.n_step;
  ro.gamma = cfg.gamma;
  if (cfg.prioritized) {
    rl::PrioritizedOptions po;
    po.alpha = cfg.per_alpha;
    po.beta0 = cfg.per_beta0;
    po.epsilon = cfg.per_eps;
    po.beta_steps = cfg.per_beta_updates;   // not derived from `frames`, which --resume may raise
    per_ = std::make_unique<rl::PrioritizedReplayBuffer>(ro, po);
  } else {
    replay_ = std::make_unique<rl::ReplayBuffer>(ro);
  }
  batch_.resize(cfg.batch_size, obs.size());
  actor_ = online_->make_host();
  if (host_target_) target_host_ = target_->make_host();
  obs_f_.resize(obs.size());
  reset_stats();
}

void Dqn::reset_stats() {
  loss_sum_.clear();
  q_sum_.clear();
  for (int r = 0; r < dp_->size(); ++r) {
    loss_sum_.push_back(Tensor::zeros({1}, dp_->device(r)));
    q_sum_.push_back(Tensor::zeros({1}, dp_->device(r)));
  }
  stat_updates_ = 0;
}

// --- acting ------------------------------------------------------------------------------------

int Dqn::act(const uint8_t* obs, float epsilon, HostRng& rng) {
  if (rng.uniform() < epsilon) return int(rng.below(uint64_t(num_actions_)));
  return greedy_action(obs);
}

void Dqn::refresh_actor() {
  online_->copy_weights(actor_);   // waits for the updates recorded so far
  actor_stale_ = false;
}

std::vector<float> Dqn::q_values(const uint8_t* obs) {
  for (size_t i = 0; i < obs_f_.size(); ++i) obs_f_[i] = float(obs[i]);
  std::vector<float> q(static_cast<size_t>(num_actions_));
  if (cfg_.actor == "device") {
    NoGradGuard ng;
    Tensor x = Tensor::from(obs_f_, {1, obs_shape_.c, obs_shape_.h, obs_shape_.w}, device());
    return online_->forward(x).to_vector();
  }
  if (actor_stale_) refresh_actor();
  actor_.forward(obs_f_.data(), q.data());
  return q;
}

int Dqn::greedy_action(const uint8_t* obs) {
  if (cfg_.actor == "device") {
    for (size_t i = 0; i < obs_f_.size(); ++i) obs_f_[i] = float(obs[i]);
    NoGradGuard ng;
    Tensor x = Tensor::from(obs_f_, {1, obs_shape_.c, obs_shape_.h, obs_shape_.w}, device());
    return argmax(online_->forward(x), 1).to_ivector()[0];   // the one sync per greedy action
  }
  if (actor_stale_) refresh_actor();
  for (size_t i = 0; i < obs_f_.size(); ++i) obs_f_[i] = float(obs[i]);
  return actor_.greedy(obs_f_.data());
}

// --- learning ----------------------------------------------------------------------------------

void Dqn::store(const uint8_t* obs, int action, float reward, const uint8_t* next_obs, bool terminated, bool truncated) {
  if (per_) per_->add(obs, action, reward, next_obs, terminated, truncated);
  else replay_->add(obs, action, reward, next_obs, terminated, truncated);
}

int64_t Dqn::replay_size() const { return per_ ? per_->size() : replay_->size(); }

Tensor Dqn::upload_obs(const std::vector<uint8_t>& obs, int begin, int count, Device& dev) {
  const size_t n = obs_shape_.size();
  std::vector<float> f(obs.begin() + std::ptrdiff_t(size_t(begin) * n), obs.begin() + std::ptrdiff_t(size_t(begin + count) * n));
  return Tensor::from(f, {count, obs_shape_.c, obs_shape_.h, obs_shape_.w}, dev);
}

// Q_target(s', .) of every sampled transition from the host copy of the target network, and the
// TD target r + gamma^k (1 - done) max_a' Q_target(s', a') (the device path's formula, in the same
// order; Double DQN picks a' with the online network on the device and uses q_next_host_ only).
void Dqn::host_td_targets() {
  if (target_host_stale_) {
    target_->copy_weights(target_host_);   // waits for the device (once per target sync)
    target_host_stale_ = false;
  }
  const int B = cfg_.batch_size, A = num_actions_;
  const size_t n = obs_shape_.size();
  q_next_host_.resize(size_t(B) * size_t(A));
  td_host_.resize(size_t(B));
  next_obs_f_.resize(size_t(B) * n);
  for (size_t j = 0; j < size_t(B) * n; ++j) next_obs_f_[j] = float(batch_.next_obs[j]);
  target_host_.forward_batch(next_obs_f_.data(), B, q_next_host_.data());
  for (int i = 0; i < B; ++i) {
    const float* q = q_next_host_.data() + size_t(i) * size_t(A);
    const float next_value = *std::max_element(q, q + A);
    td_host_[size_t(i)] = batch_.reward[size_t(i)] + (batch_.discount[size_t(i)] * (1.f - batch_.done[size_t(i)])) * next_value;
  }
}

void Dqn::train_step() {
  const int B = cfg_.batch_size;
  // --- sample ---------------------------------------------------------------------------------
  if (per_) per_->sample(B, replay_rng_, batch_, updates_);
  else replay_->sample(B, replay_rng_, batch_);
  // Each replica learns from rows [s.begin, s.begin + s.count) of the batch; with one replica
  // that is the whole batch on the one device.
  const int R = dp_->size();
  std::vector<Tensor> qs(static_cast<size_t>(R)), targets(static_cast<size_t>(R));
  auto shards = dp_->shards(B);
  bool host_targets_done = false;
  dp_->step(updates_, B, [&](int r, const nn::DataParallel::Shard& s) {
    Device& dev = dp_->device(r);
    QNetwork& online = static_cast<QNetwork&>(dp_->model(r));
    QNetwork& target = *targets_[size_t(r)];
    const int n = s.count;
    auto rows = [&](const auto& v) { return std::span(v.data() + s.begin, size_t(n)); };
    Tensor obs = upload_obs(batch_.obs, s.begin, n, dev);
    Tensor action = Tensor::from(rows(batch_.action), {n, 1}, dev);

    // --- Q(s, a) (recorded first: with the target on the host, the device runs it meanwhile) ---
    // With the hidden layers on the host (LinearExec::host) the heads wait for the trunk's
    // output, so only the trunk is submitted before the host's TD targets: the device runs the
    // convolution while the host computes them, then the host runs the heads' first layer.
    const bool heads_on_host = online.options().hidden_exec == LinearExec::host;
    Tensor h = online.features(obs);
    Tensor q_all = heads_on_host ? Tensor() : online.head(h);
    if (host_target_ && !host_targets_done) {   // once for the whole batch, on the first replica's turn
      if (!dev.is_cpu()) dev.stream().submit();
      host_td_targets();
      host_targets_done = true;
    }
    if (heads_on_host) q_all = online.head(h);
    Tensor q = gather(q_all, 1, action).reshape({n});

    // --- target (no gradient) -----------------------------------------------------------------
    Tensor td_target;
    if (host_target_ && !cfg_.double_q) {
      td_target = Tensor::from(rows(td_host_), {n}, dev);
    } else {
      NoGradGuard no_grad;
      Tensor next_obs = upload_obs(batch_.next_obs, s.begin, n, dev);
      Tensor reward = Tensor::from(rows(batch_.reward), {n}, dev);       // n-step discounted reward sum
      Tensor done = Tensor::from(rows(batch_.done), {n}, dev);           // 1: the episode terminated
      Tensor discount = Tensor::from(rows(batch_.discount), {n}, dev);   // gamma^k, k <= n steps taken
      Tensor q_next = host_target_ ? Tensor::from(std::span(q_next_host_.data() + size_t(s.begin) * size_t(num_actions_),
                                                            size_t(n) * size_t(num_actions_)),
                                                  {n, num_actions_}, dev)
                                   : target.forward(next_obs);   // [n, A]
      Tensor next_value;
      if (cfg_.double_q) {
        // Double DQN: the online network chooses a', the target network evaluates it.
        Tensor a_star = argmax(online.forward(next_obs), 1, /*keepdim=*/true);
        next_value = gather(q_next, 1, a_star).reshape({n});
      } else {
        next_value = max(q_next, 1);
      }
      // No bootstrap past a terminal state: (1 - done) masks it. Truncated episodes do bootstrap.
      td_target = add(reward, mul(mul(discount, affine(done, -1.f, 1.f)), next_value));
    }

    // --- loss (the shard's mean; the replicas' gradients are averaged by shard size) ----------
    Tensor loss;
    if (per_) {
      // Importance-sampling weights correct for the non-uniform sampling.
      Tensor weight = Tensor::from(rows(batch_.weight), {n}, dev);
      loss = mean(mul(elementwise_loss(cfg_.loss, q, td_target), weight));
    } else {
      loss = cfg_.loss == "mse" ? mse_loss(q, td_target) : huber_loss(q, td_target);
    }
    {
      NoGradGuard no_grad;
      const float share = float(n) / float(B);
      loss_sum_[size_t(r)] = add(loss_sum_[size_t(r)], mul(loss.detach().reshape({1}), share));
      q_sum_[size_t(r)] = add(q_sum_[size_t(r)], mul(mean(q.detach()).reshape({1}), share));
    }
    qs[size_t(r)] = q.detach();
    targets[size_t(r)] = td_target;
    return loss;
  });
  ++updates_;
  ++stat_updates_;
  if (per_) {
    // New priorities |TD error| must be in the tree before the next sample: this syncs.
    NoGradGuard no_grad;
    std::vector<float> td;
    for (int r = 0; r < R; ++r) {
      if (shards[size_t(r)].count == 0) continue;
      auto v = abs(sub(qs[size_t(r)], targets[size_t(r)])).to_vector();
      td.insert(td.end(), v.begin(), v.end());
    }
    per_->update_priorities(batch_.index, td);
  }

  // --- sync target ----------------------------------------------------------------------------
  if (updates_ % cfg_.target_every == 0) sync_target();
  if (cfg_.actor == "host" && updates_ % cfg_.actor_sync_every == 0) {
    if (cfg_.actor_sync_every == 1) actor_stale_ = true;   // refreshed when next needed: same weights
    else refresh_actor();
  }
}

void Dqn::sync_target() {
  NoGradGuard no_grad;
  target_host_stale_ = true;
  for (int r = 0; r < dp_->size(); ++r) {   // every replica from its own online copy: the same values
    auto src = dp_->model(r).parameters();
    auto dst = targets_[size_t(r)]->parameters();
    for (size_t i = 0; i < src.size(); ++i) {
      if (cfg_.tau >= 1.f) copy_(*dst[i], *src[i]);
      else copy_(*dst[i], add(mul(*src[i], cfg_.tau), mul(*dst[i], 1.f - cfg_.tau)));   // Polyak averaging
    }
  }
}

DqnStats Dqn::take_stats() {
  DqnStats s;
  s.updates = stat_updates_;
  if (stat_updates_ > 0) {
    double l = 0, q = 0;
    for (int r = 0; r < dp_->size(); ++r) l += loss_sum_[size_t(r)].item(), q += q_sum_[size_t(r)].item();
    s.loss = l / double(stat_updates_);
    s.q_mean = q / double(stat_updates_);
  } else {
    s.loss = s.q_mean = std::numeric_limits<double>::quiet_NaN();
  }
  reset_stats();
  return s;
}

// --- checkpoints -------------------------------------------------------------------------------

void Dqn::save(io::CheckpointData& ck) const {
  nn::save_module(ck, "online/", *online_);
  nn::save_module(ck, "target/", *target_);
  dp_->gather_optimizer_state();   // replica 0 saves the state every replica kept for its shard
  nn::save_optimizer(ck, "optim/", *opt_);
  if (per_) per_->save(ck, "replay/");
  else replay_->save(ck, "replay/");
  auto rs = replay_rng_.state();
  ck.blobs["dqn/replay_rng"] = io::make_blob(std::vector<uint64_t>(rs.begin(), rs.end()));
  // The statistics window, per replica (replica r >= 1 under "dqn/loss_sum/r"): a resumed run
  // adds up the same numbers in the same order.
  for (size_t r = 0; r < loss_sum_.size(); ++r) {
    const std::string suffix = r == 0 ? "" : "/" + std::to_string(r);
    ck.blobs["dqn/loss_sum" + suffix] = nn::tensor_blob(loss_sum_[r]);
    ck.blobs["dqn/q_sum" + suffix] = nn::tensor_blob(q_sum_[r]);
  }
  ck.meta["dqn"] = {{"updates", updates_}, {"stat_updates", stat_updates_}, {"actor_stale", actor_stale_}};
  // The host copy may lag the online weights (actor_sync_every > 1): store it as it is.
  for (size_t i = 0; i < actor_.num_layers(); ++i) {
    ck.blobs["actor/" + std::to_string(i) + ".w"] = io::make_blob(actor_.layer(i).w);
    ck.blobs["actor/" + std::to_string(i) + ".b"] = io::make_blob(actor_.layer(i).b);
  }
}

void Dqn::load(const io::CheckpointData& ck) {
  if (!ck.meta.contains("dqn")) throw Error("checkpoint has no DQN state (is it from `vkwb dqn`?)");
  nn::load_module(ck, "online/", *online_);
  nn::load_module(ck, "target/", *target_);
  target_host_stale_ = true;
  nn::load_optimizer(ck, "optim/", *opt_);
  dp_->broadcast(0);
  for (size_t r = 1; r < targets_.size(); ++r) targets_[r]->load_state_dict(target_->state_dict());
  if (per_) per_->load(ck, "replay/");
  else replay_->load(ck, "replay/");
  auto rs = io::as_u64(io::get_blob(ck, "dqn/replay_rng"));
  if (rs.size() != 4) throw Error("checkpoint: bad replay RNG state");
  replay_rng_.set_state({rs[0], rs[1], rs[2], rs[3]});
  reset_stats();
  for (int r = 0; r < dp_->size(); ++r) {
    const std::string suffix = r == 0 ? "" : "/" + std::to_string(r);
    loss_sum_[size_t(r)] = nn::blob_tensor(io::get_blob(ck, "dqn/loss_sum" + suffix), dp_->device(r), "dqn/loss_sum" + suffix);
    q_sum_[size_t(r)] = nn::blob_tensor(io::get_blob(ck, "dqn/q_sum" + suffix), dp_->device(r), "dqn/q_sum" + suffix);
  }
  const auto& m = ck.meta["dqn"];
  updates_ = m.at("updates").get<int64_t>();
  stat_updates_ = m.at("stat_updates").get<int64_t>();
  actor_stale_ = m.at("actor_stale").get<bool>();
  for (size_t i = 0; i < actor_.num_layers(); ++i) {
    auto& l = actor_.layer(i);
    io::copy_blob(io::get_blob(ck, "actor/" + std::to_string(i) + ".w"), "f32", l.w.data(), int64_t(l.w.size()));
    io::copy_blob(io::get_blob(ck, "actor/" + std::to_string(i) + ".b"), "f32", l.b.data(), int64_t(l.b.size()));
  }
}

}  // namespace vkwb::agents
