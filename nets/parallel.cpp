#include "nets/parallel.h"

#include "engine/device.h"
#include "engine/error.h"
#include "engine/stream.h"

#include <sched.h>

#include <algorithm>
#include <thread>

namespace vkwb::nn {

int auto_replicas(const Device& dev, int batch) {
  if (dev.is_cpu() || dev.info().type != "cpu") return 1;
  // The cores this process may run on (taskset, cpusets), not every online one.
  int cores = 0;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) cores = CPU_COUNT(&set);
  if (cores < 1) cores = int(std::thread::hardware_concurrency());
  return std::clamp(std::min(cores, batch), 1, 8);
}

DataParallel::DataParallel(const std::vector<Device*>& devices, uint64_t seed, const ModelFactory& make_model,
                           const OptimizerFactory& make_optimizer) {
  if (devices.empty()) throw Error("DataParallel: no devices");
  for (Device* d : devices) {
    ModuleContext ctx(*d, seed);
    Replica r{d, make_model(ctx), nullptr, {}};
    r.params = r.model->parameters();
    r.opt = make_optimizer(r.params);
    replicas_.push_back(std::move(r));
  }
  broadcast(0);
}

std::vector<DataParallel::Shard> DataParallel::shards(int n) const {
  int R = size();
  std::vector<Shard> s(static_cast<size_t>(R));
  int begin = 0;
  for (int r = 0; r < R; ++r) {
    int c = n / R + (r < n % R ? 1 : 0);
    s[size_t(r)] = {begin, c};
    begin += c;
  }
  return s;
}

std::vector<Tensor> DataParallel::step(int64_t step_index, int n, const std::function<Tensor(int, const Shard&)>& loss) {
  const int R = size();
  auto sh = shards(n);
  std::vector<Tensor> losses(static_cast<size_t>(R));
  std::vector<double> weights(static_cast<size_t>(R), 0.0);   // 0: the replica sat this step out
  for (int r = 0; r < R; ++r) {
    Replica& rep = replicas_[size_t(r)];
    rep.opt->zero_grad();   // idle replicas too: no stale gradient may reach their optimizer
    if (sh[size_t(r)].count == 0) continue;
    rep.model->set_step(R == 1 ? step_index : step_index * R + r);
    Tensor l = loss(r, sh[size_t(r)]);
    l.backward();
    flush(r);   // start it while the host records the next
    losses[size_t(r)] = l;
    weights[size_t(r)] = double(sh[size_t(r)].count) / n;
  }
  if (R > 1) all_reduce_gradients(weights);
  for (int r = 0; r < R; ++r) {
    replicas_[size_t(r)].opt->step();   // idle replicas step too: the same weights everywhere
    flush(r);
  }
  return losses;
}

void DataParallel::flush(int r) {
  Device& d = *replicas_[size_t(r)].device;
  if (size() > 1 && !d.is_cpu()) d.stream().submit();
}

void DataParallel::sync() {
  for (auto& rep : replicas_) rep.device->sync();
}

void DataParallel::all_reduce_gradients(const std::vector<double>& weights) {
  const int R = size();
  const size_t P = replicas_[0].params.size();
  std::vector<float> sum, g;
  for (size_t i = 0; i < P; ++i) {
    Tensor& p0 = *replicas_[0].params[i];
    const size_t numel = size_t(p0.numel());
    sum.assign(numel, 0.f);
    bool any = false;
    for (int r = 0; r < R; ++r) {
      if (weights[size_t(r)] == 0) continue;
      Tensor gr = replicas_[size_t(r)].params[i]->grad();
      if (!gr.defined()) continue;   // the parameter took no part in this replica's loss
      g = gr.to_vector();
      const float w = float(weights[size_t(r)]);
      for (size_t k = 0; k < numel; ++k) sum[k] += w * g[k];
      any = true;
    }
    if (!any) continue;
    for (auto& rep : replicas_) {
      Tensor& p = *rep.params[i];
      Tensor gr = p.grad();
      if (gr.defined()) gr.copy_from_host(sum.data(), numel * sizeof(float));
      else p.set_grad(Tensor::from(sum, p.shape(), *rep.device));
    }
  }
}

void DataParallel::set_lr(float lr) {
  for (auto& rep : replicas_) rep.opt->lr = lr;
}

void DataParallel::train(bool on) {
  for (auto& rep : replicas_) rep.model->train(on);
}

void DataParallel::average_buffers() {
  const int R = size();
  if (R == 1) return;
  std::vector<std::vector<std::pair<std::string, Tensor*>>> bufs;
  for (auto& rep : replicas_) bufs.push_back(rep.model->named_buffers());
  for (size_t i = 0; i < bufs[0].size(); ++i) {
    if (bufs[0][i].second->dtype() != DType::f32) continue;
    std::vector<std::vector<float>> v;
    for (auto& b : bufs) v.push_back(b[i].second->to_vector());
    bool same = true;
    for (int r = 1; r < R && same; ++r) same = v[size_t(r)] == v[0];
    if (same) continue;   // already equal: leave them bit for bit
    std::vector<float> mean(v[0].size());
    for (size_t k = 0; k < mean.size(); ++k) {
      double s = 0;
      for (int r = 0; r < R; ++r) s += v[size_t(r)][k];
      mean[k] = float(s / R);
    }
    for (auto& b : bufs) b[i].second->copy_from_host(mean.data(), mean.size() * sizeof(float));
  }
}

void DataParallel::broadcast(int from) {
  const int R = size();
  if (R == 1) return;
  Replica& src = replicas_[size_t(from)];
  auto sp = src.model->state_dict();
  auto so = src.opt->state_dict();
  for (int r = 0; r < R; ++r) {
    if (r == from) continue;
    replicas_[size_t(r)].model->load_state_dict(sp);   // both copy across devices
    replicas_[size_t(r)].opt->load_state_dict(so, src.opt->steps());
  }
}

}  // namespace vkwb::nn
