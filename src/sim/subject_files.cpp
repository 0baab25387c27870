#include "subject_files.h"

#include <cstdio>
#include <vector>

#include "unipet/core/atomic_file.h"
#include "unipet/core/error.h"
#include "unipet/io/image_io.h"

namespace unipet::sim::detail {

namespace fs = std::filesystem;

namespace {

constexpr const char* kSubjectFile = "subject.json";

void write_volume(const Volume& v, const fs::path& path) { io::write_image(v, path.string()); }

}  // namespace

std::string subject_id(const SimulationOptions& o, int64_t index) {
  char buffer[32];
  if (o.from_images.empty()) {
    std::snprintf(buffer, sizeof buffer, "sim%04lld", static_cast<long long>(index));
    return buffer;
  }
  std::string stem = fs::path(o.from_images[index]).filename().string();
  stem.resize(stem.size() - io::image_extension(stem).size());
  std::snprintf(buffer, sizeof buffer, "%03lld_", static_cast<long long>(index));
  return buffer + stem;
}

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

Volume read_mumap(const std::string& path) {
  Volume mu = io::read_image(path);
  const double max_mu = mu.data.max().item<double>();
  UNIPET_CHECK(max_mu >= 0.05 && max_mu < 0.5 && mu.data.min().item<double>() >= 0,
               path << ": mu-map values must be in 1/cm at 511 keV (soft tissue 0.096), got a "
                    << "maximum of " << max_mu);
  return mu;
}

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

}  // namespace unipet::sim::detail
