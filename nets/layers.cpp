#include "nets/layers.h"

#include <cstdlib>
#include <cstring>

#include "nets/init.h"

namespace vkwb::nn {

Linear::Linear(ModuleContext& ctx, int in_, int out_, bool bias) : in(in_), out(out_) {
  if (in < 1 || out < 1) throw Error("Linear: sizes must be >= 1, got " + std::to_string(in) + " -> " + std::to_string(out));
  weight_ = &register_parameter("weight", init::default_uniform({out, in}, *ctx.device, ctx.next_seed(), in));
  if (bias) bias_ = &register_parameter("bias", init::default_uniform({out}, *ctx.device, ctx.next_seed(), in));
}
Tensor Linear::forward(const Tensor& x) { return linear(x, *weight_, bias_ ? *bias_ : Tensor(), Epilogue::none, exec_); }
Tensor Linear::forward(const Tensor& x, Epilogue act) { return linear(x, *weight_, bias_ ? *bias_ : Tensor(), act, exec_); }
std::string Linear::type_name() const { return "Linear(" + std::to_string(in) + ", " + std::to_string(out) + ")"; }

void set_linear_exec(Module& m, LinearExec e) {
  if (auto* l = dynamic_cast<Linear*>(&m)) l->set_exec(e);
  for (auto& [name, child] : m.children()) set_linear_exec(*child, e);
}

static void host_linears(Module& m, std::vector<Linear*>& out) {
  if (auto* l = dynamic_cast<Linear*>(&m); l && l->exec() == LinearExec::host) out.push_back(l);
  for (auto& [name, child] : m.children()) host_linears(*child, out);
}

DeviceForwardScope::DeviceForwardScope(const std::vector<Module*>& modules) {
  for (Module* m : modules) host_linears(*m, changed_);
  for (Linear* l : changed_) l->set_exec(LinearExec::host_wgrad);
}

DeviceForwardScope::~DeviceForwardScope() {
  for (Linear* l : changed_) l->set_exec(LinearExec::host);
}

static void check_conv_options(const Conv2dOptions& o, const char* what) {
  if (o.in < 1 || o.out < 1 || o.kernel < 1 || o.stride < 1 || o.dilation < 1 || o.groups < 1 || o.padding < 0 ||
      o.in % o.groups || o.out % o.groups)
    throw Error(std::string(what) + ": invalid options (in " + std::to_string(o.in) + ", out " + std::to_string(o.out) +
                ", kernel " + std::to_string(o.kernel) + ", groups " + std::to_string(o.groups) + ")");
}

Conv2d::Conv2d(ModuleContext& ctx, const Conv2dOptions& o) : opt(o) {
  check_conv_options(o, "Conv2d");
  double fan_in = double(o.in / o.groups) * o.kernel * o.kernel;
  weight_ = &register_parameter("weight", init::default_uniform({o.out, o.in / o.groups, o.kernel, o.kernel}, *ctx.device,
                                                                ctx.next_seed(), fan_in));
  if (o.bias) bias_ = &register_parameter("bias", init::default_uniform({o.out}, *ctx.device, ctx.next_seed(), fan_in));
}
vkwb::Conv2dOptions Conv2d::engine_options() const {
  vkwb::Conv2dOptions e;
  e.stride_h = e.stride_w = opt.stride;
  e.pad_h = e.pad_w = opt.padding;
  e.dil_h = e.dil_w = opt.dilation;
  e.groups = opt.groups;
  e.out_pad_h = e.out_pad_w = opt.output_padding;
  return e;
}
Tensor Conv2d::forward(const Tensor& x) { return conv2d(x, *weight_, bias_ ? *bias_ : Tensor(), engine_options()); }
Tensor Conv2d::forward(const Tensor& x, Epilogue act) {
  return conv2d(x, *weight_, bias_ ? *bias_ : Tensor(), engine_options(), act);
}
Tensor Conv2d::forward_relu_max_pool(const Tensor& x, const Pool2dOptions& pool) {
  return conv2d_relu_max_pool2d(x, *weight_, bias_ ? *bias_ : Tensor(), engine_options(), pool);
}
std::string Conv2d::type_name() const {
  return "Conv2d(" + std::to_string(opt.in) + ", " + std::to_string(opt.out) + ", k=" + std::to_string(opt.kernel) +
         (opt.stride != 1 ? ", s=" + std::to_string(opt.stride) : "") + (opt.padding ? ", p=" + std::to_string(opt.padding) : "") +
         (opt.groups != 1 ? ", g=" + std::to_string(opt.groups) : "") + ")";
}

static Conv2dOptions transposed_shape(Conv2dOptions o) {
  check_conv_options(o, "ConvTranspose2d");
  return o;
}
ConvTranspose2d::ConvTranspose2d(ModuleContext& ctx, const Conv2dOptions& o)
    : Conv2d(ctx, [&] {
        // Build as a conv with in/out swapped so the weight is [in, out/g, k, k] (PyTorch layout).
        Conv2dOptions t = transposed_shape(o);
        t.in = o.out;
        t.out = o.in;
        return t;
      }()) {
  opt = o;
  if (o.output_padding >= std::max(o.stride, o.dilation)) throw Error("ConvTranspose2d: output_padding must be < stride or dilation");
  // The swapped construction gave the bias `in` entries; the transposed output has `out` channels.
  if (bias_) {
    *bias_ = init::default_uniform({o.out}, *ctx.device, ctx.next_seed(), double(o.out / o.groups) * o.kernel * o.kernel);
    bias_->requires_grad_(true);
  }
}
Tensor ConvTranspose2d::forward_relu_max_pool(const Tensor& x, const Pool2dOptions& pool) {
  return max_pool2d(forward(x, Epilogue::relu), pool);
}
Tensor ConvTranspose2d::forward(const Tensor& x, Epilogue act) {
  Tensor y = forward(x);
  return act == Epilogue::relu ? relu(y) : y;
}
Tensor ConvTranspose2d::forward(const Tensor& x) {
  return conv_transpose2d(x, *weight_, bias_ ? *bias_ : Tensor(), engine_options());
}
std::string ConvTranspose2d::type_name() const {
  return "ConvTranspose2d(" + std::to_string(opt.in) + ", " + std::to_string(opt.out) + ", k=" + std::to_string(opt.kernel) +
         ", s=" + std::to_string(opt.stride) + ")";
}

MaxPool2d::MaxPool2d(int k, int s, int p) {
  opt.kh = opt.kw = k;
  opt.stride_h = opt.stride_w = s ? s : k;
  opt.pad_h = opt.pad_w = p;
}
Tensor MaxPool2d::forward(const Tensor& x) { return max_pool2d(x, opt); }
std::string MaxPool2d::type_name() const { return "MaxPool2d(" + std::to_string(opt.kh) + ", s=" + std::to_string(opt.stride_h) + ")"; }

AvgPool2d::AvgPool2d(int k, int s, int p, bool count_include_pad) {
  opt.kh = opt.kw = k;
  opt.stride_h = opt.stride_w = s ? s : k;
  opt.pad_h = opt.pad_w = p;
  opt.count_include_pad = count_include_pad;
}
Tensor AvgPool2d::forward(const Tensor& x) { return avg_pool2d(x, opt); }
std::string AvgPool2d::type_name() const { return "AvgPool2d(" + std::to_string(opt.kh) + ", s=" + std::to_string(opt.stride_h) + ")"; }
std::string AdaptiveAvgPool2d::type_name() const { return "AdaptiveAvgPool2d(" + std::to_string(h_) + ", " + std::to_string(w_) + ")"; }

BatchNorm::BatchNorm(ModuleContext& ctx, int features, float momentum, float eps, bool affine)
    : features_(features), momentum_(momentum), eps_(eps) {
  Device& dev = *ctx.device;
  if (affine) {
    weight_ = &register_parameter("weight", Tensor::ones({features}, dev));
    bias_ = &register_parameter("bias", Tensor::zeros({features}, dev));
  }
  running_mean_ = &register_buffer("running_mean", Tensor::zeros({features}, dev));
  running_var_ = &register_buffer("running_var", Tensor::ones({features}, dev));
}
Tensor BatchNorm::forward(const Tensor& x) {
  return batch_norm(x, *running_mean_, *running_var_, weight_ ? *weight_ : Tensor(), bias_ ? *bias_ : Tensor(), is_training(),
                    momentum_, eps_);
}
std::string BatchNorm::type_name() const { return "BatchNorm(" + std::to_string(features_) + ")"; }

Dropout::Dropout(ModuleContext& ctx, float p) : p_(p), seed_(ctx.next_seed()) {
  if (p < 0.f || p >= 1.f) throw Error("Dropout: p must be in [0, 1), got " + std::to_string(p));
}
Tensor Dropout::forward(const Tensor& x) {
  if (!is_training()) return x;
  return dropout(x, p_, seed_ + 0x9E3779B97F4A7C15ull * (++calls_), true);
}
std::string Dropout::type_name() const { return "Dropout(" + std::to_string(p_).substr(0, 4) + ")"; }

std::string LocalResponseNorm::type_name() const { return "LocalResponseNorm(" + std::to_string(size_) + ")"; }

std::shared_ptr<Activation> ReLU() {
  return std::make_shared<Activation>("ReLU", [](const Tensor& x) { return relu(x); }, Epilogue::relu);
}
std::shared_ptr<Activation> LeakyReLU(float s) {
  return std::make_shared<Activation>("LeakyReLU", [s](const Tensor& x) { return leaky_relu(x, s); });
}
std::shared_ptr<Activation> ELU(float a) { return std::make_shared<Activation>("ELU", [a](const Tensor& x) { return elu(x, a); }); }
std::shared_ptr<Activation> Sigmoid() { return std::make_shared<Activation>("Sigmoid", [](const Tensor& x) { return sigmoid(x); }); }
std::shared_ptr<Activation> Tanh() { return std::make_shared<Activation>("Tanh", [](const Tensor& x) { return vkwb::tanh(x); }); }
std::shared_ptr<Activation> Softplus() { return std::make_shared<Activation>("Softplus", [](const Tensor& x) { return softplus(x); }); }
std::shared_ptr<Activation> SiLU() { return std::make_shared<Activation>("SiLU", [](const Tensor& x) { return silu(x); }); }
std::shared_ptr<Activation> GELU(bool t) {
  return std::make_shared<Activation>(t ? "GELU(tanh)" : "GELU", [t](const Tensor& x) { return gelu(x, t); });
}
std::shared_ptr<Activation> ReLU6() { return std::make_shared<Activation>("ReLU6", [](const Tensor& x) { return clamp(x, 0.f, 6.f); }); }
std::shared_ptr<Activation> Hardtanh(float lo, float hi) {
  return std::make_shared<Activation>("Hardtanh", [lo, hi](const Tensor& x) { return clamp(x, lo, hi); });
}
std::shared_ptr<Activation> SELU() {   // Klambauer et al. 2017: scale * elu(x, alpha)
  return std::make_shared<Activation>("SELU", [](const Tensor& x) { return mul(elu(x, 1.6732632423543772f), 1.0507009873554805f); });
}

PReLU::PReLU(ModuleContext& ctx, int n, float init) : n_(n) {
  if (n < 1) throw Error("PReLU: num_parameters must be >= 1");
  weight_ = &register_parameter("weight", Tensor::full({n}, init, *ctx.device));
}

Tensor PReLU::forward(const Tensor& x) {
  Tensor a = *weight_;
  if (n_ > 1) {
    if (x.dim() < 2 || x.shape()[1] != n_)
      throw Error("PReLU(" + std::to_string(n_) + "): input " + x.shape().str() + " has not " + std::to_string(n_) + " channels");
    std::vector<int64_t> s(size_t(x.dim() - 1), 1);
    s[0] = n_;
    a = a.reshape(Shape::of(s));
  }
  return sub(relu(x), mul(a, relu(neg(x))));
}

std::shared_ptr<Activation> activation(const std::string& n) {
  if (n == "relu") return ReLU();
  if (n == "leaky_relu") return LeakyReLU();
  if (n == "elu") return ELU();
  if (n == "sigmoid") return Sigmoid();
  if (n == "tanh") return Tanh();
  if (n == "softplus") return Softplus();
  if (n == "silu") return SiLU();
  if (n == "gelu") return GELU();
  if (n == "gelu_tanh") return GELU(true);
  if (n == "relu6") return ReLU6();
  if (n == "hardtanh") return Hardtanh();
  if (n == "selu") return SELU();
  throw Error("unknown activation '" + n + "' (relu, leaky_relu, elu, selu, sigmoid, tanh, softplus, silu, gelu, gelu_tanh, relu6, hardtanh)");
}

Sequential::Sequential(std::initializer_list<ModulePtr> mods) {
  for (auto& m : mods) add(m);
}
Sequential& Sequential::add(ModulePtr m) {
  register_module(std::to_string(children().size()), std::move(m));
  return *this;
}
// y = act(m(x)) in one op when m is a Linear or a Conv2d; false (y untouched) otherwise.
static bool forward_fused(Module* m, const Tensor& x, Epilogue act, Tensor& y) {
  if (auto* lin = dynamic_cast<Linear*>(m)) return y = lin->forward(x, act), true;
  if (auto* conv = dynamic_cast<Conv2d*>(m)) return y = conv->forward(x, act), true;
  return false;
}

static bool fusion_enabled() {
  const char* e = std::getenv("VKWB_FUSE");
  return !(e && std::strcmp(e, "0") == 0);
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor h = x;
  const auto& ch = children();
  bool fuse = fusion_enabled();
  for (size_t i = 0; i < ch.size(); ++i) {
    Module* m = ch[i].second.get();
    auto* act = fuse && i + 1 < ch.size() ? dynamic_cast<Activation*>(ch[i + 1].second.get()) : nullptr;
    auto* conv = dynamic_cast<Conv2d*>(m);
    auto* pool = conv && act && act->epilogue() == Epilogue::relu && i + 2 < ch.size()
                     ? dynamic_cast<MaxPool2d*>(ch[i + 2].second.get()) : nullptr;
    if (pool) {   // Conv2d, ReLU, MaxPool2d: one op, the ReLU's mask folded into the pooling's
      h = conv->forward_relu_max_pool(h, pool->opt);
      i += 2;
      continue;
    }
    if (act && act->epilogue() != Epilogue::none && forward_fused(m, h, act->epilogue(), h)) {
      ++i;   // the activation ran in m's epilogue
      continue;
    }
    h = m->forward(h);
  }
  return h;
}

}  // namespace vkwb::nn
