#include <gtest/gtest.h>

#include <ATen/Parallel.h>

#include <set>

#include "train_test_util.h"
#include "unipet/core/error.h"
#include "unipet/train/sampler.h"

namespace unipet::train {
namespace {

using test::write_synthetic_dataset;

// Each voxel's value encodes its position (1 + flat index, in SUV with a clip_max above every
// value), so a patch tells where it was cut from.
torch::Tensor position_code(std::array<int64_t, 3> size) {
  return torch::arange(1, size[0] * size[1] * size[2] + 1, torch::kFloat64)
      .reshape({size[0], size[1], size[2]});
}

TrainConfig position_config(int64_t patch) {
  TrainConfig c;
  c.patch = patch;
  c.batch = 3;
  c.clip_max = 1e6;
  c.body_threshold = 0;
  c.augment = false;
  c.prefetch = 0;
  return c;
}

TEST(PatchSampler, RanksDrawConsecutiveSlicesOfTheBatchOfOneProcess) {
  test::TempDir dir;
  const io::Dataset d =
      write_synthetic_dataset(dir.path(), {"train", "train"}, {4, 20}, {20, 24, 22}, [](int s, double drf) {
        return torch::rand({20, 24, 22}, torch::TensorOptions().dtype(torch::kFloat64)) * (3 + s) + drf;
      });
  TrainConfig c;
  c.patch = 12;
  c.batch = 2;
  c.prefetch = 0;
  PatchSampler rank0(d, c, 0), rank1(d, c, 1);
  c.batch = 4;
  PatchSampler whole(d, c);
  const Batch a = rank0.batch(3), b = rank1.batch(3), all = whole.batch(3);
  EXPECT_EQ(a.first_sample, 0);
  EXPECT_EQ(b.first_sample, 2);
  EXPECT_FALSE(torch::equal(a.low, b.low));  // the ranks see different patches
  EXPECT_TRUE(torch::equal(torch::cat({a.low, b.low}), all.low));
  EXPECT_TRUE(torch::equal(torch::cat({a.full, b.full}), all.full));
  std::vector<double> drfs = a.drfs;
  drfs.insert(drfs.end(), b.drfs.begin(), b.drfs.end());
  EXPECT_EQ(drfs, all.drfs);
}

TEST(PatchSampler, SameSeedAndStepGiveTheSameBatchWhateverTheThreadsOrOrder) {
  test::TempDir dir;
  const io::Dataset d =
      write_synthetic_dataset(dir.path(), {"train", "train"}, {4, 20}, {20, 24, 22}, [](int s, double drf) {
        return torch::rand({20, 24, 22}, torch::TensorOptions().dtype(torch::kFloat64)) * (3 + s) + drf;
      });
  TrainConfig c;
  c.patch = 12;
  c.batch = 4;
  c.prefetch = 3;
  PatchSampler a(d, c);
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const Batch b7 = a.batch(7);
  at::set_num_threads(2);
  a.start(5);
  a.next();
  a.next();
  const Batch streamed = a.next();
  at::set_num_threads(threads);
  EXPECT_EQ(streamed.step, 7);
  EXPECT_TRUE(torch::equal(streamed.low, b7.low));
  EXPECT_TRUE(torch::equal(streamed.full, b7.full));
  EXPECT_EQ(streamed.drfs, b7.drfs);
  PatchSampler other(d, c);  // a fresh sampler (empty cache) agrees
  EXPECT_TRUE(torch::equal(other.batch(7).low, b7.low));
  EXPECT_FALSE(torch::equal(other.batch(8).low, b7.low));
  c.seed = 2;
  PatchSampler reseeded(d, c);
  EXPECT_FALSE(torch::equal(reseeded.batch(7).low, b7.low));
  EXPECT_EQ(b7.low.sizes(), (std::vector<int64_t>{4, 1, 12, 12, 12}));
}

TEST(PatchSampler, PatchesAreWholeCubesCutFromInsideTheVolume) {
  test::TempDir dir;
  const std::array<int64_t, 3> size{14, 17, 19};
  const io::Dataset d = write_synthetic_dataset(dir.path(), {"train"}, {4}, size,
                                                [&](int, double) { return position_code(size); });
  const TrainConfig c = position_config(8);
  PatchSampler sampler(d, c);
  for (int64_t step = 0; step < 40; ++step) {
    const Batch b = sampler.batch(step);
    for (int64_t k = 0; k < c.batch; ++k) {
      const torch::Tensor code = (b.full[k][0] * c.clip_max).round().to(torch::kInt64) - 1;  // flat index
      const int64_t first = code[0][0][0].item<int64_t>();
      const int64_t z0 = first / (size[1] * size[2]), y0 = first / size[2] % size[1], x0 = first % size[2];
      ASSERT_LE(z0 + 8, size[0]);
      ASSERT_LE(y0 + 8, size[1]);
      ASSERT_LE(x0 + 8, size[2]);
      const torch::Tensor expected =
          position_code(size).narrow(0, z0, 8).narrow(1, y0, 8).narrow(2, x0, 8).to(torch::kInt64) - 1;
      ASSERT_TRUE(torch::equal(code, expected)) << "step " << step << " sample " << k;
      EXPECT_TRUE(torch::equal(b.low[k], b.full[k]));
    }
  }
}

TEST(PatchSampler, VolumesSmallerThanThePatchArePaddedWithBackground) {
  test::TempDir dir;
  const std::array<int64_t, 3> size{5, 9, 7};
  const io::Dataset d = write_synthetic_dataset(dir.path(), {"train"}, {4}, size,
                                                [&](int, double) { return position_code(size); });
  const TrainConfig c = position_config(12);
  PatchSampler sampler(d, c);
  const Batch b = sampler.batch(0);
  ASSERT_EQ(b.full.sizes(), (std::vector<int64_t>{3, 1, 12, 12, 12}));
  // The whole volume sits in the corner; everything beyond it is zero.
  const torch::Tensor corner = b.full[0][0].narrow(0, 0, 5).narrow(1, 0, 9).narrow(2, 0, 7);
  EXPECT_TRUE(torch::allclose(corner * c.clip_max, position_code(size).to(torch::kFloat32)));
  const double total = position_code(size).sum().item<double>();
  EXPECT_NEAR(b.full[0][0].to(torch::kFloat64).sum().item<double>() * c.clip_max, total, 1e-4 * total);
}

TEST(PatchSampler, BodyPatchesCentreOnBodyAndAugmentationMatchesLowAndFull) {
  test::TempDir dir;
  // A small hot cube in an empty volume; the low dose is the full dose plus a DRF offset inside it.
  const io::Dataset d =
      write_synthetic_dataset(dir.path(), {"train"}, {4}, {40, 40, 40}, [](int, double drf) {
        torch::Tensor v = torch::zeros({40, 40, 40}, torch::kFloat64);
        v.narrow(0, 30, 4).narrow(1, 5, 4).narrow(2, 20, 4).fill_(2.0 + drf / 8);
        return v;
      });
  TrainConfig c;
  c.patch = 8;
  c.batch = 2;
  c.body_fraction = 1.0;
  c.prefetch = 0;
  PatchSampler sampler(d, c);
  std::set<std::string> variants;
  for (int64_t step = 0; step < 40; ++step) {
    const Batch b = sampler.batch(step);
    for (int64_t k = 0; k < c.batch; ++k) {
      ASSERT_GT(b.full[k].sum().item<double>(), 0) << "a body patch missed the body at step " << step;
      // Same flips and permutation: the hot voxels coincide.
      EXPECT_TRUE(torch::equal(b.full[k] > 0, b.low[k] > 0));
      variants.insert(std::to_string(
          (b.full[k][0].nonzero().to(torch::kFloat64).mean(0) * 100).round().sum().item<double>()));
    }
  }
  EXPECT_GT(variants.size(), 5u);  // the cube lands in many places and orientations
  c.body_fraction = 0.0;
  PatchSampler anywhere(d, c);
  int64_t empty = 0;
  for (int64_t step = 0; step < 40; ++step) empty += anywhere.batch(step).full[0].sum().item<double>() == 0;
  EXPECT_GT(empty, 20);  // uniform centres mostly miss a cube of 0.1% of the volume
}

TEST(PatchSampler, HotPatchesCentreOnTheHottestBodyVoxelsAndCostNothingWhenOff) {
  test::TempDir dir;
  // Values rise with the flat index, so the hottest 0.5% (52 of 10560 voxels) are the last 52:
  // the far rows of the last slice. A 4-voxel patch centred there reaches the last slice's rows
  // from 19 on, and so holds a value of at least the one at (19, 19, 0).
  const std::array<int64_t, 3> size{20, 24, 22};
  const io::Dataset d = write_synthetic_dataset(dir.path(), {"train"}, {4}, size,
                                                [&](int, double) { return position_code(size); });
  TrainConfig c = position_config(4);
  c.hot_fraction = 1.0;
  PatchSampler hot(d, c);
  const double threshold = (1 + 19 * 24 * 22 + 19 * 22) / c.clip_max;  // in network units
  for (int64_t step = 0; step < 20; ++step) {
    const Batch b = hot.batch(step);
    for (int64_t k = 0; k < c.batch; ++k)
      ASSERT_GE(b.full[k].max().item<double>(), threshold) << "step " << step << ", sample " << k;
  }
  c.hot_fraction = 0;
  PatchSampler body(d, c);
  int64_t cold = 0;
  for (int64_t step = 0; step < 20; ++step) cold += body.batch(step).full[0].max().item<double>() < threshold;
  EXPECT_GT(cold, 10);  // body centres mostly fall elsewhere
  // hot_fraction 0 draws nothing extra: the patch stream of a run without the key.
  EXPECT_TRUE(torch::equal(body.batch(5).full, PatchSampler(d, position_config(4)).batch(5).full));
  c.hot_fraction = 1.5;
  EXPECT_THROW(c.validate(), Error);
}

TEST(PatchSampler, ImagesInBqPerMlBecomeSuvWithTheSubjectsFactor) {
  test::TempDir dir;
  io::Dataset d = write_synthetic_dataset(dir.path(), {"train"}, {4}, {10, 10, 10}, [](int, double) {
    return torch::full({10, 10, 10}, 5000.0, torch::kFloat64);
  });
  d.units = Units::BqPerMl;
  d.subjects[0].numbers["suv_per_bqml"] = 2e-4;  // 5000 Bq/ml -> SUV 1
  TrainConfig c;
  c.patch = 8;
  c.prefetch = 0;
  PatchSampler sampler(d, c);
  EXPECT_NEAR(sampler.batch(0).full.mean().item<double>(), 1.0 / c.clip_max, 1e-6);
  d.subjects[0].numbers.clear();
  PatchSampler without(d, c);
  test::expect_error([&] { without.batch(0); }, {"s0", "suv_per_bqml"});
}

TEST(PatchSampler, AMissingDrfOrSplitIsNamed) {
  test::TempDir dir;
  const io::Dataset d =
      write_synthetic_dataset(dir.path(), {"train", "val"}, {4, 20}, {10, 10, 10}, [](int, double) {
        return torch::ones({10, 10, 10}, torch::kFloat64);
      });
  TrainConfig c;
  c.drfs = {7};
  test::expect_error([&] { PatchSampler s(d, c); }, {"dataset.json", "no DRF 7", "4, 20"});
  c.drfs = {20};
  PatchSampler only20(d, c);
  EXPECT_EQ(only20.drfs(), (std::vector<double>{20}));
  EXPECT_EQ(only20.batch(3).drfs, (std::vector<double>{20, 20}));
  c.train_split = "training";
  test::expect_error([&] { PatchSampler s(d, c); }, {"dataset.json", "training split 'training'"});
  c.train_split = "train";
  c.val_split = "test";
  VolumeCache cache(d, c);
  test::expect_error([&] { validation_crops(d, c, cache); }, {"validation split 'test'"});
}

TEST(ValidationCrops, AreFixedByTheSeedAndSeeEveryDrfAtOnePlace) {
  test::TempDir dir;
  const io::Dataset d = write_synthetic_dataset(
      dir.path(), {"train", "val", "val"}, {4, 20}, {24, 24, 24}, [](int s, double drf) {
        return torch::rand({24, 24, 24}, torch::kFloat64) + s + drf / 100;
      });
  TrainConfig c;
  c.val_crops = 3;
  c.val_crop = 16;
  VolumeCache cache(d, c);
  const auto crops = validation_crops(d, c, cache);
  ASSERT_EQ(crops.size(), 6u);
  EXPECT_EQ(crops[0].subject, "s1");
  EXPECT_EQ(crops[5].subject, "s2");
  for (const auto& crop : crops) {
    ASSERT_EQ(crop.low.size(), 2u);
    EXPECT_EQ(crop.full.sizes(), (std::vector<int64_t>{1, 1, 16, 16, 16}));
  }
  VolumeCache again(d, c);
  EXPECT_TRUE(torch::equal(validation_crops(d, c, again)[4].low.at(20), crops[4].low.at(20)));
  c.val_subjects = 1;
  EXPECT_EQ(validation_crops(d, c, cache).size(), 3u);
}

}  // namespace
}  // namespace unipet::train
