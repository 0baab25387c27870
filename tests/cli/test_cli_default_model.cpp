// `unipet denoise` without --model: the shipped model, found beside the executable, or the file
// UNIPET_DEFAULT_MODEL names.
#include <gtest/gtest.h>

#include <filesystem>

#include "test_util.h"
#include "unipet/core/volume.h"
#include "unipet/infer/model_calibration.h"
#include "unipet/io/image_io.h"
#include "unipet/nn/model_file.h"

namespace unipet {
namespace {

namespace fs = std::filesystem;
using unipet::test::q;
using unipet::test::run_command;

const std::string kModel = std::string(UNIPET_TEST_DATA_DIR) + "/../../results/cpu-profile/unipet/model_final.safetensors";
const fs::path kShipped = fs::path(UNIPET_TEST_DATA_DIR) / ".." / ".." / "models" / "unipet-default.safetensors";

// A small SUV volume to denoise.
void write_input(const fs::path& path) {
  Volume v;
  v.data = 1.0 + 0.2 * torch::rand({20, 24, 24}, torch::TensorOptions().dtype(torch::kFloat32)
                                                      .device(torch::kCPU));
  v.spacing = {4, 4, 4};
  v.units = Units::SUV;
  io::write_image(v, path.string());
}

std::string cli(const std::string& environment, const std::string& args) {
  return environment + " '" + UNIPET_CLI_PATH + "' " + args;
}

TEST(CliDefaultModel, UnipetDefaultModelNamesTheModelDenoiseUsesWithoutModel) {
  test::TempDir dir;
  torch::manual_seed(3);
  write_input(dir.path() / "in.nii.gz");
  const std::string in = q((dir.path() / "in.nii.gz").string());
  auto named = run_command(cli("", "denoise -i " + in + " -o " + q((dir.path() / "a.nii.gz").string()) + " -m " + q(kModel)));
  ASSERT_EQ(named.status, 0) << named.output;
  auto found = run_command(cli("UNIPET_DEFAULT_MODEL=" + q(kModel), "denoise -i " + in + " -o " + q((dir.path() / "b.nii.gz").string())));
  ASSERT_EQ(found.status, 0) << found.output;
  EXPECT_NE(found.output.find("the default model " + kModel), std::string::npos) << found.output;
  EXPECT_TRUE(io::read_image((dir.path() / "a.nii.gz").string()).data.equal(io::read_image((dir.path() / "b.nii.gz").string()).data));
}

TEST(CliDefaultModel, AMissingDefaultModelIsOneLineNamingIt) {
  test::TempDir dir;
  write_input(dir.path() / "in.nii.gz");
  const std::string missing = (dir.path() / "none.safetensors").string();
  auto r = run_command(cli("UNIPET_DEFAULT_MODEL=" + q(missing),
                           "denoise -i " + q((dir.path() / "in.nii.gz").string()) + " -o " + q((dir.path() / "out.nii.gz").string())));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(test::error_line(r).find("UNIPET_DEFAULT_MODEL=" + missing + ": no such model file"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.path() / "out.nii.gz"));
}

TEST(CliDefaultModel, TheShippedModelIsBesideTheExecutableAndSaysHowItWasMade) {
  ASSERT_TRUE(fs::is_regular_file(kShipped)) << kShipped;
  // CMake copies it into the build folder, where the binary looks first.
  const fs::path beside = fs::path(UNIPET_CLI_PATH).parent_path() / "models" / "unipet-default.safetensors";
  ASSERT_TRUE(fs::is_regular_file(beside)) << beside;
  EXPECT_EQ(fs::file_size(beside), fs::file_size(kShipped));
  const auto loaded = nn::load_unipet(kShipped.string());
  for (const std::string key : {"unipet.train.command", "unipet.train.dataset_seed", "unipet.git_commit",
                                "unipet.train.config", "unipet.train.stage"}) {
    ASSERT_TRUE(loaded.metadata.count(key)) << key;
    EXPECT_FALSE(loaded.metadata.at(key).empty()) << key;
  }
  EXPECT_EQ(loaded.metadata.at("unipet.git_commit").find("dirty"), std::string::npos);
  // Calibrated (models/README.md): denoise blends it with its input by the scan's noise level, which
  // is what keeps it from making a clean scan worse; the stage is whichever run measured best.
  const auto calibration = infer::ModelCalibration::from_metadata(loaded.metadata, kShipped.string());
  EXPECT_TRUE(calibration.estimator.has_value());
  ASSERT_TRUE(calibration.blend.has_value());
  EXPECT_FALSE(calibration.blend->knots.empty());
  EXPECT_FALSE(calibration.trained_drfs.empty());
  EXPECT_LT(fs::file_size(kShipped), 20u << 20) << "a few MB at most";
}

}  // namespace
}  // namespace unipet
