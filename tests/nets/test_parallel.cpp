// Data-parallel replicas (nets/parallel.h): replica devices, and steps that equal one device's
// step on the whole batch.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <functional>
#include <cstdlib>
#include <memory>
#include <string>

#include "engine/ops.h"
#include "nets/layers.h"
#include "nets/models/models.h"
#include "nets/parallel.h"
#include "support/op_check.h"

using namespace vkwb;
using namespace vkwb::test;

namespace {

std::vector<float> flat(nn::Module& m) {
  std::vector<float> all;
  for (auto& [n, t] : m.named_parameters()) {
    auto v = t->to_vector();
    all.insert(all.end(), v.begin(), v.end());
  }
  return all;
}

// How the replicas update: every replica all of it (the kernels), each its shard (the kernels),
// or replica 0 on the host (DataParallel::reduce_on_host).
enum class Update { replicated, sharded, host };

// Trains `model` for a few steps of odd batch sizes on R replicas; returns replica 0's weights
// and checks every replica holds the same ones.
std::vector<float> train_steps(const std::string& model, const std::string& optimizer, const std::vector<Device*>& devices,
                               Update update = Update::sharded, LinearExec linear = LinearExec::device, float clip = 0.f,
                               bool threads = false, bool fused = true) {
  const int R = int(devices.size());
  nn::models::ModelOptions mo;
  mo.dropout = 0.f;
  nn::DataParallel dp(devices, 7,
                      [&](nn::ModuleContext& ctx) {
                        nn::ModulePtr m = nn::models::make_model(model, ctx, mo);
                        nn::set_linear_exec(*m, linear);
                        return m;
                      },
                      [&](std::vector<Tensor*> p) {
                        auto o = nn::make_optimizer(optimizer, std::move(p), 0.01f);
                        o->clip_grad_norm(clip);
                        return o;
                      });
  BOOST_REQUIRE_EQUAL(dp.size(), R);
  // The defaults: with several replicas the host update where every replica's memory is mapped on
  // a CPU driver, else the sharded kernels (each has an A/B switch that turns it off).
  const char* env = std::getenv("VKWB_SHARD_OPTIM");
  const char* henv = std::getenv("VKWB_HOST_REDUCE");
  bool mapped = true;
  for (Device* d : devices) mapped = mapped && host_optim_supported(*d);
  const bool host_default = R > 1 && mapped && !(henv && std::string(henv) == "0");
  BOOST_CHECK_EQUAL(dp.host_reduced(), host_default);
  BOOST_CHECK_EQUAL(dp.optimizer_sharded(), R > 1 && !host_default && !(env && std::string(env) == "0"));
  if (update == Update::host && !mapped) return {};   // (callers skip the comparison)
  dp.shard_optimizer(update == Update::sharded);
  dp.reduce_on_host(update == Update::host);
  BOOST_CHECK_EQUAL(dp.host_reduced(), R > 1 && update == Update::host);
  BOOST_CHECK_EQUAL(dp.optimizer_sharded(), R > 1 && update == Update::sharded);
  BOOST_CHECK(!dp.records_in_threads());   // off unless asked for
  dp.record_in_threads(threads);
  dp.fuse_host_reduce(fused);
  BOOST_CHECK_EQUAL(dp.records_in_threads(), threads && R > 1);
  std::mt19937 g(11);
  std::normal_distribution<float> nd;
  for (int n : {7, 5, 1, 6}) {   // 4+3, 3+2, 1+idle, 3+3 on two replicas
    std::vector<float> x(size_t(n) * 784);
    std::vector<int32_t> y(static_cast<size_t>(n));
    for (auto& v : x) v = nd(g);
    for (auto& v : y) v = int32_t(g() % 10);
    auto losses = dp.step(0, n, [&](int r, const nn::DataParallel::Shard& s) {
      Device& d = dp.device(r);
      Tensor xs = Tensor::from(std::span<const float>(x.data() + size_t(s.begin) * 784, size_t(s.count) * 784), {s.count, 1, 28, 28}, d);
      Tensor ys = Tensor::from(std::span<const int32_t>(y.data() + s.begin, size_t(s.count)), {s.count}, d);
      return cross_entropy(dp.model(r).forward(xs), ys);
    });
    BOOST_CHECK(losses[0].defined());
    if (R == 2) BOOST_CHECK_EQUAL(losses[1].defined(), n > 1);   // an idle replica has no loss
  }
  std::vector<float> w0 = flat(dp.model(0));
  for (int r = 1; r < R; ++r) BOOST_CHECK(flat(dp.model(r)) == w0);   // the same step everywhere, bit for bit
  return w0;
}
std::vector<float> train_steps(const std::string& model, const std::string& optimizer, int R, Update update = Update::sharded,
                               LinearExec linear = LinearExec::device, float clip = 0.f, bool threads = false,
                               bool fused = true) {
  return train_steps(model, optimizer, Device::open_replicas(gpu(), R), update, linear, clip, threads, fused);
}

}  // namespace

BOOST_AUTO_TEST_CASE(replica_devices_are_distinct_cached_and_usable) {
  Device& base = gpu();
  BOOST_CHECK(Device::open_replicas(base, 1) == std::vector<Device*>{&base});
  BOOST_CHECK_THROW(Device::open_replicas(base, 0), Error);
  BOOST_CHECK_THROW(Device::open_replicas(Device::cpu(), 2), Error);
  auto reps = Device::open_replicas(base, 2);
  BOOST_REQUIRE_EQUAL(reps.size(), 2u);
  BOOST_CHECK(reps[0] != reps[1] && reps[0] != &base && reps[1] != &base);
  BOOST_CHECK(Device::open_replicas(base, 2) == reps);   // opened once
  BOOST_CHECK_EQUAL(reps[0]->name(), base.name());
  // Each works on its own: the same op on both, and a tensor carried from one to the other.
  Tensor a = Tensor::from(std::vector<float>{1, 2, 3}, {3}, *reps[0]);
  Tensor b = add(a.to(*reps[1]), 1.f);
  BOOST_CHECK(b.to_vector() == (std::vector<float>{2, 3, 4}));
  BOOST_CHECK(add(a, a).to_vector() == (std::vector<float>{2, 4, 6}));
}

BOOST_AUTO_TEST_CASE(shards_split_a_batch_evenly) {
  nn::DataParallel dp(Device::open_replicas(gpu(), 2), 1, [](nn::ModuleContext& ctx) { return nn::models::make_model("mlp", ctx, {}); },
                      [](std::vector<Tensor*> p) { return nn::make_optimizer("sgd", std::move(p), 0.1f); });
  auto s = dp.shards(7);
  BOOST_CHECK(s[0].begin == 0 && s[0].count == 4 && s[1].begin == 4 && s[1].count == 3);
  s = dp.shards(1);
  BOOST_CHECK(s[0].count == 1 && s[1].count == 0);
  // The replicas start from the same weights.
  BOOST_CHECK(flat(dp.model(0)) == flat(dp.model(1)));
}

// Two replicas on half batches take the step one device takes on the whole batch: the averaged
// gradient is the full batch's mean-loss gradient (up to float summation order).
// (SGD and momentum: Adam divides by the root of tiny second moments, which magnifies rounding.)
BOOST_AUTO_TEST_CASE(two_replicas_step_like_one_device_on_the_whole_batch) {
  for (auto [model, optimizer] : {std::pair{"mlp", "sgd"}, std::pair{"lenet5", "momentum"}}) {
    BOOST_TEST_CONTEXT(model << " " << optimizer) {
      auto one = train_steps(model, optimizer, 1), two = train_steps(model, optimizer, 2);
      BOOST_REQUIRE_EQUAL(one.size(), two.size());
      double worst = 0, moved = 0;
      auto init = [&] {
        nn::ModuleContext ctx(gpu(), 7);
        nn::models::ModelOptions mo;
        mo.dropout = 0.f;
        return flat(*nn::models::make_model(model, ctx, mo));
      }();
      for (size_t i = 0; i < one.size(); ++i) {
        worst = std::max(worst, double(std::abs(one[i] - two[i])));
        moved = std::max(moved, double(std::abs(one[i] - init[i])));
      }
      BOOST_TEST_MESSAGE(model << ": largest difference " << worst << ", largest move " << moved);
      BOOST_CHECK_GT(moved, 1e-3);          // the steps did something
      BOOST_CHECK_LT(worst, 2e-3 * moved);  // and the same thing
    }
  }
}

// With threaded recording, a loss closure that throws on a worker thread (replica 1) or on the
// caller's (replica 0) makes step() throw that error on the caller's thread; the workers survive
// it and the next step runs on every replica.
BOOST_AUTO_TEST_CASE(threaded_recording_passes_errors_to_the_caller) {
  nn::DataParallel dp(Device::open_replicas(gpu(), 2), 1, [](nn::ModuleContext& ctx) { return nn::models::make_model("mlp", ctx, {}); },
                      [](std::vector<Tensor*> p) { return nn::make_optimizer("sgd", std::move(p), 0.1f); });
  dp.record_in_threads(true);
  BOOST_REQUIRE(dp.records_in_threads());
  std::vector<float> x(4 * 784, 0.5f);
  std::vector<int32_t> y = {1, 2, 3, 4};
  auto step = [&](int failing) {
    return dp.step(0, 4, [&](int r, const nn::DataParallel::Shard& s) {
      if (r == failing) throw Error("replica " + std::to_string(r) + " failed");
      Device& d = dp.device(r);
      Tensor xs = Tensor::from(std::span<const float>(x.data() + size_t(s.begin) * 784, size_t(s.count) * 784), {s.count, 1, 28, 28}, d);
      Tensor ys = Tensor::from(std::span<const int32_t>(y.data() + s.begin, size_t(s.count)), {s.count}, d);
      return cross_entropy(dp.model(r).forward(xs), ys);
    });
  };
  for (int failing : {1, 0}) {
    try {
      step(failing);
      BOOST_ERROR("no exception");
    } catch (const Error& e) {
      BOOST_CHECK_EQUAL(std::string(e.what()), "replica " + std::to_string(failing) + " failed");
    }
  }
  dp.sync();
  auto losses = step(-1);
  BOOST_REQUIRE(losses[0].defined() && losses[1].defined());
  BOOST_CHECK(std::isfinite(losses[0].item()) && std::isfinite(losses[1].item()));
  BOOST_CHECK(flat(dp.model(0)) == flat(dp.model(1)));
  dp.record_in_threads(false);
  BOOST_CHECK(!dp.records_in_threads());
}

// The trainers' inference scope: Linear layers on the host run their forward on the device while it
// lives (the same predictions), others keep their setting, and all get their setting back.
BOOST_AUTO_TEST_CASE(device_forward_scope_moves_host_linears_to_the_device_and_back) {
  nn::ModuleContext ctx(gpu(), 5);
  nn::ModulePtr a = nn::models::make_model("lenet5", ctx, {}), b = nn::models::make_model("mlp", ctx, {});
  nn::set_linear_exec(*a, LinearExec::host);
  nn::set_linear_exec(*b, LinearExec::device);
  auto execs = [](nn::Module& m) {
    std::vector<LinearExec> e;
    std::function<void(nn::Module&)> walk = [&](nn::Module& x) {
      if (auto* l = dynamic_cast<nn::Linear*>(&x)) e.push_back(l->exec());
      for (auto& [name, child] : x.children()) walk(*child);
    };
    walk(m);
    return e;
  };
  BOOST_REQUIRE_EQUAL(execs(*a).size(), 3u);
  a->train(false);
  std::vector<float> x(3 * 784);
  for (size_t i = 0; i < x.size(); ++i) x[i] = float(std::cos(0.11 * double(i)));
  Tensor xs = Tensor::from(x, {3, 1, 28, 28}, gpu());
  NoGradGuard ng;
  const std::vector<float> on_host = a->forward(xs).to_vector();
  {
    nn::DeviceForwardScope scope({a.get(), b.get()});
    for (LinearExec e : execs(*a)) BOOST_CHECK(e == LinearExec::host_wgrad);
    for (LinearExec e : execs(*b)) BOOST_CHECK(e == LinearExec::device);
    BOOST_CHECK(a->forward(xs).to_vector() == on_host);   // bit for bit
  }
  for (LinearExec e : execs(*a)) BOOST_CHECK(e == LinearExec::host);
  for (LinearExec e : execs(*b)) BOOST_CHECK(e == LinearExec::device);
}

// Shards of a tensor for a sharded optimizer: contiguous, covering it, on 64-element boundaries.
BOOST_AUTO_TEST_CASE(optimizer_shards_cover_a_tensor_on_aligned_boundaries) {
  for (int64_t n : {1, 6, 63, 64, 65, 130, 1000, 131200})
    for (int count : {1, 2, 3, 5}) {
      int64_t next = 0;
      for (int i = 0; i < count; ++i) {
        auto [lo, hi] = nn::Optimizer::shard_range(n, i, count);
        BOOST_CHECK_EQUAL(lo, next);
        BOOST_CHECK_LE(lo, hi);
        BOOST_CHECK((lo % 64 == 0 || lo == n) && (hi % 64 == 0 || hi == n));
        next = hi;
      }
      BOOST_CHECK_EQUAL(next, n);
    }
  auto [a0, a1] = nn::Optimizer::shard_range(1000, 0, 2);   // 16 blocks: 8 and 8
  auto [b0, b1] = nn::Optimizer::shard_range(1000, 1, 2);
  BOOST_CHECK(a0 == 0 && a1 == 512 && b0 == 512 && b1 == 1000);
}

// The sharded optimizer (each replica updates its shard, then the shards are exchanged) takes
// bit for bit the step every replica would take updating everything, for every optimizer kind
// with state, on two and on three replicas (shards of one 64-element block and empty ones too).
// The host update (replica 0 on the host, its weights copied to the others) takes it too.
BOOST_AUTO_TEST_CASE(sharded_optimizer_steps_exactly_like_the_unsharded_one) {
  const bool mapped = host_optim_supported(*Device::open_replicas(gpu(), 2)[0]);
  for (const char* optimizer : {"adam", "rmsprop_centered", "nesterov"})
    for (int R : {2, 3}) {
      BOOST_TEST_CONTEXT(optimizer << " on " << R << " replicas") {
        auto replicated = train_steps("lenet5", optimizer, R, Update::replicated);
        BOOST_CHECK(train_steps("lenet5", optimizer, R, Update::sharded) == replicated);
        if (mapped) BOOST_CHECK(train_steps("lenet5", optimizer, R, Update::host) == replicated);
        // The host reduce range by range (the default) and in whole passes.
        if (mapped) BOOST_CHECK(train_steps("lenet5", optimizer, R, Update::host, LinearExec::device, 0.f, false, false) == replicated);
        // And with the Linear layers' weight gradients on the host (the trainers' choice on a CPU
        // driver), computed once every replica's backward is submitted.
        if (mapped && optimizer == std::string("adam")) {
          BOOST_CHECK(train_steps("lenet5", optimizer, R, Update::host, LinearExec::host_wgrad) == replicated);
          // Each replica recorded on a thread of its own (the trainers' choice), also with the
          // kernels' sharded update.
          BOOST_CHECK(train_steps("lenet5", optimizer, R, Update::host, LinearExec::host_wgrad, 0.f, true) == replicated);
          // The Linear layers wholly on the host, each replica's on its own thread. Their logits
          // take the host loss (cross_entropy's host path, not the device's rounding), so the
          // reference is the replicated update with the same head.
          BOOST_CHECK(train_steps("lenet5", optimizer, R, Update::host, LinearExec::host, 0.f, true) ==
                      train_steps("lenet5", optimizer, R, Update::replicated, LinearExec::host));
          BOOST_CHECK(train_steps("lenet5", optimizer, R, Update::sharded, LinearExec::device, 0.f, true) == replicated);
          // Clipping by the global norm (every gradient summed before any update).
          BOOST_CHECK(train_steps("lenet5", optimizer, R, Update::host, LinearExec::device, 0.05f) ==
                      train_steps("lenet5", optimizer, R, Update::replicated, LinearExec::device, 0.05f));
        }
      }
    }
  // Devices without host-visible memory (GPUs): the all-reduce and the shard exchange go through
  // staging copies instead of mapped memory, with the same numbers.
  std::vector<Device*> staged;
  for (int r = 1; r <= 2; ++r) {
    DeviceOptions o;
    o.index = gpu().info().index;
    o.replica = r;
    o.driver_threads = gpu().info().type == "cpu" ? 0 : -1;
    o.force_staging = true;
    staged.push_back(&Device::open(o));
    BOOST_REQUIRE(!staged.back()->allocator().host_visible());
  }
  BOOST_CHECK(train_steps("lenet5", "adam", staged, Update::sharded) == train_steps("lenet5", "adam", 2, Update::sharded));
}

// Sharding really splits the work: after a step each replica's optimizer state is current on its
// own shard only (zeros elsewhere); gather_optimizer_state() assembles in replica 0 the state an
// unsharded optimizer holds, and switching sharding off mid-run hands every replica all of it.
BOOST_AUTO_TEST_CASE(sharded_optimizer_state_lives_on_its_shard_and_gathers_whole) {
  auto make = [](bool sharded) {
    auto dp = std::make_unique<nn::DataParallel>(
        Device::open_replicas(gpu(), 2), 3, [](nn::ModuleContext& ctx) { return nn::models::make_model("mlp", ctx, {}); },
        [](std::vector<Tensor*> p) { return nn::make_optimizer("adam", std::move(p), 0.01f); });
    dp->shard_optimizer(sharded);
    dp->train(false);   // no dropout: both runs see the same gradients
    std::vector<float> x(6 * 784);
    for (size_t i = 0; i < x.size(); ++i) x[i] = float(std::sin(0.37 * double(i)));
    std::vector<int32_t> y = {1, 2, 3, 4, 5, 6};
    dp->step(0, 6, [&](int r, const nn::DataParallel::Shard& s) {
      Device& d = dp->device(r);
      Tensor xs = Tensor::from(std::span<const float>(x.data() + size_t(s.begin) * 784, size_t(s.count) * 784), {s.count, 1, 28, 28}, d);
      Tensor ys = Tensor::from(std::span<const int32_t>(y.data() + s.begin, size_t(s.count)), {s.count}, d);
      return cross_entropy(dp->model(r).forward(xs), ys);
    });
    return dp;
  };
  auto sharded = make(true), full = make(false);
  const std::string key = "0.0";   // Adam's first moment of the first parameter (the 784 x N weight)
  auto m1 = sharded->optimizer(1).state_dict().at(key).to_vector();
  const int64_t n = int64_t(m1.size());
  auto [lo, hi] = nn::Optimizer::shard_range(n, 1, 2);
  BOOST_REQUIRE(lo > 0 && hi == n);
  auto nonzero = [](const std::vector<float>& v, int64_t a, int64_t b) {
    int64_t c = 0;
    for (int64_t i = a; i < b; ++i) c += v[size_t(i)] != 0.f;
    return c;
  };
  BOOST_CHECK_EQUAL(nonzero(m1, 0, lo), 0);   // replica 1 never touched shard 0
  BOOST_CHECK_GT(nonzero(m1, lo, hi), 0);     // but did update its own
  auto want = full->optimizer(0).state_dict().at(key).to_vector();
  BOOST_CHECK(sharded->optimizer(0).state_dict().at(key).to_vector() != want);   // replica 0: shard 0 only
  sharded->gather_optimizer_state();
  for (auto& [k, t] : full->optimizer(0).state_dict())
    BOOST_CHECK_MESSAGE(sharded->optimizer(0).state_dict().at(k).to_vector() == t.to_vector(), "state " << k);
  sharded->shard_optimizer(false);
  BOOST_CHECK(sharded->optimizer(1).state_dict().at(key).to_vector() == want);
}

// Batch-norm running statistics are per shard; average_buffers() makes every replica hold their
// mean (and leaves buffers that already agree untouched).
BOOST_AUTO_TEST_CASE(average_buffers_makes_batch_norm_statistics_agree) {
  nn::DataParallel dp(Device::open_replicas(gpu(), 2), 5,
                      [](nn::ModuleContext& ctx) {
                        return std::make_shared<nn::Sequential>(std::initializer_list<nn::ModulePtr>{
                            std::make_shared<nn::Linear>(ctx, 6, 4), std::make_shared<nn::BatchNorm>(ctx, 4), nn::ReLU(),
                            std::make_shared<nn::Linear>(ctx, 4, 3)});
                      },
                      [](std::vector<Tensor*> p) { return nn::make_optimizer("sgd", std::move(p), 0.1f); });
  std::mt19937 g(3);
  std::normal_distribution<float> nd(1.f, 2.f);
  std::vector<float> x(5 * 6);
  for (auto& v : x) v = nd(g);
  std::vector<int32_t> y = {0, 1, 2, 1, 0};
  dp.step(0, 5, [&](int r, const nn::DataParallel::Shard& s) {
    Device& d = dp.device(r);
    Tensor xs = Tensor::from(std::span<const float>(x.data() + size_t(s.begin) * 6, size_t(s.count) * 6), {s.count, 6}, d);
    Tensor ys = Tensor::from(std::span<const int32_t>(y.data() + s.begin, size_t(s.count)), {s.count}, d);
    return cross_entropy(dp.model(r).forward(xs), ys);
  });
  auto stats = [&](int r) {
    std::vector<std::vector<float>> out;
    for (auto& [name, t] : dp.model(r).named_buffers()) out.push_back(t->to_vector());
    return out;
  };
  auto a = stats(0), b = stats(1);
  BOOST_REQUIRE(!a.empty());
  BOOST_CHECK(a[0] != b[0]);   // shards of 3 and 2 rows: different running means
  dp.average_buffers();
  auto a2 = stats(0), b2 = stats(1);
  BOOST_CHECK(a2 == b2);
  for (size_t i = 0; i < a.size(); ++i)
    for (size_t k = 0; k < a[i].size(); ++k) BOOST_CHECK_CLOSE(a2[i][k] + 10.f, (a[i][k] + b[i][k]) / 2 + 10.f, 1e-4);
  dp.average_buffers();
  BOOST_CHECK(stats(0) == a2);   // agreeing buffers stay as they are
}
