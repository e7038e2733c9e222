// Tensors, devices, memory and autograd graphs.
#include <boost/test/unit_test.hpp>

#include "engine/memory.h"
#include "engine/stream.h"
#include "support/op_check.h"

using namespace vkwb;
using namespace vkwb::test;

BOOST_AUTO_TEST_SUITE(tensors)

BOOST_AUTO_TEST_CASE(creation_and_host_access) {
  Device& d = gpu();
  Tensor z = Tensor::zeros({3, 5}, d);
  BOOST_CHECK(z.to_vector() == std::vector<float>(15, 0.f));
  BOOST_CHECK(Tensor::ones({7}, d).to_vector() == std::vector<float>(7, 1.f));
  BOOST_CHECK(Tensor::full({2, 2}, 2.5, d).to_vector() == std::vector<float>(4, 2.5f));
  std::vector<float> v = {1, 2, 3, 4, 5, 6};
  Tensor t = Tensor::from(v, {2, 3}, d);
  BOOST_CHECK(t.to_vector() == v);
  BOOST_CHECK_EQUAL(t.numel(), 6);
  BOOST_CHECK_EQUAL(t.reshape({3, -1}).shape().str(), "[3, 2]");
  BOOST_CHECK_EQUAL(sum(t).item(), 21.f);
  Tensor iv = Tensor::from(std::vector<int32_t>{4, -1, 7}, {3}, d);
  BOOST_CHECK(iv.to_ivector() == (std::vector<int32_t>{4, -1, 7}));
  BOOST_CHECK(Tensor::full({3}, 9, d, DType::i32).to_ivector() == (std::vector<int32_t>{9, 9, 9}));
  BOOST_CHECK(iv.to(DType::f32).to_vector() == (std::vector<float>{4, -1, 7}));
  BOOST_CHECK(Tensor::from(std::vector<float>{2.7f, -1.5f}, {2}, d).to(DType::i32).to_ivector() == (std::vector<int32_t>{2, -1}));
}

BOOST_AUTO_TEST_CASE(views_share_storage) {
  Device& d = gpu();
  std::vector<float> v(5 * 3);
  for (size_t i = 0; i < v.size(); ++i) v[i] = float(i);
  Tensor t = Tensor::from(v, {5, 3}, d);
  Tensor s = t.slice(1, 3);
  BOOST_CHECK_EQUAL(s.shape().str(), "[2, 3]");
  BOOST_CHECK(s.to_vector() == std::vector<float>(v.begin() + 3, v.begin() + 9));
  // An unaligned slice used as a kernel input (row of 3 floats = 12 bytes).
  BOOST_CHECK(mul(s, 2.f).to_vector() == (std::vector<float>{6, 8, 10, 12, 14, 16}));
  Tensor f = t.flatten(0);
  BOOST_CHECK_EQUAL(f.shape().str(), "[15]");
}

BOOST_AUTO_TEST_CASE(errors_are_clear) {
  Device& d = gpu();
  Tensor a = Tensor::zeros({2, 3}, d), b = Tensor::zeros({4, 5}, d);
  BOOST_CHECK_EXCEPTION(add(a, b), Error, [](const Error& e) {
    return std::string(e.what()).find("[2, 3]") != std::string::npos && std::string(e.what()).find("[4, 5]") != std::string::npos;
  });
  BOOST_CHECK_THROW(matmul(a, b), Error);
  BOOST_CHECK_THROW(a.reshape({7}), Error);
  BOOST_CHECK_THROW(a.slice(1, 5), Error);
  BOOST_CHECK_THROW(Tensor::from(std::vector<float>{1, 2}, {3}, d), Error);
  BOOST_CHECK_THROW(Tensor::zeros({2}, d, DType::f64), Error);
  BOOST_CHECK_THROW(sum(a, 2), Error);
  // Larger than one binding can see: a clear error, never a silently wrong result.
  uint64_t range = d.info().max_storage_buffer_range;
  if (range < (1ull << 33)) {
    BOOST_CHECK_EXCEPTION(Tensor::empty({int64_t(range / 4 + 1)}, d), Error, [](const Error& e) {
      return std::string(e.what()).find("maxStorageBufferRange") != std::string::npos;
    });
  }
}

BOOST_AUTO_TEST_CASE(unknown_device) {
  BOOST_CHECK_EXCEPTION(Device::open("no-such-device-xyz"), Error, [](const Error& e) {
    return std::string(e.what()).find("unknown device") != std::string::npos && std::string(e.what()).find("cpu") != std::string::npos;
  });
  BOOST_CHECK_THROW(Device::open("97"), Error);
  auto all = Device::list();
  BOOST_REQUIRE(all.size() >= 2);
  BOOST_CHECK_EQUAL(all.back().name, "cpu");
  BOOST_CHECK(all.front().max_storage_buffer_range > 0);
  BOOST_CHECK(all.front().subgroup_size > 0);
}

BOOST_AUTO_TEST_CASE(allocator_reuses_memory) {
  Device& d = gpu();
  d.sync();
  auto before = d.allocator().stats();
  for (int i = 0; i < 50; ++i) {
    Tensor t = Tensor::zeros({1000, 100}, d);
    d.sync();
  }
  auto after = d.allocator().stats();
  BOOST_CHECK_EQUAL(after.blocks, before.blocks + (before.blocks == 0 ? 1 : 0));
  BOOST_CHECK(after.in_use == before.in_use);
}

BOOST_AUTO_TEST_CASE(one_submission_per_step) {
  Device& d = gpu();
  d.sync();
  uint64_t s0 = d.stream().submits();
  Tensor x = Tensor::rand({64, 32}, d, 1), w = Tensor::rand({16, 32}, d, 2);
  w.requires_grad_();
  Tensor loss = sum(relu(linear(x, w)));
  loss.backward();
  BOOST_CHECK_EQUAL(d.stream().submits(), s0);   // nothing submitted yet
  float l = loss.item();
  BOOST_CHECK_EQUAL(d.stream().submits(), s0 + 1);
  BOOST_CHECK(l > 0);
}

BOOST_AUTO_TEST_CASE(staging_path_matches) {
  // The path for GPUs without host-visible device memory, forced on this device.
  DeviceOptions o;
  o.index = gpu().info().index;
  o.force_staging = true;
  Device& s = Device::open(o);
  BOOST_CHECK(!s.allocator().host_visible());
  std::vector<float> v = {1, 2, 3, 4, 5, 6, 7};
  Tensor t = Tensor::from(v, {7}, s);
  Tensor u = mul(add(t, 1.f), 2.f);
  BOOST_CHECK(u.to_vector() == (std::vector<float>{4, 6, 8, 10, 12, 14, 16}));
  t.copy_from_host(std::vector<float>(7, 1.f).data(), 28);
  BOOST_CHECK_EQUAL(sum(t).item(), 7.f);
  BOOST_CHECK_EQUAL(sum(t.slice(2, 5)).item(), 3.f);
  BOOST_CHECK_THROW(t.host_ptr(), Error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(autograd)

BOOST_AUTO_TEST_CASE(shared_input_accumulates) {
  Device& d = gpu();
  Tensor x = Tensor::from(std::vector<float>{1, 2, 3}, {3}, d).requires_grad_();
  Tensor y = sum(add(mul(x, x), x));   // d/dx = 2x + 1
  y.backward();
  BOOST_CHECK(x.grad().to_vector() == (std::vector<float>{3, 5, 7}));
  // A second backward accumulates into .grad.
  sum(mul(x, 2.f)).backward();
  BOOST_CHECK(x.grad().to_vector() == (std::vector<float>{5, 7, 9}));
  x.zero_grad();
  BOOST_CHECK(!x.grad().defined());
}

BOOST_AUTO_TEST_CASE(no_grad_and_detach) {
  Device& d = gpu();
  Tensor x = Tensor::from(std::vector<float>{1, 2}, {2}, d).requires_grad_();
  {
    NoGradGuard ng;
    Tensor y = mul(x, x);
    BOOST_CHECK(!y.requires_grad());
  }
  Tensor y = mul(x.detach(), x);
  sum(y).backward();
  BOOST_CHECK(x.grad().to_vector() == (std::vector<float>{1, 2}));
  Tensor c = Tensor::from(std::vector<float>{1}, {1}, d);
  BOOST_CHECK_THROW(sum(c).backward(), Error);
}

BOOST_AUTO_TEST_CASE(diamond_graph) {
  Device& d = gpu();
  Tensor x = Tensor::from(std::vector<float>{0.5f, -1.f}, {2}, d).requires_grad_();
  Tensor a = vkwb::exp(x), b = mul(a, 3.f), c = add(a, b);   // c = 4 exp(x)
  sum(c).backward();
  auto g = x.grad().to_vector();
  BOOST_CHECK_CLOSE(g[0], 4 * std::exp(0.5f), 1e-3);
  BOOST_CHECK_CLOSE(g[1], 4 * std::exp(-1.f), 1e-3);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(validation_layer_is_on_when_asked) {
  const char* v = std::getenv("VKWB_VALIDATE");
  if (v && std::string(v) == "1" && !gpu().is_cpu()) BOOST_CHECK(gpu().validation_enabled());
  BOOST_CHECK_EQUAL(Device::total_validation_messages(), 0u);
}
