#include "eval/prediction_cache.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "test_util.h"
#include "unipet/core/error.h"
#include "unipet/core/sha256.h"
#include "unipet/infer/model_calibration.h"
#include "unipet/io/safetensors.h"

namespace unipet::eval::detail {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

TEST(PredictionCache, PathComponentsAreSafeFileNamesThatKeepIdsApart) {
  EXPECT_EQ(path_component("sim0001"), "sim0001");
  EXPECT_EQ(path_component("Net-2.v1_a"), "Net-2.v1_a");
  for (const std::string id : {"..", ".", "", "/etc", "a/../../b", "a\\b", "C:x", ".hidden", "a b"}) {
    SCOPED_TRACE(id);
    const std::string c = path_component(id);
    EXPECT_NE(c, "..");
    EXPECT_NE(c.front(), '.');
    EXPECT_EQ(c.find('/'), std::string::npos);
    EXPECT_EQ(c.find('\\'), std::string::npos);
    EXPECT_FALSE(fs::path(c).is_absolute());
    EXPECT_EQ(fs::path(c).filename().string(), c);
  }
  // Ids that differ only in the replaced characters stay apart.
  EXPECT_NE(path_component("a/b"), path_component("a_b"));
  EXPECT_NE(path_component("a/b"), path_component("a b"));
}

TEST(PredictionCache, TheKeyIsMethodSubjectAndDrfNeverADatasetPath) {
  EXPECT_EQ(prediction_cache_key("Net", "s1", 4).generic_string(), "Net/s1/drf_4.nii.gz");
  EXPECT_EQ(prediction_cache_key("Net", "s1", 2.5).generic_string(), "Net/s1/drf_2.5.nii.gz");
  EXPECT_EQ(prediction_file_key("s1", 20).generic_string(), "s1/drf_20.nii.gz");
  const fs::path escaping = prediction_cache_key("Net", "../../etc", 4);
  EXPECT_EQ(std::distance(escaping.begin(), escaping.end()), 3);
  for (const auto& part : escaping) EXPECT_NE(part.string(), "..");
}

TEST(PredictionCache, ConfinedPathsStayUnderTheRootEvenThroughSymbolicLinks) {
  TempDir dir;
  const fs::path root = dir.path() / "report";
  EXPECT_EQ(confined_path(root, "predictions/A/s1/drf_4.nii.gz", "f"),
            root / "predictions/A/s1/drf_4.nii.gz");
  EXPECT_THROW(confined_path(root, "../outside.nii.gz", "f"), Error);
  EXPECT_THROW(confined_path(root, "a/../../outside.nii.gz", "f"), Error);
  EXPECT_THROW(confined_path(root, "/etc/passwd", "f"), Error);
  EXPECT_THROW(confined_path(root, ".", "f"), Error);
  fs::create_directories(root);
  fs::create_directories(dir.path() / "elsewhere");
  fs::create_directory_symlink(dir.path() / "elsewhere", root / "link");
  try {
    confined_path(root, "link/drf_4.nii.gz", "--method A: the prediction");
    FAIL() << "a path through a link out of the root was accepted";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind("--method A: the prediction: ", 0), 0u) << message;
    EXPECT_NE(message.find("outside " + root.string()), std::string::npos) << message;
  }
}

TEST(PredictionCache, TheStampHoldsTheNetworksSha256AndTheTileSettingsButNotTheCalibration) {
  TempDir dir;
  const std::string a = (dir.path() / "a.safetensors").string(), b = (dir.path() / "b.safetensors").string(),
                    recalibrated = (dir.path() / "a_recalibrated.safetensors").string(),
                    remapped = (dir.path() / "a_remapped.safetensors").string();
  io::SafetensorsFile model;
  model.tensors["conv.weight"] = torch::arange(6, torch::TensorOptions().dtype(torch::kFloat32)).reshape({2, 3});
  model.metadata = {{"unipet.intensity", "sqrt"}, {infer::kBlendKey, "one blend"}};
  io::write_safetensors(a, model);
  io::SafetensorsFile copy = model;
  copy.metadata[infer::kBlendKey] = "another blend";
  copy.metadata[infer::kDrfEstimatorKey] = "an estimator";
  copy.metadata[infer::kTrainedDrfsKey] = "[4]";
  io::write_safetensors(recalibrated, copy);
  copy = model;
  copy.metadata["unipet.intensity"] = "log";
  io::write_safetensors(remapped, copy);
  copy = model;
  copy.tensors["conv.weight"] = model.tensors.at("conv.weight") + 1;
  io::write_safetensors(b, copy);

  const infer::DenoiseOptions o;
  const std::string stamp = prediction_stamp(a, o);
  EXPECT_NE(stamp.find("network sha256 " + network_sha256(a)), std::string::npos) << stamp;
  EXPECT_EQ(network_sha256(a).size(), 64u);
  EXPECT_NE(sha256_file(a), sha256_file(recalibrated));
  EXPECT_EQ(stamp, prediction_stamp(recalibrated, o));  // the same network, calibrated otherwise
  EXPECT_NE(stamp, prediction_stamp(remapped, o));      // another intensity mapping
  EXPECT_NE(stamp, prediction_stamp(b, o));             // other weights
  infer::DenoiseOptions other = o;
  other.window.overlap = 0.5;
  EXPECT_NE(stamp, prediction_stamp(a, other));
  EXPECT_THROW(prediction_stamp((dir.path() / "none.safetensors").string(), o), Error);
  test::write_bytes((dir.path() / "junk.safetensors").string(), "model one");
  EXPECT_THROW(prediction_stamp((dir.path() / "junk.safetensors").string(), o), Error);
}

TEST(PredictionCache, TheLedgerTrustsOnlyFilesOfItsStampAndInput) {
  TempDir dir;
  const fs::path folder = dir.path() / "Net", file = folder / "s1/drf_4.nii.gz";
  fs::create_directories(file.parent_path());
  test::write_bytes(file.string(), "prediction");
  {
    PredictionLedger ledger(folder, "stamp A");
    EXPECT_FALSE(ledger.has(file, "low.nii.gz"));
    ledger.add(file, "low.nii.gz");
    EXPECT_TRUE(ledger.has(file, "low.nii.gz"));
  }
  EXPECT_TRUE(PredictionLedger(folder, "stamp A").has(file, "low.nii.gz"));
  EXPECT_FALSE(PredictionLedger(folder, "stamp A").has(file, "other_low.nii.gz"));
  EXPECT_FALSE(PredictionLedger(folder, "stamp B").has(file, "low.nii.gz"));
  // A ledger of the older layout (a list of files) is not trusted.
  test::write_bytes((folder / ".unipet-cache.json").string(),
                    R"({"stamp": "stamp A", "files": ["s1/drf_4.nii.gz"]})");
  EXPECT_FALSE(PredictionLedger(folder, "stamp A").has(file, "low.nii.gz"));
}

}  // namespace
}  // namespace unipet::eval::detail
