#include "unipet/sim/simulate.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "unipet/core/atomic_file.h"
#include "unipet/core/device.h"
#include "unipet/core/splitmix.h"
#include "unipet/core/error.h"
#include "unipet/io/image_io.h"
#include "unipet/sim/acquisition.h"
#include "unipet/sim/dose.h"
#include "unipet/sim/random.h"
#include "ordered_sum.h"

namespace unipet::sim {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSubjectFile = "subject.json";

/// Decorrelates seeds that differ in a few bits (seed, seed + 1, ...).
constexpr uint64_t mix(uint64_t x) { return splitmix64_mix(x); }

uint64_t subject_seed(uint64_t seed, int64_t index) {
  return mix(mix(seed) ^ static_cast<uint64_t>(index + 1));
}

std::string subject_id(const SimulationOptions& o, int64_t index) {
  char buffer[32];
  if (o.from_images.empty()) {
    std::snprintf(buffer, sizeof buffer, "sim%04lld", static_cast<long long>(index));
    return buffer;
  }
  std::string stem = fs::path(o.from_images[index]).filename().string();
  for (const char* ext : {".nii.gz", ".nii", ".mha", ".mhd", ".nrrd", ".nhdr"}) {
    const std::string e(ext);
    if (stem.size() > e.size() && stem.compare(stem.size() - e.size(), e.size(), e) == 0) {
      stem.resize(stem.size() - e.size());
      break;
    }
  }
  std::snprintf(buffer, sizeof buffer, "%03lld_", static_cast<long long>(index));
  return buffer + stem;  // prefixed, so two inputs with the same file name stay distinct
}

/// Every option that changes a subject's content: stored in dataset.json and in each
/// subject.json, and compared on resume.
std::map<std::string, double> content_numbers(const SimulationOptions& o) {
  const PhantomOptions& p = o.phantom;
  const ScannerOptions& s = o.scanner;
  return {{"seed", static_cast<double>(o.seed)},
          {"phantom_width", static_cast<double>(p.width)},
          {"phantom_height", static_cast<double>(p.height)},
          {"phantom_slices", static_cast<double>(p.slices)},
          {"phantom_voxel_mm", p.voxel_mm},
          {"phantom_slice_mm", p.slice_mm},
          {"lesions_min", static_cast<double>(p.min_lesions)},
          {"lesions_max", static_cast<double>(p.max_lesions)},
          {"arms_up_fraction", p.arms_up_fraction},
          {"no_lesion_fraction", p.no_lesion_fraction},
          {"lesion_min_mm", p.min_lesion_mm},
          {"lesion_max_mm", p.max_lesion_mm},
          {"lesion_min_contrast", p.min_contrast},
          {"lesion_max_contrast", p.max_contrast},
          {"heterogeneity", p.heterogeneity},
          {"texture_mm", p.texture_mm},
          {"dose_mbq_per_kg", p.dose_mbq_per_kg},
          {"uptake_minutes", p.uptake_minutes},
          {"angles", static_cast<double>(s.angles)},
          {"bins", static_cast<double>(s.bins)},
          {"bin_mm", s.bin_mm},
          {"psf_fwhm_mm", s.psf_fwhm_mm},
          {"psf_axial_fwhm_mm", s.psf_axial_fwhm_mm},
          {"ring_diameter_mm", s.ring_diameter_mm},
          {"normalisation", s.normalisation ? 1.0 : 0.0},
          {"efficiency_spread", s.efficiency_spread},
          {"ring_efficiency_spread", s.ring_efficiency_spread},
          {"scatter_fraction", s.scatter_fraction},
          {"randoms_fraction", s.randoms_fraction},
          {"scatter_fwhm_mm", s.scatter_fwhm_mm},
          {"prompts_per_study", s.prompts},
          {"tof_fwhm_ps", s.tof_fwhm_ps},
          {"tof_bin_mm", s.tof_bin_mm},
          {"oversampling", static_cast<double>(o.oversampling)},
          {"scatter_scale_sd", o.corrections.scatter_scale_sd},
          {"scatter_estimate_fwhm_mm", o.corrections.scatter_estimate_fwhm_mm},
          {"delayed_randoms", o.corrections.delayed_randoms ? 1.0 : 0.0},
          {"randoms_smoothing_fwhm_mm", o.corrections.randoms_smoothing_fwhm_mm},
          {"normalisation_error", o.corrections.normalisation_error},
          {"mumap_fwhm_mm", o.corrections.mumap_fwhm_mm},
          {"mumap_shift_mm", o.corrections.mumap_shift_mm},
          {"psf_model", o.corrections.psf_model},
          {"vary", o.vary.enabled ? 1.0 : 0.0},
          {"osem_iterations", static_cast<double>(o.osem.iterations)},
          {"osem_subsets", static_cast<double>(o.osem.subsets)},
          {"post_filter_fwhm_mm", o.osem.post_filter_fwhm_mm},
          {"body_threshold", o.body_threshold},
          {"from_image_weight_kg", o.weight_kg},
          {"from_image_dose_at_scan_bq", o.dose_at_scan_bq}};
}

std::map<std::string, std::string> content_strings(const SimulationOptions& o) {
  std::string inputs;
  for (const std::string& path : o.from_images) inputs += (inputs.empty() ? "" : ";") + path;
  return {{"tracer", "FDG"},
          {"generator", "unipet simulate"},
          {"mumap_units", "1/cm"},
          {"activity_units", "Bq/ml"},
          {"suv", "SUV = Bq/ml * suv_per_bqml = Bq/ml * weight_kg * 1000 / dose_at_scan_bq"},
          {"noise_model", "Poisson prompts (TOF-binned when tof_fwhm_ps > 0) from a phantom oversampled x oversampling, binomial thinning p = 1/DRF (nested), OSEM with estimated corrections (see corrections keys)"},
          {"from_images", inputs},
          {"mumap_input", o.mumap}};
}

int worker_count(const SimulationOptions& o) {
  // Not at::get_num_threads(): Debian's LibTorch starts with one thread on some machines.
  return o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

/// Sets LibTorch's intra-op threads of the calling thread for a scope.
class IntraOpThreads {
 public:
  explicit IntraOpThreads(int threads) : previous_(at::get_num_threads()) {
    at::set_num_threads(threads);
  }
  ~IntraOpThreads() { at::set_num_threads(previous_); }
  IntraOpThreads(const IntraOpThreads&) = delete;
  IntraOpThreads& operator=(const IntraOpThreads&) = delete;

 private:
  int previous_;
};

/// Runs job(0) ... job(count - 1) on `workers` threads, each with LibTorch's own threading off.
/// Coarse jobs (whole reconstructions) instead of one OpenMP fork-join per tensor operation:
/// measured on a 2-core machine shared with other work, the fine-grained version spent most of
/// its time spinning at OpenMP barriers (85 s with 2 threads against 12 s with 1). Every job
/// runs serially, so results are identical whatever the number of workers.
void run_on_workers(int64_t count, int workers, const std::function<void(int64_t)>& job) {
  std::atomic<int64_t> next{0};
  std::mutex failure_mutex;
  std::exception_ptr failure;
  auto work = [&] {
    IntraOpThreads serial(1);
    for (int64_t k = next++; k < count; k = next++) {
      try {
        job(k);
      } catch (...) {
        std::lock_guard<std::mutex> lock(failure_mutex);
        if (!failure) failure = std::current_exception();
      }
    }
  };
  std::vector<std::thread> threads;
  for (int w = 1; w < std::min<int64_t>(workers, count); ++w) threads.emplace_back(work);
  work();
  for (std::thread& t : threads) t.join();
  if (failure) std::rethrow_exception(failure);
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

torch::Tensor sample_thinned(const torch::Tensor& counts, double keep, uint64_t seed) {
  return draw_in_slabs(counts, [&](const torch::Tensor& slab, int64_t first) {
    return thin_counts(slab.to(torch::kFloat32), keep, seed, first);
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
Volume read_mumap(const std::string& path) {
  Volume mu = io::read_image(path);
  const double max_mu = mu.data.max().item<double>();
  UNIPET_CHECK(max_mu >= 0.05 && max_mu < 0.5 && mu.data.min().item<double>() >= 0,
               path << ": mu-map values must be in 1/cm at 511 keV (soft tissue 0.096), got a "
                    << "maximum of " << max_mu);
  return mu;
}

void write_volume(const Volume& v, const fs::path& path) { io::write_image(v, path.string()); }

/// The subject's record from a previous run, when it was made with the same options. Subject
/// folders are published whole, so one without its record or with files missing was not made by
/// this version of unipet and is refused rather than overwritten.
bool load_complete_subject(const fs::path& dir, const io::Dataset& expected, io::DatasetSubject& out) {
  if (!fs::exists(fs::symlink_status(dir))) return false;
  const fs::path marker = dir / kSubjectFile;
  UNIPET_CHECK(fs::is_directory(dir) && fs::exists(marker),
               dir.string() << ": exists but is not a complete simulated subject (no " << kSubjectFile
                            << "); move or delete it to simulate this subject again");
  const io::Dataset previous = io::read_dataset(marker.string());
  UNIPET_CHECK(previous.numbers == expected.numbers && previous.strings == expected.strings &&
                   previous.drfs == expected.drfs,
               marker.string() << ": this subject was simulated with other options; use a new "
                                  "output folder or delete the old one");
  UNIPET_CHECK(previous.subjects.size() == 1, marker.string() << ": expected one subject");
  out = previous.subjects[0];
  std::vector<std::string> files = {out.full_dose};
  for (const auto& [drf, path] : out.low_dose) files.push_back(path);
  for (const auto& [role, path] : out.images) files.push_back(path);
  for (const std::string& f : files)
    UNIPET_CHECK(fs::exists(dir / f), dir.string() << ": simulated subject is missing " << f
                                                   << "; move or delete the folder to simulate it again");
  return true;
}

/// Writes the subject into a staging folder and publishes the folder whole: a subject folder
/// exists only once complete, so a killed or failed run never leaves half a subject behind.
io::DatasetSubject write_subject(const SimulatedSubject& s, const fs::path& final_dir, const std::string& id,
                                 io::Dataset record) {
  StagingDir staging(final_dir, OutputKind::Folder);
  const fs::path dir = staging.dir() / final_dir.filename();
  fs::create_directory(dir);
  io::DatasetSubject subject;
  subject.id = id;
  subject.split = "train";  // placeholder; the dataset assigns the real split
  write_volume(s.activity, dir / "activity.nii.gz");
  write_volume(s.mumap, dir / "mumap.nii.gz");
  subject.images = {{"activity", "activity.nii.gz"}, {"mumap", "mumap.nii.gz"}};
  if (s.attenuation_map.data.defined()) {
    write_volume(s.attenuation_map, dir / "mumap_ac.nii.gz");
    subject.images["mumap_ac"] = "mumap_ac.nii.gz";
  }
  if (s.lesions.data.defined()) {
    write_volume(s.lesions, dir / "lesions.nii.gz");
    subject.images["lesions"] = "lesions.nii.gz";
  }
  if (s.liver.data.defined()) {
    write_volume(s.liver, dir / "liver.nii.gz");
    subject.images["liver"] = "liver.nii.gz";
  }
  write_volume(s.full, dir / "full.nii.gz");
  subject.full_dose = "full.nii.gz";
  for (const auto& [drf, v] : s.low) {
    const std::string name = "drf_" + io::drf_text(drf) + ".nii.gz";
    write_volume(v, dir / name);
    subject.low_dose[drf] = name;
  }
  subject.numbers = s.numbers;
  record.subjects = {subject};
  io::write_dataset(record, (dir / kSubjectFile).string());
  staging.publish({final_dir.filename().string()});
  return subject;
}

/// An existing output folder is continued only when everything in it came from a simulation:
/// dataset.json, subject folders with their record, staging folders. Anything else means the
/// folder is someone else's, and nothing is written into it.
void check_output_folder(const fs::path& root, const SimulationOptions& o) {
  if (!fs::exists(fs::symlink_status(root))) return;
  UNIPET_CHECK(fs::is_directory(root), o.out_dir << ": exists and is not a folder");
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    const bool ours = name == "dataset.json" || is_staging_name(name) ||
                      (entry.is_directory() && fs::exists(entry.path() / kSubjectFile));
    UNIPET_CHECK(ours, o.out_dir << ": folder exists and holds " << name
                                 << ", which is not part of a unipet simulation; choose a new folder");
  }
  std::vector<fs::path> inputs(o.from_images.begin(), o.from_images.end());
  inputs.emplace_back(o.mumap);
  check_output_path(root, {OutputKind::Folder, inputs, true});
}

io::DatasetSubject relative_to_dataset(io::DatasetSubject s, const std::string& id) {
  s.full_dose = id + "/" + s.full_dose;
  for (auto& [drf, path] : s.low_dose) path = id + "/" + path;
  for (auto& [role, path] : s.images) path = id + "/" + path;
  return s;
}

/// Bytes a phantom subject needs at its peak (see simulate.h), from the sizes the options set: the fine phantom
/// and its painting (a dozen fine volumes), the fine projector's matrix (12 bytes per non-zero,
/// about 2 per fine voxel along each line), the sinograms (expected prompts, the TOF scatter
/// profile, the counts of every dose level, delayed counts, projections in flight) and the
/// reconstructions' images.
}  // namespace

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
  const double workers = static_cast<double>(o.threads > 0 ? o.threads : std::max(1u, std::thread::hardware_concurrency()));
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
  double sum = 0;
  for (double f : split) {
    UNIPET_CHECK(f >= 0 && f <= 1, "--split: fractions must be in [0, 1], got " << f);
    sum += f;
  }
  UNIPET_CHECK(std::abs(sum - 1) < 1e-6, "--split: fractions must sum to 1, got " << sum);
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
  const int workers = worker_count(o);
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
          counts = sample_thinned(counts, levels[k - 1] / levels[k],
                                  mix(seed ^ 3) + kSplitMixGolden * ++stream);
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

io::Dataset simulate_dataset(const SimulationOptions& o,
                             const std::function<void(const std::string&)>& progress) {
  o.validate();
  const fs::path root(o.out_dir);
  check_output_folder(root, o);
  CreatedFolder created(root);

  // The per-subject record: options that shape the content, so a resume can check them.
  io::Dataset record;
  record.name = o.name;
  record.source = "simulated";
  record.units = Units::BqPerMl;
  record.drfs = o.drfs;
  std::sort(record.drfs.begin(), record.drfs.end());
  record.numbers = content_numbers(o);
  record.strings = content_strings(o);

  const int64_t count = o.from_images.empty() ? o.subjects : static_cast<int64_t>(o.from_images.size());
  const std::vector<std::string> splits = assign_splits(count, o.split, o.seed);
  SimulationOptions run = o;
  run.threads = worker_count(o);  // resolved before the serial scope below changes the count
  IntraOpThreads serial(1);
  io::Dataset dataset = record;
  dataset.numbers["split_train"] = o.split[0];
  dataset.numbers["split_val"] = o.split[1];
  dataset.numbers["split_test"] = o.split[2];
  for (int64_t i = 0; i < count; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const std::string id = subject_id(o, i);
    const fs::path dir = root / id;
    io::DatasetSubject subject;
    const bool resumed = load_complete_subject(dir, record, subject);
    if (!resumed) {
      const uint64_t seed = subject_seed(o.seed, i);
      SimulatedSubject s;
      if (o.from_images.empty()) {
        const int64_t f = o.oversampling;
        const SimulationOptions varied = subject_options(run, seed);
        Phantom p = generate_phantom(oversampled_phantom(varied.phantom, f), seed);
        s = simulate_subject(p.activity, p.mumap, varied, seed, f);
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
        s.numbers["suv_per_bqml"] = 1.0 / bq_per_ml_per_suv(p.dose_at_scan_bq, p.weight_kg);
        s.numbers["lesions"] = static_cast<double>(p.lesion_list.size());
        s.numbers["brain_in_view"] = p.brain_in_view ? 1.0 : 0.0;
      } else {
        Volume activity = io::read_image(o.from_images[i]);
        if (activity.units == Units::SUV) {
          UNIPET_CHECK(o.weight_kg > 0 && o.dose_at_scan_bq > 0,
                       o.from_images[i] << ": an SUV image needs the weight and the dose at scan "
                                           "time to become Bq/ml (--weight, --dose)");
          activity.data = activity.data * bq_per_ml_per_suv(o.dose_at_scan_bq, o.weight_kg);
        }
        UNIPET_CHECK(activity.units == Units::BqPerMl || activity.units == Units::Unknown ||
                         activity.units == Units::SUV,
                     o.from_images[i] << ": expected activity in Bq/ml or SUV, got "
                                      << to_string(activity.units));
        activity.data = activity.data.clamp_min(0.0);  // OSEM-reconstructed inputs may dip below 0
        activity.units = Units::BqPerMl;
        const Volume mu = o.mumap.empty() ? mumap_from_activity(activity, o.body_threshold)
                                          : read_mumap(o.mumap);
        s = simulate_subject(activity, mu, run, seed);
        if (o.weight_kg > 0) s.numbers["weight_kg"] = o.weight_kg;
        if (o.dose_at_scan_bq > 0) s.numbers["dose_at_scan_bq"] = o.dose_at_scan_bq;
        if (o.weight_kg > 0 && o.dose_at_scan_bq > 0) {
          s.numbers["suv_per_bqml"] = 1.0 / bq_per_ml_per_suv(o.dose_at_scan_bq, o.weight_kg);
        }
      }
      subject = write_subject(s, dir, id, record);
    }
    subject = relative_to_dataset(subject, id);
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
