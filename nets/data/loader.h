// BatchLoader: mini-batches over an in-memory Dataset, with a seeded per-epoch shuffle and the next
// batch prepared on a background thread while the caller works on the current one.
//
// Reproducibility: the order of epoch e comes from HostRng(derive_seed(seed, e)), and the
// augmentation RNG of batch k of epoch e from derive_seed(seed, e, k). Neither depends on what ran
// before, so start_epoch(e, k) after a resume yields exactly the batches an uninterrupted run would
// have produced from that point on, without replaying earlier epochs.
//
//   BatchLoader loader(train, {.batch_size = 128, .seed = seed});
//   for (int64_t e = start_epoch; e < epochs; ++e) {
//     loader.start_epoch(e, e == start_epoch ? start_batch : 0);
//     while (const Batch* b = loader.next()) train_step(*b);
//   }
#pragma once
#include <array>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "nets/data/batch.h"
#include "nets/data/dataset.h"
#include "nets/data/host_rng.h"

namespace vkwb::data {

struct LoaderOptions {
  int batch_size = 64;
  bool shuffle = true;
  uint64_t seed = 0;
  bool drop_last = false;   // drop the short last batch of each epoch
  bool background = true;   // false: prepare batches in next() itself (debugging, profiling)
  // Called on each freshly gathered batch (on the worker thread when background is set) with an
  // RNG seeded for that (epoch, batch); see make_augmentation(). An exception it throws is
  // rethrown from next().
  std::function<void(Batch&, HostRng&)> augment;
};

class BatchLoader {
 public:
  // `ds` is not copied and must outlive the loader. The loader starts positioned at epoch 0.
  BatchLoader(const Dataset& ds, LoaderOptions opt);
  ~BatchLoader();
  BatchLoader(const BatchLoader&) = delete;
  BatchLoader& operator=(const BatchLoader&) = delete;

  int64_t batches_per_epoch() const { return batches_per_epoch_; }
  int64_t epoch() const { return epoch_; }

  // (Re)positions the loader at batch `first_batch` of epoch `epoch`; batches before it are not
  // prepared. Any batch obtained from next() earlier becomes invalid.
  void start_epoch(int64_t epoch, int64_t first_batch = 0);

  // The next batch of the current epoch, or nullptr once the epoch is exhausted. The batch stays
  // valid until the next call to next() or start_epoch().
  const Batch* next();

  // Dataset indices in the order epoch `epoch` visits them.
  std::vector<int64_t> epoch_order(int64_t epoch) const;

 private:
  void fill(Batch& b, int64_t epoch, int64_t batch_index) const;
  void worker_loop();

  const Dataset& ds_;
  LoaderOptions opt_;
  int64_t batches_per_epoch_ = 0;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::array<Batch, 2> slots_;
  int ready_ = -1;  // slot holding a prepared, not yet handed out batch
  int held_ = -1;   // slot the caller is using
  bool busy_ = false;  // worker is filling a slot (it reads order_ without the lock then)
  bool stop_ = false;
  uint64_t generation_ = 0;  // bumped by start_epoch so stale work is discarded
  std::exception_ptr error_;
  int64_t epoch_ = 0;
  int64_t next_fill_ = 0;  // next batch index to prepare
  int64_t end_ = 0;        // batches in the current epoch
  std::vector<int64_t> order_;
  std::thread worker_;
};

}  // namespace vkwb::data
