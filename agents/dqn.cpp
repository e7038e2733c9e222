#include "agents/dqn.h"

#include <cmath>
#include <limits>

#include "engine/autograd.h"
#include "engine/ops.h"
#include "nets/checkpoint.h"

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

Dqn::Dqn(const DqnConfig& cfg, Device& dev, envs::ObsShape obs, int num_actions)
    : cfg_(cfg), dev_(dev), obs_shape_(obs), num_actions_(num_actions),
      replay_rng_(derive_seed(cfg.seed, 4)) {
  validate(cfg_);
  const QNetworkOptions qo{.obs = obs, .num_actions = num_actions, .kind = cfg.network, .hidden = cfg.hidden, .dueling = cfg.dueling};
  nn::ModuleContext ctx(dev, derive_seed(cfg.seed, 0));
  online_ = std::make_shared<QNetwork>(ctx, qo);
  target_ = std::make_shared<QNetwork>(ctx, qo);
  target_->load_state_dict(online_->state_dict());   // the target starts as a copy
  for (auto* p : target_->parameters()) p->requires_grad_(false);
  opt_ = make_dqn_optimizer(cfg, online_->parameters());
  if (cfg.grad_clip > 0) opt_->clip_grad_norm(cfg.grad_clip);

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
  obs_f_.resize(obs.size());
  loss_sum_ = Tensor::zeros({1}, dev);
  q_sum_ = Tensor::zeros({1}, dev);
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
    Tensor x = Tensor::from(obs_f_, {1, obs_shape_.c, obs_shape_.h, obs_shape_.w}, dev_);
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
    Tensor x = Tensor::from(obs_f_, {1, obs_shape_.c, obs_shape_.h, obs_shape_.w}, dev_);
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

Tensor Dqn::upload_obs(const std::vector<uint8_t>& obs, int batch) {
  std::vector<float> f(obs.begin(), obs.end());
  return Tensor::from(f, {batch, obs_shape_.c, obs_shape_.h, obs_shape_.w}, dev_);
}

void Dqn::train_step() {
  const int B = cfg_.batch_size;
  // --- sample ---------------------------------------------------------------------------------
  if (per_) per_->sample(B, replay_rng_, batch_, updates_);
  else replay_->sample(B, replay_rng_, batch_);
  Tensor obs = upload_obs(batch_.obs, B);
  Tensor next_obs = upload_obs(batch_.next_obs, B);
  Tensor action = Tensor::from(batch_.action, {B, 1}, dev_);
  Tensor reward = Tensor::from(batch_.reward, {B}, dev_);       // n-step discounted reward sum
  Tensor done = Tensor::from(batch_.done, {B}, dev_);           // 1: the episode terminated
  Tensor discount = Tensor::from(batch_.discount, {B}, dev_);   // gamma^k, k <= n steps taken

  // --- target (no gradient) -------------------------------------------------------------------
  Tensor td_target;
  {
    NoGradGuard no_grad;
    Tensor q_next = target_->forward(next_obs);   // [B, A]
    Tensor next_value;
    if (cfg_.double_q) {
      // Double DQN: the online network chooses a', the target network evaluates it.
      Tensor a_star = argmax(online_->forward(next_obs), 1, /*keepdim=*/true);
      next_value = gather(q_next, 1, a_star).reshape({B});
    } else {
      next_value = max(q_next, 1);
    }
    // No bootstrap past a terminal state: (1 - done) masks it. Truncated episodes do bootstrap.
    td_target = add(reward, mul(mul(discount, affine(done, -1.f, 1.f)), next_value));
  }

  // --- loss -----------------------------------------------------------------------------------
  Tensor q = gather(online_->forward(obs), 1, action).reshape({B});   // Q(s, a)
  Tensor loss;
  if (per_) {
    // Importance-sampling weights correct for the non-uniform sampling.
    Tensor weight = Tensor::from(batch_.weight, {B}, dev_);
    loss = mean(mul(elementwise_loss(cfg_.loss, q, td_target), weight));
  } else {
    loss = cfg_.loss == "mse" ? mse_loss(q, td_target) : huber_loss(q, td_target);
  }

  // --- step -----------------------------------------------------------------------------------
  opt_->zero_grad();
  loss.backward();
  opt_->step();
  ++updates_;
  {
    NoGradGuard no_grad;
    loss_sum_ = add(loss_sum_, loss.reshape({1}));
    q_sum_ = add(q_sum_, mean(q.detach()).reshape({1}));
    ++stat_updates_;
    if (per_) {
      // New priorities |TD error| must be in the tree before the next sample: this syncs.
      std::vector<float> td = abs(sub(q.detach(), td_target)).to_vector();
      per_->update_priorities(batch_.index, td);
    }
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
  auto src = online_->parameters();
  auto dst = target_->parameters();
  for (size_t i = 0; i < src.size(); ++i) {
    if (cfg_.tau >= 1.f) copy_(*dst[i], *src[i]);
    else copy_(*dst[i], add(mul(*src[i], cfg_.tau), mul(*dst[i], 1.f - cfg_.tau)));   // Polyak averaging
  }
}

DqnStats Dqn::take_stats() {
  DqnStats s;
  s.updates = stat_updates_;
  if (stat_updates_ > 0) {
    s.loss = double(loss_sum_.item()) / double(stat_updates_);
    s.q_mean = double(q_sum_.item()) / double(stat_updates_);
  } else {
    s.loss = s.q_mean = std::numeric_limits<double>::quiet_NaN();
  }
  loss_sum_ = Tensor::zeros({1}, dev_);
  q_sum_ = Tensor::zeros({1}, dev_);
  stat_updates_ = 0;
  return s;
}

// --- checkpoints -------------------------------------------------------------------------------

void Dqn::save(io::CheckpointData& ck) const {
  nn::save_module(ck, "online/", *online_);
  nn::save_module(ck, "target/", *target_);
  nn::save_optimizer(ck, "optim/", *opt_);
  if (per_) per_->save(ck, "replay/");
  else replay_->save(ck, "replay/");
  auto rs = replay_rng_.state();
  ck.blobs["dqn/replay_rng"] = io::make_blob(std::vector<uint64_t>(rs.begin(), rs.end()));
  ck.blobs["dqn/loss_sum"] = nn::tensor_blob(loss_sum_);
  ck.blobs["dqn/q_sum"] = nn::tensor_blob(q_sum_);
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
  nn::load_optimizer(ck, "optim/", *opt_);
  if (per_) per_->load(ck, "replay/");
  else replay_->load(ck, "replay/");
  auto rs = io::as_u64(io::get_blob(ck, "dqn/replay_rng"));
  if (rs.size() != 4) throw Error("checkpoint: bad replay RNG state");
  replay_rng_.set_state({rs[0], rs[1], rs[2], rs[3]});
  loss_sum_ = nn::blob_tensor(io::get_blob(ck, "dqn/loss_sum"), dev_, "dqn/loss_sum");
  q_sum_ = nn::blob_tensor(io::get_blob(ck, "dqn/q_sum"), dev_, "dqn/q_sum");
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
