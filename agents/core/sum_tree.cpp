#include "agents/core/sum_tree.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"

namespace vkwb::rl {

SumTree::SumTree(int64_t size) : size_(size) {
  if (size <= 0) throw Error("sum tree size must be positive, got " + std::to_string(size));
  leaves_ = 1;
  while (leaves_ < size) leaves_ *= 2;
  nodes_.assign(static_cast<size_t>(2 * leaves_), 0.0);
}

void SumTree::clear() { std::fill(nodes_.begin(), nodes_.end(), 0.0); }

void SumTree::set(int64_t i, double priority) {
  if (i < 0 || i >= size_) throw Error("sum tree index " + std::to_string(i) + " out of range");
  if (!(priority >= 0) || !std::isfinite(priority))
    throw Error("priority must be finite and >= 0, got " + std::to_string(priority));
  size_t node = static_cast<size_t>(leaves_ + i);
  nodes_[node] = priority;
  // Recompute sums from the children rather than adding a delta, so rounding errors do not pile
  // up over millions of updates.
  for (node /= 2; node >= 1; node /= 2) nodes_[node] = nodes_[2 * node] + nodes_[2 * node + 1];
}

int64_t SumTree::find(double u) const {
  size_t node = 1;
  while (node < static_cast<size_t>(leaves_)) {
    const size_t left = 2 * node;
    const double l = nodes_[left], r = nodes_[left + 1];
    // Step into a subtree only if it has mass; u past the end (rounding) lands in the last
    // non-empty leaf instead of an empty one.
    if ((u < l && l > 0) || r <= 0) {
      node = left;
    } else {
      u -= l;
      node = left + 1;
    }
  }
  return static_cast<int64_t>(node) - leaves_;
}

}  // namespace vkwb::rl
