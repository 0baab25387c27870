#include "unipet/sim/scanner.h"

#include <cmath>

#include "unipet/core/error.h"
#include "unipet/sim/random.h"

namespace unipet::sim {

namespace {

/// Crystal (2 x angles) and ring (slices) efficiencies drawn from `seed`.
std::pair<torch::Tensor, torch::Tensor> draw_efficiencies(const Projector& projector, int64_t slices,
                                                          const ScannerOptions& o, uint64_t seed) {
  const torch::Tensor crystal =
      (1 + o.efficiency_spread * normal_tensor({2 * projector.angles()}, stream_seed(seed, 1)).to(torch::kFloat64))
          .clamp(0.5, 1.5);
  const torch::Tensor ring =
      (1 + o.ring_efficiency_spread * normal_tensor({slices}, stream_seed(seed, 2)).to(torch::kFloat64))
          .clamp(0.5, 1.5);
  return {crystal, ring};
}

}  // namespace

void ScannerOptions::validate() const {
  UNIPET_CHECK(angles >= 0 && bins >= 0 && bin_mm >= 0,
               "--angles must be >= 0 (0 = automatic)");
  // 50 mm is ten times any PET scanner's resolution; a wider kernel only costs memory (a FWHM of
  // 1e9 mm was OOM-killed while building it).
  UNIPET_CHECK(std::isfinite(psf_fwhm_mm) && psf_fwhm_mm >= 0 && psf_fwhm_mm <= 50,
               "--psf must be in [0, 50] mm, got " << psf_fwhm_mm);
  UNIPET_CHECK(std::isfinite(psf_axial_fwhm_mm) && psf_axial_fwhm_mm >= 0 && psf_axial_fwhm_mm <= 50,
               "--psf-axial must be in [0, 50] mm, got " << psf_axial_fwhm_mm);
  UNIPET_CHECK(ring_diameter_mm > 0, "ScannerOptions: ring diameter must be > 0 mm");
  UNIPET_CHECK(efficiency_spread >= 0 && efficiency_spread < 0.5 && ring_efficiency_spread >= 0 &&
                   ring_efficiency_spread < 0.5,
               "ScannerOptions: efficiency spreads must be in [0, 0.5)");
  UNIPET_CHECK(scatter_fraction >= 0 && scatter_fraction < 1,
               "--scatter-fraction must be in [0, 1), got " << scatter_fraction);
  UNIPET_CHECK(randoms_fraction >= 0 && randoms_fraction < 1,
               "--randoms-fraction must be in [0, 1), got " << randoms_fraction);
  UNIPET_CHECK(scatter_fwhm_mm > 0, "ScannerOptions: scatter FWHM must be > 0 mm");
  UNIPET_CHECK(std::isfinite(tof_fwhm_ps) && tof_fwhm_ps >= 0 && tof_fwhm_ps <= 5000,
               "--tof: timing resolution must be in [0, 5000] ps (0 = non-TOF), got " << tof_fwhm_ps);
  UNIPET_CHECK(std::isfinite(tof_bin_mm) && tof_bin_mm >= 0,
               "--tof-bin must be >= 0 mm (0 = half the TOF FWHM), got " << tof_bin_mm);
  UNIPET_CHECK(std::isfinite(prompts) && prompts > 0,
               "--counts (expected full-dose prompts) must be > 0, got " << prompts);
}

torch::Tensor pair_efficiencies(const Projector& projector, const torch::Tensor& crystal,
                                const torch::Tensor& ring, double ring_diameter_mm) {
  const int64_t A = projector.angles(), B = projector.bins(), crystals = 2 * A;
  UNIPET_CHECK(crystal.dim() == 1 && crystal.size(0) == crystals && ring.dim() == 1,
               "pair_efficiencies: expected " << crystals << " crystal efficiencies, got "
                                              << crystal.sizes());
  const torch::Tensor e64 = crystal.to(torch::kCPU, torch::kFloat64).contiguous();
  const torch::Tensor r64 = ring.to(torch::kCPU, torch::kFloat64);
  const double radius = 0.5 * ring_diameter_mm;
  const double bin_mm = projector.options().bin_mm;
  torch::Tensor pair = torch::empty({A, B}, torch::kFloat64);
  auto e = e64.accessor<double, 1>();
  auto out = pair.accessor<double, 2>();
  // Each line of response joins two crystals of the ring, found from where the line meets it.
  for (int64_t a = 0; a < A; ++a) {
    const double theta = M_PI * static_cast<double>(a) / static_cast<double>(A);
    for (int64_t b = 0; b < B; ++b) {
      const double s = (static_cast<double>(b) - (B - 1) / 2.0) * bin_mm;
      // The line's normal points at angle theta; its ends sit at theta +- acos(s / R).
      const double half = std::acos(s / radius);
      auto index = [&](double phi) {
        double turns = phi / (2 * M_PI);
        turns -= std::floor(turns);
        return std::min<int64_t>(crystals - 1, static_cast<int64_t>(turns * crystals));
      };
      out[a][b] = e[index(theta + half)] * e[index(theta - half)];
    }
  }
  return (r64.view({-1, 1, 1}) * pair.unsqueeze(0)).to(torch::kFloat32);
}

std::pair<torch::Tensor, torch::Tensor> detector_efficiencies(const Projector& projector,
                                                              int64_t slices,
                                                              const ScannerOptions& options,
                                                              uint64_t seed) {
  if (!options.normalisation) {
    return {torch::ones({2 * projector.angles()}, torch::kFloat64), torch::ones({slices}, torch::kFloat64)};
  }
  return draw_efficiencies(projector, slices, options, seed);
}

Projector make_projector(const ScannerOptions& options, const Volume& like) {
  options.validate();
  UNIPET_CHECK(like.data.defined() && like.data.dim() == 3,
               "make_projector: expected a [D, H, W] volume, got " << like.data.sizes());
  ProjectorOptions p;
  p.width = like.data.size(2);
  p.height = like.data.size(1);
  p.voxel_x_mm = like.spacing[0];
  p.voxel_y_mm = like.spacing[1];
  p.voxel_z_mm = like.spacing[2];
  p.angles = options.angles;
  p.bins = options.bins;
  p.bin_mm = options.bin_mm;
  p.psf_fwhm_mm = options.psf_fwhm_mm;
  p.psf_axial_fwhm_mm = options.psf_axial_fwhm_mm;
  p.tof_fwhm_ps = options.tof_fwhm_ps;
  p.tof_bin_mm = options.tof_bin_mm;
  Projector projector(p);
  const double extent = 0.5 * projector.bins() * projector.options().bin_mm;
  UNIPET_CHECK(extent < 0.5 * options.ring_diameter_mm,
               "--matrix x --voxel: the field of view reaches " << extent << " mm from the axis, outside the "
                                                                << options.ring_diameter_mm << " mm detector ring");
  return projector;
}

}  // namespace unipet::sim
