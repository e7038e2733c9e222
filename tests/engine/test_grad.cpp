// Finite-difference gradient checks (reference in double) for every differentiable op, and the
// device's gradients against the reference's.
#include <boost/test/unit_test.hpp>

#include "support/op_check.h"

using namespace vkwb;
using namespace vkwb::test;

BOOST_AUTO_TEST_SUITE(gradients)

BOOST_AUTO_TEST_CASE(unary_grads) {
  // 21 elements: five vec4 quads and a one-element tail; then the float kernels (VKWB_VEC4=0).
  for (const char* v4 : {"1", "0"}) {
  setenv("VKWB_VEC4", v4, 1);
  Input x = rnd({3, 7}, 1, -2, 2), pos = rnd({3, 7}, 2, 0.2, 3);
  gradcheck("relu", [](auto& in) { return relu(in[0]); }, {x});
  gradcheck("leaky_relu", [](auto& in) { return leaky_relu(in[0], 0.2f); }, {x});
  gradcheck("elu", [](auto& in) { return elu(in[0], 0.8f); }, {x});
  gradcheck("sigmoid", [](auto& in) { return sigmoid(in[0]); }, {x});
  gradcheck("tanh", [](auto& in) { return vkwb::tanh(in[0]); }, {x});
  gradcheck("softplus", [](auto& in) { return softplus(in[0]); }, {x});
  gradcheck("exp", [](auto& in) { return vkwb::exp(in[0]); }, {x});
  gradcheck("log", [](auto& in) { return vkwb::log(in[0]); }, {pos});
  gradcheck("sqrt", [](auto& in) { return vkwb::sqrt(in[0]); }, {pos});
  gradcheck("abs", [](auto& in) { return vkwb::abs(in[0]); }, {x});
  gradcheck("neg", [](auto& in) { return neg(in[0]); }, {x});
  gradcheck("clamp", [](auto& in) { return clamp(in[0], -0.5f, 0.7f); }, {x});
  gradcheck("affine", [](auto& in) { return affine(in[0], -1.5f, 0.3f); }, {x});
  gradcheck("square", [](auto& in) { return square(in[0]); }, {x});
  gradcheck("silu", [](auto& in) { return silu(in[0]); }, {x});
  gradcheck("gelu", [](auto& in) { return gelu(in[0]); }, {x});
  gradcheck("gelu_tanh", [](auto& in) { return gelu(in[0], true); }, {x});
  gradcheck("pow scalar", [](auto& in) { return vkwb::pow(in[0], 2.5f); }, {pos});
  }
  unsetenv("VKWB_VEC4");
}

BOOST_AUTO_TEST_CASE(binary_grads) {
  Input a = rnd({3, 1, 5}, 3, -2, 2), b = rnd({4, 5}, 4, 0.5, 2), pa = rnd({3, 1, 5}, 5, 0.5, 2);
  gradcheck("add", [](auto& in) { return add(in[0], in[1]); }, {a, b});
  gradcheck("sub", [](auto& in) { return sub(in[0], in[1]); }, {a, b});
  gradcheck("mul", [](auto& in) { return mul(in[0], in[1]); }, {a, b});
  gradcheck("div", [](auto& in) { return div(in[0], in[1]); }, {a, b});
  gradcheck("maximum", [](auto& in) { return maximum(in[0], in[1]); }, {a, b});
  gradcheck("minimum", [](auto& in) { return minimum(in[0], in[1]); }, {a, b});
  gradcheck("pow", [](auto& in) { return vkwb::pow(in[0], in[1]); }, {pa, b});
}

BOOST_AUTO_TEST_CASE(reduction_grads) {
  Input x = rnd({3, 4, 5}, 6);
  for (int d = 0; d < 3; ++d) {
    gradcheck("sum", [d](auto& in) { return sum(in[0], d); }, {x});
    gradcheck("mean", [d](auto& in) { return mean(in[0], d, true); }, {x});
    gradcheck("max", [d](auto& in) { return vkwb::max(in[0], d); }, {x});
    gradcheck("min", [d](auto& in) { return vkwb::min(in[0], d); }, {x});
    gradcheck("var", [d](auto& in) { return var(in[0], d); }, {x});
    gradcheck("softmax", [d](auto& in) { return softmax(in[0], d); }, {x});
    gradcheck("log_softmax", [d](auto& in) { return log_softmax(in[0], d); }, {x});
  }
  gradcheck("sum all", [](auto& in) { return sum(in[0]); }, {x});
  gradcheck("sum_to", [](auto& in) { return sum_to(in[0], {4, 1}); }, {x});
}

BOOST_AUTO_TEST_CASE(matrix_grads) {
  Input a = rnd({5, 3}, 7), b = rnd({3, 4}, 8), at = rnd({3, 5}, 9), bt = rnd({4, 3}, 10);
  gradcheck("matmul", [](auto& in) { return matmul(in[0], in[1]); }, {a, b});
  gradcheck("matmul TA TB", [](auto& in) { return matmul(in[0], in[1], {.trans_a = true, .trans_b = true, .alpha = 0.7f}); }, {at, bt});
  gradcheck("matmul TA", [](auto& in) { return matmul(in[0], in[1], {.trans_a = true}); }, {at, b});
  gradcheck("matmul TB", [](auto& in) { return matmul(in[0], in[1], {.trans_b = true}); }, {a, bt});
  gradcheck("batched matmul", [](auto& in) { return matmul(in[0], in[1]); }, {rnd({2, 3, 4}, 11), rnd({2, 4, 5}, 12)});
  gradcheck("linear", [](auto& in) { return linear(in[0], in[1], in[2]); }, {rnd({5, 3}, 13), rnd({4, 3}, 14), rnd({4}, 15)});
  for (const char* variant : {"texel", "register", "tiled"}) {
    setenv("VKWB_GEMM", variant, 1);
    gradcheck(std::string("linear+relu ") + variant, [](auto& in) { return linear(in[0], in[1], in[2], Epilogue::relu); },
              {rnd({7, 5}, 13), rnd({6, 5}, 14), rnd({6}, 15)});
  }
  unsetenv("VKWB_GEMM");
}

BOOST_AUTO_TEST_CASE(shape_grads) {
  Input x = rnd({2, 3, 4}, 16);
  Input idx{Shape{2, 5, 4}, {}, true, false};
  for (int i = 0; i < 40; ++i) idx.data.push_back(double((i * 5) % 3));
  gradcheck("permute", [](auto& in) { return permute(in[0], {2, 0, 1}); }, {x});
  gradcheck("narrow", [](auto& in) { return narrow(in[0], 2, 1, 2); }, {x});
  gradcheck("concat", [](auto& in) { return concat({in[0], in[1]}, 1); }, {x, rnd({2, 2, 4}, 17)});
  gradcheck("broadcast_to", [](auto& in) { return broadcast_to(in[0], {3, 2, 3, 4}); }, {x});
  gradcheck("reshape", [](auto& in) { return mul(in[0].reshape({6, 4}), in[0].reshape({6, 4})); }, {x});
  gradcheck("slice", [](auto& in) { return in[0].slice(1, 2); }, {x});
  gradcheck("gather", [](auto& in) { return gather(in[0], 1, in[1]); }, {x, idx});
  gradcheck("scatter_add", [](auto& in) { return scatter_add(in[0], 1, in[1], {2, 3, 4}); }, {rnd({2, 5, 4}, 18), idx});
}

BOOST_AUTO_TEST_CASE(conv_and_pool_grads) {
  // The device paths (see ops/conv.cpp); on the direct path the weight gradient by either kernel.
  for (const char* variant : {"direct", "direct/implicit-dW", "implicit", "gemm"}) {
    std::string vs = variant;
    setenv("VKWB_CONV", vs.substr(0, vs.find('/')).c_str(), 1);
    setenv("VKWB_CONV_DW", vs == "direct" ? "direct" : "implicit", 1);
    std::string v = std::string(" ") + variant;
    gradcheck("conv2d" + v, [](auto& in) { return conv2d(in[0], in[1], in[2], {.stride_h = 2, .stride_w = 1, .pad_h = 1, .pad_w = 2}); },
              {rnd({2, 3, 5, 4}, 19), rnd({4, 3, 3, 2}, 20), rnd({4}, 21)});
    gradcheck("conv2d+relu" + v, [](auto& in) { return conv2d(in[0], in[1], in[2], {.pad_h = 1, .pad_w = 1}, Epilogue::relu); },
              {rnd({2, 3, 5, 4}, 43), rnd({4, 3, 3, 3}, 44), rnd({4}, 45)});
    gradcheck("conv2d+relu groups" + v, [](auto& in) { return conv2d(in[0], in[1], in[2], {.pad_h = 1, .groups = 2}, Epilogue::relu); },
              {rnd({2, 4, 4, 3}, 46), rnd({4, 2, 3, 2}, 47), rnd({4}, 48)});
    // The fused op against the composition on the reference backend; biases below zero leave
    // whole windows at 0 (the folded ReLU mask), odd sizes leave pixels outside every window.
    gradcheck("conv2d+relu+max_pool2d 2x2 tiles" + v, [](auto& in) {
      return conv2d_relu_max_pool2d(in[0], in[1], in[2], {.pad_h = 1, .pad_w = 1}, {}); },
              {rnd({2, 3, 7, 5}, 49), rnd({5, 3, 3, 3}, 50), rnd({5}, 51, -1.2, -0.2)});
    // Even data-gradient padding (k - 1 - p = 2): the direct data gradient and weight gradient read
    // the pooled gradient through the window indices (UNPOOL); windows at 0 and a pixel column
    // outside every window included.
    gradcheck("conv2d+relu+max_pool2d 2x2, unpadded 3x3" + v, [](auto& in) {
      return conv2d_relu_max_pool2d(in[0], in[1], in[2], {}, {}); },
              {rnd({2, 3, 8, 7}, 57), rnd({4, 3, 3, 3}, 58), rnd({4}, 59, -0.9, 0.3)});
    gradcheck("conv2d+relu+max_pool2d 2x2, groups, no bias" + v, [](auto& in) {
      return conv2d_relu_max_pool2d(in[0], in[1], Tensor(), {.pad_w = 1, .groups = 2}, {}); },
              {rnd({2, 4, 6, 5}, 55), rnd({6, 2, 3, 3}, 56)});
    gradcheck("conv2d+relu+max_pool2d 3x3 s2 overlapping, groups" + v, [](auto& in) {
      return conv2d_relu_max_pool2d(in[0], in[1], in[2], {.pad_h = 1, .groups = 2}, {.kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1}); },
              {rnd({2, 4, 6, 7}, 52), rnd({6, 2, 3, 2}, 53), rnd({6}, 54, -0.8, 0.4)});
    gradcheck("conv2d groups dilation" + v, [](auto& in) { return conv2d(in[0], in[1], in[2], {.pad_h = 2, .pad_w = 2, .dil_h = 2, .dil_w = 2, .groups = 2}); },
              {rnd({1, 4, 5, 5}, 22), rnd({2, 2, 3, 3}, 23), rnd({2}, 24)});
    // Many images: the weight gradient is summed over several image slices.
    gradcheck("conv2d slices" + v, [](auto& in) { return conv2d(in[0], in[1], in[2], {.pad_h = 1, .pad_w = 0}); },
              {rnd({9, 2, 4, 3}, 31), rnd({3, 2, 3, 2}, 32), rnd({3}, 33)});
    gradcheck("conv_transpose2d" + v, [](auto& in) {
      return conv_transpose2d(in[0], in[1], in[2], {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 0, .out_pad_h = 1}); },
              {rnd({2, 3, 3, 4}, 25), rnd({3, 2, 3, 3}, 26), rnd({2}, 27)});
    // Column buffers in chunks of 2 images (im2col path; 5 chunks, the last one partial).
    setenv("VKWB_CONV_CHUNK_BYTES", "800", 1);
    gradcheck("conv2d chunked" + v, [](auto& in) { return conv2d(in[0], in[1], in[2], {.pad_h = 1, .pad_w = 0}); },
              {rnd({9, 2, 4, 3}, 31), rnd({3, 2, 3, 2}, 32), rnd({3}, 33)});
    setenv("VKWB_CONV_CHUNK_BYTES", "2000", 1);
    gradcheck("conv_transpose2d dilation, chunked" + v, [](auto& in) {
      return conv_transpose2d(in[0], in[1], in[2], {.dil_h = 2, .dil_w = 2}); },
              {rnd({5, 3, 3, 4}, 37), rnd({3, 2, 3, 3}, 38), rnd({2}, 39)});
    unsetenv("VKWB_CONV_CHUNK_BYTES");
    // Padding beyond the kernel: the direct data gradient pads by d*(k-1) - p < 0.
    gradcheck("conv2d 1x1 padded" + v, [](auto& in) { return conv2d(in[0], in[1], in[2], {.pad_h = 1, .pad_w = 2}); },
              {rnd({2, 3, 3, 4}, 40), rnd({2, 3, 1, 1}, 41), rnd({2}, 42)});
    gradcheck("conv_transpose2d unit stride" + v, [](auto& in) { return conv_transpose2d(in[0], in[1], in[2], {.pad_h = 1, .groups = 3}); },
              {rnd({2, 3, 3, 4}, 34), rnd({3, 1, 3, 2}, 35), rnd({3}, 36)});
  }
  unsetenv("VKWB_CONV");
  unsetenv("VKWB_CONV_DW");
  Input x = rnd({2, 2, 7, 6}, 28);
  gradcheck("max_pool2d", [](auto& in) { return max_pool2d(in[0], {.kh = 3, .kw = 2, .stride_h = 2, .stride_w = 2, .pad_h = 1}); }, {x});
  gradcheck("avg_pool2d", [](auto& in) { return avg_pool2d(in[0], {.kh = 3, .kw = 3, .stride_h = 2, .stride_w = 1, .pad_h = 1, .pad_w = 1}); }, {x});
  // Windows that tile the image (the row-wise kernels), odd sizes leave uncovered pixels.
  Input xo = rnd({2, 3, 7, 5}, 29);
  gradcheck("max_pool2d 2x2 tiles", [](auto& in) { return max_pool2d(in[0], {}); }, {xo});
  gradcheck("avg_pool2d 2x3 tiles", [](auto& in) { return avg_pool2d(in[0], {.kh = 2, .kw = 3}); }, {xo});
  gradcheck("adaptive_avg_pool2d 7x5 -> 3x2 (overlapping windows)", [](auto& in) { return adaptive_avg_pool2d(in[0], 3, 2); },
            {rnd({2, 2, 7, 5}, 77)});
  gradcheck("avg_pool2d exclude pad", [](auto& in) {
    return avg_pool2d(in[0], {.kh = 3, .kw = 3, .stride_h = 2, .stride_w = 1, .pad_h = 1, .pad_w = 1, .count_include_pad = false}); }, {x});
}

BOOST_AUTO_TEST_CASE(loss_grads) {
  Input logits = rnd({6, 5}, 29, -2, 2), y = labels(6, 5);
  gradcheck("cross_entropy", [](auto& in) { return cross_entropy(in[0], in[1], 0.1f); }, {logits, y});
  // On a CPU driver the call above takes the host path (the logits are an upload); here the
  // device ops (a device op touched the logits first).
  gradcheck("cross_entropy (device ops)", [](auto& in) { return cross_entropy(mul(in[0], 1.f), in[1], 0.1f); }, {logits, y});
  gradcheck("nll", [](auto& in) { return nll_loss(log_softmax(in[0], 1), in[1]); }, {logits, y});
  gradcheck("multi_margin", [](auto& in) { return multi_margin_loss(in[0], in[1]); }, {logits, y});
  Input a = rnd({4, 5}, 30, -2, 2), t = constant(rnd({4, 5}, 31, 0, 1));
  gradcheck("mse", [](auto& in) { return mse_loss(in[0], in[1]); }, {a, t});
  gradcheck("bce_with_logits", [](auto& in) { return bce_with_logits(in[0], in[1]); }, {a, t});
  gradcheck("huber", [](auto& in) { return huber_loss(in[0], in[1], 0.5f); }, {a, t});
}

BOOST_AUTO_TEST_CASE(norm_grads) {
  gradcheck("batch_norm", [](auto& in) {
    Tensor rm, rv;
    return batch_norm(in[0], rm, rv, in[1], in[2], true);
  }, {rnd({3, 2, 3, 2}, 32), rnd({2}, 33, 0.5, 1.5), rnd({2}, 34)});
  gradcheck("batch_norm 1d", [](auto& in) {
    Tensor rm, rv;
    return batch_norm(in[0], rm, rv, in[1], in[2], true);
  }, {rnd({5, 3}, 35), rnd({3}, 36, 0.5, 1.5), rnd({3}, 37)});
  gradcheck("batch_norm no affine, odd sizes", [](auto& in) {
    Tensor rm, rv;
    return batch_norm(in[0], rm, rv, Tensor(), Tensor(), true);
  }, {rnd({3, 3, 5, 3}, 39, -1, 3)});
  gradcheck("batch_norm eval", [](auto& in) {
    Tensor rm = in[3], rv = in[4];
    return batch_norm(in[0], rm, rv, in[1], in[2], false);
  }, {rnd({3, 2, 3, 2}, 40), rnd({2}, 41, 0.5, 1.5), rnd({2}, 42), constant(rnd({2}, 43)), constant(rnd({2}, 44, 0.5, 2))});
  setenv("VKWB_TEXEL", "0", 1);
  gradcheck("batch_norm storage buffers", [](auto& in) {
    Tensor rm, rv;
    return batch_norm(in[0], rm, rv, in[1], in[2], true);
  }, {rnd({4, 3, 3, 5}, 45), rnd({3}, 46, 0.5, 1.5), rnd({3}, 47)});
  unsetenv("VKWB_TEXEL");
  gradcheck("local_response_norm", [](auto& in) { return local_response_norm(in[0], 3, 0.1f, 0.75f, 1.f); }, {rnd({2, 4, 2, 3}, 38)});
}

BOOST_AUTO_TEST_SUITE_END()
