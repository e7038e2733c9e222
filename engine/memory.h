// Caching allocator: sub-allocates tensors from large VkDeviceMemory blocks (one VkBuffer per
// block), keeps freed chunks in size-ordered free lists for reuse, and never hands out memory
// that recorded-but-unfinished GPU work may still touch (frees are deferred to the end of the
// stream epoch they happened in). On the CPU backend the same interface wraps aligned malloc.
#pragma once
#include "engine/vk.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

namespace vkwb {

class Device;

struct Allocation {
  VkBuffer buffer = VK_NULL_HANDLE;  // the whole block's buffer (null on the CPU backend)
  VkDeviceSize offset = 0;           // byte offset of this chunk in the block
  VkDeviceSize size = 0;             // chunk size (rounded up)
  void* mapped = nullptr;            // host pointer when the memory is host-visible
  uint32_t block = 0;
};

struct AllocatorStats {
  uint64_t in_use = 0, peak_in_use = 0, reserved = 0, blocks = 0, allocations = 0;
};

class Allocator {
 public:
  Allocator(Device& dev, bool force_staging);
  ~Allocator();
  Allocator(const Allocator&) = delete;
  Allocator& operator=(const Allocator&) = delete;

  Allocation allocate(size_t bytes);
  void free(const Allocation& a);             // deferred while the stream has pending work
  void collect(uint64_t completed_epoch);      // called by the stream when work completes
  void release_cached();                       // gives fully free blocks back to the driver

  // True when tensors can be read/written through `mapped` (unified memory, CPU backend).
  bool host_visible() const { return host_visible_; }
  const AllocatorStats& stats() const { return stats_; }

  // Staging buffer for devices without host-visible device memory (grows on demand).
  struct Staging { VkBuffer buffer; void* mapped; VkDeviceSize size; };
  Staging& staging(VkDeviceSize bytes);

  // A uniform texel buffer view over a whole block, created on first use and kept with the block:
  // kind 0 R32_SFLOAT, 1 R32_UINT, 2 R32G32B32A32_SFLOAT. Kernels index it with the allocation's
  // texel offset; texel_count() tells how far the view reaches.
  VkBufferView texel_view(uint32_t block, int kind);
  VkDeviceSize texel_count(uint32_t block, int kind) const;

 private:
  struct Block {
    VkDeviceMemory memory = VK_NULL_HANDLE;
    VkBuffer buffer = VK_NULL_HANDLE;
    void* mapped = nullptr;
    VkDeviceSize size = 0, bump = 0;
    uint64_t live = 0;        // chunks handed out and not yet freed
    VkBufferView views[4] = {VK_NULL_HANDLE, VK_NULL_HANDLE, VK_NULL_HANDLE, VK_NULL_HANDLE};   // see texel_view
  };
  bool new_block(VkDeviceSize min_size);
  void destroy_block(Block& b);
  void release_now(const Allocation& a);

  Device& dev_;
  bool cpu_ = false;
  bool host_visible_ = false;
  uint32_t memory_type_ = 0;
  uint32_t staging_type_ = 0;
  VkDeviceSize alignment_ = 256;
  VkDeviceSize block_size_ = 64ull << 20;
  std::vector<Block> blocks_;
  std::multimap<VkDeviceSize, Allocation> free_;            // size -> chunk
  std::vector<std::pair<uint64_t, Allocation>> deferred_;   // (epoch, chunk)
  Staging staging_{VK_NULL_HANDLE, nullptr, 0};
  VkDeviceMemory staging_memory_ = VK_NULL_HANDLE;
  AllocatorStats stats_;
};

}  // namespace vkwb
