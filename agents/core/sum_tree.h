// SumTree: priorities in the leaves of a complete binary tree whose inner nodes hold the sums of
// their children, so that setting a priority and drawing a leaf with probability proportional to
// its priority both take O(log n). Used by proportional prioritized replay (Schaul et al. 2016).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vkwb::rl {

class SumTree {
 public:
  explicit SumTree(int64_t size);

  int64_t size() const { return size_; }
  void set(int64_t i, double priority);  // priority >= 0 and finite
  double get(int64_t i) const { return nodes_[static_cast<size_t>(leaves_ + i)]; }
  double total() const { return nodes_[1]; }
  void clear();

  // The leaf i with prefix(i) <= u < prefix(i) + priority(i), where prefix(i) is the sum of the
  // priorities before i. Never returns a zero-priority leaf while total() > 0, even when rounding
  // puts u at or past the end. Requires total() > 0.
  int64_t find(double u) const;

 private:
  int64_t size_;
  int64_t leaves_;              // power of two >= size; leaf i is node leaves_ + i
  std::vector<double> nodes_;   // 1-based heap layout, nodes_[1] is the root
};

}  // namespace vkwb::rl
