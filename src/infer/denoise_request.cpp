#include "unipet/infer/denoise_request.h"

#include <filesystem>
#include <sstream>

#include "unipet/core/compute.h"
#include "unipet/core/error.h"
#include "unipet/core/progress.h"
#include "unipet/infer/default_model.h"
#include "unipet/io/pet_image.h"

namespace unipet::infer {

namespace fs = std::filesystem;

std::string DenoiseOutcome::summary(const std::string& input) const {
  if (!collection) return report.summary() + "\n";
  int64_t done = 0, skipped = 0;
  for (const auto& s : studies) {
    if (s.status == StudyOutcome::Status::Done) ++done;
    if (s.status == StudyOutcome::Status::Skipped) ++skipped;
  }
  std::ostringstream out;
  out << done << " denoised, " << skipped << " already done, " << studies.size() - static_cast<size_t>(done + skipped)
      << " failed, of " << studies.size() << " studies in " << input << "\n";
  return out.str();
}

std::string DenoiseOutcome::failed_studies() const {
  std::string failed;
  for (const auto& s : studies)
    if (s.status == StudyOutcome::Status::Failed) failed += (failed.empty() ? "" : ", ") + s.job.name;
  return failed;
}

DenoiseOutcome run_denoise_request(DenoiseRequest r, std::ostream& log) {
  apply_compute(r.denoise.compute);
  DenoiseOutcome outcome;
  outcome.default_model = r.model.empty();
  if (outcome.default_model) r.model = default_model_path();
  outcome.model = r.model;
  UNIPET_CHECK(r.uncertainty.empty() || r.denoise.window.tta,
               "--uncertainty needs --tta (it is the spread over the 8 flips)");
  r.denoise.window.uncertainty = false;  // per study, from `uncertainty`
  StudyOptions study = r.study;

  if (is_study_collection(r.input)) {
    outcome.collection = true;
    UNIPET_CHECK(!fs::exists(r.output) || fs::is_directory(r.output),
                 r.output << ": is not a folder (a folder of studies is denoised into a folder)");
    const auto jobs = plan_studies(r.input, r.output, r.format, r.uncertainty, {r.model});
    const Denoiser denoiser(r.model, r.denoise);
    outcome.studies = denoise_studies(denoiser, jobs, study, log);
    return outcome;
  }

  UNIPET_CHECK(r.format.empty(), "--format applies to a folder or list of studies; name the output file instead");
  // Every check that needs no model comes first, so a bad path fails at once.
  io::check_pet_output(r.output, {r.input, r.model});
  if (!r.uncertainty.empty()) io::check_pet_output(r.uncertainty, {r.input, r.output, r.model});
  const Denoiser denoiser(r.model, r.denoise);
  study.uncertainty = r.uncertainty;
  DeferredProgress progress(log, "denoise tiles");
  study.progress = [&](int64_t done, int64_t total) { progress(done, total); };
  outcome.report = denoise_study(denoiser, r.input, r.output, study);
  progress.finish();
  return outcome;
}

}  // namespace unipet::infer
