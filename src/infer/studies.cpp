#include "unipet/infer/studies.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>

#include "unipet/core/atomic_file.h"
#include "unipet/core/error.h"
#include "unipet/core/progress.h"
#include "unipet/core/text.h"
#include "unipet/io/dicom.h"
#include "unipet/io/image_io.h"
#include "unipet/io/pet_image.h"
#include "unipet/io/sidecar.h"

namespace unipet::infer {

namespace fs = std::filesystem;

namespace {

bool hidden(const fs::path& p) {
  const std::string name = p.filename().string();
  return name.empty() || name[0] == '.' || is_staging_name(name);
}

std::string study_name(const fs::path& p) {
  const fs::path clean = p.has_filename() ? p : p.parent_path();  // "p01/" names p01
  return clean.filename().string();
}

bool holds_pet_series(const fs::path& dir) {
  for (const auto& s : io::list_dicom_series(dir.string()))
    if (s.modality == "PT") return true;
  return false;
}

bool same_place(const fs::path& a, const fs::path& b) {
  std::error_code ea, eb;
  const auto ca = fs::weakly_canonical(a, ea), cb = fs::weakly_canonical(b, eb);
  return !ea && !eb && ca == cb;
}

std::vector<fs::path> listed_studies(const fs::path& list) {
  std::ifstream in(list);
  UNIPET_CHECK(in, list.string() << ": cannot read the study list");
  std::vector<fs::path> studies;
  std::string line;
  int64_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    const auto first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    fs::path p = line.substr(first);
    if (p.is_relative()) p = list.parent_path() / p;
    UNIPET_CHECK(fs::exists(p), list.string() << ":" << number << ": " << p.string() << " does not exist");
    studies.push_back(p);
  }
  return studies;
}

std::vector<fs::path> folder_studies(const fs::path& dir, const std::vector<fs::path>& outputs) {
  std::vector<fs::path> studies;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const fs::path p = entry.path();
    if (hidden(p)) continue;
    if (std::any_of(outputs.begin(), outputs.end(), [&](const fs::path& o) { return same_place(p, o); })) continue;
    if (entry.is_directory() || (entry.is_regular_file() && io::is_image_path(p.string()))) studies.push_back(p);
  }
  std::sort(studies.begin(), studies.end());
  return studies;
}

bool bids_label(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c); });
}

// "sub-01_ses-1_desc-x_pet" -> "sub-01_ses-1_desc-denoised_pet": a BIDS derivative keeps its
// source's entities, with desc-<label> last before the suffix. "" when `stem` is not BIDS-named.
std::string bids_derivative_stem(const std::string& stem, const std::string& desc) {
  if (stem.rfind("sub-", 0) != 0) return "";
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    const size_t end = stem.find('_', start);
    parts.push_back(stem.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  if (parts.size() < 2 || !bids_label(parts.back())) return "";
  std::string out;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const size_t dash = parts[i].find('-');
    if (dash == std::string::npos || !bids_label(parts[i].substr(0, dash)) || !bids_label(parts[i].substr(dash + 1)))
      return "";
    if (parts[i].substr(0, dash) != "desc") out += parts[i] + "_";
  }
  return out + "desc-" + desc + "_" + parts.back();
}

std::string one_line(std::string message) {
  for (char& c : message)
    if (c == '\n' || c == '\r') c = ' ';
  return message;
}

// An existing output is a finished study only if it reads back as an image of the study's size:
// a 0-byte file, a folder without the series, or another image's output is not, and is left as
// it is for the user to look at (it may not be ours to remove).
void check_finished(const StudyJob& job, const StudyOptions& options) {
  std::array<int64_t, 3> done{}, wanted{};
  try {
    done = io::read_pet(job.output, "", options.read).volume.size_xyz();
  } catch (const std::exception& e) {
    UNIPET_FAIL(job.output << ": exists but does not read back as a denoised image (" << one_line(e.what())
                           << "); remove it to denoise " << job.name << " again");
  }
  wanted = io::read_pet(job.input, options.series_uid, options.read).volume.size_xyz();
  UNIPET_CHECK(done == wanted, job.output << ": exists but is " << done[0] << " x " << done[1] << " x " << done[2]
                                          << ", not the study's " << wanted[0] << " x " << wanted[1] << " x "
                                          << wanted[2] << "; remove it to denoise " << job.name << " again");
}

}  // namespace

bool is_study_collection(const std::string& input) {
  const fs::path p(input);
  if (fs::is_regular_file(p)) return ends_with_ci(input, ".txt");
  if (!fs::is_directory(p)) return false;
  bool other_files = false;
  for (const auto& entry : fs::directory_iterator(p)) {
    if (hidden(entry.path()) || !entry.is_regular_file()) continue;
    if (io::is_image_path(entry.path().string())) return true;
    other_files = true;
  }
  if (other_files) return false;  // files of its own that are not images: one DICOM study
  int64_t subfolders_with_pet = 0;
  for (const auto& entry : fs::directory_iterator(p))
    if (!hidden(entry.path()) && entry.is_directory() && holds_pet_series(entry.path())) ++subfolders_with_pet;
  return subfolders_with_pet >= 2;
}

std::vector<StudyJob> plan_studies(const std::string& input, const std::string& output_dir, const std::string& format,
                                   const std::string& uncertainty_dir, const std::vector<std::string>& other_inputs) {
  const std::string fmt = lower(format);
  UNIPET_CHECK(fmt.empty() || fmt == "nii.gz" || fmt == "nii" || fmt == "mha" || fmt == "nrrd" || fmt == "dicom",
               "--format must be nii.gz, nii, mha, nrrd or dicom, got '" << format << "'");
  UNIPET_CHECK(!same_place(input, output_dir), output_dir << ": the output folder is the input folder");
  std::vector<fs::path> outputs{output_dir};
  if (!uncertainty_dir.empty()) outputs.emplace_back(uncertainty_dir);
  const std::vector<fs::path> studies =
      fs::is_directory(input) ? folder_studies(input, outputs) : listed_studies(input);
  UNIPET_CHECK(!studies.empty(), input << ": no studies (image files or DICOM folders) found");
  // Every input: the list or folder, each study (and an image's sidecar), the model.
  std::vector<fs::path> inputs{input};
  for (const auto& study : studies) {
    inputs.push_back(study);
    if (io::is_image_path(study.string())) inputs.emplace_back(io::sidecar_path(study.string()));
  }
  for (const auto& other : other_inputs) inputs.emplace_back(other);
  // A folder input's own outputs were once tolerated (and skipped when listing); they are now
  // refused like any other output among the inputs, so a rerun can never read its own results.
  for (const fs::path& out : outputs) check_apart_from_inputs(out, inputs);

  std::vector<StudyJob> jobs;
  std::map<std::string, std::string> taken;  // output -> input, to refuse two studies writing one file
  for (const fs::path& study : studies) {
    StudyJob job;
    job.name = study_name(study);
    job.input = study.string();
    const std::string ext = io::image_extension(job.name);
    const std::string stem = job.name.substr(0, job.name.size() - ext.size());
    const std::string out_ext = fmt.empty() ? ext : fmt == "dicom" ? "" : "." + fmt;
    const std::string bids = bids_derivative_stem(stem, "denoised");
    job.output = (fs::path(output_dir) / ((bids.empty() ? stem : bids) + out_ext)).string();
    if (!uncertainty_dir.empty()) {
      const std::string bids_sd = bids_derivative_stem(stem, "uncertainty");
      job.uncertainty =
          (fs::path(uncertainty_dir) / ((bids_sd.empty() ? stem + "_uncertainty" : bids_sd) + out_ext)).string();
    }
    const auto [it, fresh] = taken.emplace(job.output, job.input);
    UNIPET_CHECK(fresh, input << ": " << it->second << " and " << job.input << " would both be written to "
                              << job.output);
    jobs.push_back(job);
  }
  return jobs;
}

std::vector<StudyOutcome> denoise_studies(const Denoiser& denoiser, const std::vector<StudyJob>& jobs,
                                          const StudyOptions& options, std::ostream& log) {
  std::vector<StudyOutcome> outcomes;
  const int64_t n = static_cast<int64_t>(jobs.size());
  for (int64_t i = 0; i < n; ++i) {
    StudyOutcome outcome;
    outcome.job = jobs[i];
    const std::string prefix = "[" + std::to_string(i + 1) + "/" + std::to_string(n) + "] ";
    try {
      for (const std::string& out : {outcome.job.output, outcome.job.uncertainty}) {
        if (out.empty()) continue;
        const fs::path folder = fs::path(out).parent_path();
        if (!folder.empty()) fs::create_directories(folder);
      }
      if (fs::exists(fs::symlink_status(outcome.job.output))) {
        check_finished(outcome.job, options);
        outcome.status = StudyOutcome::Status::Skipped;
        outcome.message = outcome.job.output + " exists, skipped";
      } else {
        StudyOptions o = options;
        o.uncertainty = outcome.job.uncertainty;
        DeferredProgress progress(log, prefix + outcome.job.name + " tiles");
        o.progress = [&](int64_t done, int64_t total) { progress(done, total); };
        const StudyReport report = denoise_study(denoiser, outcome.job.input, outcome.job.output, o);
        progress.finish();
        outcome.status = StudyOutcome::Status::Done;
        outcome.message = report.summary();
        if (!report.warning.empty()) log << prefix << "warning: " << report.warning << "\n";
      }
    } catch (const c10::Error& e) {
      outcome.message = one_line(e.what_without_backtrace());
    } catch (const std::exception& e) {
      outcome.message = one_line(e.what());
    }
    log << prefix << (outcome.status == StudyOutcome::Status::Failed ? "error: " : "") << outcome.message << "\n";
    outcomes.push_back(outcome);
  }
  return outcomes;
}

}  // namespace unipet::infer
