// Training checkpoints (train/checkpoint.h): a round trip gives back every weight, optimizer
// moment and counter bit for bit, the file is only ever replaced whole, and a damaged or foreign
// file is refused naming it.
#include <gtest/gtest.h>

#include <sys/resource.h>

#include <csignal>
#include <filesystem>
#include <memory>

#include "train/train_test_util.h"
#include "unipet/core/atomic_file.h"
#include "unipet/train/checkpoint.h"
#include "unipet/train/config.h"

namespace unipet::train {
namespace {

namespace fs = std::filesystem;
using test::expect_error;
using test::read_bytes;
using test::TempDir;
using test::write_bytes;

nn::UniPETOptions generator_options(int64_t width = 16) {
  return nn::UniPETOptions().width(width).blocks(2).san_width(16).san_depth(1);
}

// A generator and a critic with their AdamW optimizers, as a GAN run holds them, built from
// `seed`; step() trains both once on seeded data, so moments and step counts are not trivial.
struct GanRun {
  nn::UniPET generator{nullptr};
  nn::Discriminator critic{nullptr};
  std::unique_ptr<torch::optim::AdamW> generator_optimizer, critic_optimizer;

  explicit GanRun(uint64_t seed, int64_t width = 16) {
    torch::manual_seed(seed);
    generator = nn::UniPET(generator_options(width));
    critic = nn::Discriminator(nn::DiscriminatorOptions().ndf(4).n_layers(1));
    generator_optimizer = std::make_unique<torch::optim::AdamW>(
        generator->parameters(), torch::optim::AdamWOptions(1e-3).weight_decay(1e-2));
    critic_optimizer =
        std::make_unique<torch::optim::AdamW>(critic->parameters(), torch::optim::AdamWOptions(2e-3));
  }

  void step(uint64_t data_seed) {
    auto gen = torch::make_generator<torch::CPUGeneratorImpl>(data_seed);
    const auto low = torch::rand({1, 1, 16, 16, 16}, gen), full = torch::rand({1, 1, 16, 16, 16}, gen);
    generator_optimizer->zero_grad();
    (generator->forward(low) - full).pow(2).mean().backward();
    generator_optimizer->step();
    critic_optimizer->zero_grad();
    (critic->forward(full).mean() - critic->forward(low).mean()).backward();
    critic_optimizer->step();
  }

  CheckpointParts parts() const {
    return {generator, critic, generator_optimizer.get(), critic_optimizer.get()};
  }
};

CheckpointState some_state() {
  CheckpointState s;
  s.step = 1234;
  s.best_score = 0.1 + 0.2;  // not a round binary number: the double must survive exactly
  s.best_step = 1000;
  s.config_json = to_json(test::tiny_config(Stage::UniPET));
  return s;
}

// Every parameter and buffer of `a` equals the one of `b` bit for bit.
void expect_same_module(const torch::nn::Module& a, const torch::nn::Module& b) {
  const auto pa = a.named_parameters(), pb = b.named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& item : pa) EXPECT_TRUE(torch::equal(item.value(), pb[item.key()])) << item.key();
  const auto ba = a.named_buffers(), bb = b.named_buffers();
  ASSERT_EQ(ba.size(), bb.size());
  for (const auto& item : ba) EXPECT_TRUE(torch::equal(item.value(), bb[item.key()])) << item.key();
}

// The key of a parameter's state in a LibTorch optimizer.
std::string state_key(const torch::Tensor& parameter) {
  return c10::guts::to_string(parameter.unsafeGetTensorImpl());
}

// AdamW's state of every parameter (step, both moments) and its options, equal bit for bit.
void expect_same_adamw(const torch::optim::AdamW& a, const torch::optim::AdamW& b) {
  ASSERT_EQ(a.param_groups().size(), b.param_groups().size());
  size_t with_state = 0;
  for (size_t g = 0; g < a.param_groups().size(); ++g) {
    const auto& ga = a.param_groups()[g];
    const auto& gb = b.param_groups()[g];
    const auto& oa = static_cast<const torch::optim::AdamWOptions&>(ga.options());
    const auto& ob = static_cast<const torch::optim::AdamWOptions&>(gb.options());
    EXPECT_EQ(oa.lr(), ob.lr());
    EXPECT_EQ(oa.weight_decay(), ob.weight_decay());
    ASSERT_EQ(ga.params().size(), gb.params().size());
    for (size_t i = 0; i < ga.params().size(); ++i) {
      const auto sa = a.state().find(state_key(ga.params()[i]));
      const auto sb = b.state().find(state_key(gb.params()[i]));
      ASSERT_EQ(sa == a.state().end(), sb == b.state().end()) << "parameter " << i;
      if (sa == a.state().end()) continue;
      ++with_state;
      const auto& xa = static_cast<const torch::optim::AdamWParamState&>(*sa->second);
      const auto& xb = static_cast<const torch::optim::AdamWParamState&>(*sb->second);
      EXPECT_EQ(xa.step(), xb.step()) << "parameter " << i;
      EXPECT_TRUE(torch::equal(xa.exp_avg(), xb.exp_avg())) << "parameter " << i;
      EXPECT_TRUE(torch::equal(xa.exp_avg_sq(), xb.exp_avg_sq())) << "parameter " << i;
    }
  }
  EXPECT_GT(with_state, 0u);
}

// Files in `dir` whose name is a staging folder's or file's (a temporary left behind).
std::vector<std::string> leftovers(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir))
    if (is_staging_name(entry.path().filename().string()) || entry.path().filename().string()[0] == '.')
      names.push_back(entry.path().filename().string());
  return names;
}

// Caps the size of any file this process writes (RLIMIT_FSIZE) until destroyed, with SIGXFSZ
// ignored so a write past it fails with EFBIG as on a full disk instead of killing the process.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    saved_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit capped = saved_;
    capped.rlim_cur = bytes;
    ok_ = ::setrlimit(RLIMIT_FSIZE, &capped) == 0;
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, saved_handler_);
  }
  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  void (*saved_handler_)(int) = nullptr;
  bool ok_ = false;
};

TEST(Checkpoint, ARoundTripGivesBackWeightsOptimizersAndStateBitForBit) {
  TempDir dir;
  GanRun trained(1);
  trained.step(10);
  trained.step(11);
  const CheckpointState state = some_state();
  const std::string path = dir / "checkpoint_latest.pt";
  save_checkpoint(path, trained.parts(), state);

  GanRun fresh(2);  // other weights, no optimizer state yet
  ASSERT_FALSE(torch::equal(fresh.generator->parameters()[0], trained.generator->parameters()[0]));
  const CheckpointState loaded = load_checkpoint(path, fresh.parts(), torch::kCPU);
  EXPECT_EQ(loaded.step, 1234);
  EXPECT_EQ(loaded.best_score, 0.1 + 0.2);
  EXPECT_EQ(loaded.best_step, 1000);
  EXPECT_EQ(loaded.config_json, state.config_json);
  EXPECT_EQ(checkpoint_config(path), state.config_json);
  expect_same_module(*fresh.generator, *trained.generator);
  expect_same_module(*fresh.critic, *trained.critic);
  expect_same_adamw(*fresh.generator_optimizer, *trained.generator_optimizer);
  expect_same_adamw(*fresh.critic_optimizer, *trained.critic_optimizer);
}

TEST(Checkpoint, ALoadedRunContinuesExactlyAsTheRunThatWasSaved) {
  TempDir dir;
  GanRun original(1);
  original.step(10);
  save_checkpoint(dir / "c.pt", original.parts(), some_state());
  GanRun resumed(2);
  load_checkpoint(dir / "c.pt", resumed.parts(), torch::kCPU);
  // AdamW's bias correction depends on the step count and its update on both moments: a lost
  // counter or moment would make the next step differ.
  original.step(11);
  resumed.step(11);
  expect_same_module(*resumed.generator, *original.generator);
  expect_same_module(*resumed.critic, *original.critic);
}

TEST(Checkpoint, TheDefaultStateAndAGeneratorAloneRoundTrip) {
  TempDir dir;
  GanRun trained(1);
  CheckpointParts bdn;  // a BDN run: no critic, no optimizers
  bdn.generator = trained.generator;
  save_checkpoint(dir / "bdn.pt", bdn, CheckpointState());
  GanRun fresh(2);
  CheckpointParts into;
  into.generator = fresh.generator;
  const CheckpointState loaded = load_checkpoint(dir / "bdn.pt", into, torch::kCPU);
  EXPECT_EQ(loaded.step, 0);
  EXPECT_EQ(loaded.best_score, -std::numeric_limits<double>::infinity());
  EXPECT_EQ(loaded.best_step, -1);
  EXPECT_EQ(loaded.config_json, "");
  expect_same_module(*fresh.generator, *trained.generator);
  // A part the caller wants but the file lacks is an error naming the file and the part.
  expect_error([&] { load_checkpoint(dir / "bdn.pt", fresh.parts(), torch::kCPU); },
               {dir / "bdn.pt", "the checkpoint holds no critic"});
}

TEST(Checkpoint, BytesRoundTripAndNameTheirSourceInErrors) {
  GanRun trained(1);
  trained.step(10);
  const std::string bytes = checkpoint_bytes(trained.parts(), some_state());
  GanRun fresh(2);
  EXPECT_EQ(load_checkpoint_bytes(bytes, "rank 0's training state", fresh.parts(), torch::kCPU).step, 1234);
  expect_same_module(*fresh.generator, *trained.generator);
  expect_same_adamw(*fresh.critic_optimizer, *trained.critic_optimizer);
  expect_error(
      [&] {
        load_checkpoint_bytes(bytes.substr(0, bytes.size() / 2), "rank 0's training state", fresh.parts(),
                              torch::kCPU);
      },
      {"rank 0's training state: not a readable checkpoint"});
  expect_error([&] { checkpoint_bytes(CheckpointParts(), some_state()); }, {"a generator is required"});
}

// Saves `run` as step 1 at `path`, trains it one more step and returns the (unsaved) state of
// step 2: a checkpoint on disk and a newer one to write over it.
CheckpointState save_step_one_then_train(const std::string& path, GanRun& run) {
  run.step(10);
  CheckpointState first = some_state();
  first.step = 1;
  save_checkpoint(path, run.parts(), first);
  run.step(11);
  CheckpointState second = some_state();
  second.step = 2;
  return second;
}

TEST(Checkpoint, SavingReplacesAnExistingCheckpointWholeAndLeavesNoTemporaryFile) {
  TempDir dir;
  const std::string path = dir / "checkpoint_latest.pt";
  GanRun run(1);
  const CheckpointState second = save_step_one_then_train(path, run);
  save_checkpoint(path, run.parts(), second);
  EXPECT_EQ(read_bytes(path), checkpoint_bytes(run.parts(), second));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()), 1);
  EXPECT_TRUE(leftovers(dir.path()).empty());
  // A folder where the checkpoint should go is never replaced.
  fs::create_directory(dir / "folder.pt");
  expect_error([&] { save_checkpoint(dir / "folder.pt", run.parts(), second); }, {dir / "folder.pt"});
  EXPECT_TRUE(fs::is_directory(dir / "folder.pt"));
  EXPECT_TRUE(fs::is_empty(dir / "folder.pt"));
}

TEST(Checkpoint, AWriteThatFailsHalfwayLeavesThePreviousCheckpointWhole) {
  TempDir dir;
  const std::string path = dir / "checkpoint_latest.pt";
  GanRun run(1);
  const CheckpointState second = save_step_one_then_train(path, run);
  const std::string before = read_bytes(path);
  {
    // As a disk that fills up: no file of this process may grow past half a checkpoint.
    FileSizeLimit limit(before.size() / 2);
    ASSERT_TRUE(limit.ok());
    expect_error([&] { save_checkpoint(path, run.parts(), second); },
                 {path + ": write failed after " + std::to_string(before.size() / 2) + " of "});
  }
  EXPECT_EQ(read_bytes(path), before);
  EXPECT_TRUE(leftovers(dir.path()).empty());
  GanRun fresh(2);
  EXPECT_EQ(load_checkpoint(path, fresh.parts(), torch::kCPU).step, 1);
}

TEST(Checkpoint, DamagedMissingAndForeignFilesAreRefusedNamingTheFile) {
  TempDir dir;
  GanRun run(1);
  run.step(10);
  const std::string bytes = checkpoint_bytes(run.parts(), some_state());
  GanRun fresh(2);
  const auto refused = [&](const std::string& path, const std::string& why) {
    expect_error([&] { load_checkpoint(path, fresh.parts(), torch::kCPU); }, {path + ": " + why});
    expect_error([&] { checkpoint_config(path); }, {path + ": " + why});
  };
  write_bytes(dir / "truncated.pt", bytes.substr(0, bytes.size() / 2));
  refused(dir / "truncated.pt", "not a readable checkpoint");
  write_bytes(dir / "tail.pt", bytes.substr(0, bytes.size() - 10));
  refused(dir / "tail.pt", "not a readable checkpoint");
  write_bytes(dir / "empty.pt", "");
  refused(dir / "empty.pt", "not a readable checkpoint");
  write_bytes(dir / "text.pt", "this is not a checkpoint\n");
  refused(dir / "text.pt", "not a readable checkpoint");
  refused(dir / "missing.pt", "no such checkpoint file");
  fs::create_directory(dir / "folder.pt");
  refused(dir / "folder.pt", "no such checkpoint file");

  // LibTorch archives that are not ours, or of another version.
  const auto save_archive = [&](const std::string& path, const std::string& format, int64_t version) {
    torch::serialize::OutputArchive archive;
    if (!format.empty()) archive.write("format", c10::IValue(format));
    archive.write("version", c10::IValue(version));
    archive.save_to(path);
  };
  save_archive(dir / "foreign.pt", "", 1);
  refused(dir / "foreign.pt", "not a unipet checkpoint");
  save_archive(dir / "other.pt", "someone-else", 1);
  refused(dir / "other.pt", "not a unipet checkpoint");
  save_archive(dir / "future.pt", "unipet-checkpoint", 2);
  refused(dir / "future.pt", "checkpoint version not supported by this unipet (expected 1)");
}

TEST(Checkpoint, AnOptimizerOverOtherParametersIsRefusedNamingTheFileAndThePart) {
  TempDir dir;
  GanRun run(1);
  run.step(10);
  save_checkpoint(dir / "c.pt", run.parts(), some_state());
  GanRun fewer(2);  // an optimizer over one parameter less (as a BDN run leaves the SAN out)
  auto params = fewer.generator->parameters();
  params.pop_back();
  fewer.generator_optimizer = std::make_unique<torch::optim::AdamW>(params, torch::optim::AdamWOptions(1e-3));
  expect_error([&] { load_checkpoint(dir / "c.pt", fewer.parts(), torch::kCPU); },
               {(dir / "c.pt") + ": generator_optimizer does not fit this configuration"});
}

TEST(Checkpoint, ANetworkOfAnotherWidthIsRefusedBeforeAnyWeightChanges) {
  // LibTorch's Module::load would replace each tensor with the file's, of another shape, and the
  // first forward would fail with an unrelated message.
  TempDir dir;
  GanRun narrow(1, 16);
  save_checkpoint(dir / "c.pt", narrow.parts(), some_state());
  GanRun wide(2, 24);
  const torch::Tensor before = wide.generator->parameters().front().clone();
  expect_error([&] { load_checkpoint(dir / "c.pt", wide.parts(), torch::kCPU); },
               {(dir / "c.pt") + ": generator.", "is [16", "in the file but [24", "in this configuration"});
  EXPECT_TRUE(torch::equal(wide.generator->parameters().front(), before));
  EXPECT_EQ(wide.generator->parameters().front().size(0), 24);
}

TEST(Checkpoint, OnlyPtFilesAreCheckpointPaths) {
  EXPECT_TRUE(is_checkpoint_path("run/checkpoint_latest.pt"));
  EXPECT_TRUE(is_checkpoint_path("a.pt"));
  EXPECT_FALSE(is_checkpoint_path(".pt"));
  EXPECT_FALSE(is_checkpoint_path("model.safetensors"));
  EXPECT_FALSE(is_checkpoint_path("model.pth"));
  EXPECT_FALSE(is_checkpoint_path("run/checkpoint.pt/model.safetensors"));
}

}  // namespace
}  // namespace unipet::train
