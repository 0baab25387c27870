#include "unipet/sim/simulate.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <map>
#include <sstream>

#include "unipet/core/device.h"
#include "unipet/core/error.h"
#include "unipet/io/dataset.h"
#include "unipet/sim/random.h"

namespace unipet::sim {

void Variation::validate() const {
  if (!enabled) return;
  auto range = [](const auto& r, auto lowest, const char* what) {
    UNIPET_CHECK(r[0] >= lowest && r[1] >= r[0], "--vary: the " << what << " range [" << r[0] << ", " << r[1]
                                                               << "] is invalid");
  };
  UNIPET_CHECK(counts_factor >= 1 && counts_factor <= 100, "--vary: counts factor must be in [1, 100]");
  range(psf_mm, 0.0, "resolution");
  UNIPET_CHECK(voxel_spread >= 0 && voxel_spread < 0.5, "--vary: voxel spread must be in [0, 0.5)");
  UNIPET_CHECK(!tof_ps.empty(), "--vary: at least one TOF resolution is needed");
  range(iterations, int64_t{1}, "OSEM iterations");
  range(subsets, int64_t{1}, "OSEM subsets");
  range(post_filter_mm, 0.0, "post-filter");
  range(scatter_fraction, 0.0, "scatter fraction");
  range(randoms_fraction, 0.0, "randoms fraction");
  UNIPET_CHECK(scatter_fraction[1] < 1 && randoms_fraction[1] < 1, "--vary: fractions must stay below 1");
}

SimulationOptions subject_options(const SimulationOptions& o, uint64_t subject_seed) {
  if (!o.vary.enabled) return o;
  const Variation& v = o.vary;
  SimulationOptions s = o;
  // Its own stream, so that varying the scanner leaves the subject's anatomy as it was.
  Random r(stream_seed(subject_seed, 0x76617279));
  s.scanner.prompts = o.scanner.prompts * std::exp(r.uniform(-std::log(v.counts_factor), std::log(v.counts_factor)));
  s.scanner.psf_fwhm_mm = s.scanner.psf_axial_fwhm_mm = r.uniform(v.psf_mm[0], v.psf_mm[1]);
  const double scale = r.uniform(1 - v.voxel_spread, 1 + v.voxel_spread);
  PhantomOptions& p = s.phantom;
  const double fov_x = p.width * p.voxel_mm, fov_y = p.height * p.voxel_mm, fov_z = p.slices * p.slice_mm;
  p.voxel_mm *= scale;
  p.slice_mm *= scale;
  p.width = std::max<int64_t>(8, std::llround(fov_x / p.voxel_mm));
  p.height = std::max<int64_t>(8, std::llround(fov_y / p.voxel_mm));
  p.slices = std::max<int64_t>(1, std::llround(fov_z / p.slice_mm));
  s.scanner.tof_fwhm_ps = v.tof_ps[static_cast<size_t>(r.integer(0, static_cast<int64_t>(v.tof_ps.size()) - 1))];
  s.osem.iterations = r.integer(v.iterations[0], v.iterations[1]);
  const int64_t angles = o.scanner.angles > 0 ? o.scanner.angles : std::max(p.width, p.height);
  s.osem.subsets = std::min(angles, r.integer(v.subsets[0], v.subsets[1]));
  s.osem.post_filter_fwhm_mm = r.uniform(v.post_filter_mm[0], v.post_filter_mm[1]);
  s.scanner.scatter_fraction = r.uniform(v.scatter_fraction[0], v.scatter_fraction[1]);
  s.scanner.randoms_fraction = r.uniform(v.randoms_fraction[0], v.randoms_fraction[1]);
  return s;
}

PhantomOptions oversampled_phantom(const PhantomOptions& phantom, int64_t factor) {
  UNIPET_CHECK(factor >= 1, "oversampled_phantom: factor must be >= 1, got " << factor);
  PhantomOptions fine = phantom;
  fine.width *= factor;
  fine.height *= factor;
  fine.slices *= factor;
  fine.voxel_mm /= static_cast<double>(factor);
  fine.slice_mm /= static_cast<double>(factor);
  return fine;
}

/// Bytes a phantom subject needs at its peak (see simulate.h), from the sizes the options set: the fine phantom
/// and its painting (a dozen fine volumes), the fine projector's matrix (12 bytes per non-zero,
/// about 2 per fine voxel along each line), the sinograms (expected prompts, the TOF scatter
/// profile, the counts of every dose level, delayed counts, projections in flight) and the
/// reconstructions' images.
double estimate_subject_bytes(const SimulationOptions& o) {
  const PhantomOptions& p = o.phantom;
  const double f = static_cast<double>(o.oversampling);
  const double w = static_cast<double>(p.width), h = static_cast<double>(p.height), d = static_cast<double>(p.slices);
  const double voxels = w * h * d, fine_voxels = voxels * f * f * f;
  const double angles = o.scanner.angles > 0 ? static_cast<double>(o.scanner.angles) : std::max(w, h);
  const double bins = std::max(w, h);
  double tof_bins = 1;
  if (o.scanner.tof_fwhm_ps > 0) {
    const double bin_mm = o.scanner.tof_bin_mm > 0 ? o.scanner.tof_bin_mm : 0.5 * kTofMmPerPs * o.scanner.tof_fwhm_ps;
    tof_bins = std::ceil(std::hypot(w, h) * p.voxel_mm / bin_mm);
  }
  const double workers = static_cast<double>(resolve_threads(o.threads));
  const double sinogram = angles * bins * d, data = sinogram * tof_bins;
  // Painting the fine phantom: coordinates, masks and label maps, about a dozen fine volumes.
  const double phantom = 4.0 * 12.0 * fine_voxels;
  // While acquiring, at its peak (the axial PSF applied to the projected trues): the fine truth
  // (3 volumes), the fine projector (12 bytes per non-zero, about 2 per fine voxel along each
  // line), the trues twice (float32, before and after the filter), the slabs in flight (about four
  // float32 copies of a slab), a dozen non-TOF sinograms.
  const double slabs = 4.0 * 4.0 * static_cast<double>(kProjectionSlabElements);
  const double acquire = 12.0 * fine_voxels + 12.0 * angles * bins * f * 2.0 * std::max(w, h) * f +
                         data * (4 + 4) + slabs + 4.0 * sinogram * 12;
  // Then: the expected prompts (float32), the TOF profile (bfloat16), the counts (int16 slabs and
  // their concatenation).
  const double sample = 12.0 * fine_voxels + data * (4 + 2 + 2 + 2) + 4.0 * sinogram * 12;
  // While reconstructing: the profile estimate, one count sinogram per worker (int16 or float32),
  // each worker's subset in flight (a few float32 copies of 1/subsets of the data), delayed
  // counts of every dose level, and the images.
  const double subsets = static_cast<double>(std::max<int64_t>(1, o.osem.subsets));
  const double count_bytes = tof_bins > 1 ? 2 : 4;  // TOF bins hold few counts: int16
  const double reconstruct = data * (2 + workers * (count_bytes + 6 * 4 / subsets)) +
                             4.0 * sinogram * (static_cast<double>(o.drfs.size()) + 12) +
                             4.0 * voxels * (8 + 2 * static_cast<double>(o.drfs.size() + 1) + 16);
  // Always: the fine truth the caller holds, the data's and the reconstruction's projectors on
  // the output grid, and LibTorch's own allocations (thread pools, allocator caches).
  const double fixed = 12.0 * fine_voxels + 2 * 12.0 * angles * bins * 2.0 * std::max(w, h) + 64e6;
  // The allocator keeps some freed blocks: peaks measured with /usr/bin/time run up to ~20% above
  // the tensors alive (2.51 GB at the default subject with 214 ps TOF against 2.40 GB counted).
  return 1.25 * (std::max({phantom, acquire, sample, reconstruct}) + fixed);
}

namespace {

// Refuse sizes that cannot fit before anything is allocated, naming the options that set them.
void check_memory(const SimulationOptions& o) {
  std::ostringstream what;
  what << "--matrix " << o.phantom.width << " / --slices " << o.phantom.slices << " / --oversampling " << o.oversampling
       << " / --tof " << o.scanner.tof_fwhm_ps << ": a subject";
  check_fits_in_memory(estimate_subject_bytes(o), what.str());
}

}  // namespace

void SimulationOptions::validate() const {
  // Messages name the command-line option a user types (see apps/unipet/cmd_simulate.cpp).
  UNIPET_CHECK(!out_dir.empty(), "--out: an output folder is required");
  UNIPET_CHECK(!name.empty(), "--name: the dataset name must not be empty");
  UNIPET_CHECK(!from_images.empty() || subjects >= 1, "--subjects must be >= 1, got " << subjects);
  UNIPET_CHECK(!drfs.empty(), "--drf: at least one dose reduction factor is required");
  std::map<std::string, double> names;
  for (double drf : drfs) {
    UNIPET_CHECK(std::isfinite(drf) && drf > 1, "--drf: each DRF must be > 1, got " << drf);
    // A low-dose image needs counts to be an image: below kMinLowDosePrompts expected prompts it
    // is a handful of events, and every later step (a body outline, a region's mean) fails on it.
    // (A bad --counts is named by its own check below.)
    const double fewest = scanner.prompts / (vary.enabled ? vary.counts_factor : 1.0) / drf;
    UNIPET_CHECK(!(scanner.prompts > 0) || fewest >= kMinLowDosePrompts,
                 "--drf " << io::drf_text(drf) << ": leaves " << std::setprecision(3) << fewest
                          << " expected prompts of the full dose's " << scanner.prompts
                          << (vary.enabled ? " (the fewest --vary draws)" : "") << "; a low-dose study needs at least "
                          << kMinLowDosePrompts << " (a DRF of at most "
                          << scanner.prompts / (vary.enabled ? vary.counts_factor : 1.0) / kMinLowDosePrompts << ")");
    // Two DRFs that print alike would write the same drf_<k>.nii.gz.
    const auto [at, added] = names.emplace(io::drf_text(drf), drf);
    UNIPET_CHECK(added, "--drf: " << std::setprecision(17) << at->second << " and " << drf
                                  << " both give the file name drf_" << io::drf_text(drf) << ".nii.gz");
  }
  UNIPET_CHECK(seed < (uint64_t{1} << 53), "--seed must be < 2^53, got " << seed);
  // Named by every spelling a user may have typed: --val/--test, or the older --split.
  const auto fractions = [&] {
    std::ostringstream t;
    t << "(" << split[0] << ", " << split[1] << ", " << split[2] << ")";
    return t.str();
  };
  double sum = 0;
  for (double f : split) {
    UNIPET_CHECK(f >= 0 && f <= 1, "--val/--test (or --split): the train, val and test fractions must each be in [0, 1], got "
                                       << fractions());
    sum += f;
  }
  UNIPET_CHECK(std::abs(sum - 1) < 1e-6,
               "--val/--test (or --split): the train, val and test fractions must sum to 1, got " << fractions());
  UNIPET_CHECK(mumap.empty() || from_images.size() == 1, "--mumap goes with exactly one --from-image");
  UNIPET_CHECK(!vary.enabled || from_images.empty(),
               "--vary draws the scanner per phantom; it does not go with --from-image");
  UNIPET_CHECK(body_threshold > 0 && body_threshold < 1,
               "--body-threshold must be in (0, 1), got " << body_threshold);
  UNIPET_CHECK(weight_kg >= 0 && dose_at_scan_bq >= 0, "--weight and --dose must be >= 0 (0 = unknown)");
  resolve_threads(threads);
  UNIPET_CHECK(oversampling >= 1 && oversampling <= 4,
               "--oversampling must be in [1, 4], got " << oversampling);
  phantom.validate();
  scanner.validate();
  osem.validate();
  corrections.validate();
  vary.validate();
  if (from_images.empty()) {
    SimulationOptions worst = *this;
    if (vary.enabled) {  // the largest grid and the finest TOF any subject may draw
      worst.vary.enabled = false;
      const double scale = 1 - vary.voxel_spread;
      worst.phantom.width = static_cast<int64_t>(std::ceil(phantom.width / scale));
      worst.phantom.height = static_cast<int64_t>(std::ceil(phantom.height / scale));
      worst.phantom.slices = static_cast<int64_t>(std::ceil(phantom.slices / scale));
      for (double ps : vary.tof_ps) {
        if (ps > 0 && (worst.scanner.tof_fwhm_ps == 0 || ps < worst.scanner.tof_fwhm_ps)) worst.scanner.tof_fwhm_ps = ps;
      }
    }
    check_memory(worst);
  }
}

void SimulationOptions::use_inverse_crime() {
  oversampling = 1;
  corrections = CorrectionOptions::exact();
}

}  // namespace unipet::sim
