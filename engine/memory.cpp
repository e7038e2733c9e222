#include "engine/memory.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/device.h"
#include "engine/stream.h"

namespace vkwb {
namespace {

constexpr uint32_t kNoType = UINT32_MAX;

uint32_t find_type(const VkPhysicalDeviceMemoryProperties& mp, VkMemoryPropertyFlags want,
                   VkMemoryPropertyFlags avoid = 0) {
  for (uint32_t i = 0; i < mp.memoryTypeCount; ++i) {
    auto f = mp.memoryTypes[i].propertyFlags;
    if ((f & want) == want && (f & avoid) == 0) return i;
  }
  return kNoType;
}

std::string mib(uint64_t b) { return std::to_string(b >> 20) + " MiB"; }

}  // namespace

Allocator::Allocator(Device& dev, bool force_staging) : dev_(dev) {
  if (dev.is_cpu()) {
    cpu_ = true;
    host_visible_ = true;
    return;
  }
  VkPhysicalDeviceMemoryProperties mp;
  vkGetPhysicalDeviceMemoryProperties(dev.physical(), &mp);
  const auto DL = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
  const auto HV = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  uint32_t unified = find_type(mp, DL | HV);
  if (unified != kNoType && !force_staging) {
    memory_type_ = unified;
    host_visible_ = true;
  } else {
    memory_type_ = find_type(mp, DL);
    if (memory_type_ == kNoType) memory_type_ = find_type(mp, HV);
    if (memory_type_ == kNoType) throw Error("device " + dev.name() + " has no usable memory type");
    host_visible_ = false;
  }
  staging_type_ = find_type(mp, HV | VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
  if (staging_type_ == kNoType) staging_type_ = find_type(mp, HV);
  if (staging_type_ == kNoType) throw Error("device " + dev.name() + " has no host-visible memory");
  const auto& info = dev.info();
  alignment_ = std::max<VkDeviceSize>(256, info.min_storage_buffer_offset_alignment);
  block_size_ = std::min<VkDeviceSize>(block_size_, info.max_memory_allocation_size);
}

Allocator::~Allocator() {
  if (cpu_) return;
  for (auto& b : blocks_) destroy_block(b);
  if (staging_.buffer) vkDestroyBuffer(dev_.vk(), staging_.buffer, nullptr);
  if (staging_memory_) vkFreeMemory(dev_.vk(), staging_memory_, nullptr);
}

void Allocator::destroy_block(Block& b) {
  for (VkBufferView v : b.views)
    if (v) vkDestroyBufferView(dev_.vk(), v, nullptr);
  if (b.buffer) vkDestroyBuffer(dev_.vk(), b.buffer, nullptr);
  if (b.memory) vkFreeMemory(dev_.vk(), b.memory, nullptr);
  b = Block{};
}

bool Allocator::new_block(VkDeviceSize min_size) {
  VkDeviceSize size = std::max(block_size_, min_size);
  const auto& info = dev_.info();
  if (size > info.max_memory_allocation_size) return false;
  VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bi.size = size;
  bi.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
             VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  if (info.texel_buffers) bi.usage |= VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT;
  bi.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  Block b;
  b.size = size;
  vk_check(vkCreateBuffer(dev_.vk(), &bi, nullptr, &b.buffer), "vkCreateBuffer");
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(dev_.vk(), b.buffer, &req);
  VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  ai.allocationSize = req.size;
  ai.memoryTypeIndex = memory_type_;
  if (!(req.memoryTypeBits & (1u << memory_type_)) ||
      vkAllocateMemory(dev_.vk(), &ai, nullptr, &b.memory) != VK_SUCCESS) {
    vkDestroyBuffer(dev_.vk(), b.buffer, nullptr);
    return false;
  }
  vk_check(vkBindBufferMemory(dev_.vk(), b.buffer, b.memory, 0), "vkBindBufferMemory");
  if (host_visible_) vk_check(vkMapMemory(dev_.vk(), b.memory, 0, VK_WHOLE_SIZE, 0, &b.mapped), "vkMapMemory");
  // Reuse an empty slot left by release_cached() so block ids stay stable.
  auto slot = std::find_if(blocks_.begin(), blocks_.end(), [](const Block& x) { return !x.memory; });
  if (slot != blocks_.end()) *slot = b; else blocks_.push_back(b);
  stats_.reserved += size;
  stats_.blocks++;
  return true;
}

Allocation Allocator::allocate(size_t bytes) {
  VkDeviceSize need = std::max<VkDeviceSize>(alignment_, (bytes + alignment_ - 1) / alignment_ * alignment_);
  stats_.allocations++;
  if (cpu_) {
    Allocation a;
    a.size = need;
    a.mapped = std::aligned_alloc(64, need);
    if (!a.mapped) throw Error("out of host memory allocating " + mib(need));
    stats_.in_use += need;
    stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.in_use);
    return a;
  }
  auto take = [&](Allocation a) {
    if (a.size >= need + alignment_ && a.size > need + need / 8) {
      // Split: the tail goes back to the free list.
      Allocation rest = a;
      rest.offset += need;
      rest.size -= need;
      if (rest.mapped) rest.mapped = static_cast<char*>(a.mapped) + need;
      free_.emplace(rest.size, rest);
      a.size = need;
    }
    blocks_[a.block].live++;
    stats_.in_use += a.size;
    stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.in_use);
    return a;
  };
  auto it = free_.lower_bound(need);
  if (it != free_.end()) {
    Allocation a = it->second;
    free_.erase(it);
    return take(a);
  }
  // Bump-allocate from a block with room, else open a new block.
  for (int attempt = 0; attempt < 3; ++attempt) {
    for (uint32_t i = 0; i < blocks_.size(); ++i) {
      Block& b = blocks_[i];
      if (b.memory && b.size - b.bump >= need) {
        Allocation a;
        a.buffer = b.buffer;
        a.offset = b.bump;
        a.size = need;
        a.block = i;
        a.mapped = b.mapped ? static_cast<char*>(b.mapped) + b.bump : nullptr;
        b.bump += need;
        return take(a);
      }
    }
    if (attempt == 0 && new_block(need)) continue;
    if (attempt == 1) {
      // Out of memory: wait for pending frees, return cached blocks to the driver, retry.
      dev_.stream().sync();
      release_cached();
      if (new_block(need)) continue;
    }
  }
  throw Error("out of device memory on " + dev_.name() + ": requested " + mib(need) + ", in use " +
              mib(stats_.in_use) + " (max allocation " + mib(dev_.info().max_memory_allocation_size) + ")");
}

void Allocator::release_now(const Allocation& a) {
  stats_.in_use -= a.size;
  if (cpu_) {
    std::free(a.mapped);
    return;
  }
  blocks_[a.block].live--;
  free_.emplace(a.size, a);
}

void Allocator::free(const Allocation& a) {
  if (cpu_) return release_now(a);
  uint64_t epoch = dev_.stream().pending_epoch();
  if (epoch == 0) release_now(a);
  else deferred_.emplace_back(epoch, a);
}

void Allocator::collect(uint64_t completed_epoch) {
  size_t keep = 0;
  for (auto& [epoch, a] : deferred_) {
    if (epoch <= completed_epoch) release_now(a);
    else deferred_[keep++] = {epoch, a};
  }
  deferred_.resize(keep);
}

void Allocator::release_cached() {
  if (cpu_) return;
  for (uint32_t i = 0; i < blocks_.size(); ++i) {
    Block& b = blocks_[i];
    if (!b.memory || b.live != 0) continue;
    for (auto it = free_.begin(); it != free_.end();) {
      it = it->second.block == i ? free_.erase(it) : std::next(it);
    }
    stats_.reserved -= b.size;
    stats_.blocks--;
    destroy_block(b);
  }
}

static VkDeviceSize texel_bytes(int kind) { return kind == 2 ? 16 : kind == 3 ? 8 : 4; }

VkDeviceSize Allocator::texel_count(uint32_t block, int kind) const {
  return std::min<VkDeviceSize>(blocks_.at(block).size / texel_bytes(kind), dev_.info().max_texel_buffer_elements);
}

VkBufferView Allocator::texel_view(uint32_t block, int kind) {
  if (cpu_ || !dev_.info().texel_buffers) throw Error("internal: texel buffers are not available on " + dev_.name());
  static const VkFormat formats[4] = {VK_FORMAT_R32_SFLOAT, VK_FORMAT_R32_UINT, VK_FORMAT_R32G32B32A32_SFLOAT,
                                      VK_FORMAT_R32G32_SFLOAT};
  Block& b = blocks_.at(block);
  VkBufferView& v = b.views[kind];
  if (v) return v;
  VkBufferViewCreateInfo vi{VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO};
  vi.buffer = b.buffer;
  vi.format = formats[kind];
  vi.offset = 0;
  vi.range = texel_count(block, kind) * texel_bytes(kind);
  vk_check(vkCreateBufferView(dev_.vk(), &vi, nullptr, &v), "vkCreateBufferView");
  return v;
}

Allocator::Staging& Allocator::staging(VkDeviceSize bytes) {
  if (staging_.size >= bytes) return staging_;
  dev_.stream().sync();
  if (staging_.buffer) vkDestroyBuffer(dev_.vk(), staging_.buffer, nullptr);
  if (staging_memory_) vkFreeMemory(dev_.vk(), staging_memory_, nullptr);
  VkDeviceSize size = std::max<VkDeviceSize>(bytes, 1 << 20);
  VkBufferCreateInfo bi{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
  bi.size = size;
  bi.usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
  vk_check(vkCreateBuffer(dev_.vk(), &bi, nullptr, &staging_.buffer), "vkCreateBuffer(staging)");
  VkMemoryRequirements req;
  vkGetBufferMemoryRequirements(dev_.vk(), staging_.buffer, &req);
  VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
  ai.allocationSize = req.size;
  ai.memoryTypeIndex = staging_type_;
  vk_check(vkAllocateMemory(dev_.vk(), &ai, nullptr, &staging_memory_), "vkAllocateMemory(staging)");
  vk_check(vkBindBufferMemory(dev_.vk(), staging_.buffer, staging_memory_, 0), "vkBindBufferMemory");
  vk_check(vkMapMemory(dev_.vk(), staging_memory_, 0, VK_WHOLE_SIZE, 0, &staging_.mapped), "vkMapMemory");
  staging_.size = size;
  return staging_;
}

}  // namespace vkwb
