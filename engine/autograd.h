// Reverse-mode autograd: every op that has an input requiring grad attaches a Node to its
// output. A Node keeps the inputs it differentiates against and a backward closure that maps the
// output gradient to one gradient per input. backward() walks the graph in reverse topological
// order, accumulates gradients (inputs used twice get the sum), stores them in the leaves' .grad
// and frees the graph as it goes.
#pragma once
#include <functional>
#include <initializer_list>
#include <memory>
#include <vector>

#include "engine/tensor.h"

namespace vkwb {

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output)>;

struct Node {
  const char* name = "";
  std::vector<std::shared_ptr<TensorImpl>> inputs;   // nullptr where the input needs no grad
  BackwardFn backward;
};

bool grad_enabled();

// Disables graph recording in its scope (evaluation, target networks, optimizer updates).
class NoGradGuard {
 public:
  NoGradGuard();
  ~NoGradGuard();
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

bool needs_grad(std::initializer_list<Tensor> inputs);

// Attaches `fn` to `out` when grad mode is on and any input requires grad. The closure must not
// capture `out` itself (that would be a cycle): capture out.detach() if the output is needed.
void record(const char* name, Tensor& out, std::initializer_list<Tensor> inputs, BackwardFn fn);
void record(const char* name, Tensor& out, const std::vector<Tensor>& inputs, BackwardFn fn);

void run_backward(const Tensor& root, const Tensor& grad_output);

// Host work that fills `result` (a gradient a backward closure returns), to run later so that it
// overlaps the device's remaining backward work: inside run_backward the task runs before any
// device op consumes `result` (accumulation, or the next node's backward) and otherwise when the
// walk is done, after the recorded device work has been submitted. Outside backward it runs
// at once. The task must wait for the device results it reads (Stream::wait_epoch).
void defer_host_grad(const Tensor& result, std::function<void()> task);

// While a DeferredHostGrads lives, run_backward leaves the host tasks still queued when its walk
// is done (after submitting its device work) to the scope instead of running them, and run()
// runs them: data parallelism records every replica's backward before the host computes any of
// their deferred gradients, so no replica's device waits for another replica's host work. The
// gradients those tasks fill must not be read before run() (the destructor runs what is left).
class DeferredHostGrads {
 public:
  DeferredHostGrads();
  ~DeferredHostGrads();
  DeferredHostGrads(const DeferredHostGrads&) = delete;
  DeferredHostGrads& operator=(const DeferredHostGrads&) = delete;
  void run();
  size_t pending() const { return tasks_.size(); }

 private:
  std::vector<std::function<void()>> tasks_;
  DeferredHostGrads* prev_;
  friend void run_backward(const Tensor& root, const Tensor& grad_output);
};

}  // namespace vkwb
