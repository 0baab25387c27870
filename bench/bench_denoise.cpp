// Whole-volume denoising of a 192 x 192 x 400 whole-body volume, against the authors'
// merge_patch run the same way in the same process: 64³ tiles at stride 32 over a volume padded
// to a multiple of 32, each tile pasted without blending (crop 3), float32. Arguments: mode
// (0 authors' merge_patch, 1 unipet every tile, 2 unipet skipping background tiles), dtype
// (0 float32, 1 bfloat16), threads, network (0 the paper-size UniPET, width 64, 8 blocks, seeded:
// seeded weights run exactly as fast as trained ones; 1 the shipped model, models/, through its
// own intensity mapping). One iteration each: a run takes minutes.
#include <benchmark/benchmark.h>

#include "unipet/io/suv.h"
#include "unipet/core/device.h"
#include "unipet/infer/default_model.h"
#include "unipet/infer/denoiser.h"
#include "unipet/nn/intensity.h"
#include "unipet/nn/unipet.h"
#include "unipet/sim/phantom.h"
#include "whole_body.h"

namespace unipet::bench {

const Volume& whole_body_volume() {
  static const Volume volume = [] {
    sim::PhantomOptions o;
    o.width = o.height = 192;
    o.slices = 400;
    o.voxel_mm = 3.65;
    o.slice_mm = 2.5;
    const sim::Phantom p = sim::generate_phantom(o, 7);
    auto gen = torch::make_generator<torch::CPUGeneratorImpl>(7);
    Volume v = p.activity;
    const auto suv = p.activity.data / io::bq_per_ml_per_suv(p.dose_at_scan_bq, p.weight_kg);
    v.data = torch::poisson(suv * 2.0, gen) / 2.0;  // 2 counts per SUV per voxel: a low dose
    v.units = Units::SUV;
    return v;
  }();
  return volume;
}

namespace {

// The authors' merge_patch (data/common.py), step for step, with `net` in place of the model.
torch::Tensor reference_merge_patch(const infer::TileFunction& net, const torch::Tensor& volume, int64_t* tiles) {
  const int64_t k = 64, stride = 32, crop = 3;
  auto pad = [&](int64_t n) { return n % stride ? stride - n % stride : 0; };
  const int64_t pd = pad(volume.size(0)), ph = pad(volume.size(1)), pw = pad(volume.size(2));
  const auto img = torch::constant_pad_nd(volume, {pw / 2, pw - pw / 2, ph / 2, ph - ph / 2, pd / 2, pd - pd / 2});
  const int64_t D = img.size(0), H = img.size(1), W = img.size(2);
  const int64_t nz = D / stride - 1, nx = H / stride - 1, ny = W / stride - 1;
  auto result = torch::zeros({D, H, W});
  bool flag = true;
  for (int64_t z = 0; z < nz; ++z) {
    const int64_t idz = z == 0 ? 0 : z * stride + k - stride - crop;
    if (idz + crop + stride > D) flag = false;
    const auto slab = flag ? img.narrow(0, z * stride, k) : img.narrow(0, D - k, k);
    for (int64_t i = 0; i < nx; ++i) {
      const int64_t idx = i == 0 ? 0 : i * stride + k - stride - crop;
      for (int64_t j = 0; j < ny; ++j) {
        const int64_t idy = j == 0 ? 0 : j * stride + k - stride - crop;
        const auto patch = slab.narrow(1, i * stride, k).narrow(2, j * stride, k).reshape({1, 1, k, k, k});
        const auto out = net(patch)[0][0];
        ++*tiles;
        const int64_t z_from = flag ? idz - z * stride : idz + k - D;
        result.narrow(0, idz, (flag ? z * stride + k : D) - idz)
            .narrow(1, idx, i * stride + k - idx)
            .narrow(2, idy, j * stride + k - idy)
            .copy_(out.narrow(0, z_from, (flag ? z * stride + k : D) - idz)
                       .narrow(1, idx - i * stride, i * stride + k - idx)
                       .narrow(2, idy - j * stride, j * stride + k - idy));
      }
    }
  }
  return result.narrow(0, pd / 2, volume.size(0)).narrow(1, ph / 2, volume.size(1)).narrow(2, pw / 2, volume.size(2));
}

void BM_WholeBodyDenoise(benchmark::State& state) {
  const int64_t mode = state.range(0);
  const auto dtype = state.range(1) == 0 ? torch::kFloat32 : torch::kBFloat16;
  set_threads(static_cast<int>(state.range(2)));
  const Volume& volume = whole_body_volume();
  const bool shipped = state.range(3) == 1;
  torch::NoGradGuard no_grad;
  infer::TileFunction net;
  if (shipped) {
    infer::DenoiseOptions o;
    o.compute.device = "cpu";
    o.compute.precision = dtype == torch::kFloat32 ? "fp32" : "bf16";
    net = infer::Denoiser(infer::default_model_path(), o).tile_function();
  } else {
    torch::manual_seed(0);
    nn::UniPET model{nn::UniPETOptions()};
    model->eval();
    model->to(dtype);
    net = infer::unipet_tile_function(model, nn::IntensityNormalization(), torch::kCPU, dtype);
  }
  int64_t tiles = 0;
  for (auto _ : state) {
    tiles = 0;
    if (mode == 0) {
      benchmark::DoNotOptimize(reference_merge_patch(net, volume.data, &tiles).data_ptr());
    } else {
      infer::SlidingWindowOptions o;
      o.background = mode == 1 ? 0.0 : o.background;
      const auto r = infer::sliding_window(volume.data, net, o);
      tiles = r.tiles_run;
      benchmark::DoNotOptimize(r.image.data_ptr());
    }
  }
  const char* names[] = {"authors' merge_patch", "unipet, every tile", "unipet, background skipped"};
  state.SetLabel(std::string(names[mode]) + ", " + dtype_name(dtype) + ", " + std::to_string(state.range(2)) +
                 " thread(s), " + (shipped ? "shipped model" : "paper-size UniPET"));
  state.counters["tiles"] = static_cast<double>(tiles);
  state.counters["voxels/s"] = benchmark::Counter(static_cast<double>(volume.data.numel()),
                                                  benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(BM_WholeBodyDenoise)
    ->ArgNames({"mode", "bf16", "threads", "shipped"})
    ->Args({0, 0, 2, 0})
    ->Args({1, 0, 2, 0})
    ->Args({2, 0, 2, 0})
    ->Args({1, 1, 2, 0})
    ->Args({2, 1, 2, 0})
    ->Args({0, 0, 2, 1})
    ->Args({2, 1, 2, 1})
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

}  // namespace
}  // namespace unipet::bench
