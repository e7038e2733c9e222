// FixedList: an ordered, fixed-capacity list of plain structs for game state that must be trivially
// copyable (save_state copies it bytewise) and must not allocate per step. Order is kept on removal
// because the games process objects in order and the order decides which of two overlapping objects
// is hit first.
#pragma once
#include <cstdint>

namespace vkwb::envs {

template <class T, int N>
struct FixedList {
  T items[N] = {};
  int32_t count = 0;

  int size() const { return count; }
  bool full() const { return count == N; }
  T& operator[](int i) { return items[i]; }
  const T& operator[](int i) const { return items[i]; }
  // Returns false (and drops the item) when full: callers treat that as "nothing spawned".
  bool push_back(const T& v) {
    if (count == N) return false;
    items[count++] = v;
    return true;
  }
  void remove_at(int i) {
    for (int j = i + 1; j < count; ++j) items[j - 1] = items[j];
    --count;
  }
  void clear() { count = 0; }
  const T* begin() const { return items; }
  const T* end() const { return items + count; }
};

}  // namespace vkwb::envs
