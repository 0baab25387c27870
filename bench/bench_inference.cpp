// Forward throughput of the default UniPET against a bare stack of the same convolutions
// (conv0, 2 × blocks 3x3x3 convolutions, reconstruct), measured in the same run so the ratio is
// meaningful on a noisy machine. Arguments: tile side, dtype (0 float32, 1 bfloat16), threads,
// network (0 UniPET, 1 bare stack).
#include <benchmark/benchmark.h>

#include "unipet/core/device.h"
#include "unipet/infer/speed.h"
#include "unipet/nn/unipet.h"

namespace {

using unipet::nn::UniPET;
using unipet::nn::UniPETOptions;

torch::ScalarType dtype_of(int64_t code) { return code == 0 ? torch::kFloat32 : torch::kBFloat16; }

torch::Tensor tile(int64_t side, torch::ScalarType dtype) {
  return (unipet::infer::synthetic_pet_volume(side, side, side, 3) / 20.0)
      .clamp(0, 1)
      .view({1, 1, side, side, side})
      .to(dtype);
}

void set_labels(benchmark::State& state, const char* what) {
  state.SetLabel(std::string(what) + " " + unipet::dtype_name(dtype_of(state.range(1))) + " " +
                 std::to_string(state.range(2)) + " thread(s)");
  const double voxels = static_cast<double>(state.range(0) * state.range(0) * state.range(0));
  state.counters["voxels/s"] = benchmark::Counter(voxels, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_UniPETForward(benchmark::State& state) {
  unipet::set_threads(static_cast<int>(state.range(2)));
  torch::manual_seed(0);
  UniPET model{UniPETOptions()};
  model->eval();
  torch::NoGradGuard no_grad;
  const auto input32 = tile(state.range(0), torch::kFloat32);
  torch::Tensor reference;
  if (state.range(1) != 0) reference = model(input32);  // float32 output for the accuracy counter
  model->to(dtype_of(state.range(1)));
  const auto input = input32.to(dtype_of(state.range(1)));
  torch::Tensor out = model(input);  // warm-up
  for (auto _ : state) {
    out = model(input);
    benchmark::DoNotOptimize(out.data_ptr());
  }
  set_labels(state, "UniPET");
  if (reference.defined()) {
    auto o = out.to(torch::kFloat32);
    state.counters["rel_err_vs_f32"] = ((o - reference).norm() / reference.norm()).item<double>();
  }
}

void BM_BareConvStack(benchmark::State& state) {
  unipet::set_threads(static_cast<int>(state.range(2)));
  torch::manual_seed(0);
  const auto dtype = dtype_of(state.range(1));
  const UniPETOptions o;
  const auto opts = torch::TensorOptions().dtype(dtype);
  auto w0 = torch::randn({o.width(), 1, 3, 3, 3}, opts) * 0.1;
  auto b0 = torch::zeros({o.width()}, opts);
  std::vector<torch::Tensor> ws;
  for (int64_t i = 0; i < 2 * o.blocks(); ++i) ws.push_back(torch::randn({o.width(), o.width(), 3, 3, 3}, opts) * 0.02);
  auto wr = torch::randn({1, o.width(), 3, 3, 3}, opts) * 0.02;
  auto br = torch::zeros({1}, opts);
  torch::NoGradGuard no_grad;
  const auto input = tile(state.range(0), dtype);
  auto run = [&] {
    auto x = torch::conv3d(input, w0, b0, 1, 1);
    for (const auto& w : ws) x = torch::conv3d(x, w, {}, 1, 1);
    return torch::conv3d(x, wr, br, 1, 1);
  };
  torch::Tensor out = run();  // warm-up
  for (auto _ : state) {
    out = run();
    benchmark::DoNotOptimize(out.data_ptr());
  }
  set_labels(state, "bare conv stack");
}

// One benchmark whose last argument picks UniPET (0) or the bare stack (1), so each UniPET run
// sits next to its bare-stack twin in time and both see the same machine load.
void BM_Forward(benchmark::State& state) {
  if (state.range(3) == 0) {
    BM_UniPETForward(state);
  } else {
    BM_BareConvStack(state);
  }
}

void Args(benchmark::internal::Benchmark* b) {
  for (int64_t side : {64, 96}) {
    for (int64_t dtype : {0, 1}) {
      for (int64_t threads : {1, 2}) {
        b->Args({side, dtype, threads, 0});
        b->Args({side, dtype, threads, 1});
      }
    }
  }
  b->ArgNames({"side", "bf16", "threads", "bare"})->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
}

BENCHMARK(BM_Forward)->Apply(Args);

}  // namespace
