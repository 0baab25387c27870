// The memory estimates against the kernel's high-water mark: each is an upper bound of what a
// forward (and a training step) really takes, and not a wild one.
#include <cstring>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "unipet/nn/memory.h"
#include "unipet/nn/unipet.h"

namespace unipet {
namespace {

double status_kb(const char* key) {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind(key, 0) == 0) return std::stod(line.substr(std::strlen(key)));
  return -1.0;
}

// Bytes the process's peak resident memory grows by while `work` runs.
template <typename F>
double peak_growth(F work) {
  const double before = status_kb("VmRSS:");
  std::ofstream("/proc/self/clear_refs") << "5" << std::flush;  // resets VmHWM to the current RSS
  work();
  return (status_kb("VmHWM:") - before) * 1024.0;
}

bool can_measure() { return std::ifstream("/proc/self/status") && std::ofstream("/proc/self/clear_refs"); }

TEST(NetworkMemory, AForwardStaysUnderItsEstimate) {
  if (!can_measure()) GTEST_SKIP() << "no /proc/self/clear_refs to reset the peak";
  torch::manual_seed(1);
  nn::UniPET model(nn::UniPETOptions().width(32));
  model->eval();
  const int64_t s = 48;
  const auto x = torch::rand({1, 1, s, s, s});
  const double grown = peak_growth([&] {
    torch::NoGradGuard no_grad;
    model(x);
  });
  const double estimate = nn::inference_bytes(32, s * s * s, torch::kFloat32);
  EXPECT_LT(grown, estimate);
  // Not vacuous: the feature maps the estimate counts are a real part of the growth.
  EXPECT_GT(grown, 0.25 * (estimate - 200e6)) << grown;
}

TEST(NetworkMemory, ATrainingStepStaysUnderItsEstimate) {
  if (!can_measure()) GTEST_SKIP() << "no /proc/self/clear_refs to reset the peak";
  torch::manual_seed(2);
  nn::UniPET model(nn::UniPETOptions().width(32));
  model->set_san_bypassed(true);
  torch::optim::Adam adam(model->parameters(), torch::optim::AdamOptions(1e-4));
  const int64_t s = 32, batch = 2;
  const auto x = torch::rand({batch, 1, s, s, s}), y = torch::rand({batch, 1, s, s, s});
  const double grown = peak_growth([&] {
    adam.zero_grad();
    torch::l1_loss(model(x), y).backward();
    adam.step();
  });
  const double estimate = nn::training_bytes(32, batch * s * s * s, false, torch::kFloat32);
  EXPECT_LT(grown, estimate);
  EXPECT_GT(grown, 0.25 * (estimate - 200e6)) << grown;
}

}  // namespace
}  // namespace unipet
