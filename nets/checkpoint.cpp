#include "nets/checkpoint.h"

namespace vkwb::nn {

io::Blob tensor_blob(const Tensor& t) {
  std::vector<int64_t> shape = t.shape().vec();
  if (t.dtype() == DType::i32) return io::make_blob(t.to_ivector(), shape);
  return io::make_blob(t.to_vector(), shape);
}

Tensor blob_tensor(const io::Blob& b, Device& dev, const std::string& what) {
  Shape s = Shape::of(b.shape);
  if (b.dtype == "i32") return Tensor::from(io::as_i32(b), s, dev);
  if (b.dtype == "f32") return Tensor::from(io::as_f32(b), s, dev);
  throw Error("checkpoint entry '" + what + "' has dtype " + b.dtype + ", expected f32 or i32");
}

void save_module(io::CheckpointData& ck, const std::string& prefix, Module& m) {
  for (auto& [name, t] : m.state_dict()) ck.blobs[prefix + name] = tensor_blob(t);
}

void load_module(const io::CheckpointData& ck, const std::string& prefix, Module& m) {
  std::map<std::string, Tensor> state;
  Device* dev = nullptr;
  for (auto& [name, t] : m.state_dict()) {
    dev = &t.device();
    auto it = ck.blobs.find(prefix + name);
    if (it == ck.blobs.end()) throw Error("checkpoint has no tensor '" + prefix + name + "' (is it for another model?)");
    if (Shape::of(it->second.shape) != t.shape())
      throw Error("checkpoint tensor '" + prefix + name + "' has shape " + Shape::of(it->second.shape).str() +
                  ", the model expects " + t.shape().str());
    state[name] = blob_tensor(it->second, *dev, prefix + name);
  }
  m.load_state_dict(state);
}

void save_optimizer(io::CheckpointData& ck, const std::string& prefix, const Optimizer& o) {
  for (auto& [name, t] : o.state_dict()) ck.blobs[prefix + name] = tensor_blob(t);
  ck.meta[prefix + "steps"] = o.steps();
  ck.meta[prefix + "name"] = o.name();
  ck.meta[prefix + "lr"] = o.lr;
}

void load_optimizer(const io::CheckpointData& ck, const std::string& prefix, Optimizer& o) {
  if (!ck.meta.contains(prefix + "steps")) throw Error("checkpoint has no optimizer state '" + prefix + "'");
  std::string name = ck.meta[prefix + "name"].get<std::string>();
  if (name != o.name()) throw Error("checkpoint optimizer is " + name + ", this run uses " + o.name());
  std::map<std::string, Tensor> state;
  Device& dev = Device::cpu();
  for (auto& [key, blob] : ck.blobs)
    if (key.rfind(prefix, 0) == 0) state[key.substr(prefix.size())] = blob_tensor(blob, dev, key);
  o.load_state_dict(state, ck.meta[prefix + "steps"].get<int64_t>());
  o.lr = ck.meta[prefix + "lr"].get<float>();
}

}  // namespace vkwb::nn
