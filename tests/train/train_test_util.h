#pragma once
// Tiny datasets and configurations for the training tests.
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include "test_util.h"
#include "train/tiny_config.h"
#include "unipet/io/dataset.h"
#include "unipet/io/image_io.h"
#include "unipet/sim/simulate.h"
#include "unipet/train/config.h"

namespace unipet::test {

/// A dataset.json in SUV whose images are made by `image(subject, drf)` (drf 0: full dose),
/// each [D, H, W] = `size`; subjects "s0".. with the given splits.
inline io::Dataset write_synthetic_dataset(const std::filesystem::path& dir,
                                           const std::vector<std::string>& splits,
                                           const std::vector<double>& drfs, std::array<int64_t, 3> size,
                                           const std::function<torch::Tensor(int, double)>& image) {
  std::filesystem::create_directories(dir);
  torch::manual_seed(0);  // images drawn with torch::rand are the same in every run
  io::Dataset d;
  d.name = "synthetic";
  d.source = "test";
  d.units = Units::SUV;
  d.drfs = drfs;
  for (size_t i = 0; i < splits.size(); ++i) {
    io::DatasetSubject s;
    s.id = "s" + std::to_string(i);
    s.split = splits[i];
    const auto write = [&](double drf) {
      Volume v;
      v.data = image(static_cast<int>(i), drf)
                   .to(torch::kFloat32)
                   .reshape({size[0], size[1], size[2]})
                   .contiguous();
      v.units = Units::SUV;
      const std::string name =
          s.id + (drf == 0 ? std::string("_full") : "_drf" + std::to_string(static_cast<int>(drf))) + ".nii";
      io::write_image(v, (dir / name).string());
      return name;
    };
    s.full_dose = write(0);
    for (double drf : drfs) s.low_dose[drf] = write(drf);
    d.subjects.push_back(s);
  }
  io::write_dataset(d, (dir / "dataset.json").string());
  return io::read_dataset((dir / "dataset.json").string());
}

/// A tiny simulated dataset (3 subjects: train, train, val; DRF 4 and 20; 32 × 32 × 16 voxels).
inline std::string simulate_tiny_dataset(const std::filesystem::path& dir) {
  sim::SimulationOptions o;
  o.out_dir = (dir / "sim").string();
  o.subjects = 3;
  o.drfs = {4, 20};
  o.seed = 5;
  o.phantom.width = o.phantom.height = 32;
  o.phantom.voxel_mm = 14.0;
  o.phantom.slices = 16;
  o.phantom.slice_mm = 8.0;
  o.scanner.angles = 24;
  o.scanner.prompts = 4e5;
  o.osem.iterations = 2;
  o.osem.subsets = 4;
  o.threads = 1;
  io::Dataset d = sim::simulate_dataset(o);
  // Splits by hand, so the tests do not depend on how the simulator rounds fractions.
  for (size_t i = 0; i < d.subjects.size(); ++i)
    d.subjects[i].split = i + 1 < d.subjects.size() ? "train" : "val";
  io::write_dataset(d, o.out_dir + "/dataset.json");
  return o.out_dir + "/dataset.json";
}

/// A fixture whose tests share one tiny simulated dataset, made once per test suite.
class TinyDatasetSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    folder() = std::make_unique<TempDir>();
    dataset_path() = simulate_tiny_dataset(folder()->path());
  }
  static void TearDownTestSuite() { folder().reset(); }
  static std::string& dataset_path() {
    static std::string path;
    return path;
  }

 private:
  static std::unique_ptr<TempDir>& folder() {
    static std::unique_ptr<TempDir> dir;
    return dir;
  }
};

}  // namespace unipet::test
