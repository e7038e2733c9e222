#include "agents/core/replay_buffer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/error.h"

namespace vkwb::rl {
namespace {

constexpr uint8_t kValid = 1;       // slot holds a transition that can be sampled
constexpr uint8_t kTerminated = 2;  // ... which reached a terminal state
constexpr uint8_t kEpisodeEnd = 4;  // ... which ended its episode (terminated or truncated)

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace

void ReplayBatch::resize(int batch, size_t obs_size) {
  size = batch;
  const size_t b = static_cast<size_t>(batch);
  obs.resize(b * obs_size);
  next_obs.resize(b * obs_size);
  action.resize(b);
  reward.resize(b);
  done.resize(b);
  discount.resize(b);
  weight.resize(b);
  index.resize(b);
}

ReplayBuffer::ReplayBuffer(const ReplayOptions& opt) : opt_(opt) {
  if (opt_.capacity < 1) throw Error("replay capacity must be >= 1, got " + std::to_string(opt_.capacity));
  if (opt_.obs_shape.empty()) throw Error("replay buffer needs an observation shape");
  obs_size_ = 1;
  for (int64_t d : opt_.obs_shape) {
    if (d <= 0) throw Error("replay observation shape " + shape_str(opt_.obs_shape) + " has a non-positive dimension");
    obs_size_ *= static_cast<size_t>(d);
  }
  if (opt_.n_step < 1) throw Error("n-step must be >= 1, got " + std::to_string(opt_.n_step));
  if (!(opt_.gamma >= 0.0f && opt_.gamma <= 1.0f)) throw Error("gamma must be in [0, 1]");
  // One spare slot: the cursor slot holding the newest next_obs is not a transition.
  num_slots_ = opt_.capacity + 1;
  const size_t n = static_cast<size_t>(num_slots_);
  obs_.assign(n * obs_size_, 0);
  action_.assign(n, 0);
  reward_.assign(n, 0.0f);
  flags_.assign(n, 0);
}

void ReplayBuffer::invalidate(int64_t slot) {
  uint8_t& f = flags_[static_cast<size_t>(slot)];
  if (f & kValid) --num_valid_;
  f = 0;
}

void ReplayBuffer::write_obs(int64_t slot, const uint8_t* obs) {
  invalidate(slot);
  std::memcpy(obs_.data() + static_cast<size_t>(slot) * obs_size_, obs, obs_size_);
  filled_ = std::max(filled_, slot + 1);
}

int64_t ReplayBuffer::add(const uint8_t* obs, int32_t action, float reward, const uint8_t* next_obs,
                          bool terminated, bool truncated) {
  if (!obs || !next_obs) throw Error("replay add: null observation");
  int64_t slot;
  if (num_added_ > 0 && !last_ended_ && std::memcmp(obs_at(cursor_), obs, obs_size_) == 0) {
    slot = cursor_;  // continues the episode: obs is already in place as the last next_obs
  } else if (num_added_ == 0) {
    slot = cursor_;
    write_obs(slot, obs);
  } else {
    // A new episode. The cursor slot keeps the previous final observation; start one further on.
    if (!last_ended_) flags_[static_cast<size_t>((cursor_ + num_slots_ - 1) % num_slots_)] |= kEpisodeEnd;
    slot = (cursor_ + 1) % num_slots_;
    write_obs(slot, obs);
  }
  action_[static_cast<size_t>(slot)] = action;
  reward_[static_cast<size_t>(slot)] = reward;
  flags_[static_cast<size_t>(slot)] = static_cast<uint8_t>(kValid | (terminated ? kTerminated : 0) |
                                                           (terminated || truncated ? kEpisodeEnd : 0));
  ++num_valid_;
  const int64_t next = (slot + 1) % num_slots_;
  write_obs(next, next_obs);  // overwrites (invalidates) the oldest slot once the ring is full
  cursor_ = next;
  last_ended_ = terminated || truncated;
  ++num_added_;
  return slot;
}

int64_t ReplayBuffer::add(std::span<const uint8_t> obs, int32_t action, float reward,
                          std::span<const uint8_t> next_obs, bool terminated, bool truncated) {
  if (obs.size() != obs_size_ || next_obs.size() != obs_size_)
    throw Error("replay add: observations have " + std::to_string(obs.size()) + " and " +
                std::to_string(next_obs.size()) + " bytes, the buffer's shape " + shape_str(opt_.obs_shape) +
                " needs " + std::to_string(obs_size_));
  return add(obs.data(), action, reward, next_obs.data(), terminated, truncated);
}

bool ReplayBuffer::is_valid(int64_t slot) const {
  return slot >= 0 && slot < num_slots_ && (flags_[static_cast<size_t>(slot)] & kValid);
}

void ReplayBuffer::gather(int64_t slot, ReplayBatch& out, int row) const {
  const size_t r = static_cast<size_t>(row);
  std::memcpy(out.obs.data() + r * obs_size_, obs_at(slot), obs_size_);
  float ret = 0.0f, discount = 1.0f, done = 0.0f;
  int64_t j = slot;
  for (int k = 0; k < opt_.n_step; ++k) {
    ret += discount * reward_[static_cast<size_t>(j)];
    discount *= opt_.gamma;
    const uint8_t f = flags_[static_cast<size_t>(j)];
    if (f & kEpisodeEnd) {
      done = (f & kTerminated) ? 1.0f : 0.0f;
      break;
    }
    const int64_t nj = (j + 1) % num_slots_;
    // Not valid means nj is the cursor: the following steps have not happened yet.
    if (k + 1 == opt_.n_step || !(flags_[static_cast<size_t>(nj)] & kValid)) break;
    j = nj;
  }
  std::memcpy(out.next_obs.data() + r * obs_size_, obs_at((j + 1) % num_slots_), obs_size_);
  out.action[r] = action_[static_cast<size_t>(slot)];
  out.reward[r] = ret;
  out.done[r] = done;
  out.discount[r] = discount;
  out.index[r] = slot;
}

void ReplayBuffer::sample(int batch_size, HostRng& rng, ReplayBatch& out) const {
  if (num_valid_ == 0) throw Error("cannot sample from an empty replay buffer");
  if (batch_size <= 0) throw Error("replay batch size must be positive");
  out.resize(batch_size, obs_size_);
  for (int i = 0; i < batch_size; ++i) {
    // Rejection keeps the draw exactly uniform over transitions; at least half of the filled
    // slots are transitions (an episode of length L uses L + 1 slots), so this ends quickly.
    int64_t slot;
    do {
      slot = static_cast<int64_t>(rng.below(static_cast<uint64_t>(filled_)));
    } while (!(flags_[static_cast<size_t>(slot)] & kValid));
    gather(slot, out, i);
    out.weight[static_cast<size_t>(i)] = 1.0f;
  }
}

void ReplayBuffer::save(io::CheckpointData& ckpt, const std::string& prefix) const {
  const size_t n = static_cast<size_t>(filled_);
  ckpt.meta[prefix + "state"] = {{"capacity", opt_.capacity}, {"obs_shape", opt_.obs_shape},
                                 {"cursor", cursor_},         {"filled", filled_},
                                 {"num_added", num_added_},   {"last_ended", last_ended_}};
  std::vector<int64_t> obs_blob_shape = {filled_};
  obs_blob_shape.insert(obs_blob_shape.end(), opt_.obs_shape.begin(), opt_.obs_shape.end());
  ckpt.blobs[prefix + "obs"] = io::make_blob_raw("u8", obs_blob_shape, obs_.data());
  ckpt.blobs[prefix + "action"] = io::make_blob_raw("i32", {filled_}, action_.data());
  ckpt.blobs[prefix + "reward"] = io::make_blob_raw("f32", {filled_}, reward_.data());
  ckpt.blobs[prefix + "flags"] = io::make_blob(std::vector<uint8_t>(flags_.begin(), flags_.begin() + static_cast<std::ptrdiff_t>(n)));
}

void ReplayBuffer::load(const io::CheckpointData& ckpt, const std::string& prefix) {
  const std::string what = "replay buffer '" + prefix + "' in checkpoint";
  const auto it = ckpt.meta.find(prefix + "state");
  if (it == ckpt.meta.end()) throw Error(what + ": not found");
  int64_t capacity, cursor, filled, num_added;
  std::vector<int64_t> obs_shape;
  bool last_ended;
  try {
    capacity = it->at("capacity").get<int64_t>();
    obs_shape = it->at("obs_shape").get<std::vector<int64_t>>();
    cursor = it->at("cursor").get<int64_t>();
    filled = it->at("filled").get<int64_t>();
    num_added = it->at("num_added").get<int64_t>();
    last_ended = it->at("last_ended").get<bool>();
  } catch (const nlohmann::json::exception& ex) {
    throw Error(what + ": bad state: " + ex.what());
  }
  if (capacity != opt_.capacity)
    throw Error(what + " has capacity " + std::to_string(capacity) + ", this run uses " +
                std::to_string(opt_.capacity));
  if (obs_shape != opt_.obs_shape)
    throw Error(what + " has observation shape " + shape_str(obs_shape) + ", this run uses " +
                shape_str(opt_.obs_shape));
  if (filled < 0 || filled > num_slots_ || cursor < 0 || cursor >= std::max<int64_t>(filled, 1) || num_added < 0)
    throw Error(what + ": inconsistent cursor/fill state");
  const size_t n = static_cast<size_t>(filled);
  std::fill(obs_.begin(), obs_.end(), 0);
  std::fill(action_.begin(), action_.end(), 0);
  std::fill(reward_.begin(), reward_.end(), 0.0f);
  std::fill(flags_.begin(), flags_.end(), 0);
  io::copy_blob(io::get_blob(ckpt, prefix + "obs"), "u8", obs_.data(), static_cast<int64_t>(n * obs_size_));
  io::copy_blob(io::get_blob(ckpt, prefix + "action"), "i32", action_.data(), filled);
  io::copy_blob(io::get_blob(ckpt, prefix + "reward"), "f32", reward_.data(), filled);
  io::copy_blob(io::get_blob(ckpt, prefix + "flags"), "u8", flags_.data(), filled);
  num_valid_ = 0;
  for (size_t i = 0; i < n; ++i) {
    if (flags_[i] & ~(kValid | kTerminated | kEpisodeEnd)) throw Error(what + ": bad slot flags");
    if (flags_[i] & kValid) ++num_valid_;
  }
  if (flags_[static_cast<size_t>(cursor)] & kValid) throw Error(what + ": cursor slot holds a transition");
  cursor_ = cursor;
  filled_ = filled;
  num_added_ = num_added;
  last_ended_ = last_ended;
}

// ---------------------------------------------------------------------------------------------

PrioritizedReplayBuffer::PrioritizedReplayBuffer(const ReplayOptions& opt, const PrioritizedOptions& popt)
    : buffer_(opt), popt_(popt), tree_(buffer_.num_slots()) {
  if (!(popt_.alpha >= 0)) throw Error("prioritized replay alpha must be >= 0");
  if (!(popt_.beta0 >= 0 && popt_.beta0 <= 1)) throw Error("prioritized replay beta0 must be in [0, 1]");
  if (!(popt_.epsilon >= 0)) throw Error("prioritized replay epsilon must be >= 0");
}

void PrioritizedReplayBuffer::after_add(int64_t slot) {
  tree_.set(slot, std::pow(max_priority_, popt_.alpha));
  tree_.set((slot + 1) % buffer_.num_slots(), 0.0);  // the new cursor slot, possibly an old transition
}

int64_t PrioritizedReplayBuffer::add(const uint8_t* obs, int32_t action, float reward, const uint8_t* next_obs,
                                     bool terminated, bool truncated) {
  const int64_t slot = buffer_.add(obs, action, reward, next_obs, terminated, truncated);
  after_add(slot);
  return slot;
}

int64_t PrioritizedReplayBuffer::add(std::span<const uint8_t> obs, int32_t action, float reward,
                                     std::span<const uint8_t> next_obs, bool terminated, bool truncated) {
  const int64_t slot = buffer_.add(obs, action, reward, next_obs, terminated, truncated);
  after_add(slot);
  return slot;
}

double PrioritizedReplayBuffer::beta(int64_t step) const {
  if (popt_.beta_steps <= 0) return 1.0;
  const double frac = std::clamp(static_cast<double>(step) / static_cast<double>(popt_.beta_steps), 0.0, 1.0);
  return popt_.beta0 + (1.0 - popt_.beta0) * frac;
}

double PrioritizedReplayBuffer::probability(int64_t slot) const {
  const double total = tree_.total();
  return total > 0 ? tree_.get(slot) / total : 0.0;
}

void PrioritizedReplayBuffer::sample(int batch_size, HostRng& rng, ReplayBatch& out, int64_t step) const {
  if (buffer_.size() == 0) throw Error("cannot sample from an empty replay buffer");
  if (batch_size <= 0) throw Error("replay batch size must be positive");
  out.resize(batch_size, buffer_.obs_size());
  const double total = tree_.total();
  if (!(total > 0)) throw Error("cannot sample: every replay priority is zero (set epsilon > 0)");
  const double segment = total / batch_size;
  const double b = beta(step);
  const double n = static_cast<double>(buffer_.size());
  double max_w = 0.0;
  for (int i = 0; i < batch_size; ++i) {
    const double u = std::min(segment * (i + rng.uniform()), std::nextafter(total, 0.0));
    const int64_t slot = tree_.find(u);
    buffer_.gather(slot, out, i);
    const double w = std::pow(n * tree_.get(slot) / total, -b);
    out.weight[static_cast<size_t>(i)] = static_cast<float>(w);
    max_w = std::max(max_w, w);
  }
  for (int i = 0; i < batch_size; ++i)
    out.weight[static_cast<size_t>(i)] = static_cast<float>(out.weight[static_cast<size_t>(i)] / max_w);
}

void PrioritizedReplayBuffer::update_priorities(std::span<const int64_t> indices, std::span<const float> td_errors) {
  if (indices.size() != td_errors.size())
    throw Error("update_priorities: " + std::to_string(indices.size()) + " indices but " +
                std::to_string(td_errors.size()) + " TD errors");
  for (size_t i = 0; i < indices.size(); ++i) {
    if (!std::isfinite(td_errors[i]))
      throw Error("update_priorities: TD error " + std::to_string(i) + " is not finite (diverged training?)");
    if (!buffer_.is_valid(indices[i])) continue;
    const double p = std::fabs(static_cast<double>(td_errors[i])) + popt_.epsilon;
    max_priority_ = std::max(max_priority_, p);
    tree_.set(indices[i], std::pow(p, popt_.alpha));
  }
}

void PrioritizedReplayBuffer::save(io::CheckpointData& ckpt, const std::string& prefix) const {
  buffer_.save(ckpt, prefix);
  std::vector<double> leaves(static_cast<size_t>(buffer_.num_slots()));
  for (int64_t i = 0; i < buffer_.num_slots(); ++i) leaves[static_cast<size_t>(i)] = tree_.get(i);
  ckpt.blobs[prefix + "priority"] = io::make_blob(leaves);
  ckpt.meta[prefix + "prioritized"] = {{"max_priority", max_priority_}};
}

void PrioritizedReplayBuffer::load(const io::CheckpointData& ckpt, const std::string& prefix) {
  buffer_.load(ckpt, prefix);
  const auto it = ckpt.meta.find(prefix + "prioritized");
  if (it == ckpt.meta.end() || !it->contains("max_priority"))
    throw Error("prioritized replay buffer '" + prefix + "' in checkpoint: priorities not found");
  std::vector<double> leaves(static_cast<size_t>(buffer_.num_slots()));
  io::copy_blob(io::get_blob(ckpt, prefix + "priority"), "f64", leaves.data(), buffer_.num_slots());
  tree_.clear();
  for (int64_t i = 0; i < buffer_.num_slots(); ++i)
    tree_.set(i, buffer_.is_valid(i) ? leaves[static_cast<size_t>(i)] : 0.0);
  max_priority_ = (*it)["max_priority"].get<double>();
}

}  // namespace vkwb::rl
