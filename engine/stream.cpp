#include "engine/stream.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "engine/device.h"
#include "engine/kernels.h"
#include "engine/memory.h"

namespace vkwb {

Stream::Stream(Device& dev) : dev_(dev) {
  VkCommandPoolCreateInfo ci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
  ci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  ci.queueFamilyIndex = dev.queue_family();
  vk_check(vkCreateCommandPool(dev.vk(), &ci, nullptr, &pool_), "vkCreateCommandPool");
  push_descriptors_ = reinterpret_cast<PFN_vkCmdPushDescriptorSetKHR>(
      vkGetDeviceProcAddr(dev.vk(), "vkCmdPushDescriptorSetKHR"));
  if (!push_descriptors_) throw Error(dev.name() + " lacks VK_KHR_push_descriptor, which vkwb needs");
  const char* p = std::getenv("VKWB_PROFILE");
  set_profiling(p && *p && std::strcmp(p, "0") != 0);
}

Stream::~Stream() {
  try {
    sync();
  } catch (...) {
  }
  auto destroy = [&](Batch& b) {
    if (b.fence) vkDestroyFence(dev_.vk(), b.fence, nullptr);
    if (b.queries) vkDestroyQueryPool(dev_.vk(), b.queries, nullptr);
  };
  destroy(current_);
  for (auto& b : spare_) destroy(b);
  for (auto& b : in_flight_) destroy(b);
  vkDestroyCommandPool(dev_.vk(), pool_, nullptr);
}

void Stream::set_profiling(bool on) {
  if (on && !dev_.info().timestamps) on = false;
  profiling_ = on;
}

VkCommandBuffer Stream::begin() {
  if (recording_) return current_.cb;
  if (!spare_.empty()) {
    current_ = std::move(spare_.back());
    spare_.pop_back();
  } else if (!current_.cb) {
    VkCommandBufferAllocateInfo ai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
    ai.commandPool = pool_;
    ai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    ai.commandBufferCount = 1;
    vk_check(vkAllocateCommandBuffers(dev_.vk(), &ai, &current_.cb), "vkAllocateCommandBuffers");
    VkFenceCreateInfo fi{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    vk_check(vkCreateFence(dev_.vk(), &fi, nullptr, &current_.fence), "vkCreateFence");
  }
  if (profiling_ && !current_.queries) {
    VkQueryPoolCreateInfo qi{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
    qi.queryType = VK_QUERY_TYPE_TIMESTAMP;
    qi.queryCount = 2 * kMaxCommands;
    vk_check(vkCreateQueryPool(dev_.vk(), &qi, nullptr, &current_.queries), "vkCreateQueryPool");
  }
  current_.epoch = next_epoch_++;
  current_.commands = 0;
  current_.names.clear();
  VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
  bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  vk_check(vkBeginCommandBuffer(current_.cb, &bi), "vkBeginCommandBuffer");
  if (profiling_) vkCmdResetQueryPool(current_.cb, current_.queries, 0, 2 * kMaxCommands);
  recording_ = true;
  return current_.cb;
}

// One global memory barrier before every command: compute and transfer writes become visible to
// the next command (this also orders work against earlier submissions on the queue). Barriers
// cost next to nothing compared to a dispatch.
void Stream::barrier(VkCommandBuffer cb) {
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                     VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  const auto stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
  vkCmdPipelineBarrier(cb, stages, stages, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

void Stream::dispatch(VkPipeline pipeline, VkPipelineLayout layout, const BufferArg* bufs, uint32_t nbufs,
                      const void* push, uint32_t push_size, uint32_t gx, uint32_t gy, uint32_t gz,
                      const char* profile_name) {
  if (gx == 0 || gy == 0 || gz == 0) return;
  VkCommandBuffer cb = begin();
  barrier(cb);
  vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
  if (nbufs > kMaxBindings) throw Error("internal: too many bindings");
  VkDescriptorBufferInfo infos[kMaxBindings];
  VkWriteDescriptorSet writes[kMaxBindings];
  for (uint32_t i = 0; i < nbufs; ++i) {
    infos[i] = {bufs[i].buffer, bufs[i].offset, bufs[i].range};
    writes[i] = {VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
    writes[i].dstBinding = i;
    writes[i].descriptorCount = 1;
    if (bufs[i].view) {
      writes[i].descriptorType = VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER;
      writes[i].pTexelBufferView = &bufs[i].view;
    } else {
      writes[i].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      writes[i].pBufferInfo = &infos[i];
    }
  }
  push_descriptors_(cb, VK_PIPELINE_BIND_POINT_COMPUTE, layout, 0, nbufs, writes);
  if (push_size) vkCmdPushConstants(cb, layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, push_size, push);
  uint32_t q = current_.commands;
  if (profiling_) vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, current_.queries, 2 * q);
  vkCmdDispatch(cb, gx, gy, gz);
  if (profiling_) {
    vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, current_.queries, 2 * q + 1);
    current_.names.push_back(profile_name);
  }
  dispatches_++;
  if (++current_.commands >= kMaxCommands) submit();
}

void Stream::copy(VkBuffer src, VkDeviceSize src_off, VkBuffer dst, VkDeviceSize dst_off, VkDeviceSize bytes) {
  VkCommandBuffer cb = begin();
  barrier(cb);
  VkBufferCopy region{src_off, dst_off, bytes};
  uint32_t q = current_.commands;
  if (profiling_) vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, current_.queries, 2 * q);
  vkCmdCopyBuffer(cb, src, dst, 1, &region);
  if (profiling_) {
    vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, current_.queries, 2 * q + 1);
    current_.names.push_back("copy_buffer");
  }
  if (++current_.commands >= kMaxCommands) submit();
}

void Stream::submit() {
  if (!recording_) return;
  VkCommandBuffer cb = current_.cb;
  // Make device writes visible to the host once the fence signals.
  VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
  mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
  mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
  vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                       VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
  vk_check(vkEndCommandBuffer(cb), "vkEndCommandBuffer");
  VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
  si.commandBufferCount = 1;
  si.pCommandBuffers = &cb;
  vk_check(vkQueueSubmit(dev_.queue(), 1, &si, current_.fence), "vkQueueSubmit");
  submits_++;
  recording_ = false;
  in_flight_.push_back(std::move(current_));
  current_ = Batch{};
  if (in_flight_.size() > kMaxInFlight) wait_oldest();
}

void Stream::retire(Batch& b) {
  if (profiling_ && b.queries && b.commands) {
    std::vector<uint64_t> ts(2 * b.commands);
    vkGetQueryPoolResults(dev_.vk(), b.queries, 0, 2 * b.commands, ts.size() * 8, ts.data(), 8,
                          VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT);
    for (uint32_t i = 0; i < b.names.size() && i < b.commands; ++i) {
      if (!b.names[i]) continue;
      auto& t = timings_[b.names[i]];
      const double us = double(ts[2 * i + 1] - ts[2 * i]) * dev_.info().timestamp_period_ns * 1e-3;
      t.min_us = t.dispatches == 0 ? us : std::min(t.min_us, us);
      t.dispatches++;
      t.total_ms += us * 1e-3;
    }
  }
  vk_check(vkResetFences(dev_.vk(), 1, &b.fence), "vkResetFences");
  vk_check(vkResetCommandBuffer(b.cb, 0), "vkResetCommandBuffer");
  completed_epoch_ = std::max(completed_epoch_, b.epoch);
}

void Stream::wait_oldest() {
  Batch b = std::move(in_flight_.front());
  in_flight_.pop_front();
  vk_check(vkWaitForFences(dev_.vk(), 1, &b.fence, VK_TRUE, UINT64_MAX), "vkWaitForFences");
  retire(b);
  spare_.push_back(std::move(b));
  dev_.allocator().collect(completed_epoch_);
}

void Stream::sync() {
  submit();
  while (!in_flight_.empty()) wait_oldest();
}

uint64_t Stream::flush_epoch() {
  submit();
  return next_epoch_ - 1;
}

void Stream::wait_epoch(uint64_t epoch) {
  if (recording_ && current_.epoch <= epoch) submit();
  while (!in_flight_.empty() && in_flight_.front().epoch <= epoch) wait_oldest();
}

uint64_t Stream::pending_epoch() const {
  if (recording_) return current_.epoch;
  if (!in_flight_.empty()) return in_flight_.back().epoch;
  return 0;
}

std::string Stream::timing_table() const {
  std::vector<std::pair<std::string, KernelTiming>> rows(timings_.begin(), timings_.end());
  std::sort(rows.begin(), rows.end(), [](auto& a, auto& b) { return a.second.total_ms > b.second.total_ms; });
  double total = 0;
  for (auto& r : rows) total += r.second.total_ms;
  std::ostringstream os;
  char line[160];
  std::snprintf(line, sizeof line, "%-28s %10s %12s %10s %10s %7s\n", "kernel", "dispatches", "total ms", "us/disp", "min us", "share");
  os << line;
  for (auto& [name, t] : rows) {
    std::snprintf(line, sizeof line, "%-28s %10llu %12.3f %10.2f %10.2f %6.1f%%\n", name.c_str(),
                  (unsigned long long)t.dispatches, t.total_ms, 1e3 * t.total_ms / std::max<uint64_t>(1, t.dispatches),
                  t.min_us, total > 0 ? 100.0 * t.total_ms / total : 0.0);
    os << line;
  }
  std::snprintf(line, sizeof line, "%-28s %10s %12.3f\n", "total", "", total);
  os << line;
  return os.str();
}

}  // namespace vkwb
