// The engine's op set (PyTorch names). Every op validates its inputs, records one or more
// kernels into the device's stream (or runs the CPU reference on the cpu device) and, when an
// input requires grad, attaches its backward, which stands next to it in engine/ops/*.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/ops/params.h"
#include "engine/tensor.h"

namespace vkwb {

// --- elementwise unary (ops/elementwise.cpp) ---------------------------------------------------
Tensor unary(const Tensor& x, UnaryOp op, float a = 0.f, float b = 0.f);
Tensor relu(const Tensor& x);
Tensor leaky_relu(const Tensor& x, float slope = 0.01f);
Tensor elu(const Tensor& x, float alpha = 1.f);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor softplus(const Tensor& x);
Tensor silu(const Tensor& x);                                    // x * sigmoid(x) (swish)
Tensor gelu(const Tensor& x, bool tanh_approximation = false);   // x * Phi(x); PyTorch's approximate="tanh" with true
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor abs(const Tensor& x);
Tensor neg(const Tensor& x);
Tensor clamp(const Tensor& x, float lo, float hi);
Tensor square(const Tensor& x);
Tensor pow(const Tensor& x, float exponent);
Tensor mul(const Tensor& x, float s);        // x * s
Tensor add(const Tensor& x, float s);        // x + s
Tensor affine(const Tensor& x, float a, float b);   // a*x + b

// --- elementwise binary with broadcasting -------------------------------------------------------
Tensor binary(const Tensor& a, const Tensor& b, BinaryOp op);
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor pow(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);   // comparisons: 0/1, not differentiable
Tensor gt(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Shape broadcast_shapes(const Shape& a, const Shape& b);   // throws on mismatch
inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator*(const Tensor& a, float s) { return mul(a, s); }
inline Tensor operator+(const Tensor& a, float s) { return add(a, s); }
inline Tensor operator-(const Tensor& a, float s) { return add(a, -s); }
inline Tensor operator-(const Tensor& a) { return neg(a); }

// In-place helpers for optimizers and buffers (never recorded by autograd).
void fill_(Tensor& t, double value);
void copy_(Tensor& dst, const Tensor& src);     // same shape; dst keeps its storage

// --- reductions (ops/reduce.cpp); dim may be negative -------------------------------------------
Tensor sum(const Tensor& x);
Tensor sum(const Tensor& x, int dim, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, int dim, bool keepdim = false);
Tensor max(const Tensor& x);
Tensor max(const Tensor& x, int dim, bool keepdim = false);
Tensor min(const Tensor& x, int dim, bool keepdim = false);
Tensor argmax(const Tensor& x, int dim, bool keepdim = false);   // i32
Tensor argmin(const Tensor& x, int dim, bool keepdim = false);   // i32
Tensor var(const Tensor& x, int dim, bool unbiased = true, bool keepdim = false);
Tensor var(const Tensor& x, bool unbiased = true);
Tensor sum_to(const Tensor& x, const Shape& shape);   // sums broadcast dimensions away
Tensor softmax(const Tensor& x, int dim = -1);
Tensor log_softmax(const Tensor& x, int dim = -1);

// --- shape and indexing (ops/shape.cpp) ----------------------------------------------------------
Tensor contiguous_copy(const Tensor& x);
Tensor permute(const Tensor& x, const std::vector<int>& dims);
Tensor transpose(const Tensor& x, int d0, int d1);
Tensor narrow(const Tensor& x, int dim, int64_t start, int64_t length);
Tensor concat(const std::vector<Tensor>& xs, int dim);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int dim);
Tensor broadcast_to(const Tensor& x, const Shape& shape);
Tensor gather(const Tensor& x, int dim, const Tensor& index);        // index i32, same rank
Tensor scatter_add(const Tensor& src, int dim, const Tensor& index, const Shape& out_shape);
Tensor one_hot(const Tensor& labels, int num_classes);               // labels i32 [N] -> f32 [N, C]

// --- matrix products (ops/gemm.cpp) -------------------------------------------------------------
struct GemmOptions { bool trans_a = false, trans_b = false; float alpha = 1.f; };
Tensor matmul(const Tensor& a, const Tensor& b, const GemmOptions& o = {});  // [M,K]x[K,N], or batched [B,M,K]x[B,K,N]
// An activation fused into the output stage of linear / conv2d: y = act(x W^T + b) is computed in
// the GEMM's or the convolution's epilogue, with no separate pass over y (nn::Sequential fuses
// Linear/Conv2d followed by ReLU). Backward: the ReLU mask is read from y (y > 0 iff x W^T + b > 0).
enum class Epilogue { none, relu };
// Where linear() computes its products. The host modes run on the calling thread over the mapped
// memory with AVX2, bit-identical to the kernels on llvmpipe; they pay where a host core would
// otherwise wait for a CPU driver's single queue thread (the DQN update), and are taken only
// where host_linear_supported(device), else device.
//   device:     GEMM kernels.
//   host_wgrad: dW = gy^T x on the host while the device runs the rest of the backward pass
//               (autograd defers it: defer_host_grad); y and dX on the device.
//   host:       y and dX on the host too, each as soon as its input is ready (Tensor::data_ready;
//               the device waits for them), dW deferred as with host_wgrad.
enum class LinearExec { device, host_wgrad, host };
const char* linear_exec_name(LinearExec e);   // "device", "host_wgrad", "host"
// The LinearExec named `name` (as linear_exec_name gives it); throws Error naming `what` otherwise.
LinearExec parse_linear_exec(const std::string& name, const std::string& what);
// A CPU driver with host-visible memory (not the CPU backend), and a CPU with AVX2.
bool host_linear_supported(const Device& dev);
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& bias = Tensor(), Epilogue act = Epilogue::none,
              LinearExec exec = LinearExec::device);   // x [N, in], w [out, in]
// Which GEMM kernel the device uses: "texel" (CPU devices with float texel buffers: operands read
// through texel fetches), "register" (other CPU devices) or "tiled" (GPUs: shared-memory tiles);
// overridable by VKWB_GEMM=texel|register|tiled for testing each everywhere it can run.
const char* gemm_variant(const Device& dev);

// --- convolution and pooling (ops/conv.cpp, ops/pool.cpp) ----------------------------------------
struct Conv2dOptions {
  int stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dil_h = 1, dil_w = 1, groups = 1;
  int out_pad_h = 0, out_pad_w = 0;   // ConvTranspose2d only
};
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& o,
              Epilogue act = Epilogue::none);                                                          // w [OC, C/g, KH, KW]
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& o);  // w [C, OC/g, KH, KW]
struct Pool2dOptions { int kh = 2, kw = 2, stride_h = 0, stride_w = 0, pad_h = 0, pad_w = 0; bool count_include_pad = true; };
Tensor max_pool2d(const Tensor& x, const Pool2dOptions& o);
// max_pool2d(conv2d(x, w, bias, co, Epilogue::relu), po) with the ReLU's backward folded into the
// pooling's (nn::Sequential fuses Conv2d, ReLU, MaxPool2d): a window whose maximum is 0 passes no
// gradient, so the conv-sized ReLU mask pass disappears from the backward. Same values and
// gradients as the composition (the CPU reference backend computes the composition).
Tensor conv2d_relu_max_pool2d(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dOptions& co,
                              const Pool2dOptions& po);
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& o);
Tensor adaptive_avg_pool2d(const Tensor& x, int out_h, int out_w);   // torch's windows; one avg_pool2d when they tile

// --- random (ops/elementwise.cpp) ---------------------------------------------------------------
Tensor dropout(const Tensor& x, float p, uint64_t seed, bool training);

// --- losses (ops/loss.cpp); all return the mean over the batch --------------------------------
// On a CPU driver, logits the host wrote (Tensor::host_resident: a LinearExec::host head) take a
// host path (host_loss_enabled; VKWB_HOST_LOSS=0 turns it off): the same loss and gradient to
// float rounding, and no device round trip. Labels outside [0, C) are an error there.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels, float label_smoothing = 0.f);
bool host_loss_enabled(const Tensor& logits);
Tensor nll_loss(const Tensor& log_probs, const Tensor& labels);
Tensor mse_loss(const Tensor& x, const Tensor& target);
Tensor bce_with_logits(const Tensor& logits, const Tensor& target);
Tensor huber_loss(const Tensor& x, const Tensor& target, float delta = 1.f);
Tensor multi_margin_loss(const Tensor& scores, const Tensor& labels, float margin = 1.f);

// --- normalisation (ops/norm.cpp) ---------------------------------------------------------------
// x [N, C] or [N, C, H, W]. In training, normalises with batch statistics and updates the running
// buffers in place (momentum as in PyTorch, unbiased running variance); otherwise uses them.
Tensor batch_norm(const Tensor& x, Tensor& running_mean, Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, float momentum = 0.1f, float eps = 1e-5f);
Tensor local_response_norm(const Tensor& x, int size, float alpha = 1e-4f, float beta = 0.75f, float k = 1.f);

// --- optimizer kernel (ops/optim.cpp) -----------------------------------------------------------
struct OptimStep {
  OptimOp op = OptimOp::sgd;
  float lr = 0.01f, weight_decay = 0.f, a = 0.f, b = 0.f, eps = 0.f, c1 = 1.f, c2 = 1.f, momentum = 0.f;
  bool flag = false, first = false;
  // Run the update on the host over the mapped memory instead of dispatching the kernel, with the
  // kernel's float arithmetic (bit-identical results; tested). Honoured on CPU drivers with
  // host-visible memory only (Device::runs_on_host_cores), else ignored; it waits for the
  // recorded device work that touches its tensors (Tensor::data_ready), not for the whole
  // stream. Worth it when a host core would otherwise wait for the device.
  bool on_host = false;
};
// Whether OptimStep::on_host is honoured on `dev` (a CPU driver with host-visible memory).
bool host_optim_supported(const Device& dev);
// The host update of n consecutive elements on raw host memory (the loop OptimStep::on_host
// runs; s1..s3 as the optimizer's state, null where it has none), for callers that do their own
// synchronisation: DataParallel's host reduce updates each parameter a cache-sized range at a time.
void host_optim_update(const OptimStep& s, size_t n, float* prm, const float* grad, float* s1, float* s2, float* s3,
                       float grad_scale = 1.0f);
// Updates param in place from grad (scaled by grad_scale[0] if given) and the state buffers.
void optim_update(const OptimStep& s, Tensor& param, const Tensor& grad, Tensor* s1, Tensor* s2, Tensor* s3,
                  const Tensor* grad_scale = nullptr);

}  // namespace vkwb
