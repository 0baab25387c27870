// Simulator speed: the projector at the default 128 x 128 x 96 grid (128 angles x 128 bins) with
// 1 and 2 threads, one OSEM subset update, and a whole default subject (phantom, scanner model,
// counts, thinning, 7 reconstructions; no file output). Examples:
//   ./build/unipet_bench --benchmark_filter='Projector'
//   ./build/unipet_bench --benchmark_filter='DefaultSubject' --benchmark_min_time=1
#include <benchmark/benchmark.h>

#include <ATen/Parallel.h>

#include "unipet/sim/phantom.h"
#include "unipet/sim/simulate.h"

namespace {

using namespace unipet::sim;

const Phantom& default_phantom() {
  static const Phantom phantom = generate_phantom(PhantomOptions{}, 1);
  return phantom;
}

void label_threads(benchmark::State& state) {
  state.SetLabel(std::to_string(at::get_num_threads()) + " thread(s)");
}

void BM_ProjectorForward(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  const Projector projector = make_projector(ScannerOptions{}, default_phantom().activity);
  const torch::Tensor image = default_phantom().activity.data;
  for (auto _ : state) benchmark::DoNotOptimize(projector.forward(image));
  label_threads(state);
  state.counters["nonzeros"] = static_cast<double>(projector.nonzeros());
}
BENCHMARK(BM_ProjectorForward)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ProjectorBack(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  const Projector projector = make_projector(ScannerOptions{}, default_phantom().activity);
  const torch::Tensor sinogram = projector.forward(default_phantom().activity.data);
  for (auto _ : state) benchmark::DoNotOptimize(projector.back(sinogram));
  label_threads(state);
}
BENCHMARK(BM_ProjectorBack)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_PhantomGeneration(benchmark::State& state) {
  uint64_t seed = 0;
  for (auto _ : state) benchmark::DoNotOptimize(generate_phantom(PhantomOptions{}, ++seed));
  label_threads(state);
}
BENCHMARK(BM_PhantomGeneration)->Unit(benchmark::kMillisecond)->UseRealTime();

/// Phantom (drawn 2x finer), scanner model, Poisson counts, nested thinning and OSEM of the full
/// dose and six DRFs: what `unipet simulate` does per subject, minus writing the NIfTI files.
/// Arguments: threads, TOF resolution in ps (0 = non-TOF), 1 = the inverse crime (phantom on
/// the output grid, exact corrections).
void BM_DefaultSubject(benchmark::State& state) {
  at::set_num_threads(static_cast<int>(state.range(0)));
  SimulationOptions options;
  options.out_dir = "unused";
  options.threads = static_cast<int>(state.range(0));
  options.scanner.tof_fwhm_ps = static_cast<double>(state.range(1));
  if (state.range(2) == 1) {
    options.oversampling = 1;
    options.corrections = CorrectionOptions::exact();
  }
  const int64_t f = options.oversampling;
  const PhantomOptions fine = oversampled_phantom(options.phantom, f);
  uint64_t seed = 0;
  for (auto _ : state) {
    const Phantom p = generate_phantom(fine, ++seed);
    benchmark::DoNotOptimize(simulate_subject(p.activity, p.mumap, options, seed, f));
  }
  label_threads(state);
}
BENCHMARK(BM_DefaultSubject)
    ->Args({2, 0, 1})
    ->Args({2, 0, 0})
    ->Args({2, 400, 0})
    ->Args({2, 214, 0})
    ->ArgNames({"threads", "tof_ps", "inverse_crime"})
    ->Unit(benchmark::kSecond)
    ->UseRealTime()
    ->Iterations(1);

}  // namespace
