#include "engine/kernels.h"


#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/device.h"
#include "engine/error.h"
#include "nets/io/atomic_file.h"

namespace vkwb {

namespace {

// $VKWB_PIPELINE_CACHE, else $XDG_CACHE_HOME/vkwb, else $HOME/.cache/vkwb; "" when disabled or
// when there is no home.
std::string cache_dir() {
  if (const char* e = std::getenv("VKWB_PIPELINE_CACHE")) {
    if (std::string(e) == "0") return "";
    if (*e) return e;
  }
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/vkwb";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/vkwb";
  return "";
}

// One file per (vendor, device, driver version, pipelineCacheUUID): the driver rejects a foreign
// cache anyway, but a per-device name keeps two GPUs from overwriting each other's.
std::string cache_file(VkPhysicalDevice pd) {
  std::string dir = cache_dir();
  if (dir.empty()) return "";
  VkPhysicalDeviceProperties p;
  vkGetPhysicalDeviceProperties(pd, &p);
  char name[96];
  std::snprintf(name, sizeof name, "/pipelines-%04x-%04x-%08x-", p.vendorID, p.deviceID, p.driverVersion);
  std::string f = dir + name;
  for (uint8_t b : p.pipelineCacheUUID) {
    char h[3];
    std::snprintf(h, sizeof h, "%02x", b);
    f += h;
  }
  return f + ".bin";
}

std::vector<char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  return std::vector<char>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

KernelCache::KernelCache(Device& dev, bool disk_cache) : dev_(dev) {
  modules_.assign(static_cast<size_t>(ShaderId::count_), VK_NULL_HANDLE);
  if (disk_cache) cache_path_ = cache_file(dev_.physical());
  std::vector<char> data;
  if (!cache_path_.empty()) data = read_all(cache_path_);
  VkPipelineCacheCreateInfo ci{VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO};
  // The driver validates the header (vendor, device, UUID) and ignores data that does not match;
  // a file too short to hold a header is not even offered.
  if (data.size() >= 16 + VK_UUID_SIZE) {
    ci.initialDataSize = data.size();
    ci.pInitialData = data.data();
  }
  if (vkCreatePipelineCache(dev_.vk(), &ci, nullptr, &cache_) != VK_SUCCESS) {
    ci.initialDataSize = 0;
    ci.pInitialData = nullptr;
    vk_check(vkCreatePipelineCache(dev_.vk(), &ci, nullptr, &cache_), "vkCreatePipelineCache");
  }
}

void KernelCache::save_pipeline_cache(const std::string& path) const {
  size_t n = 0;
  vk_check(vkGetPipelineCacheData(dev_.vk(), cache_, &n, nullptr), "vkGetPipelineCacheData");
  std::vector<char> data(n);
  vk_check(vkGetPipelineCacheData(dev_.vk(), cache_, &n, data.data()), "vkGetPipelineCacheData");
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  io::write_file_atomic(path, std::string_view(data.data(), n));
}

VkPipelineLayout KernelCache::layout(uint32_t texel_mask) {
  auto it = layouts_.find(texel_mask);
  if (it != layouts_.end()) return it->second.pipeline;
  VkDescriptorSetLayoutBinding b[kMaxBindings];
  for (uint32_t i = 0; i < kMaxBindings; ++i) {
    auto type = (texel_mask >> i) & 1 ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    b[i] = {i, type, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr};
  }
  Layout l;
  VkDescriptorSetLayoutCreateInfo li{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
  li.flags = VK_DESCRIPTOR_SET_LAYOUT_CREATE_PUSH_DESCRIPTOR_BIT_KHR;
  li.bindingCount = kMaxBindings;
  li.pBindings = b;
  vk_check(vkCreateDescriptorSetLayout(dev_.vk(), &li, nullptr, &l.set), "vkCreateDescriptorSetLayout");
  VkPushConstantRange pr{VK_SHADER_STAGE_COMPUTE_BIT, 0, kMaxPushBytes};
  VkPipelineLayoutCreateInfo pi{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
  pi.setLayoutCount = 1;
  pi.pSetLayouts = &l.set;
  pi.pushConstantRangeCount = 1;
  pi.pPushConstantRanges = &pr;
  vk_check(vkCreatePipelineLayout(dev_.vk(), &pi, nullptr, &l.pipeline), "vkCreatePipelineLayout");
  layouts_.emplace(texel_mask, l);
  return l.pipeline;
}

KernelCache::~KernelCache() {
  // Persist what this process compiled; a failure here only costs the next start some compiles.
  if (created_since_load_ > 0 && !cache_path_.empty()) {
    try {
      save_pipeline_cache(cache_path_);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "vkwb: warning: pipeline cache not saved to %s: %s\n", cache_path_.c_str(), e.what());
    }
  }
  for (auto& [k, p] : pipelines_) vkDestroyPipeline(dev_.vk(), p.pipeline, nullptr);
  for (auto m : modules_)
    if (m) vkDestroyShaderModule(dev_.vk(), m, nullptr);
  for (auto& [mask, l] : layouts_) {
    vkDestroyPipelineLayout(dev_.vk(), l.pipeline, nullptr);
    vkDestroyDescriptorSetLayout(dev_.vk(), l.set, nullptr);
  }
  if (cache_) vkDestroyPipelineCache(dev_.vk(), cache_, nullptr);
}

VkShaderModule KernelCache::module(ShaderId id) {
  const ShaderBlob& blob = shader_blob(id);
  VkShaderModule& mod = modules_[static_cast<size_t>(id)];
  if (!mod) {
    VkShaderModuleCreateInfo mi{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
    mi.codeSize = blob.bytes;
    mi.pCode = blob.code;
    vk_check(vkCreateShaderModule(dev_.vk(), &mi, nullptr, &mod), blob.name);
  }
  return mod;
}

const Kernel& KernelCache::get(ShaderId id, const std::vector<int32_t>& spec, uint32_t texel_mask) {
  auto key = std::make_tuple(id, texel_mask, spec);
  auto it = pipelines_.find(key);
  if (it != pipelines_.end()) return it->second;
  warm_up({KernelKey{id, texel_mask, spec}});
  return pipelines_.at(key);
}

size_t KernelCache::warm_up(const std::vector<KernelKey>& keys) {
  std::vector<const KernelKey*> todo;
  for (const KernelKey& k : keys) {
    if (static_cast<uint32_t>(k.id) >= static_cast<uint32_t>(ShaderId::count_))
      throw Error("KernelCache::warm_up: invalid shader id " + std::to_string(static_cast<uint32_t>(k.id)));
    if (pipelines_.count(std::make_tuple(k.id, k.texel_mask, k.spec))) continue;
    bool dup = false;
    for (const KernelKey* t : todo) dup = dup || *t == k;
    if (!dup) todo.push_back(&k);
  }
  if (todo.empty()) return 0;
  // Everything the create infos point at must stay put until the call returns.
  std::vector<std::vector<VkSpecializationMapEntry>> entries(todo.size());
  std::vector<VkSpecializationInfo> spec_infos(todo.size());
  std::vector<VkComputePipelineCreateInfo> infos(todo.size());
  for (size_t j = 0; j < todo.size(); ++j) {
    const KernelKey& k = *todo[j];
    auto& e = entries[j];
    e.resize(k.spec.size());
    for (uint32_t i = 0; i < k.spec.size(); ++i) e[i] = {i, 4 * i, 4};
    spec_infos[j] = {static_cast<uint32_t>(e.size()), e.data(), k.spec.size() * 4, k.spec.data()};
    VkComputePipelineCreateInfo& ci = infos[j];
    ci = {VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
    ci.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO};
    ci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
    ci.stage.module = module(k.id);
    ci.stage.pName = "main";
    ci.stage.pSpecializationInfo = k.spec.empty() ? nullptr : &spec_infos[j];
    ci.layout = layout(k.texel_mask);
  }
  std::vector<VkPipeline> out(todo.size(), VK_NULL_HANDLE);
  VkResult r = vkCreateComputePipelines(dev_.vk(), cache_, uint32_t(infos.size()), infos.data(), nullptr, out.data());
  if (r != VK_SUCCESS) {
    for (VkPipeline p : out)
      if (p) vkDestroyPipeline(dev_.vk(), p, nullptr);
    vk_check(r, todo.size() == 1 ? shader_blob(todo[0]->id).name : "vkCreateComputePipelines (warm-up)");
  }
  for (size_t j = 0; j < todo.size(); ++j) {
    const KernelKey& k = *todo[j];
    pipelines_.emplace(std::make_tuple(k.id, k.texel_mask, k.spec), Kernel{out[j], infos[j].layout, shader_blob(k.id).name});
    order_.push_back(k);
  }
  created_since_load_ += todo.size();
  return todo.size();
}

void KernelCache::save_manifest(const std::string& path) const {
  std::ostringstream os;
  os << "# vkwb pipeline manifest: shader texel_mask spec...\n";
  for (const KernelKey& k : order_) {
    os << shader_blob(k.id).name << ' ' << k.texel_mask;
    for (int32_t v : k.spec) os << ' ' << v;
    os << '\n';
  }
  io::write_file_atomic(path, os.str());
}

std::vector<KernelKey> KernelCache::load_manifest(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("cannot open pipeline manifest " + path);
  std::map<std::string, ShaderId> by_name;
  for (uint32_t i = 0; i < static_cast<uint32_t>(ShaderId::count_); ++i)
    by_name[shader_blob(static_cast<ShaderId>(i)).name] = static_cast<ShaderId>(i);
  std::vector<KernelKey> keys;
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    std::string name;
    KernelKey k;
    if (!(ls >> name >> k.texel_mask)) throw Error(path + ":" + std::to_string(n) + ": expected `shader texel_mask spec...`");
    auto it = by_name.find(name);
    if (it == by_name.end()) throw Error(path + ":" + std::to_string(n) + ": unknown shader '" + name + "'");
    k.id = it->second;
    long long v;
    while (ls >> v) k.spec.push_back(static_cast<int32_t>(v));
    if (!ls.eof()) throw Error(path + ":" + std::to_string(n) + ": bad specialization constant");
    if (k.texel_mask >> kMaxBindings) throw Error(path + ":" + std::to_string(n) + ": texel mask out of range");
    keys.push_back(std::move(k));
  }
  return keys;
}

WarmUp warm_up_run(Device& dev, const std::string& run_dir) {
  WarmUp w;
  const std::string path = run_dir + "/pipelines.txt";
  if (dev.is_cpu() || !std::filesystem::exists(path)) return w;
  auto t0 = std::chrono::steady_clock::now();
  try {
    w.pipelines = dev.kernels().warm_up(KernelCache::load_manifest(path));
  } catch (const Error& e) {
    std::fprintf(stderr, "vkwb: warning: pipeline warm-up skipped: %s\n", e.what());
  }
  w.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return w;
}

void save_run_manifest(Device& dev, const std::string& run_dir) {
  if (dev.is_cpu()) return;
  dev.kernels().save_manifest(run_dir + "/pipelines.txt");
}

}  // namespace vkwb
