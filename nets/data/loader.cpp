#include "nets/data/loader.h"

#include <algorithm>

#include "engine/error.h"

namespace vkwb::data {
namespace {
// Keeps the permutation stream apart from the per-batch augmentation streams (b = batch index).
constexpr uint64_t kOrderSalt = ~uint64_t{0};
}  // namespace

BatchLoader::BatchLoader(const Dataset& ds, LoaderOptions opt) : ds_(ds), opt_(std::move(opt)) {
  if (opt_.batch_size <= 0) throw Error("batch size must be positive, got " + std::to_string(opt_.batch_size));
  if (ds_.n <= 0) throw Error("cannot load batches from an empty data set");
  if (opt_.drop_last && ds_.n < opt_.batch_size)
    throw Error("data set has " + std::to_string(ds_.n) + " samples, fewer than one batch of " +
                std::to_string(opt_.batch_size) + " (drop_last would leave nothing)");
  batches_per_epoch_ = opt_.drop_last ? ds_.n / opt_.batch_size
                                      : (ds_.n + opt_.batch_size - 1) / opt_.batch_size;
  start_epoch(0, 0);
  if (opt_.background) worker_ = std::thread([this] { worker_loop(); });
}

BatchLoader::~BatchLoader() {
  {
    std::lock_guard<std::mutex> lk(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

std::vector<int64_t> BatchLoader::epoch_order(int64_t epoch) const {
  if (opt_.shuffle) return seeded_permutation(ds_.n, derive_seed(opt_.seed, static_cast<uint64_t>(epoch), kOrderSalt));
  std::vector<int64_t> order(static_cast<size_t>(ds_.n));
  for (int64_t i = 0; i < ds_.n; ++i) order[static_cast<size_t>(i)] = i;
  return order;
}

void BatchLoader::start_epoch(int64_t epoch, int64_t first_batch) {
  if (epoch < 0) throw Error("epoch must be >= 0, got " + std::to_string(epoch));
  if (first_batch < 0 || first_batch > batches_per_epoch_)
    throw Error("cannot start at batch " + std::to_string(first_batch) + ": an epoch has " +
                std::to_string(batches_per_epoch_) + " batches");
  std::vector<int64_t> order = epoch_order(epoch);
  std::unique_lock<std::mutex> lk(mutex_);
  cv_.wait(lk, [&] { return !busy_; });
  ++generation_;
  ready_ = -1;
  held_ = -1;
  error_ = nullptr;
  epoch_ = epoch;
  order_ = std::move(order);
  next_fill_ = first_batch;
  end_ = batches_per_epoch_;
  lk.unlock();
  cv_.notify_all();
}

void BatchLoader::fill(Batch& b, int64_t epoch, int64_t batch_index) const {
  const int64_t start = batch_index * opt_.batch_size;
  const int count = static_cast<int>(std::min<int64_t>(opt_.batch_size, ds_.n - start));
  const size_t s = ds_.sample_size();
  b.size = count;
  b.c = ds_.c;
  b.h = ds_.h;
  b.w = ds_.w;
  b.epoch = epoch;
  b.batch_index = batch_index;
  b.mixed = false;
  b.mix_lambda = 1.0f;
  b.y_mix.clear();
  b.x.resize(static_cast<size_t>(count) * s);
  b.y.resize(static_cast<size_t>(count));
  b.index.resize(static_cast<size_t>(count));
  for (int k = 0; k < count; ++k) {
    const int64_t idx = order_[static_cast<size_t>(start + k)];
    b.index[static_cast<size_t>(k)] = idx;
    b.y[static_cast<size_t>(k)] = ds_.labels[static_cast<size_t>(idx)];
    std::copy_n(ds_.image(static_cast<int>(idx)), s, b.image(k));
  }
  if (opt_.augment) {
    HostRng rng(derive_seed(opt_.seed, static_cast<uint64_t>(epoch), static_cast<uint64_t>(batch_index)));
    opt_.augment(b, rng);
  }
}

void BatchLoader::worker_loop() {
  std::unique_lock<std::mutex> lk(mutex_);
  for (;;) {
    cv_.wait(lk, [&] { return stop_ || (ready_ < 0 && !error_ && next_fill_ < end_); });
    if (stop_) return;
    // With no batch waiting, at most one slot (the caller's) is in use.
    const int slot = held_ == 0 ? 1 : 0;
    const int64_t batch_index = next_fill_++;
    const int64_t epoch = epoch_;
    const uint64_t generation = generation_;
    busy_ = true;
    lk.unlock();
    std::exception_ptr err;
    try {
      fill(slots_[static_cast<size_t>(slot)], epoch, batch_index);
    } catch (...) {
      err = std::current_exception();
    }
    lk.lock();
    busy_ = false;
    if (generation == generation_) {
      if (err)
        error_ = err;
      else
        ready_ = slot;
    }
    cv_.notify_all();
  }
}

const Batch* BatchLoader::next() {
  if (!opt_.background) {
    if (next_fill_ >= end_) return nullptr;
    const int64_t batch_index = next_fill_++;
    fill(slots_[0], epoch_, batch_index);
    return &slots_[0];
  }
  std::unique_lock<std::mutex> lk(mutex_);
  held_ = -1;  // the caller is done with the previous batch
  cv_.notify_all();
  cv_.wait(lk, [&] { return ready_ >= 0 || error_ || (next_fill_ >= end_ && !busy_); });
  if (error_) {
    std::exception_ptr err = error_;
    error_ = nullptr;
    next_fill_ = end_;  // the epoch cannot continue past a failed batch
    std::rethrow_exception(err);
  }
  if (ready_ < 0) return nullptr;
  const int slot = ready_;
  held_ = slot;
  ready_ = -1;
  lk.unlock();
  cv_.notify_all();
  return &slots_[static_cast<size_t>(slot)];
}

}  // namespace vkwb::data
