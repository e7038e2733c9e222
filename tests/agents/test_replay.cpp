// Replay buffers: ring storage, n-step returns at episode boundaries, uniform and prioritized
// sampling statistics, save/load.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <set>

#include <unistd.h>

#include "agents/core/replay_buffer.h"
#include "engine/error.h"
#include "nets/io/checkpoint_file.h"

using namespace vkwb;
using namespace vkwb::rl;

namespace {

// Observations are 2 bytes: (episode, step). The final observation of an episode is (episode, len).
std::vector<uint8_t> ob(int episode, int step) { return {static_cast<uint8_t>(episode), static_cast<uint8_t>(step)}; }

// Adds one episode of `len` steps; action = global counter, reward = `reward0` + step.
void add_episode(ReplayBuffer& rb, int episode, int len, bool terminated, bool truncated, int* counter, float reward0 = 0) {
  for (int t = 0; t < len; ++t) {
    const bool last = t == len - 1;
    rb.add(ob(episode, t), (*counter)++, reward0 + static_cast<float>(t), ob(episode, t + 1), last && terminated, last && truncated);
  }
}

std::string msg_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const vkwb::Error& e) {
    return e.what();
  }
  return "<no error>";
}

double chi_square(const std::vector<double>& observed, const std::vector<double>& expected) {
  double chi = 0;
  for (size_t i = 0; i < observed.size(); ++i) chi += (observed[i] - expected[i]) * (observed[i] - expected[i]) / expected[i];
  return chi;
}

bool same_batch(const ReplayBatch& a, const ReplayBatch& b) {
  return a.obs == b.obs && a.next_obs == b.next_obs && a.action == b.action && a.reward == b.reward && a.done == b.done &&
         a.discount == b.discount && a.weight == b.weight && a.index == b.index;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(replay)

BOOST_AUTO_TEST_CASE(ring_wraps_around) {
  ReplayBuffer rb({.capacity = 5, .obs_shape = {2}});
  int counter = 0;
  add_episode(rb, 1, 12, false, false, &counter);  // one long episode, no end yet
  BOOST_TEST(rb.size() == 5);
  BOOST_TEST(rb.num_added() == 12);
  ReplayBatch batch;
  HostRng rng(1);
  std::set<int> actions;
  for (int k = 0; k < 50; ++k) {
    rb.sample(8, rng, batch);
    for (int i = 0; i < batch.size; ++i) {
      const int a = batch.action[static_cast<size_t>(i)];
      actions.insert(a);
      // obs (1, a) -> next (1, a + 1), reward a.
      BOOST_TEST(batch.obs[static_cast<size_t>(2 * i + 1)] == a);
      BOOST_TEST(batch.next_obs[static_cast<size_t>(2 * i + 1)] == a + 1);
      BOOST_TEST(batch.reward[static_cast<size_t>(i)] == static_cast<float>(a));
      BOOST_TEST(batch.done[static_cast<size_t>(i)] == 0.0f);
      BOOST_TEST(batch.weight[static_cast<size_t>(i)] == 1.0f);
    }
  }
  BOOST_TEST(actions == (std::set<int>{7, 8, 9, 10, 11}));

  // With episode ends the final observations stay correct across wrap-arounds.
  ReplayBuffer eb({.capacity = 7, .obs_shape = {2}});
  counter = 0;
  for (int e = 0; e < 20; ++e) add_episode(eb, e, 2 + e % 3, e % 2 == 0, e % 2 == 1, &counter);
  for (int k = 0; k < 30; ++k) {
    eb.sample(8, rng, batch);
    for (int i = 0; i < batch.size; ++i) {
      const size_t r = static_cast<size_t>(i);
      BOOST_TEST(batch.next_obs[2 * r] == batch.obs[2 * r]);          // same episode
      BOOST_TEST(batch.next_obs[2 * r + 1] == batch.obs[2 * r + 1] + 1);  // next step (or final obs)
      const int ep = batch.obs[2 * r], len = 2 + ep % 3;
      const bool last = batch.obs[2 * r + 1] == len - 1;
      BOOST_TEST(batch.done[r] == ((last && ep % 2 == 0) ? 1.0f : 0.0f));
    }
  }
}

BOOST_AUTO_TEST_CASE(n_step_at_episode_boundaries) {
  ReplayBuffer rb({.capacity = 100, .obs_shape = {2}, .n_step = 3, .gamma = 0.5f});
  int counter = 0;
  std::vector<int64_t> slots;
  auto add = [&](int ep, int t, float r, bool term, bool trunc) {
    slots.push_back(rb.add(ob(ep, t), counter++, r, ob(ep, t + 1), term, trunc));
  };
  // Episode 1: rewards 1 2 3 4, terminated. Episode 2: rewards 5 6, truncated. Episode 3: 7 8, running.
  add(1, 0, 1, false, false), add(1, 1, 2, false, false), add(1, 2, 3, false, false), add(1, 3, 4, true, false);
  add(2, 0, 5, false, false), add(2, 1, 6, false, true);
  add(3, 0, 7, false, false), add(3, 1, 8, false, false);
  struct Expect {
    float reward, discount, done;
    int next_ep, next_step;
  };
  const std::vector<Expect> expect = {
      {1 + 0.5f * 2 + 0.25f * 3, 0.125f, 0, 1, 3},  // full 3 steps, bootstrap from (1,3)
      {2 + 0.5f * 3 + 0.25f * 4, 0.125f, 1, 1, 4},  // reaches the terminal step
      {3 + 0.5f * 4, 0.25f, 1, 1, 4},               // cut at the episode end
      {4, 0.5f, 1, 1, 4},
      {5 + 0.5f * 6, 0.25f, 0, 2, 2},               // truncated: bootstrap from the final obs
      {6, 0.5f, 0, 2, 2},
      {7 + 0.5f * 8, 0.25f, 0, 3, 2},               // newest: only 2 steps exist yet
      {8, 0.5f, 0, 3, 2},
  };
  ReplayBatch b;
  b.resize(1, rb.obs_size());
  auto check_all = [&](size_t upto) {
    for (size_t k = 0; k < upto; ++k) {
      BOOST_TEST_CONTEXT("transition " << k) {
        rb.gather(slots[k], b, 0);
        BOOST_TEST(b.reward[0] == expect[k].reward);
        BOOST_TEST(b.discount[0] == expect[k].discount);
        BOOST_TEST(b.done[0] == expect[k].done);
        BOOST_TEST(b.next_obs[0] == expect[k].next_ep);
        BOOST_TEST(b.next_obs[1] == expect[k].next_step);
        BOOST_TEST(b.action[0] == static_cast<int>(k));
      }
    }
  };
  check_all(expect.size());
  BOOST_TEST(rb.size() == 8);

  // Episode 3 continues one step: its first transition now has all 3 steps.
  add(3, 2, 9, false, false);
  rb.gather(slots[6], b, 0);
  BOOST_TEST(b.reward[0] == 7 + 0.5f * 8 + 0.25f * 9);
  BOOST_TEST(b.discount[0] == 0.125f);
  BOOST_TEST(b.next_obs[1] == 3);

  // A new episode starts without episode 3 having been flagged: the chain break is detected and
  // episode 3's returns stop at its last stored step, bootstrapping from its last next_obs.
  add(4, 0, 10, false, false);
  rb.gather(slots[7], b, 0);
  BOOST_TEST(b.reward[0] == 8 + 0.5f * 9);
  BOOST_TEST(b.discount[0] == 0.25f);
  BOOST_TEST(b.done[0] == 0.0f);
  BOOST_TEST(b.next_obs[0] == 3);
  BOOST_TEST(b.next_obs[1] == 3);
  rb.gather(slots[9], b, 0);
  BOOST_TEST(b.obs[0] == 4);
  BOOST_TEST(b.reward[0] == 10);
  check_all(6);
}

BOOST_AUTO_TEST_CASE(uniform_sampling_is_uniform) {
  // 100 transitions in one episode, then 60 in episodes of 3 (so ghost slots must be skipped).
  for (int layout = 0; layout < 2; ++layout) {
    BOOST_TEST_CONTEXT("layout " << layout) {
      ReplayBuffer rb({.capacity = layout == 0 ? 100 : 60, .obs_shape = {2}});
      int counter = 0;
      if (layout == 0)
        add_episode(rb, 0, 250, false, false, &counter);
      else
        for (int e = 0; e < 40; ++e) add_episode(rb, e, 3, true, false, &counter);
      const int64_t n = rb.size();
      BOOST_TEST(n == (layout == 0 ? 100 : 45));  // 61 slots: 15 episodes x 4 slots + cursor
      std::vector<double> counts(static_cast<size_t>(rb.num_slots()), 0.0);
      HostRng rng(2024);
      ReplayBatch b;
      const int draws = 200000;
      for (int k = 0; k < draws / 100; ++k) {
        rb.sample(100, rng, b);
        for (int64_t s : b.index) {
          BOOST_REQUIRE(rb.is_valid(s));
          counts[static_cast<size_t>(s)] += 1;
        }
      }
      std::vector<double> observed, expected;
      for (int64_t s = 0; s < rb.num_slots(); ++s)
        if (rb.is_valid(s)) {
          observed.push_back(counts[static_cast<size_t>(s)]);
          expected.push_back(static_cast<double>(draws) / static_cast<double>(n));
        }
      const double chi = chi_square(observed, expected);
      BOOST_TEST_MESSAGE("uniform replay chi-square " << chi << " over " << observed.size() << " transitions");
      // dof = n - 1 (99 or 44); the threshold is at p < 1e-6, while a sampler that skipped one slot
      // or favoured a range would score in the thousands.
      BOOST_TEST(chi < (layout == 0 ? 180.0 : 100.0), "chi-square " << chi);
    }
  }
}

BOOST_AUTO_TEST_CASE(sum_tree_totals_and_find) {
  SumTree tree(13);
  std::vector<double> p(13, 0.0);
  HostRng rng(5);
  for (int round = 0; round < 200; ++round) {
    const int64_t i = static_cast<int64_t>(rng.below(13));
    p[static_cast<size_t>(i)] = round % 7 == 0 ? 0.0 : rng.uniform() * 10;
    tree.set(i, p[static_cast<size_t>(i)]);
    double sum = 0;
    for (double v : p) sum += v;
    BOOST_REQUIRE(std::fabs(tree.total() - sum) < 1e-9);
  }
  // Each leaf's interval maps to that leaf; zero leaves are never returned.
  double prefix = 0;
  for (int64_t i = 0; i < 13; ++i) {
    if (p[static_cast<size_t>(i)] > 0) {
      // Just inside both ends (exactly at a boundary, summation order decides the rounding).
      BOOST_TEST(tree.find(prefix + 0.01 * p[static_cast<size_t>(i)]) == i);
      BOOST_TEST(tree.find(prefix + 0.99 * p[static_cast<size_t>(i)]) == i);
    }
    prefix += p[static_cast<size_t>(i)];
  }
  for (int k = 0; k <= 1000; ++k) BOOST_TEST(tree.get(tree.find(tree.total() * k / 1000.0)) > 0.0);
  BOOST_TEST(tree.get(tree.find(tree.total() * 1.0000001)) > 0.0);  // rounding past the end
  BOOST_TEST(msg_of([&] { tree.set(13, 1.0); }).find("out of range") != std::string::npos);
  BOOST_TEST(msg_of([&] { tree.set(0, -1.0); }).find(">= 0") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(prioritized_frequencies_follow_p_alpha) {
  const double alpha = 0.7;
  PrioritizedReplayBuffer rb({.capacity = 20, .obs_shape = {2}}, {.alpha = alpha, .beta0 = 0.4, .beta_steps = 1000, .epsilon = 0.0});
  int counter = 0;
  for (int t = 0; t < 20; ++t) rb.add(ob(0, t), counter++, 0.0f, ob(0, t + 1), false);
  std::vector<int64_t> idx;
  std::vector<float> td;
  for (int64_t s = 0; s < rb.buffer().num_slots(); ++s)
    if (rb.buffer().is_valid(s)) {
      idx.push_back(s);
      td.push_back(static_cast<float>(s % 5 + 1) * (s % 2 ? -1.0f : 1.0f));  // sign must not matter
    }
  BOOST_REQUIRE(idx.size() == 20u);
  rb.update_priorities(idx, td);
  double z = 0;
  for (float e : td) z += std::pow(std::fabs(e), alpha);
  BOOST_TEST(rb.tree().total() == z, boost::test_tools::tolerance(1e-9));
  std::vector<double> counts(static_cast<size_t>(rb.buffer().num_slots()), 0.0);
  HostRng rng(77);
  ReplayBatch b;
  const int draws = 32 * 5000;
  for (int k = 0; k < draws / 32; ++k) {
    rb.sample(32, rng, b, k);
    for (int64_t s : b.index) counts[static_cast<size_t>(s)] += 1;
  }
  std::vector<double> observed, expected;
  for (size_t i = 0; i < idx.size(); ++i) {
    observed.push_back(counts[static_cast<size_t>(idx[i])]);
    expected.push_back(draws * std::pow(std::fabs(td[i]), alpha) / z);
    BOOST_TEST(rb.probability(idx[i]) == std::pow(std::fabs(td[i]), alpha) / z, boost::test_tools::tolerance(1e-9));
  }
  const double chi = chi_square(observed, expected);
  BOOST_TEST_MESSAGE("prioritized replay chi-square " << chi << " over 20 transitions");
  BOOST_TEST(chi < 60.0, "chi-square " << chi);  // 19 dof; uniform sampling would score > 10000
}

BOOST_AUTO_TEST_CASE(importance_weights_by_hand) {
  PrioritizedReplayBuffer rb({.capacity = 4, .obs_shape = {2}}, {.alpha = 1.0, .beta0 = 0.5, .beta_steps = 100, .epsilon = 0.0});
  int counter = 0;
  std::vector<int64_t> slots;
  for (int t = 0; t < 4; ++t) slots.push_back(rb.add(ob(0, t), counter++, 0.0f, ob(0, t + 1), false));
  // New transitions start at the max priority (1 before any update): uniform.
  for (int64_t s : slots) BOOST_TEST(rb.probability(s) == 0.25);
  rb.update_priorities(slots, std::vector<float>{1, 2, 3, 4});
  BOOST_TEST(rb.beta(0) == 0.5);
  BOOST_TEST(rb.beta(50) == 0.75);
  BOOST_TEST(rb.beta(100) == 1.0);
  BOOST_TEST(rb.beta(1000) == 1.0);
  // P = p / 10, N = 4: w = (4 P)^-beta, normalised by the batch maximum.
  const double hand_beta_half[4] = {1.0 / std::sqrt(0.4), 1.0 / std::sqrt(0.8), 1.0 / std::sqrt(1.2), 1.0 / std::sqrt(1.6)};
  HostRng rng(3);
  ReplayBatch b;
  for (int k = 0; k < 20; ++k) {
    rb.sample(4, rng, b, 0);
    double max_w = 0;
    for (int64_t s : b.index) max_w = std::max(max_w, hand_beta_half[s - slots[0]]);
    for (int i = 0; i < 4; ++i)
      BOOST_TEST(b.weight[static_cast<size_t>(i)] == hand_beta_half[b.index[static_cast<size_t>(i)] - slots[0]] / max_w,
                 boost::test_tools::tolerance(1e-6));
    // Stratified: segment i of the mass [0, 10) covers [2.5 i, 2.5 (i + 1)), so the draw from
    // segment 0 is slot 0 or 1 and the last one is slot 3.
    BOOST_TEST(b.index[0] - slots[0] <= 1);
    BOOST_TEST(b.index[3] - slots[0] == 3);
  }
  // beta = 1 at the end of annealing: w = 1 / (4 P).
  rb.sample(4, rng, b, 100);
  double max_w = 0;
  for (int64_t s : b.index) max_w = std::max(max_w, 1.0 / (0.4 * static_cast<double>(s - slots[0] + 1)));
  for (int i = 0; i < 4; ++i)
    BOOST_TEST(b.weight[static_cast<size_t>(i)] == 1.0 / (0.4 * static_cast<double>(b.index[static_cast<size_t>(i)] - slots[0] + 1)) / max_w,
               boost::test_tools::tolerance(1e-6));

  // The largest priority seen (4) goes to new transitions; the slot it overwrites loses its own.
  BOOST_TEST(rb.max_priority() == 4.0);
  const int64_t s5 = rb.add(ob(0, 4), counter++, 0.0f, ob(0, 5), false);
  BOOST_TEST(rb.tree().get(s5) == 4.0);
  BOOST_TEST(rb.buffer().size() == 4);
  double total = 0;
  for (int64_t s = 0; s < rb.buffer().num_slots(); ++s) total += rb.tree().get(s);
  BOOST_TEST(rb.tree().total() == total);
  BOOST_TEST(rb.tree().total() == 2.0 + 3.0 + 4.0 + 4.0);  // slot 0 (priority 1) was overwritten
  // A stale index (no longer a transition) is ignored.
  const int64_t cursor = (s5 + 1) % rb.buffer().num_slots();
  rb.update_priorities(std::vector<int64_t>{cursor}, std::vector<float>{100});
  BOOST_TEST(rb.tree().get(cursor) == 0.0);
  BOOST_TEST(msg_of([&] { rb.update_priorities(std::vector<int64_t>{s5}, std::vector<float>{NAN}); }).find("not finite") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(save_load_gives_identical_samples) {
  const std::string path = (std::filesystem::temp_directory_path() / ("vkwb_replay_" + std::to_string(::getpid()) + ".ckpt")).string();
  const ReplayOptions opt{.capacity = 50, .obs_shape = {2}, .n_step = 3, .gamma = 0.9f};
  auto fill = [](auto& rb, int from, int to) {
    int counter = from * 10;
    for (int e = from; e < to; ++e) {
      const int len = 1 + e % 6;
      for (int t = 0; t < len; ++t)
        rb.add(ob(e, t), counter++, static_cast<float>(e) * 0.5f + t, ob(e, t + 1), t == len - 1 && e % 3 == 0, t == len - 1 && e % 3 == 1);
    }
  };
  {
    ReplayBuffer a(opt);
    fill(a, 0, 30);  // wraps several times
    io::CheckpointData ck;
    a.save(ck);
    io::write_checkpoint(path, ck);
    ReplayBuffer b(opt);
    b.load(io::read_checkpoint(path));
    BOOST_TEST(b.size() == a.size());
    HostRng ra(9), rb_(9);
    ReplayBatch ba, bb;
    for (int k = 0; k < 10; ++k) {
      a.sample(16, ra, ba);
      b.sample(16, rb_, bb);
      BOOST_TEST(same_batch(ba, bb));
    }
    fill(a, 30, 35);  // the restored cursor and episode state continue identically
    fill(b, 30, 35);
    a.sample(64, ra, ba);
    b.sample(64, rb_, bb);
    BOOST_TEST(same_batch(ba, bb));

    ReplayBuffer other({.capacity = 40, .obs_shape = {2}});
    const std::string msg = msg_of([&] { other.load(io::read_checkpoint(path)); });
    BOOST_TEST(msg == "replay buffer 'replay/' in checkpoint has capacity 50, this run uses 40");
  }
  {
    const PrioritizedOptions popt{.alpha = 0.6, .beta0 = 0.4, .beta_steps = 100, .epsilon = 0.01};
    PrioritizedReplayBuffer a(opt, popt);
    fill(a, 0, 30);
    HostRng ra(4);
    ReplayBatch ba, bb;
    for (int k = 0; k < 5; ++k) {
      a.sample(8, ra, ba, k);
      std::vector<float> td(ba.index.size());
      for (size_t i = 0; i < td.size(); ++i) td[i] = static_cast<float>(ba.reward[i]) - 1.0f;
      a.update_priorities(ba.index, td);
    }
    io::CheckpointData ck;
    a.save(ck, "per/");
    io::write_checkpoint(path, ck);
    PrioritizedReplayBuffer b(opt, popt);
    b.load(io::read_checkpoint(path), "per/");
    BOOST_TEST(b.tree().total() == a.tree().total());
    BOOST_TEST(b.max_priority() == a.max_priority());
    HostRng rb_ = ra;
    for (int k = 0; k < 10; ++k) {
      a.sample(8, ra, ba, 10 + k);
      b.sample(8, rb_, bb, 10 + k);
      BOOST_TEST(same_batch(ba, bb));
    }
    fill(a, 30, 33);
    fill(b, 30, 33);
    a.sample(32, ra, ba, 50);
    b.sample(32, rb_, bb, 50);
    BOOST_TEST(same_batch(ba, bb));
  }
  std::filesystem::remove(path);
}

BOOST_AUTO_TEST_CASE(argument_errors) {
  BOOST_TEST(msg_of([] { ReplayBuffer rb({.capacity = 0, .obs_shape = {2}}); }).find("capacity must be >= 1") != std::string::npos);
  BOOST_TEST(msg_of([] { ReplayBuffer rb({.capacity = 5}); }).find("observation shape") != std::string::npos);
  ReplayBuffer rb({.capacity = 5, .obs_shape = {2, 2}});
  HostRng rng(1);
  ReplayBatch b;
  BOOST_TEST(msg_of([&] { rb.sample(4, rng, b); }) == "cannot sample from an empty replay buffer");
  BOOST_TEST(msg_of([&] { rb.add(ob(0, 0), 0, 0.0f, ob(0, 1), false); }).find("needs 4") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
