#pragma once
// A tiny simulated dataset for the calibration tests: 5 phantoms at DRF 3 and 12, 40 x 40 x 16
// voxels of 10 x 10 x 5 mm (an 80 mm section; at --vary's largest voxels still more slices than
// SSIM's 11-voxel window, so evaluate can score it), fine enough for the noise features' 5 mm
// band; subjects 0-2 train, 3 val, 4 test. Scanner and reconstruction vary per subject (--vary,
// non-TOF) and the counts within x 0.5 to x 2, so effective and nominal DRFs differ.
#include <filesystem>
#include <string>

#include "test_util.h"
#include "unipet/io/dataset.h"
#include "unipet/sim/simulate.h"

namespace unipet::test {

inline std::string simulate_calibration_dataset(const std::filesystem::path& dir) {
  sim::SimulationOptions o;
  o.out_dir = (dir / "cal").string();
  o.subjects = 5;
  o.drfs = {3, 12};
  o.seed = 17;
  o.phantom.width = o.phantom.height = 40;
  o.phantom.voxel_mm = 10.0;
  o.phantom.slices = 16;
  o.phantom.slice_mm = 5.0;
  o.scanner.angles = 24;
  o.scanner.prompts = 2e6;
  o.osem.iterations = 2;
  o.osem.subsets = 4;
  o.threads = 1;
  // --vary, but non-TOF only (TOF is what makes a simulation slow) and counts within x 2.
  o.vary.enabled = true;
  o.vary.counts_factor = 2.0;
  o.vary.tof_ps = {0};
  io::Dataset d = sim::simulate_dataset(o);
  const char* splits[] = {"train", "train", "train", "val", "test"};
  for (size_t i = 0; i < d.subjects.size(); ++i) d.subjects[i].split = splits[i];
  io::write_dataset(d, o.out_dir + "/dataset.json");
  return o.out_dir + "/dataset.json";
}

}  // namespace unipet::test
