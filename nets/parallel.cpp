#include "nets/parallel.h"

#include "engine/autograd.h"
#include "engine/device.h"
#include "engine/error.h"
#include "engine/stream.h"

#include <sched.h>

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <string>
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

LinearExec trainer_linear_exec(const Device& dev, int replicas) {
  if (const char* e = std::getenv("VKWB_LINEAR"); e && *e) return parse_linear_exec(e, "VKWB_LINEAR");
  if (!host_linear_supported(dev)) return LinearExec::device;
  return replicas == 1 || threaded_recording_pays(replicas) ? LinearExec::host : LinearExec::host_wgrad;
}

bool threaded_recording_pays(int replicas) {
  if (const char* e = std::getenv("VKWB_RECORD_THREADS"); e && *e) return std::string(e) != "0" && replicas > 1;
  return replicas > 1;
}

bool host_optimizer_pays(const Device& dev, int replicas) {
  if (const char* e = std::getenv("VKWB_HOST_OPTIM"); e && *e) return std::string(e) != "0";
  return replicas == 1 && host_optim_supported(dev);
}

// dst = 0 + w src (first) or dst += w src, element by element: the replicas' weighted gradient
// sum, each element's additions in replica order whichever path forms it.
static void add_scaled(float* dst, const float* src, float w, size_t n, bool first) {
  if (first)
    for (size_t k = 0; k < n; ++k) dst[k] = 0.f + w * src[k];
  else
    for (size_t k = 0; k < n; ++k) dst[k] += w * src[k];
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
  host_update0_ = replicas_[0].opt->host_update();
  broadcast(0);
  const char* h = std::getenv("VKWB_HOST_REDUCE");   // 0: the device kernels (for A/B runs)
  bool host = replicas_.size() > 1 && !(h && std::string(h) == "0");
  for (auto& rep : replicas_) host = host && host_optim_supported(*rep.device);
  const char* e = std::getenv("VKWB_SHARD_OPTIM");   // 0: every replica updates everything (for A/B runs)
  if (host) reduce_on_host(true);
  else shard_optimizer(replicas_.size() > 1 && !(e && std::string(e) == "0"));
}

void DataParallel::reduce_on_host(bool on) {
  const int R = size();
  on = on && R > 1;
  if (on) {
    for (auto& rep : replicas_)
      if (!host_optim_supported(*rep.device)) throw Error("DataParallel: host updates need mapped memory on a CPU driver (" + rep.device->name() + ")");
    shard_optimizer(false);   // gathers a sharded state first
  }
  if (on == host_reduce_) return;
  if (!on && replicas_[0].opt->steps() > 0) broadcast(0);   // every replica's optimizer takes over replica 0's state
  host_reduce_ = on;
  // Only replica 0's optimizer steps in this mode; the others keep the trainer's setting for later.
  replicas_[0].opt->set_host_update(on || host_update0_);
}

void DataParallel::shard_optimizer(bool on) {
  const int R = size();
  if (on && host_reduce_) reduce_on_host(false);
  // Leaving sharding after some steps: every replica needs the whole state, not just its shard.
  if (sharded_ && !on && replicas_[0].opt->steps() > 0) {
    gather_optimizer_state();
    broadcast(0);
  }
  sharded_ = on && R > 1;
  for (int r = 0; r < R; ++r) replicas_[size_t(r)].opt->set_shard(sharded_ ? r : 0, sharded_ ? R : 1);
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

// Worker threads for record_in_threads: run(task) calls task(r) for every r, r >= 1 on worker r,
// r = 0 on the calling thread, and returns when all are done (rethrowing the first failure).
class DataParallel::Workers {
 public:
  explicit Workers(int R) : errors_(size_t(R)) {
    for (int r = 1; r < R; ++r) threads_.emplace_back([this, r] { loop(r); });
  }
  ~Workers() {
    {
      std::lock_guard<std::mutex> lk(mu_);
      stop_ = true;
    }
    start_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void run(const std::function<void(int)>& task) {
    {
      std::lock_guard<std::mutex> lk(mu_);
      task_ = &task;
      pending_ = int(threads_.size());
      ++generation_;
    }
    start_.notify_all();
    try {
      task(0);
    } catch (...) {
      errors_[0] = std::current_exception();
    }
    std::unique_lock<std::mutex> lk(mu_);
    done_.wait(lk, [&] { return pending_ == 0; });
    task_ = nullptr;
    for (auto& e : errors_)
      if (e) {
        std::exception_ptr first = e;
        for (auto& x : errors_) x = nullptr;
        std::rethrow_exception(first);
      }
  }

 private:
  void loop(int r) {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int)>* task;
      {
        std::unique_lock<std::mutex> lk(mu_);
        start_.wait(lk, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        task = task_;
      }
      try {
        (*task)(r);
      } catch (...) {
        errors_[size_t(r)] = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lk(mu_);
        --pending_;
      }
      done_.notify_one();
    }
  }
  std::vector<std::thread> threads_;
  std::vector<std::exception_ptr> errors_;
  std::mutex mu_;
  std::condition_variable start_, done_;
  const std::function<void(int)>* task_ = nullptr;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

void DataParallel::record_in_threads(bool on) {
  if (on && size() > 1 && !workers_) workers_ = {new Workers(size()), [](Workers* w) { delete w; }};
  if (!on) workers_.reset();
}

std::vector<Tensor> DataParallel::step(int64_t step_index, int n, const std::function<Tensor(int, const Shard&)>& loss) {
  const int R = size();
  auto sh = shards(n);
  std::vector<Tensor> losses(static_cast<size_t>(R));
  std::vector<double> weights(static_cast<size_t>(R), 0.0);   // 0: the replica sat this step out
  // Replica r's zero_grad and forward (its loss, submitted); false when it sits the step out.
  auto forward = [&](int r) {
    Replica& rep = replicas_[size_t(r)];
    rep.opt->zero_grad();   // idle replicas too: no stale gradient may reach their optimizer
    if (sh[size_t(r)].count == 0) return false;
    rep.model->set_step(R == 1 ? step_index : step_index * R + r);
    losses[size_t(r)] = loss(r, sh[size_t(r)]);
    flush(r);
    weights[size_t(r)] = double(sh[size_t(r)].count) / n;
    return true;
  };
  if (workers_) {
    // Each replica's forward, backward and deferred host gradients on its own thread.
    workers_->run([&](int r) {
      if (!forward(r)) return;
      DeferredHostGrads deferred;
      losses[size_t(r)].backward();
      flush(r);
      deferred.run();
    });
  } else {
    // Every replica's forward first, then every backward, each submitted as soon as it is
    // recorded: the last replica starts (and finishes) one forward's recording after the first
    // instead of one forward's and one backward's, and the all-reduce below waits for the last.
    for (int r = 0; r < R; ++r) forward(r);
    // Deferred host gradients (LinearExec::host_wgrad) run once every backward is submitted.
    DeferredHostGrads deferred;
    for (int r = 0; r < R; ++r) {
      if (!losses[size_t(r)].defined()) continue;
      losses[size_t(r)].backward();
      flush(r);
    }
    deferred.run();
  }
  if (host_reduce_) {   // (only with several replicas)
    host_reduce_step(weights);
    return losses;
  }
  if (R > 1) all_reduce_gradients(weights);
  for (int r = 0; r < R; ++r) {
    replicas_[size_t(r)].opt->step();   // idle replicas step too (their shard, if sharded)
    flush(r);
  }
  if (sharded_) all_gather_parameters();
  return losses;
}

// Elements [lo, hi) of src copied into dst (the same number of elements, another device).
static void copy_elements(const Tensor& src, Tensor& dst, int64_t lo, int64_t hi) {
  if (lo >= hi) return;
  if (src.device().allocator().host_visible() && dst.device().allocator().host_visible()) {
    const size_t es = dtype_size(src.dtype());   // both mapped: one memcpy (host_ptr waits for the devices)
    std::memcpy(static_cast<char*>(dst.host_ptr()) + size_t(lo) * es, static_cast<const char*>(src.host_ptr()) + size_t(lo) * es,
                size_t(hi - lo) * es);
    return;
  }
  const int64_t n = src.numel();
  std::vector<float> v = src.reshape({n}).slice(lo, hi).to_vector();
  dst.reshape({n}).slice(lo, hi).copy_from_host(v.data(), v.size() * sizeof(float));
}

void DataParallel::all_gather_parameters() {
  const int R = size();
  for (size_t i = 0; i < replicas_[0].params.size(); ++i) {
    const int64_t n = replicas_[0].params[i]->numel();
    for (int r = 0; r < R; ++r) {
      auto [lo, hi] = Optimizer::shard_range(n, r, R);
      for (int q = 0; q < R; ++q)
        if (q != r) copy_elements(*replicas_[size_t(r)].params[i], *replicas_[size_t(q)].params[i], lo, hi);
    }
  }
}

void DataParallel::gather_optimizer_state() {
  const int R = size();
  if (!sharded_) return;
  auto s0 = replicas_[0].opt->state_dict();   // handles on replica 0's state tensors
  for (int r = 1; r < R; ++r) {
    auto sr = replicas_[size_t(r)].opt->state_dict();
    for (auto& [key, t0] : s0) {
      auto it = sr.find(key);
      if (it == sr.end()) continue;
      auto [lo, hi] = Optimizer::shard_range(t0.numel(), r, R);
      copy_elements(it->second, t0, lo, hi);
    }
  }
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
  // Through mapped memory when every replica's is (CPU drivers): no staging copies, and the
  // scratch vector outlives the step (a fresh 0.5 MB vector per tensor and step cost page faults).
  bool mapped = true;
  for (auto& rep : replicas_) mapped = mapped && rep.device->allocator().host_visible();
  std::vector<float>& sum = reduce_scratch_;
  std::vector<float> g;
  for (size_t i = 0; i < P; ++i) {
    Tensor& p0 = *replicas_[0].params[i];
    const size_t numel = size_t(p0.numel());
    sum.assign(numel, 0.f);
    bool any = false;
    for (int r = 0; r < R; ++r) {
      if (weights[size_t(r)] == 0) continue;
      Tensor gr = replicas_[size_t(r)].params[i]->grad();
      if (!gr.defined()) continue;   // the parameter took no part in this replica's loss
      const float* gp;
      if (mapped && gr.dtype() == DType::f32) {
        gp = static_cast<const float*>(gr.host_ptr());   // waits for that replica
      } else {
        g = gr.to_vector();
        gp = g.data();
      }
      add_scaled(sum.data(), gp, float(weights[size_t(r)]), numel, false);
      any = true;
    }
    if (!any) continue;
    for (auto& rep : replicas_) {
      Tensor& p = *rep.params[i];
      Tensor gr = p.grad();
      if (!gr.defined()) p.set_grad(Tensor::from(sum, p.shape(), *rep.device));
      else if (mapped && gr.dtype() == DType::f32) std::memcpy(gr.host_ptr(), sum.data(), numel * sizeof(float));
      else gr.copy_from_host(sum.data(), numel * sizeof(float));
    }
  }
}

void DataParallel::host_reduce_step(const std::vector<double>& weights) {
  const int R = size();
  if (replicas_[0].opt->max_grad_norm() <= 0 && fused_host_reduce()) {
    // Parameter by parameter as below, each a cache-sized range at a time: the range's gradient
    // sum, its update and its copies to the other replicas while it is in L1, instead of three
    // passes over the whole parameter, its gradients and its state (the same operations per
    // element in the same order: the same numbers bit for bit).
    Optimizer& opt = *replicas_[0].opt;
    const OptimStep s = opt.begin_host_step();
    const size_t P = replicas_[0].params.size();
    std::vector<const float*> src(static_cast<size_t>(R));
    std::vector<float*> copies(static_cast<size_t>(R), nullptr);
    for (size_t j = 0; j < P; ++j) {
      const size_t i = P - 1 - j;   // last layer first: its gradients are ready first
      Tensor& p0 = *replicas_[0].params[i];
      int sources = 0;
      for (int r = 0; r < R; ++r) {
        src[size_t(r)] = nullptr;
        if (weights[size_t(r)] == 0) continue;
        Tensor gr = replicas_[size_t(r)].params[i]->grad();
        if (!gr.defined()) continue;   // the parameter took no part in this replica's loss
        src[size_t(r)] = static_cast<const float*>(gr.host_ptr_ready());   // waits for what wrote it
        ++sources;
      }
      if (sources == 0) continue;   // unused this step: no update (as Optimizer::step)
      if (!p0.grad().defined()) p0.set_grad(Tensor::zeros(p0.shape(), *replicas_[0].device));
      float* dst = static_cast<float*>(p0.grad().host_ptr_ready());
      p0.host_ptr_ready();   // the device's reads of the weights are done
      for (int r = 1; r < R; ++r) copies[size_t(r)] = static_cast<float*>(replicas_[size_t(r)].params[i]->host_ptr_ready());
      const float* w0 = static_cast<const float*>(p0.host_ptr_ready());
      const int64_t n = p0.numel();
      constexpr int64_t kChunk = 1024;   // 4 KiB per array: gradients, weights and state stay in L1
      for (int64_t lo = 0; lo < n; lo += kChunk) {
        const int64_t hi = std::min(n, lo + kChunk);
        bool first = true;
        for (int r = 0; r < R; ++r) {
          if (!src[size_t(r)]) continue;
          // In place into replica 0's gradient (its own is the first source, read before written).
          add_scaled(dst + lo, src[size_t(r)] + lo, float(weights[size_t(r)]), size_t(hi - lo), first);
          first = false;
        }
        opt.host_update_range(s, i, lo, hi, dst + lo);
        for (int r = 1; r < R; ++r) std::memcpy(copies[size_t(r)] + lo, w0 + lo, size_t(hi - lo) * sizeof(float));
      }
    }
    return;
  }
  // Parameter by parameter, in the host update's order (last first): sum the replicas' gradients
  // into replica 0's, update, copy the new weights to the others. Each waits only for the device
  // work that produced its own gradients (host_ptr_ready), so the last layers are done while the
  // devices still compute the first layers' gradients.
  auto prepare = [&](size_t i) {
    Tensor& p0 = *replicas_[0].params[i];
    float* dst = nullptr;
    bool first = true;
    for (int r = 0; r < R; ++r) {
      if (weights[size_t(r)] == 0) continue;
      Tensor gr = replicas_[size_t(r)].params[i]->grad();
      if (!gr.defined()) continue;   // the parameter took no part in this replica's loss
      const float* g = static_cast<const float*>(gr.host_ptr_ready());   // waits for what wrote it
      if (!dst) {
        if (!p0.grad().defined()) p0.set_grad(Tensor::zeros(p0.shape(), *replicas_[0].device));
        dst = static_cast<float*>(p0.grad().host_ptr_ready());
      }
      // In place into replica 0's gradient (its own is the first source, read before written).
      add_scaled(dst, g, float(weights[size_t(r)]), size_t(p0.numel()), first);
      first = false;
    }
  };
  auto done = [&](size_t i) {
    const Tensor& p0 = *replicas_[0].params[i];
    const void* from = p0.host_ptr_ready();
    for (int r = 1; r < R; ++r) std::memcpy(replicas_[size_t(r)].params[i]->host_ptr_ready(), from, p0.nbytes());
  };
  replicas_[0].opt->step(prepare, done);   // on the host, over replica 0's mapped memory
}

bool DataParallel::fused_host_reduce() const {
  static const bool on = [] {
    const char* e = std::getenv("VKWB_FUSED_REDUCE");   // 0: the three passes (for A/B runs and tests)
    return !(e && std::string(e) == "0");
  }();
  return on && fused_reduce_;
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
    // The hyperparameters too: with sharding a replica's lr applies to its own shard of everyone's weights.
    replicas_[size_t(r)].opt->lr = src.opt->lr;
    replicas_[size_t(r)].opt->clip_grad_norm(src.opt->max_grad_norm());
  }
}

}  // namespace vkwb::nn
