#include "engine/autograd.h"

#include <unordered_map>
#include <unordered_set>

#include "engine/ops.h"
#include "engine/stream.h"

namespace vkwb {
namespace {
thread_local bool g_grad_enabled = true;

// Deferred host gradient tasks of the backward pass running on this thread.
struct HostGradTasks {
  std::vector<std::function<void()>> tasks;
  std::unordered_set<TensorImpl*> pending;   // results the tasks have not written yet
  bool is_pending(const Tensor& t) const { return t.defined() && pending.count(t.impl()); }
  void run() {
    auto todo = std::move(tasks);
    tasks.clear();
    pending.clear();
    for (auto& f : todo) f();
  }
};
thread_local HostGradTasks* g_host_tasks = nullptr;
thread_local DeferredHostGrads* g_deferred = nullptr;
}

DeferredHostGrads::DeferredHostGrads() : prev_(g_deferred) { g_deferred = this; }
DeferredHostGrads::~DeferredHostGrads() {
  g_deferred = prev_;
  try {
    run();
  } catch (...) {   // (a destructor must not throw; run() explicitly to see errors)
  }
}
void DeferredHostGrads::run() {
  auto todo = std::move(tasks_);
  tasks_.clear();
  for (auto& f : todo) f();
}

void defer_host_grad(const Tensor& result, std::function<void()> task) {
  if (!g_host_tasks) {
    task();
    return;
  }
  g_host_tasks->pending.insert(result.impl());
  g_host_tasks->tasks.push_back(std::move(task));
}

bool grad_enabled() { return g_grad_enabled; }
NoGradGuard::NoGradGuard() : prev_(g_grad_enabled) { g_grad_enabled = false; }
NoGradGuard::~NoGradGuard() { g_grad_enabled = prev_; }

bool needs_grad(std::initializer_list<Tensor> inputs) {
  if (!g_grad_enabled) return false;
  for (auto& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(const char* name, Tensor& out, const std::vector<Tensor>& inputs, BackwardFn fn) {
  if (!g_grad_enabled) return;
  bool any = false;
  for (auto& t : inputs) any |= t.defined() && t.requires_grad();
  if (!any) return;
  auto node = std::make_shared<Node>();
  node->name = name;
  for (auto& t : inputs) node->inputs.push_back(t.defined() && t.requires_grad() ? t.impl_ptr() : nullptr);
  node->backward = std::move(fn);
  out.impl()->grad_fn = std::move(node);
  out.impl()->requires_grad = true;
}

void record(const char* name, Tensor& out, std::initializer_list<Tensor> inputs, BackwardFn fn) {
  record(name, out, std::vector<Tensor>(inputs), std::move(fn));
}

void run_backward(const Tensor& root, const Tensor& grad_output) {
  if (!root.requires_grad()) throw Error("backward() on a tensor that does not require grad");
  Tensor g0 = grad_output;
  if (!g0.defined()) {
    if (root.numel() != 1) throw Error("backward() without a gradient needs a scalar, got shape " + root.shape().str());
    // A host-resident loss (the host cross_entropy) gets its seed from the host too: a fill
    // kernel would make the host backward that reads it wait for the device.
    if (root.host_resident() && root.dtype() == DType::f32) g0 = Tensor::from(std::vector<float>{1.f}, root.shape(), root.device());
    else g0 = Tensor::full(root.shape(), 1.0, root.device(), root.dtype());
  } else if (g0.shape() != root.shape()) {
    throw Error(shape_mismatch("backward", root.shape(), g0.shape()));
  }
  // Topological order by iterative DFS over grad_fn edges. `order` owns the impls: freeing the
  // graph as we go must not free a tensor we still have to visit.
  std::vector<std::shared_ptr<TensorImpl>> order;
  std::unordered_set<TensorImpl*> seen;
  std::vector<std::pair<std::shared_ptr<TensorImpl>, size_t>> stack{{root.impl_ptr(), 0}};
  seen.insert(root.impl());
  while (!stack.empty()) {
    auto& [t, i] = stack.back();
    Node* n = t->grad_fn.get();
    if (n && i < n->inputs.size()) {
      const auto& in = n->inputs[i++];
      if (in && seen.insert(in.get()).second) stack.push_back({in, 0});
      continue;
    }
    order.push_back(t);
    stack.pop_back();
  }
  NoGradGuard no_grad;   // gradients of gradients are not supported: keep backward cheap
  HostGradTasks host;
  HostGradTasks* outer = g_host_tasks;
  g_host_tasks = &host;
  struct Restore {
    HostGradTasks*& slot;
    HostGradTasks* prev;
    ~Restore() { slot = prev; }
  } restore{g_host_tasks, outer};
  // Before a device op reads a gradient a host task has yet to write, run the tasks.
  auto ready = [&](const Tensor& a, const Tensor& b = Tensor()) {
    if (host.is_pending(a) || host.is_pending(b)) host.run();
  };
  std::unordered_map<TensorImpl*, Tensor> grads;
  grads[root.impl()] = g0;
  for (auto it = order.rbegin(); it != order.rend(); ++it) {
    TensorImpl* t = it->get();
    auto gi = grads.find(t);
    if (gi == grads.end()) continue;
    Tensor g = gi->second;
    grads.erase(gi);
    if (!t->grad_fn) {
      if (t->requires_grad) {
        if (t->grad) {
          ready(Tensor(t->grad), g);
          t->grad = add(Tensor(t->grad), g).impl_ptr();
        } else {
          t->grad = g.impl_ptr();
        }
      }
      continue;
    }
    auto node = std::move(t->grad_fn);   // frees the graph behind us
    ready(g);
    std::vector<Tensor> in_grads = node->backward(g);
    for (size_t i = 0; i < node->inputs.size(); ++i) {
      TensorImpl* in = node->inputs[i].get();
      if (!in || i >= in_grads.size() || !in_grads[i].defined()) continue;
      if (in_grads[i].shape() != in->shape)
        throw Error(std::string("internal: backward of ") + node->name + " gave " + in_grads[i].shape().str() +
                    " for an input of shape " + in->shape.str());
      auto& acc = grads[in];
      if (acc.defined()) ready(acc, in_grads[i]);
      acc = acc.defined() ? add(acc, in_grads[i]) : in_grads[i];
    }
  }
  if (!host.tasks.empty()) {
    if (!root.device().is_cpu()) root.device().stream().submit();   // the device runs the rest while the host works
    if (g_deferred) {
      for (auto& f : host.tasks) g_deferred->tasks_.push_back(std::move(f));
      host.tasks.clear();
      host.pending.clear();
    } else {
      host.run();
    }
  }
}

}  // namespace vkwb
