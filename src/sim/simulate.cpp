#include "unipet/sim/simulate.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <set>
#include <sstream>

#include "unipet/core/atomic_file.h"
#include "unipet/core/device.h"
#include "unipet/core/error.h"
#include "unipet/core/splitmix.h"
#include "unipet/core/thread_pool.h"
#include "unipet/io/image_io.h"
#include "unipet/io/suv.h"
#include "unipet/sim/acquisition.h"
#include "unipet/sim/dose.h"
#include "unipet/sim/random.h"
#include "ordered_sum.h"
#include "subject_files.h"

namespace unipet::sim {

namespace fs = std::filesystem;

namespace {

/// Decorrelates seeds that differ in a few bits (seed, seed + 1, ...).
constexpr uint64_t mix(uint64_t x) { return splitmix64_mix(x); }

uint64_t subject_seed(uint64_t seed, int64_t index) {
  return mix(mix(seed) ^ static_cast<uint64_t>(index + 1));
}

// Sinogram elements drawn at once: Poisson and binomial draws go through float64 copies, which
// for a clinical TOF sinogram would be several GB.
constexpr int64_t kDrawElements = int64_t{16} << 20;

/// `draw(slab, first_index)` over slabs of whole slices; the samplers' streams are counter-based,
/// so slabs give the same counts as one draw. Results are compacted as they come.
template <typename Draw>
torch::Tensor draw_in_slabs(const torch::Tensor& input, Draw draw) {
  const int64_t per_slice = input[0].numel();
  const int64_t slab = std::max<int64_t>(1, kDrawElements / std::max<int64_t>(1, per_slice));
  std::vector<torch::Tensor> parts;
  bool fits_int16 = true;
  for (int64_t d0 = 0; d0 < input.size(0); d0 += slab) {
    const int64_t n = std::min(slab, input.size(0) - d0);
    torch::Tensor part = draw(input.narrow(0, d0, n).contiguous(), d0 * per_slice);
    fits_int16 = fits_int16 && part.max().item<double>() <= 32767;
    parts.push_back(fits_int16 ? part.to(torch::kInt16) : part);
  }
  // Counts as int16 where every bin fits (TOF bins hold a few counts): half the memory.
  if (!fits_int16) {
    for (torch::Tensor& part : parts) part = part.to(torch::kFloat32);
  }
  return torch::cat(parts, 0);
}

torch::Tensor sample_poisson(const torch::Tensor& mean, uint64_t seed) {
  return draw_in_slabs(mean, [&](const torch::Tensor& slab, int64_t first) {
    return poisson_counts(slab, seed, first);
  });
}

torch::Tensor sample_thinned(const torch::Tensor& counts, double previous_drf, double drf, uint64_t seed) {
  return draw_in_slabs(counts, [&](const torch::Tensor& slab, int64_t first) {
    return thin_to_drf(slab.to(torch::kFloat32), previous_drf, drf, seed, first);
  });
}

/// Labels of the fine grid on the output grid: an output voxel takes a lesion when at least half
/// of it is that lesion; a lesion smaller than that keeps the voxel it covers most, so every
/// lesion of the list stays in the label image.
Volume downsample_labels(const Volume& fine, int64_t f) {
  if (f == 1) return fine;
  Volume out = downsample(fine, f);
  const torch::Tensor labels = fine.data.to(torch::kCPU);
  torch::Tensor coarse = torch::zeros_like(out.data);
  const int64_t count = static_cast<int64_t>(labels.max().item<double>() + 0.5);
  for (int64_t k = 1; k <= count; ++k) {
    const torch::Tensor coverage = downsample(with_geometry_of(fine, (labels == static_cast<double>(k)).to(torch::kFloat32)), f).data;
    torch::Tensor mask = coverage >= 0.5;
    if (!mask.any().item<bool>()) {
      if (coverage.max().item<double>() <= 0) continue;
      mask = torch::zeros_like(mask);
      mask.view(-1)[coverage.argmax().item<int64_t>()] = true;
    }
    coarse.masked_fill_(mask, static_cast<double>(k));
  }
  out.data = coarse;
  return out;
}

/// A user's mu-map, refused when its values cannot be 1/cm at 511 keV (a map in 1/mm or in
/// Hounsfield units would silently give wrong attenuation).
}  // namespace

Volume mumap_from_activity(const Volume& activity, double threshold) {
  activity.validate("activity");
  UNIPET_CHECK(threshold > 0 && threshold < 1, "mumap_from_activity: threshold must be in (0, 1)");
  torch::Tensor values = activity.data.to(torch::kCPU, torch::kFloat32).flatten();
  // torch::quantile refuses very large inputs; a regular subsample estimates it as well.
  const int64_t stride = std::max<int64_t>(1, values.numel() / (1 << 22));
  values = values.slice(0, 0, values.numel(), stride);
  const double p99 = torch::quantile(values, 0.99).item<double>();
  UNIPET_CHECK(p99 > 0, "mumap_from_activity: the activity image is empty");
  const torch::Tensor body = activity.data.to(torch::kCPU) > threshold * p99;
  Volume mu = with_geometry_of(activity, body.to(torch::kFloat32) * 0.096);
  mu.units = Units::Unknown;
  return mu;
}

std::vector<std::string> assign_splits(int64_t count, const std::array<double, 3>& fractions,
                                       uint64_t seed) {
  UNIPET_CHECK(count >= 0, "assign_splits: count must be >= 0");
  const auto train = std::min<int64_t>(count, std::llround(fractions[0] * count));
  const auto val = std::min<int64_t>(count - train, std::llround(fractions[1] * count));
  std::vector<int64_t> order(count);
  for (int64_t i = 0; i < count; ++i) order[i] = i;
  // Portable Fisher-Yates (std::shuffle's draws differ between standard libraries).
  Random engine(stream_seed(seed, 0x73706c6974ull));  // "split"
  engine.shuffle(order);
  std::vector<std::string> split(count, "test");
  for (int64_t k = 0; k < train + val; ++k) split[order[k]] = k < train ? "train" : "val";
  return split;
}

SimulatedSubject simulate_subject(const Volume& activity, const Volume& mumap,
                                  const SimulationOptions& o, uint64_t seed, int64_t oversampling) {
  const int workers = resolve_threads(o.threads);
  const Volume grid = downsample(activity, oversampling);
  SimulatedSubject s;
  s.activity = grid;
  s.activity.units = Units::BqPerMl;
  torch::Tensor counts, delayed;
  std::map<double, torch::Tensor> low_delayed;
  std::unique_ptr<Projector> projector;
  Corrections corrections;
  {
    // The projections of the truth run on every thread (the projector's results do not depend on
    // the count); the samplers are counter-based, so neither do the counts.
    IntraOpThreads threads(workers);
    Acquisition truth = model_acquisition(activity, mumap, grid, o.scanner, mix(seed ^ 1));
    counts = sample_poisson(truth.expected_prompts, mix(seed ^ 2));
    truth.expected_prompts = torch::Tensor();  // the largest tensor; not needed any more
    if (o.corrections.delayed_randoms) {
      delayed = poisson_counts(truth.randoms, mix(seed ^ 4));
      low_delayed = thin_nested(delayed, o.drfs, mix(seed ^ 5));
    }
    projector = std::make_unique<Projector>(make_reconstruction_projector(o.scanner, o.corrections, grid));
    corrections = model_corrections(*projector, truth, downsample(mumap, oversampling), o.scanner,
                                    o.corrections, mix(seed ^ 6));
    s.numbers = {{"expected_prompts_full", truth.expected_trues + truth.expected_scatter + truth.expected_randoms},
                 {"expected_trues_full", truth.expected_trues},
                 {"expected_scatter_full", truth.expected_scatter},
                 {"expected_randoms_full", truth.expected_randoms},
                 {"gain_counts_per_bqml_mm", truth.gain},
                 {"oversampling", static_cast<double>(oversampling)},
                 {"tof_fwhm_ps", o.scanner.tof_fwhm_ps},
                 {"tof_bins", static_cast<double>(projector->tof() ? projector->tof_bins() : 0)},
                 {"tof_bin_mm", projector->options().tof_bin_mm},
                 {"psf_fwhm_mm", o.scanner.psf_fwhm_mm},
                 {"psf_axial_fwhm_mm", o.scanner.psf_axial_fwhm_mm},
                 {"scatter_fraction", o.scanner.scatter_fraction},
                 {"randoms_fraction", o.scanner.randoms_fraction},
                 {"osem_iterations", static_cast<double>(o.osem.iterations)},
                 {"osem_subsets", static_cast<double>(o.osem.subsets)},
                 {"post_filter_fwhm_mm", o.osem.post_filter_fwhm_mm},
                 {"voxel_mm", grid.spacing[0]},
                 {"slice_mm", grid.spacing[2]},
                 {"matrix", static_cast<double>(grid.data.size(2))},
                 {"prompts_per_study", o.scanner.prompts}};
    for (const auto& [key, value] : corrections.numbers) s.numbers[key] = value;
  }
  const Osem osem(*projector, corrections.multiplicative, corrections.background, o.osem);
  s.mumap = downsample(mumap, oversampling);
  s.mumap.units = Units::Unknown;
  s.attenuation_map = corrections.mumap;
  s.attenuation_map.units = Units::Unknown;

  // Dose levels in increasing DRF, each thinned from the previous (nested, as list-mode
  // subsampling is), reconstructed in waves of `workers` so that only that many count sinograms
  // exist at once: with TOF they are the subject's largest tensors.
  std::vector<double> levels = {1.0};
  std::set<double> ordered(o.drfs.begin(), o.drfs.end());
  levels.insert(levels.end(), ordered.begin(), ordered.end());
  std::vector<torch::Tensor> images(levels.size());
  uint64_t stream = 0;
  for (size_t first = 0; first < levels.size(); first += static_cast<size_t>(workers)) {
    const size_t end = std::min(levels.size(), first + static_cast<size_t>(workers));
    std::vector<torch::Tensor> wave;
    {
      IntraOpThreads threads(workers);
      for (size_t k = first; k < end; ++k) {
        if (k > 0) {
          counts = sample_thinned(counts, levels[k - 1], levels[k], mix(seed ^ 3) + kSplitMixGolden * ++stream);
        }
        s.numbers[k == 0 ? "counts_full" : "counts_drf_" + io::drf_text(levels[k])] = detail::ordered_sum(counts);
        wave.push_back(counts);
      }
    }
    run_on_workers(static_cast<int64_t>(wave.size()), workers, [&](int64_t j) {
      const size_t k = first + static_cast<size_t>(j);
      const double fraction = 1.0 / levels[k];
      const torch::Tensor& d = k == 0 ? delayed : (low_delayed.count(levels[k]) ? low_delayed.at(levels[k]) : torch::Tensor());
      const torch::Tensor randoms =
          d.defined() ? randoms_estimate(d, fraction, corrections, *projector, o.corrections) : torch::Tensor();
      images[k] = osem.reconstruct(wave[j], fraction, {}, randoms);
    });
  }
  for (size_t k = 0; k < levels.size(); ++k) {
    Volume v = with_geometry_of(grid, images[k]);
    v.units = Units::BqPerMl;
    if (k == 0) {
      s.full = v;
    } else {
      s.low[levels[k]] = v;
    }
  }
  return s;
}

namespace {

/// A drawn phantom, simulated on its oversampled grid, with its lesion and liver labels and its
/// patient numbers (weight, dose, SUV factor).
SimulatedSubject simulate_phantom_subject(const SimulationOptions& run, uint64_t seed) {
  const int64_t f = run.oversampling;
  const SimulationOptions varied = subject_options(run, seed);
  Phantom p = generate_phantom(oversampled_phantom(varied.phantom, f), seed);
  SimulatedSubject s = simulate_subject(p.activity, p.mumap, varied, seed, f);
  s.lesions = downsample_labels(p.lesions, f);
  // The liver as evaluation reads it (`images["liver"]`, liver CoV): output voxels at least
  // half liver.
  const torch::Tensor liver = (p.organs.data == static_cast<double>(organ_label("liver"))).to(torch::kFloat32);
  s.liver = downsample(with_geometry_of(p.organs, liver), f);
  s.liver.data = (s.liver.data >= 0.5).to(torch::kFloat32);
  s.liver.units = Units::Unitless;
  for (const auto& [key, value] : p.numbers) s.numbers[key] = value;
  s.numbers["weight_kg"] = p.weight_kg;
  s.numbers["injected_dose_bq"] = p.injected_dose_bq;
  s.numbers["dose_at_scan_bq"] = p.dose_at_scan_bq;
  s.numbers["suv_per_bqml"] = 1.0 / io::bq_per_ml_per_suv(p.dose_at_scan_bq, p.weight_kg);
  s.numbers["lesions"] = static_cast<double>(p.lesion_list.size());
  s.numbers["brain_in_view"] = p.brain_in_view ? 1.0 : 0.0;
  return s;
}

/// A user's full-dose image as the activity (Bq/ml, or SUV made Bq/ml with the weight and dose).
SimulatedSubject simulate_image_subject(const SimulationOptions& o, const std::string& path, uint64_t seed) {
  Volume activity = io::read_image(path);
  if (activity.units == Units::SUV) {
    UNIPET_CHECK(o.weight_kg > 0 && o.dose_at_scan_bq > 0,
                 path << ": an SUV image needs the weight and the dose at scan time to become Bq/ml (--weight, "
                         "--dose)");
    activity.data = activity.data * io::bq_per_ml_per_suv(o.dose_at_scan_bq, o.weight_kg);
  }
  UNIPET_CHECK(activity.units == Units::BqPerMl || activity.units == Units::Unknown || activity.units == Units::SUV,
               path << ": expected activity in Bq/ml or SUV, got " << to_string(activity.units));
  activity.data = activity.data.clamp_min(0.0);  // OSEM-reconstructed inputs may dip below 0
  activity.units = Units::BqPerMl;
  const Volume mu = o.mumap.empty() ? mumap_from_activity(activity, o.body_threshold) : detail::read_mumap(o.mumap);
  SimulatedSubject s = simulate_subject(activity, mu, o, seed);
  if (o.weight_kg > 0) s.numbers["weight_kg"] = o.weight_kg;
  if (o.dose_at_scan_bq > 0) s.numbers["dose_at_scan_bq"] = o.dose_at_scan_bq;
  if (o.weight_kg > 0 && o.dose_at_scan_bq > 0)
    s.numbers["suv_per_bqml"] = 1.0 / io::bq_per_ml_per_suv(o.dose_at_scan_bq, o.weight_kg);
  return s;
}

}  // namespace

io::Dataset simulate_dataset(const SimulationOptions& o,
                             const std::function<void(const std::string&)>& progress) {
  o.validate();
  const fs::path root(o.out_dir);
  detail::check_output_folder(root, o);
  CreatedFolder created(root);

  // The per-subject record: options that shape the content, so a resume can check them.
  io::Dataset record;
  record.name = o.name;
  record.source = "simulated";
  record.units = Units::BqPerMl;
  record.drfs = o.drfs;
  std::sort(record.drfs.begin(), record.drfs.end());
  record.numbers = detail::content_numbers(o);
  record.strings = detail::content_strings(o);

  const int64_t count = o.from_images.empty() ? o.subjects : static_cast<int64_t>(o.from_images.size());
  const std::vector<std::string> splits = assign_splits(count, o.split, o.seed);
  SimulationOptions run = o;
  run.threads = resolve_threads(o.threads);  // resolved before the serial scope below changes the count
  IntraOpThreads serial(1);
  io::Dataset dataset = record;
  dataset.numbers["split_train"] = o.split[0];
  dataset.numbers["split_val"] = o.split[1];
  dataset.numbers["split_test"] = o.split[2];
  for (int64_t i = 0; i < count; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const std::string id = detail::subject_id(o, i);
    const fs::path dir = root / id;
    io::DatasetSubject subject;
    const bool resumed = detail::load_complete_subject(dir, record, subject);
    if (!resumed) {
      const uint64_t seed = subject_seed(o.seed, i);
      const SimulatedSubject s = o.from_images.empty() ? simulate_phantom_subject(run, seed)
                                                       : simulate_image_subject(run, o.from_images[i], seed);
      subject = detail::write_subject(s, dir, id, record);
    }
    subject = detail::relative_to_dataset(subject, id);
    subject.split = splits[i];
    dataset.subjects.push_back(subject);
    if (progress) {
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::ostringstream line;
      line << id << " (" << i + 1 << "/" << count << ", " << subject.split << "): "
           << (resumed ? "already complete" : "simulated") << " in " << seconds << " s";
      progress(line.str());
    }
  }
  io::write_dataset(dataset, (root / "dataset.json").string());
  created.keep();
  return io::read_dataset((root / "dataset.json").string());
}

}  // namespace unipet::sim
