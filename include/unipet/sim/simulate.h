#pragma once
/// The whole simulator: phantoms (or a user's full-dose images) -> Poisson prompts -> nested
/// binomial thinning per DRF -> OSEM in Bq/ml -> a dataset folder described by dataset.json.
///
///   unipet::sim::SimulationOptions o;
///   o.out_dir = "data/sim";
///   o.subjects = 20;
///   o.seed = 1;
///   unipet::io::Dataset ds = unipet::sim::simulate_dataset(o);
///
/// Layout written: `out_dir/dataset.json` and per subject `out_dir/<id>/activity.nii.gz`,
/// `mumap.nii.gz` (1/cm, the truth), `mumap_ac.nii.gz` (the CT-like map the reconstruction
/// corrected with), `lesions.nii.gz` and `liver.nii.gz` (phantoms only), `full.nii.gz`, `drf_<k>.nii.gz`, and
/// `subject.json`, written last, which marks the subject complete. Re-running with the same
/// options skips complete subjects, so an interrupted run resumes; running into a folder made with
/// other options throws instead of mixing datasets. Every file is written atomically.
///
/// Subject i's random streams depend only on (seed, i), so the same seed gives the same bytes
/// whatever the number of subjects or threads, and adding subjects keeps the earlier ones.
/// Threading is coarse: the seven-odd reconstructions of a subject run on `threads` workers,
/// each single-threaded; the other phases run serially.
#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "unipet/core/volume.h"
#include "unipet/io/dataset.h"
#include "unipet/sim/acquisition.h"
#include "unipet/sim/osem.h"
#include "unipet/sim/phantom.h"
#include "unipet/sim/scanner.h"

namespace unipet::sim {

/// The fewest expected prompts a low-dose study may keep (full-dose prompts / DRF, with --vary's
/// lowest draw): fewer is a handful of events, not an image (`--drf 1e9` left 0.2).
constexpr double kMinLowDosePrompts = 1e3;

/// Per-subject variation of the scanner and the reconstruction (`--vary`), so that a dataset does
/// not teach one scanner's texture. Each subject draws from its own stream, uniformly unless
/// stated, within ranges taken from clinical whole-body FDG practice:
///   total prompts   log-uniform within a factor `counts_factor` of the option (dose, minutes per
///                   bed, body habitus and scanner sensitivity each move it by up to 2x);
///   resolution      `psf_mm` FWHM (digital SiPM scanners ~3.5-4 mm, PMT scanners 5-6 mm);
///   voxel size      the option times 1 +- `voxel_spread`, the field of view kept;
///   time of flight  one of `tof_ps` (non-TOF, ~600 ps, ~400 ps and 214 ps generations);
///   OSEM            iterations in `iterations`, subsets in `subsets` (at most the angles);
///   post-filter     `post_filter_mm` FWHM;
///   scatter, randoms fractions in `scatter_fraction`, `randoms_fraction`.
/// Every drawn value is recorded in the subject's numbers in dataset.json.
struct Variation {
  bool enabled = false;
  double counts_factor = 4.0;
  std::array<double, 2> psf_mm = {3.5, 6.0};
  double voxel_spread = 0.15;
  std::vector<double> tof_ps = {0, 214, 400, 600};
  std::array<int64_t, 2> iterations = {2, 4};
  std::array<int64_t, 2> subsets = {8, 16};
  std::array<double, 2> post_filter_mm = {2.0, 7.0};
  std::array<double, 2> scatter_fraction = {0.25, 0.45};
  std::array<double, 2> randoms_fraction = {0.10, 0.35};

  /// Throws unipet::Error naming the first invalid range.
  void validate() const;
};

struct SimulationOptions {
  std::string out_dir;                            ///< dataset folder (created)
  std::string name = "unipet-simulated";          ///< dataset name in dataset.json
  int64_t subjects = 10;                          ///< phantoms to draw (ignored with from_images)
  std::vector<double> drfs = {2, 4, 10, 20, 50, 100};  ///< dose reduction factors, each > 1
  uint64_t seed = 0;                              ///< < 2^53, so dataset.json stores it exactly
  std::array<double, 3> split = {0.7, 0.15, 0.15};  ///< train, val, test fractions (sum 1)
  PhantomOptions phantom;
  ScannerOptions scanner;
  OsemOptions osem;
  CorrectionOptions corrections;                 ///< how the reconstruction's corrections err
  Variation vary;                                ///< per-subject scanner variation (`--vary`)
  int64_t oversampling = 2;                      ///< phantoms drawn on a grid this many times finer
                                                 ///< than the output and projected from it (1 =
                                                 ///< on the output grid: with exact corrections,
                                                 ///< the inverse crime); user images use 1
  std::vector<std::string> from_images;  ///< full-dose images (Bq/ml, or SUV with weight and
                                         ///< dose) used as activity instead of phantoms
  std::string mumap;                     ///< mu-map (1/cm) for a single from_image; else threshold
  double body_threshold = 0.02;          ///< body = activity > this x its 99th percentile
  double weight_kg = 0;                  ///< from_images: patient weight, for SUV (0 = unknown)
  double dose_at_scan_bq = 0;            ///< from_images: decay-corrected dose (0 = unknown)
  int threads = 0;                       ///< reconstructions run at once (0 = one per hardware thread)

  /// Throws unipet::Error naming the first invalid option (including nested options).
  void validate() const;

  /// The inverse crime, for comparison (`--inverse-crime`): the phantom drawn on the output grid
  /// and every correction exact (CorrectionOptions::exact).
  void use_inverse_crime();
};

/// One simulated acquisition and its reconstructions.
struct SimulatedSubject {
  Volume activity;                       ///< the truth, Bq/ml
  Volume mumap;                          ///< the true mu-map on the output grid, 1/cm
  Volume attenuation_map;                ///< the mu-map the reconstruction corrected with, 1/cm
  Volume lesions;                        ///< labels; undefined data for user images
  Volume liver;                          ///< liver mask (phantoms only)
  Volume full;                           ///< full-dose OSEM, Bq/ml
  std::map<double, Volume> low;          ///< DRF -> low-dose OSEM, Bq/ml
  std::map<std::string, double> numbers; ///< counts (realised and expected), gain, ...
};

/// Simulates the acquisitions and reconstructions of one activity / mu-map pair given on a grid
/// `oversampling` times finer than the reconstruction's (1: the same grid). The subject's
/// activity and mu-map are the truth averaged onto the reconstruction grid; its attenuation map
/// is the one the reconstruction corrected with (see acquisition.h).
SimulatedSubject simulate_subject(const Volume& activity, const Volume& mumap,
                                  const SimulationOptions& options, uint64_t seed,
                                  int64_t oversampling = 1);

/// The options subject `subject_seed` is simulated with: `options` itself, or with `vary`
/// enabled its draw from the ranges of Variation.
SimulationOptions subject_options(const SimulationOptions& options, uint64_t subject_seed);

/// `phantom` on a grid `factor` times finer along every axis, over the same field of view.
PhantomOptions oversampled_phantom(const PhantomOptions& phantom, int64_t factor);

/// An upper estimate of the memory (bytes) one phantom subject needs at its peak: the fine
/// phantom, the fine projector, every sinogram held at once and the reconstructions' images.
/// simulate_dataset refuses options whose estimate exceeds 80% of the machine's memory.
double estimate_subject_bytes(const SimulationOptions& options);

/// A soft-tissue mu-map (0.096 / cm) over the voxels whose activity exceeds `threshold` times
/// the 99th percentile; air elsewhere.
Volume mumap_from_activity(const Volume& activity, double threshold);

/// Train / val / test labels for `count` subjects: round(fraction * count) per split (test takes
/// the rest), assigned in an order shuffled by `seed`.
std::vector<std::string> assign_splits(int64_t count, const std::array<double, 3>& fractions,
                                       uint64_t seed);

/// Runs the whole simulation into options.out_dir and returns the dataset written to
/// out_dir/dataset.json. `progress` receives one line per subject.
io::Dataset simulate_dataset(const SimulationOptions& options,
                             const std::function<void(const std::string&)>& progress = {});

}  // namespace unipet::sim
