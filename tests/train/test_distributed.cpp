#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>

#include "unipet/core/error.h"
#include "unipet/train/distributed.h"
#include "unipet/train/launcher.h"

namespace unipet::train {
namespace {

using Env = std::map<std::string, std::string>;

std::string error_of(const Env& env) {
  try {
    distributed_environment(env);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(DistributedEnvironment, NoLauncherVariablesMeanOneProcess) {
  const DistributedEnvironment e = distributed_environment(Env{{"HOME", "/root"}});
  EXPECT_EQ(e.world_size, 1);
  EXPECT_EQ(e.rank, 0);
  EXPECT_EQ(e.source, "single");
  // A one-process torchrun needs no rendezvous address.
  EXPECT_EQ(distributed_environment(Env{{"RANK", "0"}, {"WORLD_SIZE", "1"}}).world_size, 1);
}

TEST(DistributedEnvironment, TorchrunVariablesGiveTheLayout) {
  const DistributedEnvironment e = distributed_environment(Env{{"RANK", "5"},
                                                               {"WORLD_SIZE", "8"},
                                                               {"LOCAL_RANK", "1"},
                                                               {"LOCAL_WORLD_SIZE", "4"},
                                                               {"MASTER_ADDR", "node01"},
                                                               {"MASTER_PORT", "29400"},
                                                               // Slurm's are ignored under torchrun.
                                                               {"SLURM_PROCID", "0"},
                                                               {"SLURM_NTASKS", "2"}});
  EXPECT_EQ(e.source, "torchrun");
  EXPECT_EQ(e.rank, 5);
  EXPECT_EQ(e.world_size, 8);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.local_world_size, 4);
  EXPECT_EQ(e.master_addr, "node01");
  EXPECT_EQ(e.master_port, 29400);
  EXPECT_FALSE(e.store_hosted_by_launcher);
  EXPECT_TRUE(distributed_environment(Env{{"RANK", "1"},
                                          {"WORLD_SIZE", "2"},
                                          {"MASTER_ADDR", "h"},
                                          {"MASTER_PORT", "1"},
                                          {"TORCHELASTIC_USE_AGENT_STORE", "True"}})
                  .store_hosted_by_launcher);
}

TEST(DistributedEnvironment, SlurmVariablesWithTheFirstHostOfTheJob) {
  const Env slurm{{"SLURM_PROCID", "3"},
                  {"SLURM_NTASKS", "4"},
                  {"SLURM_LOCALID", "1"},
                  {"SLURM_TASKS_PER_NODE", "2(x2)"},
                  {"SLURM_JOB_NODELIST", "gpu[07-08]"}};
  DistributedEnvironment e = distributed_environment(slurm);
  EXPECT_EQ(e.source, "slurm");
  EXPECT_EQ(e.rank, 3);
  EXPECT_EQ(e.world_size, 4);
  EXPECT_EQ(e.local_rank, 1);
  EXPECT_EQ(e.local_world_size, 2);
  EXPECT_EQ(e.master_addr, "gpu07");
  EXPECT_EQ(e.master_port, 29500);  // torch.distributed's default
  Env given = slurm;
  given["MASTER_ADDR"] = "10.0.0.9";
  given["MASTER_PORT"] = "23456";
  e = distributed_environment(given);
  EXPECT_EQ(e.master_addr, "10.0.0.9");
  EXPECT_EQ(e.master_port, 23456);
}

TEST(DistributedEnvironment, FirstHostExpandsSlurmNodeLists) {
  EXPECT_EQ(first_host("node[01-04],gpu7"), "node01");
  EXPECT_EQ(first_host("gpu7,node[01-04]"), "gpu7");
  EXPECT_EQ(first_host("node[3,5-9]"), "node3");
  EXPECT_EQ(first_host("rack[2-3]-n[05,7]"), "rack2-n05");
  EXPECT_EQ(first_host("login"), "login");
  EXPECT_THROW(first_host(""), Error);
  EXPECT_THROW(first_host("node[01-04"), Error);
  EXPECT_THROW(first_host("node]1"), Error);
  EXPECT_THROW(first_host("node[a-b]"), Error);
}

TEST(DistributedEnvironment, MissingOrInconsistentValuesNameTheVariable) {
  const Env ok{{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "29500"}};
  const auto with = [&](const std::string& key, const std::string& value) {
    Env e = ok;
    if (value.empty())
      e.erase(key);
    else
      e[key] = value;
    return error_of(e);
  };
  EXPECT_EQ(error_of(ok), "");
  EXPECT_NE(with("RANK", "").find("RANK is not set"), std::string::npos) << with("RANK", "");
  EXPECT_NE(with("RANK", "2").find("RANK=2 is not below WORLD_SIZE=2"), std::string::npos);
  EXPECT_NE(with("RANK", "one").find("RANK=one: not an integer"), std::string::npos);
  EXPECT_NE(with("WORLD_SIZE", "0").find("WORLD_SIZE=0: must be >= 1"), std::string::npos);
  EXPECT_NE(with("MASTER_ADDR", "").find("MASTER_ADDR is not set"), std::string::npos);
  EXPECT_NE(with("MASTER_PORT", "").find("MASTER_PORT is not set"), std::string::npos);
  EXPECT_NE(with("MASTER_PORT", "70000").find("MASTER_PORT=70000: not a TCP port"), std::string::npos);
  EXPECT_NE(with("LOCAL_WORLD_SIZE", "3").find("LOCAL_WORLD_SIZE=3 exceeds WORLD_SIZE=2"), std::string::npos);
  EXPECT_NE(error_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "2"}}).find("SLURM_JOB_NODELIST"),
            std::string::npos);
  EXPECT_NE(error_of({{"SLURM_PROCID", "0"}}).find("SLURM_NTASKS is not set"), std::string::npos);
}

TEST(ProcessGroup, BucketsHoldWholeTensorsOfOneDtypeUpToTheBucketSize) {
  const std::vector<torch::Tensor> t{torch::zeros({100}),  // 400 bytes
                                     torch::zeros({100}), torch::Tensor(),
                                     torch::zeros({300}), torch::zeros({10}, torch::kFloat64),
                                     torch::zeros({10})};
  // A bucket closes once it holds 500 bytes; undefined tensors are left out; a dtype change
  // starts a new bucket.
  const std::vector<std::vector<size_t>> expected{{0, 1}, {3}, {4}, {5}};
  EXPECT_EQ(plan_buckets(t, 500), expected);
  EXPECT_EQ(plan_buckets(t, kDefaultBucketBytes), (std::vector<std::vector<size_t>>{{0, 1, 3}, {4}, {5}}));
  EXPECT_THROW(plan_buckets(t, 0), Error);
}

// Runs the test named `name` of this binary as two ranks (the launcher of `train --nproc`);
// the test body then sees RANK and plays one rank. A rank's failed expectation fails its
// process, and so the launch.
void run_as_two_ranks(const std::string& name) {
  LaunchOptions o;
  o.command = {std::filesystem::read_symlink("/proc/self/exe").string(), "--gtest_filter=" + name};
  o.nproc = 2;
  EXPECT_NO_THROW(launch_local_workers(o));
}

float value_of(int64_t rank, int64_t tensor, int64_t i) {
  return static_cast<float>((rank + 1) * 1000 + tensor * 10) + 0.25f * static_cast<float>(i);
}

TEST(ProcessGroup, AveragesInManyBucketsAndBroadcastsRankZerosValues) {
  const DistributedEnvironment env = distributed_environment();
  if (env.world_size == 1)
    return run_as_two_ranks("ProcessGroup.AveragesInManyBucketsAndBroadcastsRankZerosValues");
  auto group = ProcessGroup::connect(env, torch::kCPU, std::chrono::seconds(60));
  ASSERT_EQ(group->world_size(), 2);
  EXPECT_EQ(group->backend(), "gloo");
  const std::vector<int64_t> sizes{1000, 15, 7, 300};
  std::vector<torch::Tensor> t;
  for (size_t k = 0; k < sizes.size(); ++k) {
    torch::Tensor x = torch::empty({sizes[k]}, k == 2 ? torch::kFloat64 : torch::kFloat32);
    for (int64_t i = 0; i < sizes[k]; ++i) x[i] = value_of(group->rank(), static_cast<int64_t>(k), i);
    t.push_back(k == 1 ? x.view({3, 5}) : x);
  }
  t.insert(t.begin() + 2, torch::Tensor());  // skipped, as a parameter without a gradient
  // 1 KB buckets: the 4 KB tensor alone, then the rest split by size and dtype.
  EXPECT_EQ(plan_buckets(t, 1024).size(), 4u);
  EXPECT_EQ(group->all_reduce_mean(t, 1024), (1000 + 15 + 300) * 4 + 7 * 8);
  t.erase(t.begin() + 2);
  for (size_t k = 0; k < sizes.size(); ++k) {
    const torch::Tensor flat = t[k].reshape({-1}).to(torch::kFloat64);
    for (int64_t i = 0; i < sizes[k]; i += 7)
      ASSERT_EQ(flat[i].item<double>(), (value_of(0, k, i) + value_of(1, k, i)) / 2.0) << k << " " << i;
  }
  std::vector<torch::Tensor> b{torch::full({5}, static_cast<float>(group->rank() + 3)),
                               torch::full({2, 2}, static_cast<double>(group->rank() - 7))};
  group->broadcast(b);
  EXPECT_TRUE(torch::equal(b[0], torch::full({5}, 3.0f)));
  EXPECT_TRUE(torch::equal(b[1], torch::full({2, 2}, -7.0, torch::kFloat64)));
  const std::string bytes("rank 0\0state", 12);
  EXPECT_EQ(group->broadcast_bytes(group->rank() == 0 ? bytes : "other"), bytes);
  std::vector<double> v{static_cast<double>(group->rank()), 0.5};
  group->all_reduce(v);
  EXPECT_EQ(v, (std::vector<double>{1.0, 1.0}));
  v = {static_cast<double>(group->rank()) - 4};
  group->all_reduce(v, true);
  EXPECT_EQ(v[0], -3.0);
  group->barrier();
}

TEST(ProcessGroup, ARankThatLeavesMakesTheOthersCollectiveFailWithinSeconds) {
  const DistributedEnvironment env = distributed_environment();
  if (env.world_size == 1)
    return run_as_two_ranks("ProcessGroup.ARankThatLeavesMakesTheOthersCollectiveFailWithinSeconds");
  // A 10-minute timeout: only the closed connection can end the wait early.
  auto group = ProcessGroup::connect(env, torch::kCPU, std::chrono::minutes(10));
  group->barrier();
  if (group->rank() == 1) return;  // leaves the job without a word (exits 0)
  const auto start = std::chrono::steady_clock::now();
  std::vector<double> v{1.0};
  try {
    for (int i = 0; i < 100; ++i) group->all_reduce(v);
    ADD_FAILURE() << "the all-reduce succeeded without rank 1";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("rank 0 of 2: all-reduce failed"), std::string::npos) << e.what();
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
}

}  // namespace
}  // namespace unipet::train
