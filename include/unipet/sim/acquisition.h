#pragma once
/// An acquisition without the "inverse crime": the truth lives on a grid finer than the
/// reconstruction's and is projected from there, and the reconstruction corrects with estimates
/// (scatter, randoms, normalisation, attenuation, resolution), not with the model that made the data.
///
///   unipet::sim::Acquisition truth = unipet::sim::model_acquisition(fine_activity, fine_mumap,
///                                                                   grid, scanner, seed);
///   torch::Tensor prompts = unipet::sim::poisson_counts(truth.expected_prompts, seed + 1);
///   unipet::sim::Projector recon = unipet::sim::make_reconstruction_projector(scanner, corrections, grid);
///   unipet::sim::Corrections c = unipet::sim::model_corrections(recon, truth, grid_mumap, scanner,
///                                                               corrections, seed + 2);
///   unipet::sim::Osem osem(recon, c.multiplicative, c.background, {});
///
/// Data model, per sinogram bin of the reconstruction grid (slice d, angle a, radial bin b, TOF bin t):
///
///   ybar = gain * n * a * [P_f G x_f]  +  n * scatter * profile_t  +  n * randoms / T
///
/// where x_f is the activity on the fine grid, P_f G its projection with the scanner's resolution
/// on fine radial bins and fine slices, [.] the mean over the `oversampling` fine bins and slices
/// that make one bin and slice of the reconstruction grid (a detector integrates over its width),
/// a = [exp(-P_f mu_f)] the attenuation of the fine mu-map, n the detector efficiencies, scatter
/// the attenuated trues blurred by `scatter_fwhm_mm`, and profile_t the trues' TOF profile blurred
/// by the same width along the line. Totals follow ScannerOptions (prompts, scatter and randoms
/// fractions) exactly as in scanner.h.
///
/// Reconstruction model: multiplicative = gain * n_est * a_est and background = scatter_est (+ a
/// randoms estimate per acquisition), with
///   n_est      crystal and ring efficiencies times (1 + normalisation_error * N(0, 1)): a finite
///              calibration scan;
///   a_est      exp(-P mu_ct) of the true mu-map on the reconstruction grid, blurred by
///              mumap_fwhm_mm and shifted by mumap_shift_mm in a random direction (CT resolution and
///              PET/CT misregistration);
///   scatter_est the true scatter blurred further to scatter_estimate_fwhm_mm and scaled by
///              1 + scatter_scale_sd * N(0, 1) (a model-based estimate's shape and tail-fit error);
///   randoms    a delayed-window estimate: Poisson counts with the randoms' mean, thinned with the
///              prompts, divided by n_est, smoothed by randoms_smoothing_fwhm_mm and multiplied back;
///   resolution the reconstruction's PSF is psf_model times the scanner's (0 = none).
/// CorrectionOptions::exact() makes every estimate the truth: with oversampling 1 that is the
/// inverse crime, kept for comparison and for tests that need an unbiased reconstruction.
#include <cstdint>
#include <map>
#include <string>

#include <torch/torch.h>

#include "unipet/core/volume.h"
#include "unipet/sim/osem.h"
#include "unipet/sim/projector.h"
#include "unipet/sim/scanner.h"

namespace unipet::sim {

/// How the reconstruction's corrections differ from the acquisition. Defaults are clinically
/// typical: a scatter estimate slightly smoother than the truth with a 5% (SD) scale error after
/// tail fitting (together a few percent of bias, within the +-5% of phantom accreditation), a delayed-window randoms
/// estimate, a 1% normalisation from a calibration scan, a CT mu-map slightly smoother than the
/// truth and misregistered by 2 mm (breathing, patient motion), and a resolution model that
/// underestimates the scanner's blur by 10%.
struct CorrectionOptions {
  double scatter_scale_sd = 0.05;          ///< relative SD of the scatter estimate's scale
  /// Smoothness of the scatter estimate (>= the data's 200 mm). Its shape error biases the centre
  /// of the body by about +2% at 220 mm and +4% at 250 mm (seed-3 liver, scatter fraction 30%).
  double scatter_estimate_fwhm_mm = 220;
  bool delayed_randoms = true;             ///< randoms from a noisy delayed window (false: truth)
  double randoms_smoothing_fwhm_mm = 40;   ///< smoothing of the delayed-window estimate
  double normalisation_error = 0.01;       ///< relative SD of calibrated crystal / ring efficiencies
  double mumap_fwhm_mm = 4.0;              ///< extra blur of the CT mu-map (0 = none)
  double mumap_shift_mm = 2.0;             ///< PET/CT misregistration, in a random direction
  double psf_model = 0.9;                  ///< reconstruction PSF / scanner PSF (0 = none)

  /// Every correction exact and the scanner's PSF modelled: the inverse crime.
  static CorrectionOptions exact();
  /// Throws unipet::Error naming the first invalid option.
  void validate() const;
};

/// The expected full-dose data and the true system's parts, on the reconstruction's sinogram.
struct Acquisition {
  torch::Tensor expected_prompts;   ///< [D, A, B] or [D, A, B, T], float32
  torch::Tensor efficiency;         ///< n, [D, A, B]
  torch::Tensor attenuation;        ///< a = [exp(-P_f mu_f)], [D, A, B]
  torch::Tensor scatter;            ///< expected scatter counts (TOF summed), [D, A, B]
  torch::Tensor randoms;            ///< expected randoms counts, [D, A, B]
  torch::Tensor scatter_tof_profile;  ///< TOF only: [D, A, B, T], sums to 1 over T (bfloat16)
  torch::Tensor crystal_efficiency, ring_efficiency;  ///< float64 [2 A], [D]
  double gain = 0;                  ///< counts per (Bq/ml * mm)
  double expected_trues = 0, expected_scatter = 0, expected_randoms = 0;
  int64_t oversampling = 1;
};

/// The reconstruction's system model and what it got wrong.
struct Corrections {
  torch::Tensor multiplicative;     ///< gain * n_est * a_est, [D, A, B]
  Background background;            ///< scatter estimate, randoms (exact mode only), TOF profile
  torch::Tensor efficiency;         ///< n_est, [D, A, B]
  Volume mumap;                     ///< the mu-map used for attenuation correction (1/cm)
  std::map<std::string, double> numbers;  ///< realised errors (scatter_scale, mumap_shift_*_mm, ...)
};

/// Fine sinogram elements projected at once (float32, 256 MB): bounds the slabs in flight.
constexpr int64_t kProjectionSlabElements = int64_t{64} << 20;

/// The fine-to-coarse factor between `fine` and `grid` (the same whole number along every axis,
/// with the same extent and centre); throws unipet::Error otherwise.
int64_t oversampling_factor(const Volume& fine, const Volume& grid);

/// Mean over factor^3 blocks, with the geometry of the coarse grid (voxel centres at the blocks'
/// centres).
Volume downsample(const Volume& fine, int64_t factor);

/// The scanner's projector for the reconstruction grid `grid` (with its TOF), as make_projector.
/// make_reconstruction_projector uses the PSF the reconstruction models instead.
Projector make_reconstruction_projector(const ScannerOptions& scanner, const CorrectionOptions& c,
                                        const Volume& grid);

/// Projects a fine-grid image (oversampling x finer than `coarse`'s grid) onto `coarse`'s sinogram
/// with the resolution `scanner` states: fine radial bins and slices, averaged into coarse ones,
/// then the axial blur. Computed in slabs of slices so the fine TOF sinogram is never whole.
torch::Tensor project_oversampled(const Projector& coarse, const ScannerOptions& scanner,
                                  const torch::Tensor& fine_image, int64_t oversampling,
                                  bool attenuation_factors = false);

/// The expected full-dose data of `activity` (Bq/ml) and `mumap` (1/cm) on a grid that is `grid`'s
/// or a whole multiple finer. Efficiencies are drawn from `seed`.
Acquisition model_acquisition(const Volume& activity, const Volume& mumap, const Volume& grid,
                              const ScannerOptions& scanner, uint64_t seed);

/// The reconstruction's model for `truth`, given the true mu-map on the reconstruction grid;
/// errors are drawn from `seed`.
Corrections model_corrections(const Projector& reconstruction, const Acquisition& truth,
                              const Volume& grid_mumap, const ScannerOptions& scanner,
                              const CorrectionOptions& options, uint64_t seed);

/// The randoms estimate (full-dose units, [D, A, B]) from delayed-window counts acquired at
/// `dose_fraction`: divided by the estimated efficiencies, smoothed radially, axially and over
/// angles, multiplied back.
torch::Tensor randoms_estimate(const torch::Tensor& delayed, double dose_fraction,
                               const Corrections& corrections, const Projector& reconstruction,
                               const CorrectionOptions& options);

}  // namespace unipet::sim
