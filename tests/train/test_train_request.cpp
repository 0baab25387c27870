// The rules `unipet train` runs by, at the library: resume and init, the configuration, the
// compute options and the workers' command line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test_util.h"
#include "unipet/train/train_request.h"

namespace unipet::train {
namespace {

namespace fs = std::filesystem;

TrainRequest new_bdn_request(const test::TempDir& dir) {
  TrainRequest r;
  r.dataset = dir / "dataset.json";
  r.out = dir / "run";
  r.stage = "bdn";
  r.config = "cpu";
  r.compute.device = "cpu";
  r.argv = {"/somewhere/unipet", "train", "--stage", "bdn", "--out", "a run"};
  return r;
}

TEST(TrainRequest, ANewRunTakesItsPresetSettingsAndAbsoluteInitPaths) {
  test::TempDir dir;
  TrainRequest r = new_bdn_request(dir);
  r.settings = {"iterations=77"};
  r.init = "relative/model.safetensors";
  r.compute.precision = "bf16";
  const TrainOptions o = resolve_train_request(r);
  EXPECT_EQ(o.config.stage, Stage::BDN);
  EXPECT_EQ(o.config.iterations, 77);
  EXPECT_EQ(o.config.drfs, load_train_config("cpu").drfs);
  EXPECT_TRUE(fs::path(o.config.init).is_absolute());
  EXPECT_EQ(fs::path(o.config.init).filename(), "model.safetensors");
  EXPECT_TRUE(o.bf16);
  EXPECT_TRUE(o.device.is_cpu());
  EXPECT_EQ(o.command, "unipet train --stage bdn --out 'a run'");
  EXPECT_FALSE(fs::exists(r.out)) << "resolving writes nothing";
}

TEST(TrainRequest, RefusesWhatWouldBeAmbiguousOrUnusableNamingTheOption) {
  test::TempDir dir;
  TrainRequest r = new_bdn_request(dir);
  r.stage.reset();
  test::expect_error([&] { resolve_train_request(r); }, {"--stage is required"});
  r = new_bdn_request(dir);
  r.drfs = {4};
  r.settings = {"drfs=[20]"};
  test::expect_error([&] { resolve_train_request(r); }, {"--drf", "drfs=[20]"});
  r = new_bdn_request(dir);
  r.compute.precision = "fp16";
  test::expect_error([&] { resolve_train_request(r); }, {"--precision", "fp16"});
  r = new_bdn_request(dir);
  r.compute.threads = -2;
  test::expect_error([&] { resolve_train_request(r); }, {"--threads"});
  r = new_bdn_request(dir);
  r.resume = true;
  r.config.reset();
  test::expect_error([&] { resolve_train_request(r); }, {"--continue", "no config.json"});
}

TEST(TrainRequest, AContinuedRunKeepsItsSavedConfigurationAndStartingPoint) {
  test::TempDir dir;
  TrainConfig saved = load_train_config("cpu");
  saved.stage = Stage::UniPET;
  saved.iterations = 40;
  fs::create_directories(dir.path() / "run");
  std::ofstream(dir / "run/config.json") << to_json(saved);

  TrainRequest r = new_bdn_request(dir);
  r.resume = true;
  r.stage.reset();
  r.config.reset();
  r.settings = {"iterations=90"};
  const TrainOptions o = resolve_train_request(r);
  EXPECT_TRUE(o.resume);
  EXPECT_EQ(o.config.stage, Stage::UniPET);
  EXPECT_EQ(o.config.iterations, 90);
  EXPECT_EQ(o.config.width, saved.width);

  TrainRequest bad = r;
  bad.config = "paper";
  test::expect_error([&] { resolve_train_request(bad); }, {"--config", "saved configuration"});
  bad = r;
  bad.init = "other.safetensors";
  test::expect_error([&] { resolve_train_request(bad); }, {"--init", "continued run"});
  bad = r;
  bad.stage = "bdn";
  test::expect_error([&] { resolve_train_request(bad); }, {"--stage bdn", "unipet run"});
}

TEST(TrainRequest, WorkersRunThisExecutableWithoutTheNprocOption) {
  const auto command = worker_command({"unipet", "train", "--nproc", "2", "--out", "r", "--nproc=3", "-c"});
  ASSERT_EQ(command.size(), 5u);
  EXPECT_EQ(command[0], fs::read_symlink("/proc/self/exe").string());
  EXPECT_EQ(std::vector<std::string>(command.begin() + 1, command.end()),
            (std::vector<std::string>{"train", "--out", "r", "-c"}));
}

}  // namespace
}  // namespace unipet::train
