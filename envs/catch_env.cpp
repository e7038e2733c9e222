#include "envs/catch_env.h"

#include <algorithm>
#include <cstring>

#include "engine/error.h"
#include "envs/render.h"
#include "envs/state_blob.h"

namespace vkwb::envs {

namespace {
constexpr const char* kStateTag = "catch/1";
}

CatchEnv::CatchEnv(const CatchOptions& opts) : rows_(opts.rows), cols_(opts.cols) {
  if (rows_ < 2 || cols_ < 1 || rows_ > 256 || cols_ > 256) {
    throw Error("catch: grid must be between 2x1 and 256x256, got " + std::to_string(rows_) + "x" +
                std::to_string(cols_));
  }
  obs_.assign(observation_shape().size(), 0);
}

const uint8_t* CatchEnv::reset(uint64_t seed) {
  state_.rng.reseed(seed);
  state_.ball_x = int32_t(state_.rng.below(uint32_t(cols_)));
  state_.ball_y = 0;
  state_.paddle_x = cols_ / 2;
  state_.started = true;
  state_.done = false;
  write_observation();
  return observation();
}

StepResult CatchEnv::step(int action) {
  if (action < 0 || action >= 3) {
    throw Error("catch: action " + std::to_string(action) +
                " is out of range [0, 3) (0 left, 1 noop, 2 right)");
  }
  if (!state_.started || state_.done) {
    throw Error("catch: step() called " + std::string(state_.started ? "after the episode ended" : "before reset()") +
                "; call reset(seed) first");
  }
  state_.paddle_x = std::clamp(state_.paddle_x + action - 1, 0, cols_ - 1);
  state_.ball_y += 1;
  StepResult r;
  if (state_.ball_y == rows_ - 1) {
    r.reward = state_.ball_x == state_.paddle_x ? 1.0f : -1.0f;
    r.terminated = true;
    state_.done = true;
  }
  write_observation();
  r.observation = observation();
  return r;
}

void CatchEnv::write_observation() {
  std::fill(obs_.begin(), obs_.end(), uint8_t(0));
  obs_[size_t(state_.ball_y) * cols_ + state_.ball_x] = 1;
  obs_[size_t(rows_ + rows_ - 1) * cols_ + state_.paddle_x] = 1;
}

Image CatchEnv::render(int cell_pixels) const {
  static const Rgb colours[] = {{250, 200, 40}, {80, 160, 255}};
  return render_planes(obs_.data(), observation_shape(), colours, cell_pixels);
}

std::vector<uint8_t> CatchEnv::save_state() const {
  StateWriter w(kStateTag);
  w.put(int32_t(rows_));
  w.put(int32_t(cols_));
  w.put(state_);
  return w.take();
}

void CatchEnv::load_state(const std::vector<uint8_t>& blob) {
  StateReader r(blob, kStateTag);
  int32_t rows = 0, cols = 0;
  r.get(rows);
  r.get(cols);
  if (rows != rows_ || cols != cols_) {
    throw Error("catch: load_state got a " + std::to_string(rows) + "x" + std::to_string(cols) +
                " state for a " + std::to_string(rows_) + "x" + std::to_string(cols_) + " env");
  }
  State s;
  r.get(s);
  r.finish();
  state_ = s;
  if (state_.started) write_observation();
}

}  // namespace vkwb::envs
