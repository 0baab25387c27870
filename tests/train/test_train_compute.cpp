// Training with the ITK-free library alone (unipet::compute, UNIPET_IMAGE_IO=OFF): a dataset of
// simulated phantoms kept in memory and handed to train() through its volume reader, so no image
// file is ever written or read.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "test_util.h"
#include "train/tiny_config.h"
#include "train/steps.h"
#include "unipet/core/error.h"
#include "unipet/io/dataset.h"
#include "unipet/io/safetensors.h"
#include "unipet/io/suv.h"
#include "unipet/nn/model_file.h"
#include "unipet/sim/dose.h"
#include "unipet/sim/phantom.h"
#include "unipet/train/trainer.h"

namespace unipet::train {
namespace {

namespace fs = std::filesystem;

// Counts per voxel and SUV of the full dose; DRF 4 keeps a quarter of them.
constexpr double kCountsPerSuv = 12.0;
constexpr double kDrf = 4.0;

// Three 24³ phantoms in SUV (two to train on, one to validate), each with its Poisson low dose at
// DRF 4, and a dataset.json naming them. The volumes live in `volumes`, keyed by file name.
class InMemoryDataset {
 public:
  explicit InMemoryDataset(const fs::path& dir) : path_((dir / "dataset.json").string()) {
    io::Dataset d;
    d.name = "in-memory phantoms";
    d.source = "test";
    d.units = Units::SUV;
    d.drfs = {kDrf};
    const char* splits[] = {"train", "train", "val"};
    for (int i = 0; i < 3; ++i) {
      sim::PhantomOptions o;
      o.width = o.height = o.slices = 24;
      o.voxel_mm = o.slice_mm = 20.0;
      const uint64_t seed = 11 + static_cast<uint64_t>(i);
      const sim::Phantom p = sim::generate_phantom(o, seed);
      Volume full = p.activity;
      full.data = p.activity.data / io::bq_per_ml_per_suv(p.dose_at_scan_bq, p.weight_kg);
      full.units = Units::SUV;
      const double scale = kCountsPerSuv / kDrf;
      io::DatasetSubject s;
      s.id = "s" + std::to_string(i);
      s.split = splits[i];
      s.full_dose = s.id + "_full.nii.gz";
      s.low_dose[kDrf] = s.id + "_drf4.nii.gz";
      volumes_[s.full_dose] = full;
      volumes_[s.low_dose[kDrf]] = with_geometry_of(full, sim::poisson_counts(full.data * scale, seed + 100) / scale);
      d.subjects.push_back(s);
    }
    io::write_dataset(d, path_);
  }

  const std::string& path() const { return path_; }
  int reads() const { return reads_; }

  /// Serves the volumes by the file name dataset.json gives them (from the sampler's thread too).
  VolumeReader reader() {
    return [this](const std::string& path) {
      const auto it = volumes_.find(fs::path(path).filename().string());
      UNIPET_CHECK(it != volumes_.end(), path << ": not one of the in-memory volumes");
      ++reads_;
      return it->second;
    };
  }

 private:
  std::string path_;
  std::map<std::string, Volume> volumes_;
  std::atomic<int> reads_{0};
};

TrainOptions tiny_options(const InMemoryDataset& data, const std::string& out, int64_t iterations) {
  TrainOptions o;
  o.config = test::tiny_config(Stage::UniPET);
  TrainConfig& c = o.config;
  c.blocks = 1;
  c.iterations = iterations;
  c.validate_every = 2;
  c.val_crops = 1;
  c.checkpoint_every = 2;
  c.prefetch = 1;
  o.dataset = data.path();
  o.out = out;
  return o;
}

std::map<std::string, torch::Tensor> model_weights(const std::string& run) {
  return io::read_safetensors(run + "/model_final.safetensors").tensors;
}

TEST(TrainingInMemory, TrainsThroughTheVolumeReaderAndResumesBitForBit) {
  test::TempDir dir;
  InMemoryDataset data(dir.path());

  const TrainOptions whole = tiny_options(data, dir / "whole", 4);
  const TrainResult r = train(whole, data.reader());
  EXPECT_EQ(r.step, 4);
  EXPECT_FALSE(r.interrupted);
  EXPECT_GT(data.reads(), 0);
  EXPECT_TRUE(std::isfinite(r.input_score));  // the validation crops came through the reader
  EXPECT_TRUE(std::isfinite(r.best_score));
  EXPECT_TRUE(fs::is_regular_file(whole.out + "/checkpoint_latest.pt"));

  // Every step logged a finite generator loss (NaN would be written as null).
  std::ifstream log(whole.out + "/log.jsonl");
  int steps = 0;
  for (std::string line; std::getline(log, line);) {
    const auto entry = nlohmann::json::parse(line);
    if (!entry.contains("loss")) continue;
    ASSERT_TRUE(entry["loss"].is_number()) << line;
    EXPECT_TRUE(std::isfinite(entry["loss"].get<double>())) << line;
    ++steps;
  }
  EXPECT_EQ(steps, 4);

  // The weights moved from the seeded initial ones.
  const nn::UniPET initial = detail::build_networks(whole.config, torch::kCPU, false).generator;
  const nn::UniPET trained = nn::load_unipet(whole.out + "/model_final.safetensors").model;
  const auto before = initial->named_parameters();
  int64_t moved = 0;
  for (const auto& p : trained->named_parameters()) moved += !torch::equal(p.value(), before[p.key()]);
  EXPECT_GT(moved, 0);

  // Stopped at its step-2 checkpoint and continued, the run ends on exactly the same weights.
  TrainOptions half = tiny_options(data, dir / "half", 4);
  half.config.iterations = 2;
  EXPECT_EQ(train(half, data.reader()).step, 2);
  half.config.iterations = 4;
  half.resume = true;
  EXPECT_EQ(train(half, data.reader()).step, 4);
  const auto a = model_weights(whole.out), b = model_weights(half.out);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [key, t] : a) EXPECT_TRUE(torch::equal(t, b.at(key))) << key;
}

TEST(TrainingInMemory, AReaderThatFailsNamesTheVolumeAndAMissingOneIsRefused) {
  test::TempDir dir;
  InMemoryDataset data(dir.path());
  const TrainOptions o = tiny_options(data, dir / "run", 2);
  test::expect_error([&] { train(o, VolumeReader()); }, {"no volume reader"});
  EXPECT_FALSE(fs::exists(o.out));
  const VolumeReader failing = [](const std::string& path) -> Volume { throw Error(path + ": unreadable"); };
  test::expect_error([&] { train(o, failing); }, {".nii.gz", "unreadable"});
}

}  // namespace
}  // namespace unipet::train
