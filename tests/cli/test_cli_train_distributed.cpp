// `unipet train --nproc 2`: two ranks on 127.0.0.1, started by the CLI's own launcher.
//
// Test hook: UNIPET_TEST_KILL_RANK_AT_STEP=R:S makes rank R kill itself with SIGKILL after its
// S-th step (read by apps/unipet/cmd_train.cpp), the way a failed node or the OOM killer ends one.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "test_util.h"
#include "train/train_test_util.h"
#include "unipet/nn/model_file.h"

namespace unipet {
namespace {

using test::q;
using test::unipet_cli;

// Round-off of float32 sums in a different order (the ranks' mean of two per-rank gradients vs
// one gradient of the joined batch) after a few AdamW steps; a rank's batch missing from the
// update changes the weights by about lr = 1e-3.
constexpr double kRoundOff = 2e-5;

using Named = std::vector<std::pair<std::string, torch::Tensor>>;

Named generator_weights(const std::string& path) {
  Named out;
  for (const auto& p : nn::load_unipet(path).model->named_parameters())
    out.emplace_back(p.key(), p.value().detach());
  return out;
}

// The critic's parameters but the biases of its convolutions that feed an InstanceNorm: the
// norm subtracts them again, so their exact gradient is 0 and what autograd computes is
// round-off, which AdamW (dividing by its running RMS) turns into steps of about ±lr whose sign
// differs between any two summation orders. They cannot change what the critic computes, which
// critic_scores compares.
Named critic_weights(const std::string& path) {
  nn::Discriminator critic = nn::load_discriminator(path);
  std::set<std::string> inert;
  const auto layers = critic->model->children();
  for (size_t i = 0; i + 1 < layers.size(); ++i)
    if (layers[i + 1]->as<torch::nn::InstanceNorm3d>()) inert.insert("model." + std::to_string(i) + ".bias");
  EXPECT_FALSE(inert.empty());
  Named out;
  for (const auto& p : critic->named_parameters())
    if (!inert.count(p.key())) out.emplace_back(p.key(), p.value().detach());
  return out;
}

// The critic's scores of fixed random patches.
torch::Tensor critic_scores(const std::string& path) {
  torch::NoGradGuard no_grad;
  nn::Discriminator critic = nn::load_discriminator(path);
  torch::manual_seed(3);
  return critic->forward(torch::rand({4, 1, 16, 16, 16}));
}

// The largest |a - b| over the parameters, and which parameter holds it.
std::pair<double, std::string> max_difference(const Named& a, const Named& b) {
  EXPECT_EQ(a.size(), b.size());
  std::pair<double, std::string> worst{0.0, ""};
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    const double d = (a[i].second - b[i].second).abs().max().item<double>();
    if (d > worst.first) worst = {d, a[i].first};
  }
  return worst;
}

// "[rank K] rank K weights fingerprint HEX" -> HEX.
std::string fingerprint(const std::string& output, int rank) {
  const std::string key =
      "[rank " + std::to_string(rank) + "] rank " + std::to_string(rank) + " weights fingerprint ";
  const auto at = output.find(key);
  return at == std::string::npos ? "" : output.substr(at + key.size(), 16);
}

// A TCP port nobody listens on now (the kernel's pick), for a rank 0 that hosts the store.
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof a;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &size), 0);
  ::close(fd);
  return ntohs(a.sin_port);
}

double last_validation_psnr(const std::string& run) {
  std::ifstream in(run + "/log.jsonl");
  double psnr = -1;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("validation")) psnr = j["validation"]["psnr_mean"].get<double>();
  }
  return psnr;
}

class CliTrainDistributed : public test::TinyDatasetSuite {
 protected:
  // A network that trains in a fraction of a second per step, one thread per process.
  test::CommandResult train(const std::string& name, const std::string& args) const {
    return unipet_cli("train --dataset " + q(dataset_) + " --out " + q(run(name)) +
                      " --threads 1 --set width=16 --set blocks=2 --set san_width=16 --set san_depth=1"
                      " --set critic_ndf=4 --set critic_layers=1 --set patch=16 --set lr=1e-3"
                      " --set lr_critic=1e-3 --set log_every=1 --set val_crop=16 --set val_crops=2"
                      " --set checkpoint_every=2 " +
                      args);
  }
  std::string run(const std::string& name) const { return (tmp_.path() / name).string(); }

  // Two ranks of batch 1 against one process of batch 2 (and of batch 1, the control).
  void expect_two_ranks_equal_one_process(const std::string& stage) {
    const std::string common = " --stage " + stage + " --set iterations=3 --set validate_every=3";
    auto r = train("two", "--nproc 2 --set batch=1" + common);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("[rank 0] distributed: 2 ranks (gloo), batch 1 per rank; all-reduce: "),
              std::string::npos)
        << r.output;
    EXPECT_NE(r.output.find("[rank 0] trained " + stage + " for 3 steps"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("[rank 1] trained"), std::string::npos) << r.output;  // rank 0 alone reports
    const std::string f0 = fingerprint(r.output, 0);
    EXPECT_EQ(f0.size(), 16u) << r.output;
    EXPECT_EQ(fingerprint(r.output, 1), f0) << r.output;  // both ranks hold the same weights, bit for bit

    r = train("one", "--set batch=2" + common);
    ASSERT_EQ(r.status, 0) << r.output;
    r = train("half", "--set batch=1" + common);
    ASSERT_EQ(r.status, 0) << r.output;
    const auto two = generator_weights(run("two") + "/model_final.safetensors");
    const auto one = max_difference(two, generator_weights(run("one") + "/model_final.safetensors"));
    EXPECT_LT(one.first, kRoundOff) << one.second;
    EXPECT_GT(max_difference(two, generator_weights(run("half") + "/model_final.safetensors")).first,
              50 * kRoundOff);
    if (stage == "unipet") {
      const std::string critic = "/critic_final.safetensors";
      const auto critic_two = critic_weights(run("two") + critic);
      const auto critic_one = max_difference(critic_two, critic_weights(run("one") + critic));
      EXPECT_LT(critic_one.first, kRoundOff) << critic_one.second;
      EXPECT_GT(max_difference(critic_two, critic_weights(run("half") + critic)).first, 50 * kRoundOff);
      const torch::Tensor scores = critic_scores(run("two") + critic);
      EXPECT_LT((scores - critic_scores(run("one") + critic)).abs().max().item<double>(), kRoundOff);
      EXPECT_GT((scores - critic_scores(run("half") + critic)).abs().max().item<double>(), 50 * kRoundOff);
    }
    // Validation split over the ranks (one crop each) scores as one process does.
    EXPECT_NEAR(last_validation_psnr(run("two")), last_validation_psnr(run("one")), 1e-3);
    EXPECT_GT(last_validation_psnr(run("two")), 0);
  }

  const std::string& dataset_ = dataset_path();
  test::TempDir tmp_;
};

TEST_F(CliTrainDistributed, TwoRanksTrainTheBdnAsOneProcessOnTheirJoinedBatch) {
  expect_two_ranks_equal_one_process("bdn");
}

TEST_F(CliTrainDistributed, TwoRanksTrainTheGeneratorAndCriticAsOneProcessOnTheirJoinedBatch) {
  expect_two_ranks_equal_one_process("unipet");
}

TEST_F(CliTrainDistributed, AWorkerThatDiesStopsTheJobWithinSecondsNamingItsRank) {
  const auto start = std::chrono::steady_clock::now();
  const auto r =
      test::run_command("UNIPET_TEST_KILL_RANK_AT_STEP=1:2 '" + std::string(UNIPET_CLI_PATH) +
                        "' train --dataset " + q(dataset_) + " --out " + q(run("dies")) +
                        " --nproc 2 --stage bdn --threads 1 --set width=16 --set blocks=2 --set san_depth=1"
                        " --set patch=16 --set batch=1 --set validate_every=0"
                        " --set iterations=100000 --set checkpoint_every=100000");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.status, 1) << r.output;
  // 100000 steps take minutes: only the failure can end the job this early.
  EXPECT_LT(seconds, 30.0) << r.output;
  const std::string error = r.output.substr(r.output.rfind("unipet: error: "));
  EXPECT_NE(error.find("unipet: error: rank 1 (pid "), std::string::npos) << r.output;
  EXPECT_NE(error.find("was killed by signal 9"), std::string::npos) << r.output;
  // The survivor stops on its own error (the lost peer) rather than being killed.
  EXPECT_NE(r.output.find("[rank 0] unipet: error: rank 0 of 2: all-reduce failed"), std::string::npos)
      << r.output;
  EXPECT_FALSE(std::filesystem::exists(run("dies") + "/model_final.safetensors"));
}

TEST_F(CliTrainDistributed, SigtermToTheLauncherStopsEveryRankWithACheckpoint) {
  const std::string out = run("long");
  // Started in the background, stopped once rank 0 has logged a step.
  const auto r = test::run_command(
      "'" + std::string(UNIPET_CLI_PATH) + "' train --dataset " + q(dataset_) + " --out " + q(out) +
      " --nproc 2 --stage bdn --threads 1 --set width=16 --set blocks=2 --set san_depth=1 --set patch=16"
      " --set batch=1 --set validate_every=0 --set iterations=1000000 --set log_every=1 > " +
      q(out + ".txt") + " 2>&1 & pid=$!; for i in $(seq 1 600); do [ -s " + q(out + "/log.jsonl") +
      " ] && break; sleep 0.05; done; kill -TERM $pid; wait $pid; echo \"exit $?\"; cat " + q(out + ".txt"));
  EXPECT_NE(r.output.find("exit 0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("[rank 0] interrupted at step"), std::string::npos) << r.output;
  // Both ranks stopped after the same step, with the same weights.
  EXPECT_EQ(fingerprint(r.output, 0).size(), 16u) << r.output;
  EXPECT_EQ(fingerprint(r.output, 0), fingerprint(r.output, 1)) << r.output;
  EXPECT_TRUE(std::filesystem::exists(out + "/checkpoint_latest.pt"));
  EXPECT_FALSE(std::filesystem::exists(out + "/model_final.safetensors"));
}

TEST_F(CliTrainDistributed, CheckpointsContinueOnAnotherNumberOfProcesses) {
  const std::string common = " --stage bdn --set validate_every=0";
  // Two ranks of batch 1 for 2 steps, continued by one process of batch 2; and the reverse.
  auto r = train("a", "--nproc 2 --set batch=1 --set iterations=2" + common);
  ASSERT_EQ(r.status, 0) << r.output;
  r = train("a", "--continue --set iterations=4 --set batch=2");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("trained bdn for 4 steps"), std::string::npos) << r.output;
  r = train("b", "--set batch=2 --set iterations=2" + common);
  ASSERT_EQ(r.status, 0) << r.output;
  r = train("b", "--continue --nproc 2 --set iterations=4 --set batch=1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("[rank 0] trained bdn for 4 steps"), std::string::npos) << r.output;
  r = train("unbroken", "--set batch=2 --set iterations=4" + common);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto unbroken = generator_weights(run("unbroken") + "/model_final.safetensors");
  const auto a = max_difference(generator_weights(run("a") + "/model_final.safetensors"), unbroken);
  EXPECT_LT(a.first, kRoundOff) << a.second;
  const auto b = max_difference(generator_weights(run("b") + "/model_final.safetensors"), unbroken);
  EXPECT_LT(b.first, kRoundOff) << b.second;
}

TEST_F(CliTrainDistributed, SlurmRanksStartedSeparatelyMeetAtTheFirstHostOfTheJob) {
  // As `srun` starts them: no launcher of ours, rank 0 hosts the store on the job's first host.
  const std::string slurm =
      "SLURM_NTASKS=2 SLURM_NTASKS_PER_NODE=2 SLURM_JOB_NODELIST=127.0.0.1 MASTER_PORT=" +
      std::to_string(free_port()) + " ";
  const std::string command =
      "'" + std::string(UNIPET_CLI_PATH) + "' train --dataset " + q(dataset_) + " --out " + q(run("slurm")) +
      " --stage bdn --threads 1 --set width=16 --set blocks=2 --set san_depth=1 --set patch=16"
      " --set batch=1 --set iterations=2 --set validate_every=0";
  const auto r = test::run_command(
      "(SLURM_PROCID=1 SLURM_LOCALID=1 " + slurm + command + " > " + q(run("rank1.txt")) +
      " 2>&1; echo \"rank 1 exit $?\" >> " + q(run("rank1.txt")) + ") & SLURM_PROCID=0 SLURM_LOCALID=0 " +
      slurm + command + " 2>&1; echo \"rank 0 exit $?\"; wait; cat " + q(run("rank1.txt")));
  EXPECT_NE(r.output.find("rank 0 exit 0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("rank 1 exit 0"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("distributed: 2 ranks (gloo)"), std::string::npos) << r.output;
  const auto at = [&](int rank) {
    const std::string key = "rank " + std::to_string(rank) + " weights fingerprint ";
    const auto i = r.output.find(key);
    return i == std::string::npos ? std::string() : r.output.substr(i + key.size(), 16);
  };
  EXPECT_EQ(at(0).size(), 16u);
  EXPECT_EQ(at(0), at(1));
  EXPECT_TRUE(std::filesystem::exists(run("slurm") + "/model_final.safetensors"));
}

TEST_F(CliTrainDistributed, NprocInsideALaunchedJobIsAnError) {
  const auto r = test::run_command("RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=1 '" +
                                   std::string(UNIPET_CLI_PATH) + "' train --dataset " + q(dataset_) +
                                   " --out " + q(run("nested")) + " --stage bdn --nproc 2");
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(
      test::error_line(r),
      "unipet: error: --nproc: this process is already rank 0 of 2 (torchrun environment); use one launcher");
  EXPECT_FALSE(std::filesystem::exists(run("nested")));
}

}  // namespace
}  // namespace unipet
