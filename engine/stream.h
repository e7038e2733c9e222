// Stream: records dispatches and copies into command buffers, with the barriers they need, and
// submits only when the host needs a result (sync) or a command buffer fills up. A whole
// training step is therefore one submission.
//
// Epochs: every command buffer gets an epoch number when it starts recording; the allocator
// defers frees until the epoch that could still read the memory has completed.
#pragma once
#include "engine/vk.h"

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

namespace vkwb {

class Device;

// One binding: a storage buffer range, or (view != null) a uniform texel buffer view.
struct BufferArg {
  VkBuffer buffer;
  VkDeviceSize offset, range;
  VkBufferView view = VK_NULL_HANDLE;
};

// Per profiled kernel name: the dispatch count, their total and the fastest single dispatch (on a
// shared CPU the minimum is the figure least disturbed by other work).
struct KernelTiming { uint64_t dispatches = 0; double total_ms = 0, min_us = 0; };

class Stream {
 public:
  explicit Stream(Device& dev);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  void dispatch(VkPipeline pipeline, VkPipelineLayout layout, const BufferArg* bufs, uint32_t nbufs,
                const void* push, uint32_t push_size, uint32_t gx, uint32_t gy, uint32_t gz,
                const char* profile_name);
  void copy(VkBuffer src, VkDeviceSize src_off, VkBuffer dst, VkDeviceSize dst_off, VkDeviceSize bytes);

  void submit();   // submit what is recorded, don't wait
  void sync();     // submit and wait for everything

  // Submit what is recorded and return an epoch that covers all of it (0: nothing was ever
  // recorded); wait_epoch(e) then waits for that work only, while later submissions keep the
  // device busy. Host code that reads device results mid-step (e.g. a weight gradient computed
  // on the host while the device runs the rest of the backward pass) uses the pair.
  uint64_t flush_epoch();
  void wait_epoch(uint64_t epoch);

  // The epoch that must complete before memory freed now may be reused (0: nothing pending).
  uint64_t pending_epoch() const;
  bool idle() const { return pending_epoch() == 0; }

  uint64_t submits() const { return submits_; }
  uint64_t dispatches() const { return dispatches_; }
  // Per-kernel GPU time, collected when profiling is on (VKWB_PROFILE=1 or set_profiling).
  void set_profiling(bool on);
  bool profiling() const { return profiling_; }
  const std::map<std::string, KernelTiming>& timings() const { return timings_; }
  void reset_timings() { timings_.clear(); }
  std::string timing_table() const;

 private:
  struct Batch {
    VkCommandBuffer cb = VK_NULL_HANDLE;
    VkFence fence = VK_NULL_HANDLE;
    VkQueryPool queries = VK_NULL_HANDLE;
    uint64_t epoch = 0;
    uint32_t commands = 0;
    std::vector<const char*> names;   // profiled dispatches, in order
  };
  VkCommandBuffer begin();
  void barrier(VkCommandBuffer cb);
  void retire(Batch& b);
  void wait_oldest();

  Device& dev_;
  PFN_vkCmdPushDescriptorSetKHR push_descriptors_ = nullptr;
  VkCommandPool pool_ = VK_NULL_HANDLE;
  Batch current_;
  bool recording_ = false;
  std::deque<Batch> in_flight_;
  std::vector<Batch> spare_;
  uint64_t next_epoch_ = 1;
  uint64_t completed_epoch_ = 0;
  uint64_t submits_ = 0, dispatches_ = 0;
  bool profiling_ = false;
  std::map<std::string, KernelTiming> timings_;
  static constexpr uint32_t kMaxCommands = 1024;
  // Submissions the host may run ahead of the device before submit() waits for the oldest. A
  // training step submits ~8 per replica (its forward, one per Linear backward for the host
  // weight gradients, the rest of the backward). At 4, recording replica 0's backward waited for
  // its forward to finish (~1.2 ms per LeNet-5 step), holding back replica 1's backward
  // (docs/PERFORMANCE.md, 2026-12-07 late).
  static constexpr uint32_t kMaxInFlight = 16;
};

}  // namespace vkwb
