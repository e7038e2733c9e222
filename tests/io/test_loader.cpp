// BatchLoader (order, seeking, background thread) and augmentation.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <set>

#include "io_test_util.h"
#include "nets/data/augment.h"
#include "nets/data/loader.h"

using namespace vkwb;
using namespace vkwb::data;
using test::contains;
using test::error_message;

namespace {

using test::counting_dataset;

struct Snapshot {
  std::vector<float> x;
  std::vector<int32_t> y, y_mix;
  std::vector<int64_t> index;
  float lambda;
  bool operator==(const Snapshot& o) const {
    return x == o.x && y == o.y && y_mix == o.y_mix && index == o.index && lambda == o.lambda;
  }
};

std::vector<Snapshot> run_epoch(BatchLoader& loader, int64_t epoch, int64_t first = 0) {
  loader.start_epoch(epoch, first);
  std::vector<Snapshot> out;
  while (const Batch* b = loader.next()) out.push_back({b->x, b->y, b->y_mix, b->index, b->mix_lambda});
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(loader)

BOOST_AUTO_TEST_CASE(every_sample_once_per_epoch) {
  const Dataset ds = counting_dataset(103);
  BatchLoader loader(ds, {.batch_size = 10, .seed = 5});
  BOOST_TEST(loader.batches_per_epoch() == 11);
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    loader.start_epoch(epoch);
    std::vector<int64_t> seen;
    int batches = 0;
    while (const Batch* b = loader.next()) {
      BOOST_TEST(b->size == (batches == 10 ? 3 : 10));
      BOOST_TEST(b->batch_index == batches);
      BOOST_TEST(b->epoch == epoch);
      for (int i = 0; i < b->size; ++i) {
        const int64_t idx = b->index[static_cast<size_t>(i)];
        seen.push_back(idx);
        BOOST_TEST(b->y[static_cast<size_t>(i)] == idx % 10);
        BOOST_TEST(b->image(i)[0] == static_cast<float>(idx));
        BOOST_TEST(b->image(i)[5] == ds.image(static_cast<int>(idx))[5]);
      }
      ++batches;
    }
    BOOST_TEST(batches == 11);
    BOOST_TEST(loader.next() == nullptr);  // stays exhausted
    std::sort(seen.begin(), seen.end());
    std::vector<int64_t> all(103);
    for (int i = 0; i < 103; ++i) all[static_cast<size_t>(i)] = i;
    BOOST_TEST(seen == all, boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(same_seed_same_batches_epochs_differ) {
  const Dataset ds = counting_dataset(64);
  BatchLoader a(ds, {.batch_size = 8, .seed = 11}), b(ds, {.batch_size = 8, .seed = 11}),
      c(ds, {.batch_size = 8, .seed = 12});
  BatchLoader sync(ds, {.batch_size = 8, .seed = 11, .background = false});
  const auto a0 = run_epoch(a, 0), a1 = run_epoch(a, 1);
  BOOST_TEST((a0 == run_epoch(b, 0)));
  BOOST_TEST((a0 == run_epoch(sync, 0)));
  BOOST_TEST(!(a0 == a1));
  BOOST_TEST(!(a0 == run_epoch(c, 0)));
  // Unshuffled: dataset order.
  BatchLoader plain(ds, {.batch_size = 8, .shuffle = false});
  const auto p = run_epoch(plain, 3);
  BOOST_TEST(p[1].index[0] == 8);
}

BOOST_AUTO_TEST_CASE(seek_equals_running_there) {
  const Dataset ds = counting_dataset(90);
  LoaderOptions opt{.batch_size = 7, .seed = 3};
  opt.augment = make_augmentation({.crop_padding = 1, .horizontal_flip = true, .erase_probability = 0.5f});
  BatchLoader full(ds, opt), seek(ds, opt);
  // Run epochs 0..2 through; the seeking loader jumps straight to epoch 2, batch 5.
  run_epoch(full, 0);
  run_epoch(full, 1);
  const auto e2 = run_epoch(full, 2);
  const auto resumed = run_epoch(seek, 2, 5);
  BOOST_REQUIRE(resumed.size() == e2.size() - 5);
  for (size_t i = 0; i < resumed.size(); ++i) BOOST_TEST((resumed[i] == e2[i + 5]));
  // Seeking in the middle of an epoch drops whatever was prefetched.
  seek.start_epoch(2);
  const Batch* b = seek.next();
  BOOST_TEST(b->batch_index == 0);
  seek.start_epoch(2, 4);
  BOOST_TEST(seek.next()->batch_index == 4);
  BOOST_TEST(seek.epoch_order(2) == full.epoch_order(2), boost::test_tools::per_element());
  BOOST_TEST(contains(error_message([&] { seek.start_epoch(1, 99); }), "an epoch has 13 batches"));
}

BOOST_AUTO_TEST_CASE(drop_last) {
  const Dataset ds = counting_dataset(25);
  BatchLoader loader(ds, {.batch_size = 10, .seed = 1, .drop_last = true});
  BOOST_TEST(loader.batches_per_epoch() == 2);
  const auto e = run_epoch(loader, 0);
  BOOST_TEST(e.size() == 2u);
  for (const auto& s : e) BOOST_TEST(s.y.size() == 10u);
  BOOST_TEST(contains(error_message([&] { BatchLoader l(ds, {.batch_size = 30, .drop_last = true}); }), "fewer than one batch"));
}

BOOST_AUTO_TEST_CASE(worker_exception_is_rethrown) {
  const Dataset ds = counting_dataset(20);
  LoaderOptions opt{.batch_size = 4, .seed = 1};
  opt.augment = [](Batch& b, HostRng&) {
    if (b.batch_index == 2) throw Error("augmentation failed on batch 2");
  };
  BatchLoader loader(ds, opt);
  BOOST_TEST(loader.next() != nullptr);
  BOOST_TEST(loader.next() != nullptr);
  BOOST_TEST(error_message([&] { loader.next(); }) == "augmentation failed on batch 2");
  BOOST_TEST(loader.next() == nullptr);
  loader.start_epoch(1);  // usable again afterwards
  BOOST_TEST(loader.next() != nullptr);
}

BOOST_AUTO_TEST_CASE(clean_shutdown_mid_epoch) {
  const Dataset ds = counting_dataset(1000, 1, 8, 8);
  for (int k = 0; k < 20; ++k) {
    BatchLoader loader(ds, {.batch_size = 16, .seed = static_cast<uint64_t>(k)});
    for (int i = 0; i < k % 4; ++i) loader.next();
  }
  BOOST_TEST(true);
}

BOOST_AUTO_TEST_CASE(augmentation_deterministic_per_seed) {
  const Dataset ds = counting_dataset(40, 3, 6, 6);
  const AugmentOptions aug{.crop_padding = 2, .horizontal_flip = true, .erase_probability = 0.7f,
                           .erase_random = true, .mixup_alpha = 0.4f};
  LoaderOptions opt{.batch_size = 8, .seed = 9};
  opt.augment = make_augmentation(aug);
  BatchLoader a(ds, opt), b(ds, opt);
  opt.seed = 10;
  BatchLoader c(ds, opt);
  const auto ea = run_epoch(a, 4), eb = run_epoch(b, 4), ec = run_epoch(c, 4);
  BOOST_TEST((ea == eb));
  BOOST_TEST(!(ea == ec));
  BOOST_TEST(ea[0].y_mix.size() == 8u);
  BOOST_TEST(ea[0].lambda > 0.0f);
  BOOST_TEST(ea[0].lambda < 1.0f);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(augment)

BOOST_AUTO_TEST_CASE(shift_and_flip_by_hand) {
  // One channel, 3 x 3: 1 2 3 / 4 5 6 / 7 8 9.
  const std::vector<float> img = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  std::vector<float> out(9);
  shift_image(img.data(), out.data(), 1, 3, 3, 1, 0);  // dst(y,x) = src(y+1,x): content moves up
  BOOST_TEST(out == (std::vector<float>{4, 5, 6, 7, 8, 9, 0, 0, 0}), boost::test_tools::per_element());
  shift_image(img.data(), out.data(), 1, 3, 3, -1, 2);
  BOOST_TEST(out == (std::vector<float>{0, 0, 0, 3, 0, 0, 6, 0, 0}), boost::test_tools::per_element());
  shift_image(img.data(), out.data(), 1, 3, 3, 0, -1);
  BOOST_TEST(out == (std::vector<float>{0, 1, 2, 0, 4, 5, 0, 7, 8}), boost::test_tools::per_element());
  shift_image(img.data(), out.data(), 1, 3, 3, 3, 0);  // entirely outside
  BOOST_TEST(out == std::vector<float>(9, 0.0f), boost::test_tools::per_element());

  std::vector<float> two = {1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60};  // 2 channels, 2 x 3
  flip_image(two.data(), 2, 2, 3);
  BOOST_TEST(two == (std::vector<float>{3, 2, 1, 6, 5, 4, 30, 20, 10, 60, 50, 40}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(random_crop_is_a_padded_shift) {
  Batch b;
  b.size = 50;
  b.c = 2;
  b.h = 4;
  b.w = 5;
  b.x.resize(50 * 40);
  for (size_t i = 0; i < b.x.size(); ++i) b.x[i] = static_cast<float>(i % 40 + 1);
  const std::vector<float> orig(b.x.begin(), b.x.begin() + 40);
  HostRng rng(3);
  random_crop(b, 2, rng);
  std::set<std::pair<int, int>> offsets;
  for (int i = 0; i < b.size; ++i) {
    bool found = false;
    std::vector<float> expect(40);
    for (int dy = -2; dy <= 2 && !found; ++dy)
      for (int dx = -2; dx <= 2 && !found; ++dx) {
        shift_image(orig.data(), expect.data(), 2, 4, 5, dy, dx);
        if (std::equal(expect.begin(), expect.end(), b.image(i))) {
          found = true;
          offsets.insert({dy, dx});
        }
      }
    BOOST_TEST(found);
  }
  BOOST_TEST(offsets.size() > 10u);  // 25 possible offsets, 50 draws
}

BOOST_AUTO_TEST_CASE(random_flip_flips_about_half) {
  Batch b;
  b.size = 400;
  b.c = 1;
  b.h = 1;
  b.w = 2;
  b.x.resize(800);
  for (int i = 0; i < 400; ++i) {
    b.x[static_cast<size_t>(2 * i)] = 1;
    b.x[static_cast<size_t>(2 * i + 1)] = 2;
  }
  HostRng rng(1);
  random_flip(b, rng);
  int flipped = 0;
  for (int i = 0; i < 400; ++i) flipped += b.image(i)[0] == 2;
  BOOST_TEST(flipped > 150);
  BOOST_TEST(flipped < 250);
}

BOOST_AUTO_TEST_CASE(random_erasing_fills_one_rectangle) {
  const AugmentOptions opt{.erase_probability = 1.0f, .erase_value = -1.0f};
  Batch b;
  b.size = 30;
  b.c = 3;
  b.h = 16;
  b.w = 12;
  b.x.assign(30 * 3 * 16 * 12, 0.5f);
  HostRng rng(8);
  random_erasing(b, opt, rng);
  int erased_images = 0;
  for (int i = 0; i < b.size; ++i) {
    // Bounding box of the erased pixels in channel 0; every channel must match it exactly.
    int y0 = 99, y1 = -1, x0 = 99, x1 = -1, count = 0;
    for (int y = 0; y < 16; ++y)
      for (int x = 0; x < 12; ++x)
        if (b.image(i)[y * 12 + x] == -1.0f) {
          y0 = std::min(y0, y), y1 = std::max(y1, y), x0 = std::min(x0, x), x1 = std::max(x1, x);
          ++count;
        }
    if (count == 0) continue;  // all 10 attempts may fail; rare
    ++erased_images;
    const int area = (y1 - y0 + 1) * (x1 - x0 + 1);
    BOOST_TEST(count == area);  // a filled rectangle
    BOOST_TEST(area >= 1);
    BOOST_TEST(area <= static_cast<int>(std::lround(0.33 * 192 * 1.6)));  // rounding of sqrt sides
    for (int ch = 1; ch < 3; ++ch)
      for (int k = 0; k < 192; ++k)
        BOOST_TEST((b.image(i)[ch * 192 + k] == -1.0f) == (b.image(i)[k] == -1.0f));
  }
  BOOST_TEST(erased_images >= 25);

  EraseBox box;
  HostRng r2(4);
  for (int t = 0; t < 200; ++t)
    if (sample_erase_box(32, 32, AugmentOptions{}, r2, box)) {
      BOOST_TEST(box.y >= 0);
      BOOST_TEST(box.x >= 0);
      BOOST_TEST(box.y + box.h <= 32);
      BOOST_TEST(box.x + box.w <= 32);
    }
}

BOOST_AUTO_TEST_CASE(mixup_mixes_images_and_labels) {
  Batch b;
  b.size = 16;
  b.c = 1;
  b.h = 2;
  b.w = 2;
  for (int i = 0; i < 16; ++i) {
    b.y.push_back(i);  // image i is constant i
    for (int k = 0; k < 4; ++k) b.x.push_back(static_cast<float>(i));
  }
  HostRng rng(21);
  mixup(b, 0.4f, rng);
  BOOST_TEST(b.mixed);
  BOOST_TEST(b.mix_lambda >= 0.0f);
  BOOST_TEST(b.mix_lambda <= 1.0f);
  std::vector<int32_t> partners = b.y_mix;
  std::sort(partners.begin(), partners.end());
  for (int i = 0; i < 16; ++i) {
    BOOST_TEST(partners[static_cast<size_t>(i)] == i);  // y_mix is a permutation of y
    const float expect = b.mix_lambda * static_cast<float>(i) + (1 - b.mix_lambda) * static_cast<float>(b.y_mix[static_cast<size_t>(i)]);
    for (int k = 0; k < 4; ++k) BOOST_TEST(b.image(i)[k] == expect, boost::test_tools::tolerance(1e-5f));
  }
}

BOOST_AUTO_TEST_CASE(host_rng_distributions) {
  HostRng a(123), b(123);
  for (int i = 0; i < 10; ++i) BOOST_TEST(a.next_u64() == b.next_u64());
  HostRng rng(5);
  double sum_beta = 0, sum_gamma = 0, sum_gamma_small = 0, sum_u = 0, sum_n = 0, sum_n2 = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    sum_beta += rng.beta(0.4, 0.4);
    sum_gamma += rng.gamma(3.0);
    sum_gamma_small += rng.gamma(0.5);
    sum_u += rng.uniform();
    const double z = rng.normal();
    sum_n += z;
    sum_n2 += z * z;
  }
  BOOST_TEST(sum_beta / n == 0.5, boost::test_tools::tolerance(0.03));
  BOOST_TEST(sum_gamma / n == 3.0, boost::test_tools::tolerance(0.03));
  BOOST_TEST(sum_gamma_small / n == 0.5, boost::test_tools::tolerance(0.05));
  BOOST_TEST(sum_u / n == 0.5, boost::test_tools::tolerance(0.02));
  BOOST_TEST(std::fabs(sum_n / n) < 0.03);
  BOOST_TEST(sum_n2 / n == 1.0, boost::test_tools::tolerance(0.03));
  std::vector<int> counts(7, 0);
  for (int i = 0; i < 70000; ++i) ++counts[rng.below(7)];
  for (int c : counts) BOOST_TEST(std::abs(c - 10000) < 500);
}

BOOST_AUTO_TEST_SUITE_END()
