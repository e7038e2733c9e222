// Every kernel against the CPU reference on odd shapes (1, 7, 13, 127, 257, ...).
#include <boost/test/unit_test.hpp>

#include <cstring>

#include "engine/ops/gemm.h"
#include "support/op_check.h"

using namespace vkwb;
using namespace vkwb::test;

BOOST_AUTO_TEST_SUITE(ops_vs_reference)

BOOST_AUTO_TEST_CASE(unary_ops) {
  // vec4 kernels (quads, then the n % 4 tail) and float kernels (VKWB_VEC4=0); Shape{3, 4} has
  // no tail.
  for (const char* v4 : {"1", "0"})
  for (Shape s : {Shape{1}, Shape{3, 4}, Shape{7, 13}, Shape{3, 257}, Shape{5, 3, 7, 11}}) {
    setenv("VKWB_VEC4", v4, 1);
    Input x = rnd(s, 1, -3, 3), pos = rnd(s, 2, 0.1, 4);
    check_op("relu", [](auto& in) { return relu(in[0]); }, {x});
    check_op("leaky_relu", [](auto& in) { return leaky_relu(in[0], 0.1f); }, {x});
    check_op("elu", [](auto& in) { return elu(in[0], 0.7f); }, {x});
    check_op("sigmoid", [](auto& in) { return sigmoid(in[0]); }, {x});
    check_op("tanh", [](auto& in) { return vkwb::tanh(in[0]); }, {x});
    check_op("softplus", [](auto& in) { return softplus(in[0]); }, {x});
    check_op("exp", [](auto& in) { return vkwb::exp(in[0]); }, {x});
    check_op("log", [](auto& in) { return vkwb::log(in[0]); }, {pos});
    check_op("sqrt", [](auto& in) { return vkwb::sqrt(in[0]); }, {pos});
    check_op("abs", [](auto& in) { return vkwb::abs(in[0]); }, {x});
    check_op("neg", [](auto& in) { return neg(in[0]); }, {x});
    check_op("clamp", [](auto& in) { return clamp(in[0], -0.5f, 1.5f); }, {x});
    check_op("affine", [](auto& in) { return affine(in[0], 2.5f, -1.f); }, {x});
    check_op("square", [](auto& in) { return square(in[0]); }, {x});
    check_op("pow", [](auto& in) { return vkwb::pow(in[0], 1.7f); }, {pos});
    check_op("sign", [](auto& in) { return unary(in[0], UnaryOp::sign); }, {x});
    check_op("silu", [](auto& in) { return silu(in[0]); }, {x});
    check_op("gelu", [](auto& in) { return gelu(in[0]); }, {x});
    check_op("gelu_tanh", [](auto& in) { return gelu(in[0], true); }, {x});
  }
  unsetenv("VKWB_VEC4");
  // Inputs that start one float into their buffer: one-float texel view / float path.
  Input big = rnd({1, 30}, 3, -3, 3);
  check_op("relu of a view", [](auto& in) { return relu(in[0].reshape({30}).slice(1, 30)); }, {big});
  check_op("add of views", [](auto& in) { Tensor v = in[0].reshape({30}); return add(v.slice(1, 14), v.slice(14, 27)); }, {big});
}

BOOST_AUTO_TEST_CASE(binary_broadcasting) {
  struct Case { Shape a, b; };
  for (auto c : {Case{{7, 13}, {7, 13}}, Case{{4, 6}, {4, 6}}, Case{{7, 13}, {13}}, Case{{7, 1}, {1, 13}}, Case{{3, 5, 7, 9}, {5, 1, 9}},
                 Case{{1}, {127}}, Case{{2, 3, 1, 5, 1}, {3, 4, 1, 6}}}) {
    Input a = rnd(c.a, 3, -2, 2), b = rnd(c.b, 4, 0.5, 2);
    check_op("add", [](auto& in) { return add(in[0], in[1]); }, {a, b});
    check_op("sub", [](auto& in) { return sub(in[0], in[1]); }, {a, b});
    check_op("mul", [](auto& in) { return mul(in[0], in[1]); }, {a, b});
    check_op("div", [](auto& in) { return div(in[0], in[1]); }, {a, b});
    check_op("max", [](auto& in) { return maximum(in[0], in[1]); }, {a, b});
    check_op("min", [](auto& in) { return minimum(in[0], in[1]); }, {a, b});
    check_op("pow", [](auto& in) { return vkwb::pow(in[1], in[0]); }, {a, b});
    check_op("ge", [](auto& in) { return ge(in[0], in[1]); }, {a, b});
    check_op("lt", [](auto& in) { return lt(in[0], in[1]); }, {a, b});
    check_op("gt", [](auto& in) { return gt(in[0], in[1]); }, {a, b});
    check_op("le", [](auto& in) { return binary(in[0], in[1], BinaryOp::le); }, {a, b});
    check_op("eq", [](auto& in) { return eq(in[0], in[0]); }, {a});
  }
  // The float path of same-shape ops (VKWB_VEC4=0).
  setenv("VKWB_VEC4", "0", 1);
  Input a = rnd({7, 13}, 3, -2, 2), b = rnd({7, 13}, 4, 0.5, 2);
  check_op("div float path", [](auto& in) { return div(in[0], in[1]); }, {a, b});
  unsetenv("VKWB_VEC4");
}

BOOST_AUTO_TEST_CASE(reductions) {
  // Input read through texel fetches (reduce_texel), then as a storage buffer (VKWB_TEXEL=0).
  for (const char* texel : {"1", "0"}) {
  setenv("VKWB_TEXEL", texel, 1);
  for (Shape s : {Shape{1}, Shape{7, 13}, Shape{3, 257, 5}, Shape{2, 1000}, Shape{4097}}) {
    Input x = rnd(s, 5, -3, 3);
    for (int d = 0; d < s.n; ++d) {
      check_op("sum", [d](auto& in) { return sum(in[0], d); }, {x}, 1e-3, 1e-4);
      check_op("mean", [d](auto& in) { return mean(in[0], d, true); }, {x});
      check_op("max", [d](auto& in) { return vkwb::max(in[0], d); }, {x});
      check_op("min", [d](auto& in) { return vkwb::min(in[0], d); }, {x});
      check_op("argmax", [d](auto& in) { return argmax(in[0], d); }, {x}, 1e-6, 1e-6);
      check_op("argmin", [d](auto& in) { return argmin(in[0], d); }, {x}, 1e-6, 1e-6);
      if (s[d] > 1) check_op("var", [d](auto& in) { return var(in[0], d); }, {x}, 1e-3, 1e-3);
    }
    check_op("sum all", [](auto& in) { return sum(in[0]); }, {x}, 1e-3, 1e-4);
    check_op("mean all", [](auto& in) { return mean(in[0]); }, {x});
  }
  }
  unsetenv("VKWB_TEXEL");
}

// sum_to (broadcasting gradients, conv bias gradients) against a plain loop on the host, for every
// pattern of kept / reduced / size-1 axes of a 4-D tensor and fewer target dims.
BOOST_AUTO_TEST_CASE(sum_to_against_a_loop) {
  Shape xs{3, 1, 5, 6};
  Input x = rnd({3, 4, 5, 6}, 41, -2, 2);
  Input x1 = rnd(xs, 42, -2, 2);
  Input xb = rnd({64, 6, 28, 28}, 43, -2, 2);   // LeNet's first bias gradient
  for (const Input* in : {&x, &x1, &xb}) {
    Shape s = in->shape;
    Tensor t = make(*in, gpu(), DType::f32), tc = make(*in, cpu(), DType::f64);
    for (int mask = 0; mask < 16; ++mask) {
      Shape target = s;
      for (int i = 0; i < 4; ++i) if (mask >> i & 1) target.d[i] = 1;
      std::vector<Shape> targets = {target};
      if (target.d[0] == 1) targets.push_back(Shape{target.d[1], target.d[2], target.d[3]});   // fewer dims
      for (const Shape& tg : targets) {
        Shape full = target;
        std::vector<double> want(size_t(full.numel()), 0.0);
        for (int64_t a = 0; a < s.d[0]; ++a)
          for (int64_t b = 0; b < s.d[1]; ++b)
            for (int64_t c = 0; c < s.d[2]; ++c)
              for (int64_t d = 0; d < s.d[3]; ++d) {
                int64_t ia = full.d[0] == 1 ? 0 : a, ib = full.d[1] == 1 ? 0 : b, ic = full.d[2] == 1 ? 0 : c, id = full.d[3] == 1 ? 0 : d;
                want[size_t(((ia * full.d[1] + ib) * full.d[2] + ic) * full.d[3] + id)] +=
                    in->data[size_t(((a * s.d[1] + b) * s.d[2] + c) * s.d[3] + d)];
              }
        std::string name = "sum_to " + s.str() + " -> " + tg.str();
        Tensor y = sum_to(t, tg), yc = sum_to(tc, tg);
        BOOST_TEST_REQUIRE(y.shape().str() == tg.str(), name);
        check_close(y.to_dvector(), want, 1e-4, 1e-4, name + " (device)");
        check_close(yc.to_dvector(), want, 1e-10, 1e-10, name + " (reference)");
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(softmax_family) {
  for (Shape s : {Shape{1, 1}, Shape{7, 13}, Shape{3, 10, 5}, Shape{64, 257}}) {
    Input x = rnd(s, 6, -5, 5);
    for (int d = 0; d < s.n; ++d) {
      check_op("softmax", [d](auto& in) { return softmax(in[0], d); }, {x}, 1e-5, 1e-4);
      check_op("log_softmax", [d](auto& in) { return log_softmax(in[0], d); }, {x}, 1e-4, 1e-4);
    }
  }
}

BOOST_AUTO_TEST_CASE(gemm_shapes) {
  struct Case { int M, N, K; };
  // texel: odd sizes hit the one-float views and the K % 4 tail, multiples of 4 the four-float
  // views along k, m and n; 257 x 260 and 260 x 257 are big enough for the 16-row tile.
  for (const char* variant : {"texel", "register", "tiled"}) {
    setenv("VKWB_GEMM", variant, 1);
    for (auto c : {Case{1, 1, 1}, Case{7, 13, 5}, Case{13, 7, 127}, Case{127, 129, 33}, Case{65, 257, 64}, Case{3, 1, 300},
                   Case{13, 16, 20}, Case{257, 260, 9}, Case{260, 257, 12}}) {
      Input a = rnd({c.M, c.K}, 7), b = rnd({c.K, c.N}, 8), at = rnd({c.K, c.M}, 9), bt = rnd({c.N, c.K}, 10);
      std::string tag = std::string(variant) + " " + std::to_string(c.M) + "x" + std::to_string(c.N) + "x" + std::to_string(c.K);
      check_op("matmul " + tag, [](auto& in) { return matmul(in[0], in[1]); }, {a, b}, 1e-4, 1e-4);
      check_op("matmul TA " + tag, [](auto& in) { return matmul(in[0], in[1], {.trans_a = true}); }, {at, b}, 1e-4, 1e-4);
      check_op("matmul TB " + tag, [](auto& in) { return matmul(in[0], in[1], {.trans_b = true}); }, {a, bt}, 1e-4, 1e-4);
      check_op("matmul TA TB " + tag, [](auto& in) { return matmul(in[0], in[1], {.trans_a = true, .trans_b = true, .alpha = 0.5f}); },
               {at, bt}, 1e-4, 1e-4);
      Input w = rnd({c.N, c.K}, 11), bias = rnd({c.N}, 12);
      check_op("linear " + tag, [](auto& in) { return linear(in[0], in[1], in[2]); }, {a, w, bias}, 1e-4, 1e-4);
      // The fused ReLU epilogue, and that it equals ReLU after the unfused op (on both backends).
      check_op("linear+relu " + tag, [](auto& in) { return linear(in[0], in[1], in[2], Epilogue::relu); }, {a, w, bias}, 1e-4, 1e-4);
      check_op("linear+relu - relu(linear) " + tag, [](auto& in) {
        return sub(linear(in[0], in[1], in[2], Epilogue::relu), relu(linear(in[0], in[1], in[2])));
      }, {a, w, bias}, 1e-6, 0);
    }
    check_op(std::string("batched matmul ") + variant, [](auto& in) { return matmul(in[0], in[1]); },
             {rnd({3, 7, 13}, 1), rnd({3, 13, 5}, 2)}, 1e-4, 1e-4);
    check_op(std::string("batched matmul x4 ") + variant, [](auto& in) { return matmul(in[0], in[1], {.trans_b = true}); },
             {rnd({3, 9, 8}, 3), rnd({3, 12, 8}, 4)}, 1e-4, 1e-4);
  }
  unsetenv("VKWB_GEMM");
}

BOOST_AUTO_TEST_CASE(shape_ops) {
  Input x = rnd({3, 5, 7, 2}, 13);
  check_op("permute", [](auto& in) { return permute(in[0], {2, 0, 3, 1}); }, {x}, 1e-6, 1e-6);
  check_op("transpose", [](auto& in) { return transpose(in[0], 1, 3); }, {x}, 1e-6, 1e-6);
  check_op("narrow", [](auto& in) { return narrow(in[0], 2, 2, 4); }, {x}, 1e-6, 1e-6);
  check_op("concat", [](auto& in) { return concat({in[0], in[1], in[0]}, 1); }, {x, rnd({3, 2, 7, 2}, 14)}, 1e-6, 1e-6);
  check_op("split", [](auto& in) { return split(in[0], {1, 4, 2}, 2)[1]; }, {x}, 1e-6, 1e-6);
  check_op("broadcast_to", [](auto& in) { return broadcast_to(in[0], {4, 3, 5, 7, 2}); }, {x}, 1e-6, 1e-6);
  check_op("slice view", [](auto& in) { return add(in[0].slice(1, 3), 0.f); }, {rnd({5, 3}, 15)}, 1e-6, 1e-6);
  Input idx{Shape{3, 4, 7, 2}, {}, true, false};
  for (int i = 0; i < 3 * 4 * 7 * 2; ++i) idx.data.push_back(double((i * 7) % 5));
  check_op("gather", [](auto& in) { return gather(in[0], 1, in[1]); }, {x, idx}, 1e-6, 1e-6);
  check_op("scatter_add", [](auto& in) { return scatter_add(in[0], 1, in[1], {3, 5, 7, 2}); }, {rnd({3, 4, 7, 2}, 16), idx}, 1e-6, 1e-6);
  check_op("one_hot", [](auto& in) { return one_hot(in[0], 10); }, {labels(13, 10)}, 1e-6, 1e-6);
}

BOOST_AUTO_TEST_CASE(convolution) {
  struct Case { Shape x, w; Conv2dOptions o; };
  std::vector<Case> cases = {
      {{2, 1, 28, 28}, {6, 1, 5, 5}, {.pad_h = 2, .pad_w = 2}},
      {{3, 6, 14, 14}, {16, 6, 5, 5}, {}},
      {{1, 3, 7, 9}, {5, 3, 3, 3}, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}},
      {{2, 4, 13, 11}, {6, 2, 3, 3}, {.pad_h = 2, .pad_w = 2, .dil_h = 2, .dil_w = 2, .groups = 2}},
      {{2, 8, 5, 5}, {8, 1, 3, 3}, {.pad_h = 1, .pad_w = 1, .groups = 8}},
      {{3, 7, 6, 6}, {4, 7, 1, 1}, {}},
      // Direct path: padding larger than the kernel (its data gradient pads negatively), and a
      // 7x7 kernel (beyond the direct kernel's unrolled taps: the implicit GEMM takes it).
      {{2, 3, 5, 6}, {5, 3, 1, 1}, {.pad_h = 1, .pad_w = 2}},
      {{1, 2, 9, 8}, {3, 2, 7, 7}, {.pad_h = 3, .pad_w = 3}},
      // The DQN net's layer on 13 images: the implicit weight gradient's slices of >= 256 output
      // pixels (4, 4, 4 and 1 images) and their sum.
      {{13, 4, 10, 10}, {16, 4, 3, 3}, {}},
      // One input channel on enough images that the direct forward's invocations take segments
      // of several block rows (the patch rolling down them, a shorter last segment), odd sizes;
      // then with stride 2 (one shared patch row).
      {{16, 1, 23, 19}, {6, 1, 5, 5}, {.pad_h = 2, .pad_w = 2}},
      {{48, 1, 17, 15}, {3, 1, 3, 3}, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}},
  };
  // All device paths: direct and implicit GEMM (CPU Vulkan devices; on the direct path the weight
  // gradient by either kernel, VKWB_CONV_DW) and im2col + GEMM (GPUs).
  for (const char* variant : {"direct", "direct/implicit-dW", "implicit", "gemm"}) {
    std::string v = variant;
    setenv("VKWB_CONV", v.substr(0, v.find('/')).c_str(), 1);
    setenv("VKWB_CONV_DW", v == "direct" ? "direct" : "implicit", 1);
    for (auto& c : cases) {
      Input x = rnd(c.x, 21), w = rnd(c.w, 22), b = rnd({c.w[0]}, 23);
      auto o = c.o;
      std::string tag = std::string(variant) + " " + c.x.str() + c.w.str();
      check_op("conv2d fwd+bwd " + tag, [o](auto& in) {   // every gradient against the reference
        for (auto& t : in) t.requires_grad_();
        Tensor y = conv2d(in[0], in[1], in[2], o);
        sum(mul(y, y)).backward();
        return concat({in[0].grad().reshape({-1}), in[1].grad().reshape({-1}), in[2].grad()}, 0);
      }, {x, w, b}, 1e-3, 1e-4);
      if (v == "direct/implicit-dW") continue;   // the rest does not take a weight gradient
      check_op("conv2d " + tag, [o](auto& in) { return conv2d(in[0], in[1], in[2], o); }, {x, w, b}, 1e-4, 1e-4);
      check_op("conv2d+relu " + tag, [o](auto& in) { return conv2d(in[0], in[1], in[2], o, Epilogue::relu); }, {x, w, b}, 1e-4, 1e-4);
      check_op("conv2d+relu - relu(conv2d) " + tag, [o](auto& in) {
        return sub(conv2d(in[0], in[1], in[2], o, Epilogue::relu), relu(conv2d(in[0], in[1], in[2], o)));
      }, {x, w, b}, 1e-6, 0);
      check_op("conv2d+relu+max_pool2d " + tag, [o](auto& in) {   // the CPU reference computes the composition
        return conv2d_relu_max_pool2d(in[0], in[1], in[2], o, {.kh = 2, .kw = 1, .stride_h = 1});
      }, {x, w, b}, 1e-4, 1e-4);
      check_op("conv2d+relu+max_pool2d 2x2 (the direct kernel's epilogue) " + tag, [o](auto& in) {
        return concat({conv2d_relu_max_pool2d(in[0], in[1], in[2], o, {}).reshape({-1}),
                       conv2d_relu_max_pool2d(in[0], in[1], affine(in[2], 1.f, -0.7f), o, {}).reshape({-1})}, 0);   // windows at 0
      }, {x, w, b}, 1e-4, 1e-4);
      // Its backward with the host's blocks (the data and weight gradients read the pooled
      // gradient through the window indices), with some windows masked by the ReLU.
      check_op("conv2d+relu+max_pool2d 2x2 fwd+bwd " + tag, [o](auto& in) {
        for (auto& t : in) t.requires_grad_();
        Tensor y = conv2d_relu_max_pool2d(in[0], in[1], affine(in[2], 1.f, -0.3f), o, {});
        sum(mul(y, y)).backward();
        return concat({y.reshape({-1}), in[0].grad().reshape({-1}), in[1].grad().reshape({-1}), in[2].grad()}, 0);
      }, {x, w, b}, 1e-3, 1e-4);
    }
  }
  unsetenv("VKWB_CONV");
  unsetenv("VKWB_CONV_DW");
  // The pooling epilogue with taller pixel blocks (4 rows: two pooled rows per block, an odd
  // count of block rows past the edge); the weight gradient's sparse unpooling with the same
  // blocks (several windows per block in both directions; the host picks one or two).
  // With and without the patches fetched in column pairs (VKWB_CONV_PAIRS: on
  // where the widths and padding are even; LeNet-5's conv1 and conv2 shapes among these).
  for (const char* pairs : {"1", "0"})
  for (const char* tile : {"2x8", "4x6", "2x2"})
  // (12 single-channel images: more blocks than invocations, each invocation reusing its weights.)
  for (auto& c : std::vector<Case>{cases[0], cases[1], cases[3], {{12, 1, 28, 28}, {6, 1, 5, 5}, {.pad_h = 2, .pad_w = 2}},
                                   {{2, 3, 10, 8}, {4, 3, 3, 3}, {.pad_h = 1, .pad_w = 2}}}) {
    setenv("VKWB_CONV_PAIRS", pairs, 1);
    setenv("VKWB_CONV_DIRECT_TILE", tile, 1);
    setenv("VKWB_CONV_DW_TILE", tile, 1);
    Input x = rnd(c.x, 24), w = rnd(c.w, 25), b = rnd({c.w[0]}, 26);
    auto o = c.o;
    check_op("conv2d+relu+max_pool2d 2x2, " + std::string(tile) + " blocks, pairs " + pairs + ", fwd+bwd " + c.x.str() + c.w.str(), [o](auto& in) {
      for (auto& t : in) t.requires_grad_();
      Tensor y = conv2d_relu_max_pool2d(in[0], in[1], in[2], o, {});
      sum(mul(y, y)).backward();
      return concat({y.reshape({-1}), in[0].grad().reshape({-1}), in[1].grad().reshape({-1})}, 0);
    }, {x, w, b}, 1e-3, 1e-4);
  }
  unsetenv("VKWB_CONV_DIRECT_TILE");
  unsetenv("VKWB_CONV_DW_TILE");
  unsetenv("VKWB_CONV_PAIRS");
  // 5x5 kernels with every output channel in one block of more than 192 accumulators (the host's
  // pick for LeNet-5's conv2, 2x10x16, at an odd batch; then 13 channels at odd sizes): fused with
  // the pooling, and plain (with padding: blocks past the right and bottom edges).
  // (Both outputs and every gradient of conv + ReLU and of conv + ReLU + 2x2 max pooling.)
  auto relu_and_pooled = [](Conv2dOptions o) {
    return [o](auto& in) {
      for (auto& t : in) t.requires_grad_();
      Tensor y = conv2d(in[0], in[1], in[2], o, Epilogue::relu);
      Tensor z = conv2d_relu_max_pool2d(in[0], in[1], in[2], o, {});
      sum(add(sum(mul(y, y)), sum(mul(z, z)))).backward();
      return concat({y.reshape({-1}), z.reshape({-1}), in[0].grad().reshape({-1}), in[1].grad().reshape({-1}), in[2].grad()}, 0);
    };
  };
  for (auto& c : std::vector<Case>{{{3, 6, 14, 14}, {16, 6, 5, 5}, {}}, {{2, 5, 13, 11}, {13, 5, 5, 5}, {.pad_h = 1, .pad_w = 1}}}) {
    Input x = rnd(c.x, 41), w = rnd(c.w, 42), b = rnd({c.w[0]}, 43);
    check_op("conv2d one wide channel tile fwd+bwd " + c.x.str() + c.w.str(), relu_and_pooled(c.o), {x, w, b}, 1e-3, 1e-4);
  }
  // The direct kernel's channel groups (MR: the block's channels a few at a time in a rolled
  // loop; VKWB_CONV_DIRECT_MR forces a size) and its patches held for all of them (CIK; forced
  // on or off by VKWB_CONV_DIRECT_CIK where the patches fit): groups of 1, 2, 3 and 4 channels (a
  // size that does not divide the block's channel count turns them off), with one input channel
  // (the patch fetched once for all groups) and several (every channel's patch fetched up front,
  // or per group), grouped convolutions, the pooling epilogue and the unpooling data gradient,
  // the mirrored weights of the data gradient, several channel tiles (the last partial), odd sizes.
  for (const char* cik : {"0", "1"})
  for (const char* mr : {"1", "2", "3", "4"}) {
    setenv("VKWB_CONV_DIRECT_MR", mr, 1);
    setenv("VKWB_CONV_DIRECT_CIK", cik, 1);
    for (auto& c : std::vector<Case>{cases[0], cases[1], cases[3], cases[9],
                                     {{2, 5, 13, 11}, {13, 5, 5, 5}, {.pad_h = 1, .pad_w = 1}},
                                     {{2, 3, 9, 7}, {21, 3, 5, 5}, {.pad_h = 2, .pad_w = 2}}}) {
      Input x = rnd(c.x, 44), w = rnd(c.w, 45), b = rnd({c.w[0]}, 46);
      check_op("conv2d channel groups of " + std::string(mr) + (*cik == '1' ? ", patches held," : "") + " fwd+bwd " + c.x.str() + c.w.str(),
               relu_and_pooled(c.o), {x, w, b}, 1e-3, 1e-4);
    }
  }
  unsetenv("VKWB_CONV_DIRECT_MR");
  unsetenv("VKWB_CONV_DIRECT_CIK");
  // The block rows at the top and bottom edges compiled with their padding rows left out, one
  // dispatch each (FIXR, where one block spans the width; VKWB_CONV_DIRECT_FIXR forces it on or
  // off): the data gradient of LeNet-5's conv2 (padding 4, unpooling, channel groups), padded
  // forwards with a partial last block row, dilation, grouped convolutions, several channel tiles,
  // a plane whose every block row is an edge (no dispatch between the edges).
  for (const char* fixr : {"1", "0"}) {
    setenv("VKWB_CONV_DIRECT_FIXR", fixr, 1);
    for (auto& c : std::vector<Case>{cases[1], cases[3],
                                     {{2, 3, 9, 7}, {21, 3, 5, 5}, {.pad_h = 2, .pad_w = 2}},
                                     {{3, 4, 11, 6}, {6, 2, 3, 3}, {.pad_h = 2, .pad_w = 2, .dil_h = 2, .dil_w = 2, .groups = 2}},
                                     {{2, 2, 3, 5}, {5, 2, 3, 3}, {.pad_h = 1, .pad_w = 1}}}) {
      Input x = rnd(c.x, 47), w = rnd(c.w, 48), b = rnd({c.w[0]}, 49);
      check_op("conv2d edge rows " + std::string(*fixr == '1' ? "compiled apart" : "not apart") + " fwd+bwd " + c.x.str() + c.w.str(),
               relu_and_pooled(c.o), {x, w, b}, 1e-3, 1e-4);
    }
  }
  unsetenv("VKWB_CONV_DIRECT_FIXR");
  // Several register tiles in every direction (rows > 16 in the forward and the data gradient,
  // columns > 32 everywhere, odd remainders): forward and all three gradients vs the reference.
  {
    Input x = rnd({2, 19, 9, 7}, 27), w = rnd({37, 19, 3, 3}, 28), b = rnd({37}, 29);
    Conv2dOptions o{.pad_h = 1, .pad_w = 1};
    check_op("conv2d multi-tile fwd+bwd", [o](auto& in) {
      for (auto& t : in) t.requires_grad_();
      Tensor y = conv2d(in[0], in[1], in[2], o);
      sum(mul(y, y)).backward();
      return concat({y.reshape({-1}), in[0].grad().reshape({-1}), in[1].grad().reshape({-1}), in[2].grad()}, 0);
    }, {x, w, b}, 1e-3, 1e-4);
  }
  // Planes that are multiples of 4 floats (OH*OW = H*W = 64, C*KH*KW = 36): the vec4 output stores
  // of all three modes, then the float stores (VKWB_VEC4=0).
  for (const char* v4 : {"1", "0"}) {
    setenv("VKWB_VEC4", v4, 1);
    Input x = rnd({3, 4, 8, 8}, 30), w = rnd({5, 4, 3, 3}, 31), b = rnd({5}, 32);
    Conv2dOptions o{.pad_h = 1, .pad_w = 1};
    check_op(std::string("conv2d aligned planes fwd+bwd vec4=") + v4, [o](auto& in) {
      for (auto& t : in) t.requires_grad_();
      Tensor y = conv2d(in[0], in[1], in[2], o);
      sum(mul(y, y)).backward();
      return concat({y.reshape({-1}), in[0].grad().reshape({-1}), in[1].grad().reshape({-1}), in[2].grad()}, 0);
    }, {x, w, b}, 1e-3, 1e-4);
  }
  unsetenv("VKWB_VEC4");
  // ConvTranspose2d: weight [C, OC/g, KH, KW]
  Input x = rnd({2, 4, 5, 6}, 24), w = rnd({4, 3, 3, 3}, 25), b = rnd({3}, 26);
  check_op("conv_transpose2d s2", [](auto& in) {
    return conv_transpose2d(in[0], in[1], in[2], {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .out_pad_h = 1, .out_pad_w = 1});
  }, {x, w, b}, 1e-4, 1e-4);
  Input wg = rnd({4, 2, 3, 3}, 27), bg = rnd({4}, 28);
  check_op("conv_transpose2d groups", [](auto& in) { return conv_transpose2d(in[0], in[1], in[2], {.groups = 2}); }, {x, wg, bg}, 1e-4, 1e-4);
}

BOOST_AUTO_TEST_CASE(pooling) {
  // Each shape on the four-outputs-per-invocation kernels and on the others (VKWB_POOL_VEC=0).
  for (const char* vec : {"1", "0"}) {
  setenv("VKWB_POOL_VEC", vec, 1);
  Input x = rnd({2, 3, 13, 11}, 31);
  // Forward and backward together; ties (values rounded to a few levels) go to the first maximum.
  Input xt = rnd({3, 5, 10, 14}, 32);
  for (auto& v : xt.data) v = std::round(v * 2) / 2;
  for (const Pool2dOptions& o : {Pool2dOptions{}, Pool2dOptions{.kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1},
                                 Pool2dOptions{.kh = 3, .kw = 2, .stride_h = 1, .stride_w = 2, .pad_h = 1}}) {
    for (bool is_max : {true, false}) {
      check_op(std::string(is_max ? "max" : "avg") + "_pool2d fwd+bwd k" + std::to_string(o.kh) + "x" + std::to_string(o.kw) + " vec=" + vec,
               [o, is_max](auto& in) {
                 in[0].requires_grad_();
                 Tensor y = is_max ? max_pool2d(in[0], o) : avg_pool2d(in[0], o);
                 sum(mul(y, y)).backward();
                 return concat({y.reshape({-1}), in[0].grad().reshape({-1})}, 0);
               }, {xt}, 1e-5, 1e-5);
    }
  }
  check_op("max_pool2d 2x2", [](auto& in) { return max_pool2d(in[0], {}); }, {x}, 1e-6, 1e-6);
  check_op("max_pool2d 3x3 s2 p1", [](auto& in) { return max_pool2d(in[0], {.kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}); }, {x}, 1e-6, 1e-6);
  check_op("avg_pool2d 3x3 s2 p1", [](auto& in) { return avg_pool2d(in[0], {.kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}); }, {x}, 1e-5, 1e-5);
  check_op("avg_pool2d no pad count", [](auto& in) {
    return avg_pool2d(in[0], {.kh = 3, .kw = 2, .stride_h = 1, .stride_w = 2, .pad_h = 1, .pad_w = 1, .count_include_pad = false}); }, {x}, 1e-5, 1e-5);
  check_op("avg_pool2d 2x3 tiles", [](auto& in) { return avg_pool2d(in[0], {.kh = 2, .kw = 3}); }, {x}, 1e-5, 1e-5);
  check_op("adaptive_avg_pool2d", [](auto& in) { return adaptive_avg_pool2d(in[0], 1, 1); }, {x}, 1e-5, 1e-5);
  check_op("adaptive_avg_pool2d 13x11 -> 5x3", [](auto& in) { return adaptive_avg_pool2d(in[0], 5, 3); }, {x}, 1e-5, 1e-5);
  }
  unsetenv("VKWB_POOL_VEC");
}

BOOST_AUTO_TEST_CASE(adaptive_avg_pool_uses_torch_windows) {
  // 7x5 -> 3x2: torch.nn.AdaptiveAvgPool2d's cells [floor(i H / oh), ceil((i + 1) H / oh)), which
  // overlap here (rows 0-2, 2-4, 4-6; columns 0-2, 2-4), written out against the formula.
  const int H = 7, W = 5, OH = 3, OW = 2;
  std::vector<float> v(size_t(2 * H * W));
  for (size_t i = 0; i < v.size(); ++i) v[i] = float((i * 37) % 11) - 4.f;
  Tensor x = Tensor::from(v, {1, 2, H, W}, gpu());
  auto y = adaptive_avg_pool2d(x, OH, OW).to_vector();
  BOOST_REQUIRE_EQUAL(y.size(), size_t(2 * OH * OW));
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < OH; ++i)
      for (int j = 0; j < OW; ++j) {
        int hs = (i * H) / OH, he = ((i + 1) * H + OH - 1) / OH, ws = (j * W) / OW, we = ((j + 1) * W + OW - 1) / OW;
        double s = 0;
        for (int h = hs; h < he; ++h)
          for (int w = ws; w < we; ++w) s += v[size_t((c * H + h) * W + w)];
        BOOST_CHECK_CLOSE(y[size_t((c * OH + i) * OW + j)] + 10.0, s / ((he - hs) * (we - ws)) + 10.0, 1e-4);
      }
  BOOST_CHECK_THROW(adaptive_avg_pool2d(x, 8, 2), Error);   // larger than the input
}

BOOST_AUTO_TEST_CASE(losses) {
  Input logits = rnd({13, 10}, 41, -3, 3);
  Input y = labels(13, 10);
  check_op("cross_entropy", [](auto& in) { return cross_entropy(in[0], in[1]); }, {logits, y}, 1e-5, 1e-5);
  check_op("cross_entropy smoothing", [](auto& in) { return cross_entropy(in[0], in[1], 0.1f); }, {logits, y}, 1e-5, 1e-5);
  check_op("nll", [](auto& in) { return nll_loss(log_softmax(in[0], 1), in[1]); }, {logits, y}, 1e-5, 1e-5);
  check_op("hinge", [](auto& in) { return multi_margin_loss(in[0], in[1]); }, {logits, y}, 1e-5, 1e-5);
  Input a = rnd({7, 13}, 42, -3, 3), t = rnd({7, 13}, 43, 0, 1);
  check_op("mse", [](auto& in) { return mse_loss(in[0], in[1]); }, {a, t}, 1e-5, 1e-5);
  check_op("bce_with_logits", [](auto& in) { return bce_with_logits(in[0], in[1]); }, {a, t}, 1e-5, 1e-5);
  check_op("huber", [](auto& in) { return huber_loss(in[0], in[1], 1.f); }, {a, t}, 1e-5, 1e-5);
}

BOOST_AUTO_TEST_CASE(normalisation) {
  Input x = rnd({4, 3, 5, 7}, 51, -2, 3), w = rnd({3}, 52, 0.5, 1.5), b = rnd({3}, 53);
  check_op("batch_norm train", [](auto& in) {
    Tensor rm = Tensor::zeros({3}, in[0].device(), in[0].dtype()), rv = Tensor::ones({3}, in[0].device());
    if (in[0].dtype() == DType::f64) rv = rv.to(DType::f64);
    Tensor y = batch_norm(in[0], rm, rv, in[1], in[2], true);
    return concat({y.reshape({-1}), rm, rv}, 0);
  }, {x, w, b}, 1e-4, 1e-4);
  // The fused kernels in every mode, both input paths (texel / storage buffer), odd sizes, a
  // channel longer than a workgroup (M = 3*33*17), 1-D inputs and no affine parameters.
  Input big = rnd({3, 2, 33, 17}, 54, -1, 5), x1 = rnd({37, 5}, 55, -2, 2), w5 = rnd({5}, 56, 0.5, 1.5), b5 = rnd({5}, 57);
  Input rm = rnd({3}, 58, -0.5, 0.5), rv = rnd({3}, 59, 0.5, 2.0);
  for (const char* tex : {"1", "0"}) {
    setenv("VKWB_TEXEL", tex, 1);
    std::string sfx = std::string(" texel=") + tex;
    check_op("batch_norm train big" + sfx, [](auto& in) {
      Tensor rm = Tensor::zeros({2}, in[0].device(), in[0].dtype()), rv = Tensor::zeros({2}, in[0].device(), in[0].dtype());
      Tensor y = batch_norm(in[0], rm, rv, Tensor(), Tensor(), true, 0.3f);
      return concat({y.reshape({-1}), rm, rv}, 0);
    }, {big}, 1e-4, 1e-4);
    check_op("batch_norm train 1d" + sfx, [](auto& in) {
      Tensor rm = Tensor::zeros({5}, in[0].device(), in[0].dtype()), rv = Tensor::zeros({5}, in[0].device(), in[0].dtype());
      Tensor y = batch_norm(in[0], rm, rv, in[1], in[2], true);
      return concat({y.reshape({-1}), rm, rv}, 0);
    }, {x1, w5, b5}, 1e-4, 1e-4);
    check_op("batch_norm eval" + sfx, [](auto& in) {
      Tensor rm = in[3], rv = in[4];
      return batch_norm(in[0], rm, rv, in[1], in[2], false);
    }, {x, w, b, rm, rv}, 1e-4, 1e-4);
  }
  unsetenv("VKWB_TEXEL");
  // Fused minus the definition composed from primitive ops: zero on the device and the reference.
  check_op("batch_norm vs definition", [](auto& in) {
    Tensor rm, rv, x3 = in[0].reshape({4, 3, 35});
    Tensor mu = mean(mean(x3, 2, true), 0, true);
    Tensor v = mean(mean(square(sub(x3, mu)), 2, true), 0, true);
    Tensor want = add(mul(div(sub(x3, mu), sqrt(add(v, 1e-5f))), in[1].reshape({1, 3, 1})), in[2].reshape({1, 3, 1}));
    return sub(batch_norm(in[0], rm, rv, in[1], in[2], true).reshape({4, 3, 35}), want);
  }, {x, w, b}, 1e-5, 0);
  check_op("local_response_norm", [](auto& in) { return local_response_norm(in[0], 5, 1e-2f, 0.75f, 2.f); }, {x}, 1e-5, 1e-4);
  check_op("local_response_norm even", [](auto& in) { return local_response_norm(in[0], 2, 1e-2f, 0.75f, 2.f); }, {x}, 1e-5, 1e-4);
}

BOOST_AUTO_TEST_CASE(optimizer_kernel) {
  // Both kernel paths: vec4 (n / 4 quads, then the n % 4 tail one by one) and float (VKWB_VEC4=0,
  // or a state buffer that does not start on 16 bytes); the host update on CPU drivers is checked
  // below, bit for bit against the kernel.
  for (const char* v4 : {"1", "0"}) {
    setenv("VKWB_VEC4", v4, 1);
    for (int64_t n : {257, 8, 3}) {
      for (int op = 0; op <= 5; ++op) {
        for (bool flag : {false, true}) {
          OptimStep s;
          s.op = OptimOp(op);
          s.lr = 0.01f;
          s.weight_decay = 0.01f;
          s.a = 0.9f;
          s.b = op == 5 ? 0.999f : 0.1f;
          s.eps = 1e-8f;
          s.c1 = 0.1f;
          s.c2 = 0.001f;
          s.flag = flag;
          s.momentum = op == 4 && flag ? 0.5f : 0.f;
          check_op("optim " + std::to_string(op) + (flag ? " flag" : "") + " n=" + std::to_string(n) + " vec4=" + v4,
                   [s](auto& in) {
            Tensor p = in[0].clone(), s1 = in[2].clone(), s2 = in[3].clone(), s3 = in[4].clone();
            Tensor scale = in[5];
            optim_update(s, p, in[1], &s1, &s2, &s3, &scale);
            optim_update(s, p, in[1], &s1, &s2, &s3, &scale);
            return concat({p, s1, s2, s3}, 0);
          }, {rnd({n}, 61), rnd({n}, 62), rnd({n}, 63, 0, 1), rnd({n}, 64, 0, 1), rnd({n}, 65, 0, 1), rnd({1}, 66, 0.5, 1)},
                   1e-5, 1e-4);
        }
      }
    }
  }
  unsetenv("VKWB_VEC4");
  // On a CPU driver the update runs on the host: the kernel's results bit for bit, every
  // optimizer and flag, odd sizes, views inside their blocks, a gradient scale, three steps.
  if (gpu().runs_on_host_cores()) {
    for (int op = 0; op <= 5; ++op) {
      for (int variant = 0; variant < 3; ++variant) {
        OptimStep s;
        s.op = OptimOp(op);
        s.lr = 0.01f;
        s.weight_decay = variant == 1 ? 0.f : 0.01f;
        s.a = 0.9f;
        s.b = op == 5 ? 0.999f : 0.1f;
        s.eps = op == 4 ? 0.01f : 1e-8f;
        s.c1 = 0.1f;
        s.c2 = 0.001f;
        s.flag = variant >= 1;
        s.momentum = op == 4 && variant == 2 ? 0.5f : 0.f;
        std::vector<std::vector<float>> got;
        // The device, then the host in every vector instruction set the CPU has.
        const int best = detail::host_gemm_isa();
        for (int mode = -1; mode <= best; ++mode) {
          s.on_host = mode >= 0;
          if (mode >= 0) BOOST_REQUIRE(detail::host_gemm_isa(mode) == mode);
          Device& d = gpu();
          Tensor p = Tensor::randn({301}, d, 81);
          Tensor g = Tensor::randn({301}, d, 82);
          Tensor st = Tensor::rand({3, 312}, d, 83, 0, 1);
          Tensor s1 = st.slice(0, 1).reshape({-1}).slice(4, 305), s2 = st.slice(1, 2).reshape({-1}).slice(8, 309);
          Tensor s3 = st.slice(2, 3).reshape({-1}).slice(0, 301);
          Tensor scale = Tensor::full({1}, 0.75f, d);
          s.first = true;
          for (int step = 0; step < 3; ++step) {
            optim_update(s, p, g, &s1, &s2, &s3, &scale);
            s.first = false;
          }
          got.push_back(concat({p, st.reshape({-1})}, 0).to_vector());
        }
        detail::host_gemm_isa(best);
        for (size_t m = 1; m < got.size(); ++m)
          BOOST_TEST_CONTEXT("optimizer " << op << " variant " << variant << " host isa " << m - 1) {
            BOOST_REQUIRE_EQUAL(got[0].size(), got[m].size());
            size_t diff = 0;
            for (size_t i = 0; i < got[0].size(); ++i) diff += std::memcmp(&got[0][i], &got[m][i], 4) != 0;
            BOOST_TEST(diff == 0u);
          }
      }
    }
  }
  // A gradient that starts one float into its buffer: the float path, same results.
  OptimStep s;
  s.op = OptimOp::adam;
  s.lr = 0.01f; s.a = 0.9f; s.b = 0.999f; s.eps = 1e-8f; s.c1 = 0.1f; s.c2 = 0.001f;
  check_op("optim adam unaligned grad", [s](auto& in) {
    Tensor p = in[0].clone(), s1 = in[2].clone(), s2 = in[3].clone();
    Tensor g = in[1].slice(1, 17);
    optim_update(s, p, g, &s1, &s2, nullptr, nullptr);
    return concat({p, s1, s2}, 0);
  }, {rnd({16}, 71), rnd({17}, 72), rnd({16}, 73, 0, 1), rnd({16}, 74, 0, 1)}, 1e-5, 1e-4);
}

BOOST_AUTO_TEST_CASE(random_numbers_match_reference) {
  for (int64_t n : {1, 7, 1001}) {
    auto u = Tensor::rand({n}, gpu(), 42, -1, 2).to_dvector();
    auto uc = Tensor::rand({n}, cpu(), 42, -1, 2).to_dvector();
    check_close(u, uc, 1e-6, 1e-6, "uniform");
    auto b = Tensor::bernoulli({n}, gpu(), 7, 0.3f).to_dvector();
    check_close(b, Tensor::bernoulli({n}, cpu(), 7, 0.3f).to_dvector(), 0, 0, "bernoulli");
    auto z = Tensor::randn({n}, gpu(), 9, 1, 2).to_dvector();
    check_close(z, Tensor::randn({n}, cpu(), 9, 1, 2).to_dvector(), 1e-4, 1e-4, "normal");
  }
  // Moments of a large sample.
  auto z = Tensor::randn({100000}, gpu(), 5).to_dvector();
  double m = 0, v = 0;
  for (double x : z) m += x;
  m /= z.size();
  for (double x : z) v += (x - m) * (x - m);
  v /= z.size();
  BOOST_CHECK_SMALL(m, 0.02);
  BOOST_CHECK_CLOSE(v, 1.0, 2.0);
  auto u = Tensor::rand({100000}, gpu(), 6).to_dvector();
  double mu = 0;
  for (double x : u) {
    BOOST_REQUIRE(x > 0 && x < 1);
    mu += x;
  }
  BOOST_CHECK_CLOSE(mu / u.size(), 0.5, 1.0);
  auto d1 = Tensor::rand({64}, gpu(), 1).to_vector(), d2 = Tensor::rand({64}, gpu(), 2).to_vector();
  BOOST_CHECK(d1 != d2);
}

BOOST_AUTO_TEST_SUITE_END()
