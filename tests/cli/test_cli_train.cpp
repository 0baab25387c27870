#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "test_util.h"
#include "train/train_test_util.h"
#include "unipet/core/build_info.h"
#include "unipet/io/dataset.h"
#include "unipet/nn/model_file.h"
#include "unipet/train/config.h"

namespace unipet {
namespace {

namespace fs = std::filesystem;
using test::q;
using test::unipet_cli;

class CliTrain : public test::TinyDatasetSuite {
 protected:
  // Options that make a tiny network train in a second.
  static std::string tiny() {
    return " --threads 1 --set width=16 --set blocks=2 --set san_width=16 --set san_depth=1 --set "
           "critic_ndf=4"
           " --set critic_layers=1 --set patch=16 --set log_every=2 --set validate_every=4 --set val_crop=16"
           " --set val_crops=1 --set checkpoint_every=2";
  }
  std::string run(const std::string& name) const { return (tmp_.path() / name).string(); }

  const std::string& dataset_ = dataset_path();
  test::TempDir tmp_;
};

// A run that fails on bad data before its first step leaves no config.json or log.jsonl behind,
// so the rerun on corrected data is not refused as "folder not empty" (a new folder is removed,
// an empty one the user made stays empty).
TEST_F(CliTrain, ARunThatFailsBeforeItsFirstStepLeavesNothingThatBlocksTheRerun) {
  const fs::path data = tmp_.path() / "data";
  fs::copy(fs::path(dataset_).parent_path(), data, fs::copy_options::recursive);
  const io::Dataset ds = io::read_dataset((data / "dataset.json").string());
  const fs::path broken = data / ds.subjects[0].full_dose;
  const std::string bytes = test::read_bytes(broken.string());
  test::write_bytes(broken.string(), bytes.substr(0, 100));
  const std::string args = "train --dataset " + q(data / "dataset.json") + " --stage bdn" + tiny() +
                           " --set iterations=2 --set validate_every=0 --out ";
  auto r = unipet_cli(args + q(run("new")));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_FALSE(fs::exists(run("new"))) << r.output;
  fs::create_directories(run("mine"));
  r = unipet_cli(args + q(run("mine")));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_TRUE(fs::is_empty(run("mine")));
  test::write_bytes(broken.string(), bytes);
  r = unipet_cli(args + q(run("mine")));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::exists(fs::path(run("mine")) / "model_final.safetensors"));
}

TEST_F(CliTrain, TrainsEveryStageAndContinuesARun) {
  const std::string bdn = run("bdn");
  auto r = unipet_cli("train --dataset " + q(dataset_) + " --out " + q(bdn) + " --stage bdn --config cpu" +
                      tiny() + " --set iterations=4");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("trained bdn for 4 steps"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("step 4 validation: PSNR"), std::string::npos) << r.output;
  for (const char* file : {"config.json", "log.jsonl", "checkpoint_latest.pt", "checkpoint_best.pt",
                           "model_final.safetensors", "model_best.safetensors"})
    EXPECT_TRUE(fs::exists(bdn + "/" + file)) << file;
  // The saved configuration is the resolved one: preset, then every --set.
  const train::TrainConfig saved = train::load_train_config(bdn + "/config.json");
  EXPECT_EQ(saved.width, 16);
  EXPECT_EQ(saved.iterations, 4);
  EXPECT_EQ(saved.lr, train::load_train_config("cpu").lr);

  r = unipet_cli("train --dataset " + q(dataset_) + " --out " + q(bdn) + " --continue --set iterations=6");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("trained bdn for 6 steps"), std::string::npos) << r.output;
  r = unipet_cli("info " + q(bdn + "/model_final.safetensors"));
  EXPECT_NE(r.output.find("trained:     stage bdn, 6 steps"), std::string::npos) << r.output;
  // The model file says how it was made: the command (this invocation's), the data and the code.
  EXPECT_NE(r.output.find("command:     unipet train --dataset " + dataset_ + " --out " + bdn + " --continue --set iterations=6"),
            std::string::npos)
      << r.output;
  const auto loaded = nn::load_unipet(bdn + "/model_final.safetensors");
  EXPECT_EQ(loaded.metadata.at("unipet.train.dataset"), fs::absolute(dataset_).lexically_normal().string());
  const io::Dataset data = io::read_dataset(dataset_);
  EXPECT_EQ(loaded.metadata.at("unipet.train.dataset_name"), data.name);
  EXPECT_EQ(loaded.metadata.at("unipet.train.dataset_seed"), std::to_string(static_cast<int64_t>(data.numbers.at("seed"))));
  EXPECT_EQ(loaded.metadata.at("unipet.git_commit"), git_commit());
  EXPECT_EQ(loaded.metadata.at("unipet.version"), version());

  const std::string disc = run("disc"), uni = run("unipet");
  r = unipet_cli("train --dataset " + q(dataset_) + " --out " + q(disc) + " --stage disc" + tiny() +
                 " --set iterations=2 --init " + q(bdn + "/model_final.safetensors"));
  ASSERT_EQ(r.status, 0) << r.output;
  r = unipet_cli("train --dataset " + q(dataset_) + " --out " + q(uni) + " --stage unipet --precision bf16" +
                 tiny() + " --set iterations=2 --init " + q(bdn + "/model_final.safetensors") +
                 " --init-critic " + q(disc + "/critic_final.safetensors"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::exists(uni + "/critic_final.safetensors"));
}

TEST_F(CliTrain, SigtermWritesACheckpointAndExitsZero) {
  const std::string out = run("long");
  // Started in the background, stopped once it has logged a step.
  const auto r = test::run_command(
      "'" + std::string(UNIPET_CLI_PATH) + "' train --dataset " + q(dataset_) + " --out " + q(out) +
      " --stage bdn" + tiny() + " --set iterations=1000000 --set log_every=1 --set validate_every=0 > " +
      q(out + ".txt") + " 2>&1 & pid=$!; for i in $(seq 1 600); do [ -s " + q(out + "/log.jsonl") +
      " ] && break; sleep 0.05; done; kill -TERM $pid; wait $pid; echo \"exit $?\"; cat " + q(out + ".txt"));
  EXPECT_NE(r.output.find("exit 0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("interrupted at step"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--continue"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(out + "/checkpoint_latest.pt"));
  EXPECT_FALSE(fs::exists(out + "/model_final.safetensors"));
}

TEST_F(CliTrain, AFullDiskIsAnErrorAndLeavesNoHalfCheckpointOrModel) {
  const std::string out = run("full");
  // 16 blocks: the configuration fits, a checkpoint does not.
  const auto r = test::run_command("ulimit -f 16; '" + std::string(UNIPET_CLI_PATH) + "' train --dataset " +
                                   q(dataset_) + " --out " + q(out) + " --stage bdn" + tiny() +
                                   " --set iterations=2 --set validate_every=0");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(test::error_line(r).find("write failed"), std::string::npos) << r.output;
  for (const auto& e : fs::directory_iterator(out)) {
    const std::string name = e.path().filename().string();
    EXPECT_TRUE(name == "config.json" || name == "log.jsonl") << name;  // nothing half-written
  }
}

TEST_F(CliTrain, BadOptionsFailWithOneLineAndWriteNothing) {
  const std::string out = run("never");
  const std::pair<std::string, std::string> cases[] = {
      {"--stage bdn --set widht=3", "unknown key 'widht'"},
      {"--stage bdn --set patch=abc", "--set patch"},
      {"--stage gan", "unknown stage 'gan'"},
      {"", "--stage is required"},
      {"--stage bdn --config nosuch.json", "nosuch.json"},
      {"--stage bdn --drf 7", "no DRF 7"},
      {"--stage bdn --precision fp8", "--precision"},
      {"--stage bdn --threads 100000", "--threads"},
      {"--stage bdn --continue", "--continue"},
      {"--stage disc", "--init"},
  };
  for (const auto& [args, problem] : cases) {
    const auto r = unipet_cli("train --dataset " + q(dataset_) + " --out " + q(out) + " " + args + tiny());
    EXPECT_EQ(r.status, 1) << args << ": " << r.output;
    const std::string line = test::error_line(r);
    EXPECT_NE(line.find(problem), std::string::npos) << args << ": " << r.output;
    EXPECT_FALSE(fs::exists(out)) << args;
  }
}

}  // namespace
}  // namespace unipet
