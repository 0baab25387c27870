// Training iterations per second: each stage (bdn, disc, unipet) for the paper configuration
// (width 64, 8 blocks, 64³ and 32³ patches, batch 2) and the "cpu" preset, float32 and bfloat16
// autocast, on all CPU threads. One iteration is what `unipet train` does per step (the unipet
// stage: critic update and generator update on one generator forward pass). Arguments: profile
// (0 paper 64³, 1 paper 32³, 2 cpu preset, 3 cpu-balanced preset: the same network with the
// dose-balanced loss and the lesion term, i.e. the cpu preset before and after issue 20), stage (0 bdn, 1 disc, 2 unipet), bf16 (0, 1).
//   ./build/unipet_bench --benchmark_filter=TrainStep
//   bench/reference_train_step.sh REFERENCE_REPO   (the authors' step next to ours)
#include <benchmark/benchmark.h>

#include "train/steps.h"
#include "unipet/core/device.h"
#include "unipet/infer/speed.h"
#include "unipet/train/config.h"

namespace {

using namespace unipet;

train::TrainConfig profile(int64_t code, int64_t stage) {
  train::TrainConfig c = train::load_train_config(code == 2 ? "cpu" : code == 3 ? "cpu-balanced" : "paper");
  if (code == 1) c.patch = 32;
  c.stage = stage == 0 ? train::Stage::BDN : stage == 1 ? train::Stage::Critic : train::Stage::UniPET;
  return c;
}

// Patches cut from the demo's synthetic PET volume (SUV), normalised as training does.
train::Batch synthetic_batch(const train::TrainConfig& c) {
  const int64_t p = c.patch;
  std::vector<torch::Tensor> full, low;
  for (int64_t k = 0; k < c.batch; ++k) {
    const torch::Tensor f = c.normalization().normalize(infer::synthetic_pet_volume(p, p, p, 10 + static_cast<uint64_t>(k)));
    full.push_back(f);
    low.push_back((f + 0.02 * torch::randn_like(f)).clamp_min(0));
  }
  train::Batch b;
  b.full = torch::stack(full).unsqueeze(1);
  b.low = torch::stack(low).unsqueeze(1);
  b.drfs.assign(static_cast<size_t>(c.batch), 20.0);
  return b;
}

void BM_TrainStep(benchmark::State& state) {
  unipet::set_threads(0);  // every hardware thread (Debian's LibTorch starts with one)
  torch::manual_seed(0);
  const train::TrainConfig c = profile(state.range(0), state.range(1));
  train::detail::Networks n = train::detail::build_networks(c, torch::kCPU, state.range(2) != 0);
  train::Batch b = synthetic_batch(c);
  const auto step = [&] {
    ++b.step;
    return c.stage == train::Stage::Critic ? train::detail::critic_step(n, c, b, 0)
                                           : train::detail::generator_step(n, c, b);
  };
  step();  // warm-up: first-touch allocations, oneDNN primitive caches
  for (auto _ : state) benchmark::DoNotOptimize(step().values.size());
  state.SetLabel(std::string(state.range(0) == 3 ? "cpu-balanced preset " : state.range(0) == 2 ? "cpu preset " : "paper ") + std::to_string(c.patch) +
                 "^3 x" + std::to_string(c.batch) + " " + train::to_string(c.stage) +
                 (state.range(2) ? " bf16" : " fp32"));
  state.counters["it/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
}

void Args(benchmark::internal::Benchmark* b) {
  for (int64_t profile_code : {1, 2, 3, 0})
    for (int64_t stage : {0, 1, 2})
      for (int64_t bf16 : {0, 1}) b->Args({profile_code, stage, bf16});
  b->ArgNames({"profile", "stage", "bf16"})->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
}

BENCHMARK(BM_TrainStep)->Apply(Args);

}  // namespace
