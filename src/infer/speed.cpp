#include "unipet/infer/speed.h"

#include <algorithm>
#include <chrono>
#include <sstream>

#include "unipet/core/compute.h"
#include "unipet/core/error.h"
#include "unipet/nn/memory.h"
#include "unipet/nn/model_file.h"

namespace unipet::infer {

torch::Tensor synthetic_pet_volume(int64_t d, int64_t h, int64_t w, uint64_t seed, double counts_per_suv) {
  UNIPET_CHECK(d >= 8 && h >= 8 && w >= 8, "synthetic volume must be at least 8 voxels a side");
  UNIPET_CHECK(counts_per_suv > 0, "counts_per_suv must be positive");
  auto gen = torch::make_generator<torch::CPUGeneratorImpl>(seed);
  // Normalised coordinates in [-1, 1] along each axis.
  auto z = torch::linspace(-1, 1, d).view({d, 1, 1});
  auto y = torch::linspace(-1, 1, h).view({1, h, 1});
  auto x = torch::linspace(-1, 1, w).view({1, 1, w});
  auto inside = [&](double cz, double cy, double cx, double rz, double ry, double rx) {
    return ((z - cz) / rz).pow(2) + ((y - cy) / ry).pow(2) + ((x - cx) / rx).pow(2) <= 1;
  };
  auto suv = torch::zeros({d, h, w});
  suv.masked_fill_(inside(0, 0, 0, 1.2, 0.7, 0.9), 1.0);
  suv.masked_fill_(inside(-0.3, 0.1, -0.35, 0.35, 0.35, 0.4), 2.5);
  suv.masked_fill_(inside(0.6, 0.2, 0.0, 0.15, 0.15, 0.15), 15.0);
  auto centres = torch::rand({5, 3}, gen) * 1.0 - 0.5;
  auto contrasts = torch::rand({5}, gen) * 6.0 + 4.0;
  for (int64_t i = 0; i < 5; ++i) {
    const double r = 0.06 + 0.03 * static_cast<double>(i);
    suv.masked_fill_(inside(centres[i][0].item<double>(), centres[i][1].item<double>(),
                            centres[i][2].item<double>(), r, r, r),
                     contrasts[i].item<double>());
  }
  return torch::poisson(suv * counts_per_suv, gen) / counts_per_suv;
}

SpeedReport run_speed_check(const SpeedOptions& options) {
  // Every option is checked before any work starts.
  UNIPET_CHECK(options.size() >= 16 && options.size() <= 512, "--size must be in [16, 512], got " << options.size());
  UNIPET_CHECK(options.repeats() >= 1, "--repeats must be at least 1, got " << options.repeats());
  const Compute compute = apply_compute(options.compute());
  const torch::Device device = compute.device;
  const torch::ScalarType dtype = compute.dtype;

  SpeedReport report;
  nn::UniPET model{nullptr};
  nn::IntensityNormalization norm;
  if (options.model_path().empty()) {
    torch::manual_seed(options.seed());
    model = nn::UniPET(nn::UniPETOptions());
    report.model = "default UniPET (seeded random weights)";
  } else {
    auto loaded = nn::load_unipet(options.model_path());
    model = loaded.model;
    norm = loaded.normalization;
    report.model = options.model_path();
  }
  model->eval();
  const int64_t s = options.size();
  if (device.is_cpu())
    check_fits_in_memory(nn::inference_bytes(model->options.width(), s * s * s, dtype),
                         "--size " + std::to_string(s) + ": a forward of the network");
  model->to(device, dtype);
  report.parameters = nn::parameter_count(*model);
  report.device = device.str();
  report.dtype = dtype_name(dtype);
  report.threads = device.is_cpu() ? torch::get_num_threads() : 0;

  auto volume = synthetic_pet_volume(s, s, s, options.seed());
  auto input = norm.normalize(volume).view({1, 1, s, s, s}).to(device, dtype);
  report.input_shape = input.sizes().vec();

  torch::NoGradGuard no_grad;
  torch::Tensor output = model(input);  // warm-up: allocators and kernel selection
  std::vector<double> times;
  for (int i = 0; i < options.repeats(); ++i) {
    const auto start = std::chrono::steady_clock::now();
    output = model(input);
    if (device.is_cuda()) torch::cuda::synchronize();
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  report.seconds_per_forward = times[times.size() / 2];
  report.voxels_per_second = static_cast<double>(s * s * s) / report.seconds_per_forward;
  report.output_shape = output.sizes().vec();
  report.input_mean_suv = volume.mean().item<double>();
  report.output_mean_suv = norm.denormalize(output.to(torch::kCPU, torch::kFloat32)).mean().item<double>();
  return report;
}

std::string SpeedReport::summary() const {
  std::ostringstream os;
  auto shape = [](const std::vector<int64_t>& v) {
    std::ostringstream s;
    s << torch::IntArrayRef(v);
    return s.str();
  };
  os << "model:        " << model << "\n"
     << "parameters:   " << parameters << "\n"
     << "device:       " << device << ", " << dtype;
  if (threads > 0) os << ", " << threads << " thread(s)";
  os << "\n"
     << "input:        " << shape(input_shape) << " synthetic PET volume, mean " << input_mean_suv << " SUV\n"
     << "output:       " << shape(output_shape) << ", mean " << output_mean_suv << " SUV\n"
     << "time:         " << seconds_per_forward << " s per forward (median), "
     << voxels_per_second / 1e6 << " Mvoxel/s\n";
  return os.str();
}

}  // namespace unipet::infer
