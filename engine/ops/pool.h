// Pooling internals shared with the fused convolution + ReLU + max-pool op (ops/conv.cpp).
#pragma once
#include "engine/ops.h"
#include "engine/ops/params.h"
#include "engine/tensor.h"

namespace vkwb::detail {

// Max pooling of a ReLU's output whose window indices double as the ReLU's mask: a window whose
// maximum is not positive (all of it 0) gets index -1, so the pooling gradient sends it nothing,
// which is relu'(x) pool'(y) exactly (y = relu(x) > 0 iff x > 0). No autograd node.
struct MaskedMaxPool {
  Tensor y, idx;   // pooled output, int32 argmax per window (-1: masked)
  PoolP p{};
  Shape input_shape;
};
MaskedMaxPool masked_max_pool2d(const Tensor& x, const Pool2dOptions& o);
// The same from a pooled output and indices computed elsewhere (the direct convolution's epilogue).
MaskedMaxPool masked_max_pool2d_of(Tensor y, Tensor idx, const Shape& input_shape, const Pool2dOptions& o);
Tensor max_pool2d_grad(const Tensor& dy, const MaskedMaxPool& m);
Tensor pool_grad(const Tensor& dy, const Tensor& idx, const PoolP& p, bool is_max, const Shape& xs);

}  // namespace vkwb::detail
