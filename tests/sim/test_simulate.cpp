#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include <ATen/Parallel.h>

#include "test_util.h"
#include "unipet/core/error.h"
#include "unipet/io/image_io.h"
#include "unipet/sim/simulate.h"

namespace unipet::sim {
namespace {

namespace fs = std::filesystem;

class Simulation : public ::testing::Test {
 protected:
  /// A study small enough for a unit test: 32 x 32 x 6 voxels, 16 angles.
  SimulationOptions tiny(const std::string& sub) const {
    SimulationOptions o;
    o.out_dir = (dir_ / sub).string();
    o.subjects = 2;
    o.drfs = {10, 2};
    o.seed = 17;
    o.phantom.width = o.phantom.height = 32;
    o.phantom.voxel_mm = 14.0;
    o.phantom.slices = 6;
    o.phantom.slice_mm = 20.0;
    o.scanner.angles = 16;
    o.scanner.prompts = 2e6;
    o.osem.iterations = 2;
    o.osem.subsets = 4;
    return o;
  }

  test::TempDir tmp_;
  const fs::path& dir_ = tmp_.path();
};

TEST(Splits, FollowTheFractionsAndTheSeed) {
  const auto a = assign_splits(20, {0.7, 0.15, 0.15}, 1);
  EXPECT_EQ(std::count(a.begin(), a.end(), "train"), 14);
  EXPECT_EQ(std::count(a.begin(), a.end(), "val"), 3);
  EXPECT_EQ(std::count(a.begin(), a.end(), "test"), 3);
  EXPECT_EQ(a, assign_splits(20, {0.7, 0.15, 0.15}, 1));
  EXPECT_NE(a, assign_splits(20, {0.7, 0.15, 0.15}, 2));
  const auto one = assign_splits(1, {0.7, 0.15, 0.15}, 1);
  EXPECT_EQ(one, std::vector<std::string>{"train"});
}

TEST_F(Simulation, WritesEveryImageWithGeometryAndADatasetDescription) {
  const SimulationOptions o = tiny("a");
  const io::Dataset ds = simulate_dataset(o);
  EXPECT_EQ(ds.drfs, (std::vector<double>{2, 10}));
  EXPECT_EQ(ds.source, "simulated");
  EXPECT_EQ(ds.numbers.at("seed"), 17);
  EXPECT_EQ(ds.strings.at("mumap_units"), "1/cm");
  ASSERT_EQ(ds.subjects.size(), 2u);
  for (const io::DatasetSubject& s : ds.subjects) {
    const Volume activity = io::read_image(ds.resolve(s.images.at("activity")));
    const Volume full = io::read_image(ds.resolve(s.full_dose));
    EXPECT_TRUE(same_geometry(activity, full));
    EXPECT_EQ(full.spacing, (std::array<double, 3>{14.0, 14.0, 20.0}));
    EXPECT_NEAR(full.origin[0], -15.5 * 14.0, 1e-3);
    EXPECT_EQ(full.units, Units::BqPerMl);
    for (const char* role : {"mumap", "mumap_ac", "lesions", "liver"}) {
      EXPECT_TRUE(fs::exists(ds.resolve(s.images.at(role)))) << role;
    }
    // The liver mask sits where the truth has liver-like uptake, and the anatomy is recorded.
    const Volume liver = io::read_image(ds.resolve(s.images.at("liver")));
    ASSERT_GT(liver.data.sum().item<double>(), 10);
    const double liver_suv = activity.data.masked_select(liver.data > 0.5).mean().item<double>() *
                             s.numbers.at("suv_per_bqml");
    EXPECT_NEAR(liver_suv, s.numbers.at("liver_suv"), 0.25 * s.numbers.at("liver_suv"));
    for (const char* key : {"arms_up", "body_scale", "fat_mm", "tof_fwhm_ps", "scatter_scale", "oversampling"}) {
      EXPECT_EQ(s.numbers.count(key), 1u) << key;
    }
    ASSERT_EQ(s.low_dose.size(), 2u);
    for (const auto& [drf, path] : s.low_dose) {
      EXPECT_TRUE(same_geometry(activity, io::read_image(ds.resolve(path)))) << drf;
      // Thinning keeps 1 / DRF of the counts (tolerance: many standard deviations).
      EXPECT_NEAR(s.numbers.at("counts_drf_" + std::to_string(static_cast<int>(drf))),
                  s.numbers.at("counts_full") / drf, 0.01 * s.numbers.at("counts_full") / drf);
    }
    EXPECT_NEAR(s.numbers.at("counts_full"), 2e6, 5 * std::sqrt(2e6));
    EXPECT_GT(s.numbers.at("weight_kg"), 0);
    EXPECT_GT(s.numbers.at("injected_dose_bq"), 0);
    // Full-dose reconstruction is quantitative: its total activity is close to the truth's.
    const double truth = activity.data.to(torch::kFloat64).sum().item<double>();
    EXPECT_NEAR(full.data.to(torch::kFloat64).sum().item<double>(), truth, 0.15 * truth);
  }
}

TEST_F(Simulation, TheSameSeedGivesTheSameBytesAndAnotherSeedAnotherAnatomy) {
  SimulationOptions o = tiny("a");
  o.subjects = 1;
  const io::Dataset a = simulate_dataset(o);
  o.out_dir = (dir_ / "b").string();
  const io::Dataset b = simulate_dataset(o);
  o.out_dir = (dir_ / "c").string();
  o.seed = 18;
  const io::Dataset c = simulate_dataset(o);
  // Byte for byte: every image, the subject record and dataset.json.
  int compared = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir_ / "a")) {
    if (!entry.is_regular_file()) continue;
    ++compared;
    const fs::path twin = dir_ / "b" / fs::relative(entry.path(), dir_ / "a");
    EXPECT_EQ(test::read_bytes(entry.path().string()), test::read_bytes(twin.string())) << entry.path();
  }
  EXPECT_EQ(compared, 10);  // dataset.json, subject.json, 5 truth images, full and 2 DRFs
  EXPECT_EQ(a.subjects[0].numbers, b.subjects[0].numbers);
  const auto mu = a.subjects[0].images.at("mumap");
  EXPECT_FALSE(torch::equal(io::read_image(a.resolve(mu)).data, io::read_image(c.resolve(mu)).data));
}

TEST_F(Simulation, ResultsDoNotDependOnTheThreadCount) {
  // Large enough that LibTorch's own reductions and element-wise ops split work across threads
  // (they do above 32768 elements).
  SimulationOptions o = tiny("unused");
  o.phantom.width = o.phantom.height = 64;
  o.phantom.voxel_mm = 7.0;
  o.phantom.slices = 12;
  o.scanner.angles = 48;
  o.scanner.tof_fwhm_ps = 400;
  const Phantom p = generate_phantom(o.phantom, 8);
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  o.threads = 1;
  const SimulatedSubject one = simulate_subject(p.activity, p.mumap, o, 9);
  at::set_num_threads(2);
  o.threads = 2;
  const SimulatedSubject two = simulate_subject(p.activity, p.mumap, o, 9);
  at::set_num_threads(threads);
  EXPECT_TRUE(torch::equal(one.full.data, two.full.data));
  EXPECT_TRUE(torch::equal(one.low.at(10).data, two.low.at(10).data));
  EXPECT_EQ(one.numbers, two.numbers);
}

TEST_F(Simulation, AnInterruptedRunResumesAndOtherOptionsAreRefused) {
  SimulationOptions o = tiny("a");
  const io::Dataset first = simulate_dataset(o);
  const fs::path root(o.out_dir);
  const fs::path redone = root / first.subjects[0].id;
  const fs::path kept = fs::path(first.resolve(first.subjects[1].full_dose));
  const auto kept_time = fs::last_write_time(kept);
  // A run killed while writing subject 0 leaves only its staging folder (named after a pid that
  // no longer runs), never a half subject folder, and no dataset.json yet.
  fs::remove_all(redone);
  fs::remove(root / "dataset.json");
  const fs::path stale = root / ".unipet-tmp-999999999-0";
  fs::create_directories(stale / first.subjects[0].id);
  test::write_bytes(stale / first.subjects[0].id / "full.nii.gz", "half a file");
  const io::Dataset second = simulate_dataset(o);
  EXPECT_TRUE(fs::exists(redone / "subject.json"));
  EXPECT_FALSE(fs::exists(stale));                    // the killed run's leftovers are gone
  EXPECT_EQ(fs::last_write_time(kept), kept_time);  // the complete subject was not redone
  EXPECT_EQ(second.subjects[0].numbers, first.subjects[0].numbers);
  // A subject folder without its record was not written by unipet: refused, not overwritten.
  fs::remove(redone / "subject.json");
  EXPECT_THROW(simulate_dataset(o), Error);
  EXPECT_TRUE(fs::exists(redone / "full.nii.gz"));
  o.scanner.prompts = 3e6;
  EXPECT_THROW(simulate_dataset(o), Error);
}

TEST_F(Simulation, AUsersFullDoseImageBecomesTheActivity) {
  SimulationOptions o = tiny("from");
  const Phantom p = generate_phantom(o.phantom, 3);
  fs::create_directories(dir_);
  const std::string input = (dir_ / "patient.nii.gz").string();
  io::write_image(p.activity, input);
  o.from_images = {input};
  o.weight_kg = 80;
  const io::Dataset ds = simulate_dataset(o);
  ASSERT_EQ(ds.subjects.size(), 1u);
  const io::DatasetSubject& s = ds.subjects[0];
  EXPECT_EQ(s.id, "000_patient");
  EXPECT_EQ(s.images.count("lesions"), 0u);
  EXPECT_EQ(s.numbers.at("weight_kg"), 80);
  const Volume mu = io::read_image(ds.resolve(s.images.at("mumap")));
  // The threshold body covers the phantom's body closely.
  const double overlap = ((mu.data > 0) == (p.mumap.data > 0)).to(torch::kFloat64).mean().item<double>();
  EXPECT_GT(overlap, 0.95);
  EXPECT_TRUE(fs::exists(ds.resolve(s.low_dose.at(2))));
}

TEST_F(Simulation, AUsersMuMapIsUsedAndOneInTheWrongUnitsIsRefused) {
  SimulationOptions o = tiny("mu");
  const Phantom p = generate_phantom(o.phantom, 4);
  fs::create_directories(dir_);
  const std::string activity = (dir_ / "pet.nii.gz").string(), mu = (dir_ / "mu.nii.gz").string();
  io::write_image(p.activity, activity);
  io::write_image(p.mumap, mu);
  o.from_images = {activity};
  o.mumap = mu;
  o.weight_kg = 70;
  o.dose_at_scan_bq = 2e8;
  const io::Dataset ds = simulate_dataset(o);
  const Volume written = io::read_image(ds.resolve(ds.subjects[0].images.at("mumap")));
  EXPECT_TRUE(torch::equal(written.data, p.mumap.data));
  EXPECT_DOUBLE_EQ(ds.subjects[0].numbers.at("suv_per_bqml"), 70 * 1000 / 2e8);
  io::write_image(with_geometry_of(p.mumap, p.mumap.data / 10), mu);  // 1/mm
  o.out_dir = (dir_ / "mu_mm").string();
  EXPECT_THROW(simulate_dataset(o), Error);
}

TEST_F(Simulation, AnSuvImageIsConvertedToBqPerMlWithTheWeightAndDose) {
  SimulationOptions o = tiny("suv");
  const Phantom p = generate_phantom(o.phantom, 5);
  fs::create_directories(dir_);
  Volume suv = with_geometry_of(p.activity, p.activity.data / 4000.0f);
  suv.units = Units::SUV;
  const std::string input = (dir_ / "suv.nii.gz").string();
  io::write_image(suv, input);
  o.from_images = {input};
  o.out_dir = (dir_ / "no_dose").string();
  EXPECT_THROW(simulate_dataset(o), Error);  // SUV without weight and dose
  o.out_dir = (dir_ / "suv").string();
  o.weight_kg = 80;
  o.dose_at_scan_bq = 3.2e8;  // 4000 Bq/ml per SUV
  const io::Dataset ds = simulate_dataset(o);
  const Volume activity = io::read_image(ds.resolve(ds.subjects[0].images.at("activity")));
  EXPECT_EQ(activity.units, Units::BqPerMl);
  EXPECT_TRUE(torch::allclose(activity.data, p.activity.data, 1e-4, 1e-2));
}

TEST(SimulationOptions, InvalidOptionsAreRejected) {
  SimulationOptions o;
  o.out_dir = "x";
  o.validate();
  o.drfs = {2, 0.5};
  EXPECT_THROW(o.validate(), Error);
  o = SimulationOptions{};
  o.out_dir = "x";
  o.split = {0.5, 0.5, 0.5};
  EXPECT_THROW(o.validate(), Error);
  o = SimulationOptions{};
  o.out_dir = "x";
  o.mumap = "mu.nii.gz";
  EXPECT_THROW(o.validate(), Error);
  o = SimulationOptions{};
  EXPECT_THROW(o.validate(), Error);  // no output folder
}

TEST_F(Simulation, EveryLesionOfTheFineGridKeepsALabelOnTheOutputGrid) {
  SimulationOptions o = tiny("lesions");
  o.subjects = 3;
  o.phantom.min_lesions = o.phantom.max_lesions = 4;
  o.phantom.min_lesion_mm = 4;  // some smaller than the 14 mm voxels
  o.phantom.max_lesion_mm = 12;
  ASSERT_EQ(o.oversampling, 2);
  const io::Dataset ds = simulate_dataset(o);
  for (const io::DatasetSubject& s : ds.subjects) {
    const Volume labels = io::read_image(ds.resolve(s.images.at("lesions")));
    const Volume truth = io::read_image(ds.resolve(s.images.at("activity")));
    const auto count = static_cast<int64_t>(s.numbers.at("lesions"));
    const torch::Tensor sorted = std::get<0>(labels.data.flatten().sort());
    const torch::Tensor distinct = std::get<0>(torch::unique_consecutive(sorted));
    EXPECT_EQ(distinct.gt(0).sum().item<int64_t>(), count) << s.id;
    EXPECT_DOUBLE_EQ(s.numbers.at("oversampling"), 2.0);
    EXPECT_TRUE(same_geometry(labels, truth));
    // The truth is the fine phantom averaged: partial-volume values between the organs' levels.
    const torch::Tensor values = std::get<0>(truth.data.flatten().sort());
    EXPECT_GT(std::get<0>(torch::unique_consecutive(values)).numel(), 1000);
  }
}

TEST_F(Simulation, ADatasetWrittenBeforeTheRealismOptionsStillReads) {
  // dataset.json as unipet simulate wrote it before oversampling, TOF and estimated corrections
  // (no mumap_ac, no correction keys); images written here as that version wrote them.
  const fs::path root = dir_ / "old";
  fs::create_directories(root / "sim0000");
  Volume v;
  v.data = torch::full({4, 8, 8}, 1000.0f);
  v.spacing = {4, 4, 4};
  v.units = Units::BqPerMl;
  for (const char* name : {"activity", "full", "drf_4"}) io::write_image(v, (root / "sim0000" / (std::string(name) + ".nii.gz")).string());
  Volume mu = with_geometry_of(v, torch::full({4, 8, 8}, 0.096f));
  io::write_image(mu, (root / "sim0000" / "mumap.nii.gz").string());
  {
    std::ofstream json(root / "dataset.json");
    json << R"({"format": "unipet-dataset", "version": 1, "name": "unipet-simulated", "source": "simulated",
      "units": "Bq/ml", "drfs": [4],
      "study": {"seed": 1, "phantom_width": 8, "psf_fwhm_mm": 4.5, "osem_iterations": 3,
                "prompts_per_study": 200000000, "tracer": "FDG",
                "noise_model": "Poisson prompts, binomial thinning p = 1/DRF (nested), OSEM"},
      "subjects": [{"id": "sim0000", "split": "train", "full": "sim0000/full.nii.gz",
                    "low": {"4": "sim0000/drf_4.nii.gz"},
                    "images": {"activity": "sim0000/activity.nii.gz", "mumap": "sim0000/mumap.nii.gz"},
                    "info": {"counts_full": 1.9e8, "suv_per_bqml": 0.0003}}]})";
  }
  const io::Dataset ds = io::read_dataset((root / "dataset.json").string());
  ASSERT_EQ(ds.subjects.size(), 1u);
  EXPECT_EQ(ds.subjects[0].numbers.count("oversampling"), 0u);
  EXPECT_EQ(io::subject_suv_factor(ds, ds.subjects[0]), 0.0003);
  EXPECT_TRUE(torch::equal(io::read_image(ds.resolve(ds.subjects[0].low_dose.at(4))).data, v.data));
}

TEST(SimulationMemory, AClinicalSubjectFitsInTheStatedBoundAndASmallOneStaysUnderItsEstimate) {
  // The bound the README states: a clinical whole-body subject (256 x 256 x 320 at 2.7 mm, six
  // DRFs, phantom oversampled 2x, two workers) needs under 18 GB non-TOF and with 400 ps TOF, so
  // simulate accepts it on a 24 GB machine (it refuses above 80%, 19.2 GB).
  SimulationOptions o;
  o.out_dir = "unused";
  o.threads = 2;
  o.phantom.width = o.phantom.height = 256;
  o.phantom.slices = 320;
  o.phantom.voxel_mm = o.phantom.slice_mm = 2.7;
  EXPECT_LT(estimate_subject_bytes(o), 18e9);
  o.scanner.tof_fwhm_ps = 400;
  EXPECT_LT(estimate_subject_bytes(o), 18e9);
  // The estimate is an upper bound: the peak resident memory of a small TOF subject, measured
  // from a reset of the kernel's high-water mark, stays under it.
  std::ifstream status_probe("/proc/self/status");
  std::ofstream clear("/proc/self/clear_refs");
  if (!status_probe || !clear) GTEST_SKIP() << "no /proc/self/clear_refs to reset the peak";
  auto read_kb = [](const char* key) {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind(key, 0) == 0) return std::stod(line.substr(std::strlen(key)));
    }
    return -1.0;
  };
  SimulationOptions small;
  small.out_dir = "unused";
  small.phantom.width = small.phantom.height = 48;
  small.phantom.slices = 16;
  small.phantom.voxel_mm = small.phantom.slice_mm = 8.0;
  small.scanner.tof_fwhm_ps = 400;
  small.threads = 1;
  const PhantomOptions fine = oversampled_phantom(small.phantom, 2);
  const Phantom p = generate_phantom(fine, 3);
  const double before = read_kb("VmRSS:");
  clear << "5" << std::flush;  // resets VmHWM to the current RSS
  simulate_subject(p.activity, p.mumap, small, 3, 2);
  const double peak = read_kb("VmHWM:");
  ASSERT_GT(peak, 0);
  EXPECT_LT((peak - before) * 1024.0, estimate_subject_bytes(small));
}

TEST(SubjectOptions, VaryTheScannerPerSubjectWithinTheRangesAndFromTheSeed) {
  SimulationOptions o;
  o.out_dir = "unused";
  EXPECT_EQ(subject_options(o, 5).scanner.prompts, o.scanner.prompts);  // off by default
  o.vary.enabled = true;
  std::set<double> tof;
  double min_prompts = 1e30, max_prompts = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    const SimulationOptions s = subject_options(o, seed);
    EXPECT_EQ(subject_options(o, seed).scanner.psf_fwhm_mm, s.scanner.psf_fwhm_mm);
    EXPECT_GE(s.scanner.psf_fwhm_mm, 3.5);
    EXPECT_LE(s.scanner.psf_fwhm_mm, 6.0);
    EXPECT_GE(s.scanner.prompts, o.scanner.prompts / 4 * (1 - 1e-12));
    EXPECT_LE(s.scanner.prompts, o.scanner.prompts * 4 * (1 + 1e-12));
    min_prompts = std::min(min_prompts, s.scanner.prompts);
    max_prompts = std::max(max_prompts, s.scanner.prompts);
    tof.insert(s.scanner.tof_fwhm_ps);
    EXPECT_GE(s.osem.iterations, 2);
    EXPECT_LE(s.osem.iterations, 4);
    EXPECT_GE(s.osem.post_filter_fwhm_mm, 2.0);
    EXPECT_LE(s.scanner.scatter_fraction, 0.45);
    // The field of view stays within a voxel of the option's.
    EXPECT_NEAR(s.phantom.width * s.phantom.voxel_mm, 512.0, s.phantom.voxel_mm);
    EXPECT_NEAR(s.phantom.slices * s.phantom.slice_mm, 384.0, s.phantom.slice_mm);
    EXPECT_NO_THROW(s.validate());
  }
  EXPECT_EQ(tof, (std::set<double>{0, 214, 400, 600}));
  EXPECT_GT(max_prompts / min_prompts, 8.0);  // the range is used, not a corner of it
  o.vary.psf_mm = {5, 4};
  EXPECT_THROW(o.validate(), Error);
}

TEST_F(Simulation, AVariedDatasetRecordsWhatEachSubjectDrew) {
  SimulationOptions o = tiny("vary");
  o.subjects = 3;
  o.vary.enabled = true;
  const io::Dataset ds = simulate_dataset(o);
  EXPECT_EQ(ds.numbers.at("vary"), 1.0);
  std::set<double> psf;
  for (int64_t i = 0; i < 3; ++i) {
    const io::DatasetSubject& s = ds.subjects[static_cast<size_t>(i)];
    psf.insert(s.numbers.at("psf_fwhm_mm"));
    const Volume full = io::read_image(ds.resolve(s.full_dose));
    EXPECT_EQ(s.numbers.at("matrix"), static_cast<double>(full.data.size(2)));
    EXPECT_NEAR(s.numbers.at("voxel_mm"), full.spacing[0], 1e-5);  // NIfTI stores float32
    EXPECT_GT(s.numbers.at("prompts_per_study"), 2e6 / 4);
    EXPECT_LT(s.numbers.at("prompts_per_study"), 2e6 * 4);
    EXPECT_NEAR(s.numbers.at("counts_full"), s.numbers.at("prompts_per_study"),
                6 * std::sqrt(s.numbers.at("prompts_per_study")));
  }
  EXPECT_EQ(psf.size(), 3u);
}

}  // namespace
}  // namespace unipet::sim
