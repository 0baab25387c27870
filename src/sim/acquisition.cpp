#include "unipet/sim/acquisition.h"

#include <algorithm>
#include <cmath>

#include "unipet/core/error.h"
#include "unipet/sim/random.h"
#include "ordered_sum.h"

namespace unipet::sim {

namespace {

double total(const torch::Tensor& t) { return detail::ordered_sum(t); }


/// The fine-grid projector whose radial bins and slices average into `coarse`'s.
Projector make_fine_projector(const Projector& coarse, const ScannerOptions& scanner, int64_t f) {
  ProjectorOptions o = coarse.options();
  o.width *= f;
  o.height *= f;
  o.voxel_x_mm /= static_cast<double>(f);
  o.voxel_y_mm /= static_cast<double>(f);
  o.voxel_z_mm /= static_cast<double>(f);
  o.bins *= f;
  o.bin_mm /= static_cast<double>(f);
  o.psf_fwhm_mm = scanner.psf_fwhm_mm;
  o.psf_axial_fwhm_mm = 0;  // applied on the coarse slices, after the fine ones are averaged
  // The TOF bins stay the coarse projector's, so both sinograms share them.
  return Projector(o);
}

/// Mean over groups of `f` along dimensions 0 (slices) and 2 (radial bins).
torch::Tensor bin_down(const torch::Tensor& fine, int64_t f) {
  if (f == 1) return fine;
  std::vector<int64_t> shape = {fine.size(0) / f, f, fine.size(1), fine.size(2) / f, f};
  if (fine.dim() == 4) shape.push_back(fine.size(3));
  return fine.reshape(shape).mean({1, 4});
}

enum class Projection { Emission, Attenuation };

/// Slab by slab: fine projection (with TOF and the radial PSF for emission; exp(-line integral)
/// of mu in 1/mm for attenuation), averaged into coarse bins and slices.
torch::Tensor project_slabs(const Projector& fine, const torch::Tensor& image, int64_t f, Projection what) {
  const int64_t fine_slices = image.size(0);
  const int64_t per_coarse_slice =
      f * fine.angles() * fine.bins() * (what == Projection::Emission ? fine.tof_bins() : 1);
  const int64_t slab = std::max<int64_t>(1, kProjectionSlabElements / per_coarse_slice);
  // Written slab by slab into the result, not concatenated: a list of slabs and their
  // concatenation would hold the TOF sinogram twice.
  std::vector<int64_t> shape = {fine_slices / f, fine.angles(), fine.bins() / f};
  if (what == Projection::Emission && fine.tof()) shape.push_back(fine.tof_bins());
  torch::Tensor out = torch::empty(shape, image.options());
  for (int64_t c0 = 0; c0 < fine_slices / f; c0 += slab) {
    const int64_t c1 = std::min(fine_slices / f, c0 + slab);
    const torch::Tensor piece = image.narrow(0, c0 * f, (c1 - c0) * f);
    const torch::Tensor sino = what == Projection::Emission ? fine.forward(piece)
                                                            : torch::exp(-fine.line_integrals(piece));
    out.narrow(0, c0, c1 - c0).copy_(bin_down(sino, f));
  }
  return out;
}

/// `volume` moved by (dx, dy, dz) voxels, linearly interpolated; the edge value continues beyond.
torch::Tensor shift_volume(const torch::Tensor& volume, double dx, double dy, double dz) {
  namespace F = torch::nn::functional;
  const int64_t D = volume.size(0), H = volume.size(1), W = volume.size(2);
  auto axis = [](int64_t n, double shift) {
    // Output voxel i samples the input at i - shift, in align_corners coordinates.
    torch::Tensor i = torch::arange(n, torch::kFloat32) - static_cast<float>(shift);
    return n > 1 ? i * (2.0f / static_cast<float>(n - 1)) - 1.0f : torch::zeros({1});
  };
  auto mesh = torch::meshgrid({axis(D, dz), axis(H, dy), axis(W, dx)}, "ij");
  const torch::Tensor grid = torch::stack({mesh[2], mesh[1], mesh[0]}, -1).unsqueeze(0);
  return F::grid_sample(volume.to(torch::kFloat32).view({1, 1, D, H, W}), grid,
                        F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(true))
      .view({D, H, W});
}

/// `profile` blurred along its TOF bins by `fwhm_bins` and normalised to sum 1 over them (lines
/// with no signal get an even profile), slab by slab of slices and stored as bfloat16: the profile
/// is smooth, and a float32 copy of a clinical TOF sinogram would be gigabytes.
torch::Tensor smooth_profile(const torch::Tensor& profile, double fwhm_bins) {
  const int64_t per_slice = profile[0].numel();
  const int64_t slab = std::max<int64_t>(1, kProjectionSlabElements / std::max<int64_t>(1, per_slice));
  torch::Tensor out = torch::empty(profile.sizes(), profile.options().dtype(torch::kBFloat16));
  const double even = 1.0 / static_cast<double>(profile.size(-1));
  for (int64_t d0 = 0; d0 < profile.size(0); d0 += slab) {
    const int64_t n = std::min(slab, profile.size(0) - d0);
    torch::Tensor p = gaussian_filter_along(profile.narrow(0, d0, n).to(torch::kFloat32), fwhm_bins, 3);
    const torch::Tensor sum = p.sum(-1, true);
    // Sums below 1e-30 (tails of float32 round-off, some subnormal) count as no signal: dividing
    // by a clamped sum would leave such a profile summing to far less than 1.
    p = torch::where(sum > 1e-30, p / sum.clamp_min(1e-30), torch::full_like(p, even));
    out.narrow(0, d0, n).copy_(p);
  }
  return out;
}

}  // namespace

CorrectionOptions CorrectionOptions::exact() {
  CorrectionOptions c;
  c.scatter_scale_sd = 0;
  c.scatter_estimate_fwhm_mm = 0;
  c.delayed_randoms = false;
  c.normalisation_error = 0;
  c.mumap_fwhm_mm = 0;
  c.mumap_shift_mm = 0;
  c.psf_model = 1;
  return c;
}

void CorrectionOptions::validate() const {
  // Upper bounds on every blur: a body is under 1000 mm across, and a kernel far wider than the
  // image only costs memory (FWHMs of 1e9 mm were OOM-killed while building their kernels).
  UNIPET_CHECK(std::isfinite(scatter_scale_sd) && scatter_scale_sd >= 0 && scatter_scale_sd < 0.5,
               "--scatter-error must be in [0, 0.5), got " << scatter_scale_sd);
  UNIPET_CHECK(std::isfinite(scatter_estimate_fwhm_mm) && scatter_estimate_fwhm_mm >= 0 && scatter_estimate_fwhm_mm <= 1000,
               "--scatter-estimate-fwhm must be in [0, 1000] mm, got " << scatter_estimate_fwhm_mm);
  UNIPET_CHECK(std::isfinite(randoms_smoothing_fwhm_mm) && randoms_smoothing_fwhm_mm >= 0 && randoms_smoothing_fwhm_mm <= 1000,
               "--randoms-smoothing must be in [0, 1000] mm, got " << randoms_smoothing_fwhm_mm);
  UNIPET_CHECK(std::isfinite(normalisation_error) && normalisation_error >= 0 && normalisation_error < 0.2,
               "--norm-error must be in [0, 0.2), got " << normalisation_error);
  UNIPET_CHECK(std::isfinite(mumap_fwhm_mm) && mumap_fwhm_mm >= 0 && mumap_fwhm_mm <= 50,
               "--mumap-blur must be in [0, 50] mm, got " << mumap_fwhm_mm);
  UNIPET_CHECK(std::isfinite(mumap_shift_mm) && mumap_shift_mm >= 0 && mumap_shift_mm <= 50,
               "--mumap-shift must be in [0, 50] mm, got " << mumap_shift_mm);
  UNIPET_CHECK(std::isfinite(psf_model) && psf_model >= 0 && psf_model <= 2,
               "--psf-model must be in [0, 2] (0 = no resolution modelling), got " << psf_model);
}

int64_t oversampling_factor(const Volume& fine, const Volume& grid) {
  const auto fs = fine.size_xyz(), gs = grid.size_xyz();
  UNIPET_CHECK(gs[0] > 0 && fs[0] % gs[0] == 0, "oversampling: the fine grid " << fine.data.sizes()
                                                    << " is not a whole multiple of " << grid.data.sizes());
  const int64_t f = fs[0] / gs[0];
  for (int k = 0; k < 3; ++k) {
    UNIPET_CHECK(fs[k] == f * gs[k] && std::abs(fine.spacing[k] * static_cast<double>(f) - grid.spacing[k]) <
                                           1e-6 * grid.spacing[k],
                 "oversampling: the fine grid " << fine.data.sizes() << " is not " << f
                                                << " times finer than " << grid.data.sizes()
                                                << " along every axis");
  }
  return f;
}

Volume downsample(const Volume& fine, int64_t f) {
  UNIPET_CHECK(f >= 1, "downsample: factor must be >= 1, got " << f);
  if (f == 1) return fine;
  const int64_t D = fine.data.size(0), H = fine.data.size(1), W = fine.data.size(2);
  UNIPET_CHECK(D % f == 0 && H % f == 0 && W % f == 0,
               "downsample: " << fine.data.sizes() << " is not divisible by " << f);
  Volume out = fine;
  out.data = fine.data.reshape({D / f, f, H / f, f, W / f, f}).mean({1, 3, 5}).contiguous();
  for (int k = 0; k < 3; ++k) {
    out.spacing[k] = fine.spacing[k] * static_cast<double>(f);
    // The first coarse centre is the mean of the first f fine centres along each axis.
    const double step = 0.5 * static_cast<double>(f - 1) * fine.spacing[k];
    for (int row = 0; row < 3; ++row) out.origin[row] += fine.direction[row * 3 + k] * step;
  }
  return out;
}

Projector make_reconstruction_projector(const ScannerOptions& scanner, const CorrectionOptions& c,
                                        const Volume& grid) {
  c.validate();
  ScannerOptions s = scanner;
  s.psf_fwhm_mm *= c.psf_model;
  s.psf_axial_fwhm_mm *= c.psf_model;
  return make_projector(s, grid);
}

torch::Tensor project_oversampled(const Projector& coarse, const ScannerOptions& scanner,
                                  const torch::Tensor& fine_image, int64_t f, bool attenuation_factors) {
  UNIPET_CHECK(f >= 1, "project_oversampled: factor must be >= 1");
  const ProjectorOptions& c = coarse.options();
  UNIPET_CHECK(fine_image.dim() == 3 && fine_image.size(0) % f == 0 &&
                   fine_image.size(1) == c.height * f && fine_image.size(2) == c.width * f,
               "project_oversampled: a " << f << "x finer image of the projector's grid was expected, got "
                                         << fine_image.sizes());
  const Projector fine = make_fine_projector(coarse, scanner, f);
  const torch::Tensor x = fine_image.to(torch::kCPU, torch::kFloat32);
  if (attenuation_factors) return project_slabs(fine, x, f, Projection::Attenuation);
  return gaussian_filter_along(project_slabs(fine, x, f, Projection::Emission),
                               scanner.psf_axial_fwhm_mm / c.voxel_z_mm, 0);
}

Acquisition model_acquisition(const Volume& activity, const Volume& mumap, const Volume& grid,
                              const ScannerOptions& o, uint64_t seed) {
  o.validate();
  activity.validate("activity");
  mumap.validate("mu-map");
  UNIPET_CHECK(same_geometry(activity, mumap),
               "model_acquisition: the mu-map's grid " << mumap.data.sizes()
                                                       << " does not match the activity's " << activity.data.sizes());
  UNIPET_CHECK((activity.data >= 0).all().item<bool>(), "model_acquisition: negative activity");
  UNIPET_CHECK((mumap.data >= 0).all().item<bool>() && (mumap.data < 1.0).all().item<bool>(),
               "model_acquisition: mu-map values must be in [0, 1) 1/cm");
  Acquisition a;
  a.oversampling = oversampling_factor(activity, grid);
  const int64_t f = a.oversampling, D = grid.data.size(0);
  const Projector coarse = make_projector(o, grid);
  const Projector fine = make_fine_projector(coarse, o, f);

  // 1/cm -> 1/mm, since line integrals are in mm.
  const torch::Tensor mu = mumap.data.to(torch::kCPU, torch::kFloat32) / 10.0;
  a.attenuation = project_slabs(fine, mu, f, Projection::Attenuation).contiguous();
  std::tie(a.crystal_efficiency, a.ring_efficiency) = detector_efficiencies(coarse, D, o, seed);
  a.efficiency = pair_efficiencies(coarse, a.crystal_efficiency, a.ring_efficiency, o.ring_diameter_mm);

  torch::Tensor trues = gaussian_filter_along(
      project_slabs(fine, activity.data.to(torch::kCPU, torch::kFloat32), f, Projection::Emission),
      o.psf_axial_fwhm_mm / grid.spacing[2], 0);
  const bool tof = coarse.tof();
  const torch::Tensor attenuated = a.attenuation * (tof ? trues.sum(-1) : trues);
  const double raw_trues = total(a.efficiency * attenuated);
  UNIPET_CHECK(raw_trues > 0, "model_acquisition: the activity projects to zero counts");
  a.expected_trues = o.prompts * (1 - o.scatter_fraction) * (1 - o.randoms_fraction);
  a.expected_scatter = a.expected_trues * o.scatter_fraction / (1 - o.scatter_fraction);
  a.expected_randoms = o.prompts * o.randoms_fraction;
  a.gain = a.expected_trues / raw_trues;

  // Scatter: the attenuated trues blurred radially and axially (angular smoothing adds little).
  const ProjectorOptions& p = coarse.options();
  torch::Tensor scatter = a.efficiency * gaussian_filter(attenuated, o.scatter_fwhm_mm, 0.0, o.scatter_fwhm_mm,
                                                         p.bin_mm, 1.0, p.voxel_z_mm);
  const double scatter_total = total(scatter);
  a.scatter = scatter_total > 0 ? (scatter * (a.expected_scatter / scatter_total)).contiguous()
                                : torch::zeros_like(scatter);
  a.randoms = (a.efficiency * (a.expected_randoms / total(a.efficiency))).contiguous();

  const torch::Tensor m = a.gain * a.efficiency * a.attenuation;
  if (!tof) {
    a.expected_prompts = (trues.mul_(m) + a.scatter + a.randoms).contiguous();
    return a;
  }
  // Scattered photons keep roughly the TOF position of their line's activity, smeared by the
  // scatter's own spread along the line.
  a.scatter_tof_profile = smooth_profile(trues, o.scatter_fwhm_mm / p.tof_bin_mm);
  const double even = 1.0 / static_cast<double>(coarse.tof_bins());
  trues.mul_(m.unsqueeze(-1));
  for (int64_t d = 0; d < D; ++d) {  // slice by slice: no TOF-sized float copy of the profile
    trues[d].addcmul_(a.scatter[d].unsqueeze(-1), a.scatter_tof_profile[d].to(torch::kFloat32));
  }
  trues.add_((a.randoms * even).unsqueeze(-1));
  a.expected_prompts = trues.contiguous();
  return a;
}

Corrections model_corrections(const Projector& recon, const Acquisition& truth, const Volume& grid_mumap,
                              const ScannerOptions& scanner, const CorrectionOptions& o, uint64_t seed) {
  o.validate();
  grid_mumap.validate("mu-map");
  Corrections c;
  Random random(seed);
  auto normal = [&](int64_t n) {
    torch::Tensor t = torch::empty({n}, torch::kFloat64);
    for (int64_t i = 0; i < n; ++i) t[i] = random.normal();
    return t;
  };

  // Normalisation from a calibration scan: every crystal's and ring's efficiency a little off.
  torch::Tensor crystal = truth.crystal_efficiency, ring = truth.ring_efficiency;
  if (o.normalisation_error > 0 && scanner.normalisation) {
    crystal = crystal * (1 + o.normalisation_error * normal(crystal.size(0)));
    ring = ring * (1 + o.normalisation_error * normal(ring.size(0)));
  }
  c.efficiency = pair_efficiencies(recon, crystal, ring, scanner.ring_diameter_mm);

  // Attenuation from a CT-like mu-map: smoother than the truth and misregistered.
  c.mumap = grid_mumap;
  torch::Tensor mu = grid_mumap.data.to(torch::kCPU, torch::kFloat32);
  const auto& sp = grid_mumap.spacing;
  if (o.mumap_fwhm_mm > 0) {
    mu = gaussian_filter(mu, o.mumap_fwhm_mm, o.mumap_fwhm_mm, o.mumap_fwhm_mm, sp[0], sp[1], sp[2], Edge::Mirror);
  }
  double shift[3] = {0, 0, 0};
  if (o.mumap_shift_mm > 0) {
    const torch::Tensor d = normal(3);
    const double norm = std::max(1e-12, d.norm().item<double>());
    for (int k = 0; k < 3; ++k) shift[k] = o.mumap_shift_mm * d[k].item<double>() / norm;
    mu = shift_volume(mu, shift[0] / sp[0], shift[1] / sp[1], shift[2] / sp[2]).clamp_min(0.0);
  }
  c.mumap.data = mu.contiguous();
  const bool exact_mu = o.mumap_fwhm_mm == 0 && o.mumap_shift_mm == 0 && truth.oversampling == 1;
  const torch::Tensor attenuation = exact_mu ? truth.attenuation : torch::exp(-recon.line_integrals(mu / 10.0));
  c.multiplicative = (truth.gain * c.efficiency * attenuation).contiguous();

  // Scatter: a smoother shape and a scale error, as a model-based estimate after tail fitting.
  const double scale = 1 + o.scatter_scale_sd * normal(1).item<double>();
  const ProjectorOptions& p = recon.options();
  const double extra = std::sqrt(std::max(0.0, o.scatter_estimate_fwhm_mm * o.scatter_estimate_fwhm_mm -
                                                   scanner.scatter_fwhm_mm * scanner.scatter_fwhm_mm));
  torch::Tensor scatter = truth.scatter;
  torch::Tensor profile = truth.scatter_tof_profile;
  if (extra > 0) {
    scatter = gaussian_filter(scatter, extra, 0.0, extra, p.bin_mm, 1.0, p.voxel_z_mm, Edge::Mirror);
    scatter = scatter * (total(truth.scatter) / std::max(1e-30, total(scatter)));
    if (profile.defined()) profile = smooth_profile(profile, extra / p.tof_bin_mm);
  }
  c.background.scatter = (scatter * scale).contiguous();
  c.background.scatter_tof_profile = profile;
  if (!o.delayed_randoms) c.background.randoms = truth.randoms;

  c.numbers = {{"scatter_scale", scale},
               {"normalisation_error", scanner.normalisation ? o.normalisation_error : 0.0},
               {"mumap_fwhm_mm", o.mumap_fwhm_mm},
               {"mumap_shift_x_mm", shift[0]},
               {"mumap_shift_y_mm", shift[1]},
               {"mumap_shift_z_mm", shift[2]},
               {"scatter_estimate_fwhm_mm", std::max(o.scatter_estimate_fwhm_mm, scanner.scatter_fwhm_mm)},
               {"delayed_randoms", o.delayed_randoms ? 1.0 : 0.0},
               {"randoms_smoothing_fwhm_mm", o.delayed_randoms ? o.randoms_smoothing_fwhm_mm : 0.0},
               {"recon_psf_fwhm_mm", p.psf_fwhm_mm},
               {"recon_psf_axial_fwhm_mm", p.psf_axial_fwhm_mm}};
  return c;
}

torch::Tensor randoms_estimate(const torch::Tensor& delayed, double dose_fraction, const Corrections& c,
                               const Projector& recon, const CorrectionOptions& o) {
  UNIPET_CHECK(dose_fraction > 0 && dose_fraction <= 1,
               "randoms_estimate: dose fraction must be in (0, 1], got " << dose_fraction);
  UNIPET_CHECK(delayed.sizes() == c.efficiency.sizes(),
               "randoms_estimate: delayed counts " << delayed.sizes() << " do not match "
                                                   << c.efficiency.sizes());
  const ProjectorOptions& p = recon.options();
  // Randoms are smooth apart from the crystals' efficiencies: divide those out, smooth, put back.
  torch::Tensor r = delayed.to(torch::kCPU, torch::kFloat32) / c.efficiency;
  const double fwhm = o.randoms_smoothing_fwhm_mm;
  r = gaussian_filter_along(r, fwhm / p.bin_mm, 2, Edge::Mirror);
  r = gaussian_filter_along(r, fwhm / p.voxel_z_mm, 0, Edge::Mirror);
  r = gaussian_filter_along(r, fwhm / p.bin_mm, 1, Edge::Mirror);
  return (r * c.efficiency / dose_fraction).contiguous();
}

}  // namespace unipet::sim
