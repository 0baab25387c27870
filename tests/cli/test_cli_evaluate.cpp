#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "infer/infer_test_util.h"
#include "io/io_test_util.h"
#include "report/browser_test_util.h"
#include "train/train_test_util.h"
#include "unipet/io/dataset.h"
#include "unipet/io/image_io.h"

namespace unipet::test {
namespace {

namespace fs = std::filesystem;

// Rows of metrics.csv as maps from column to text.
std::vector<std::map<std::string, std::string>> read_csv(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  std::stringstream h(line);
  for (std::string c; std::getline(h, c, ',');) header.push_back(c);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    std::map<std::string, std::string> row;
    std::stringstream r(line);
    std::string c;
    for (size_t i = 0; i < header.size() && std::getline(r, c, ','); ++i) row[header[i]] = c;
    rows.push_back(row);
  }
  return rows;
}

// A tiny simulated dataset (DRF 4 and 20, 32 x 32 x 16 voxels) with two test subjects and one
// for validation, and a "perfect" predictions folder holding each subject's full dose.
struct EvaluationFixture {
  TempDir dir;
  std::string dataset;
  EvaluationFixture() {
    dataset = simulate_tiny_dataset(dir.path());
    io::Dataset d = io::read_dataset(dataset);
    d.subjects[0].split = "test", d.subjects[1].split = "val", d.subjects[2].split = "test";
    io::write_dataset(d, dataset);
    d = io::read_dataset(dataset);
    for (const auto& s : d.subjects)
      for (const auto& [drf, low] : s.low_dose) {
        const fs::path out = dir.path() / "perfect" / low;
        fs::create_directories(out.parent_path());
        io::write_image(io::read_image(d.resolve(s.full_dose)), out.string());
      }
    save_identity_model(dir / "id.safetensors");
  }
};

TEST(CliEvaluate, ScoresEveryMethodCachesPredictionsAndRendersTheReport) {
  EvaluationFixture f;
  const std::string report = f.dir / "report";
  const std::string args = "evaluate --dataset " + q(f.dataset) + " --method Identity=" + q(f.dir / "id.safetensors") +
                           " --method Perfect=" + q(f.dir / "perfect") + " --out " + q(report) + " --tile 16 --threads 1";
  auto r = unipet_cli(args);
  ASSERT_EQ(r.status, 0) << r.output;
  const auto rows = read_csv(report + "/metrics.csv");
  std::map<std::string, std::map<std::string, std::string>> body;  // "subject drf method" -> row
  for (const auto& row : rows)
    if (row.at("region") == "body") body[row.at("subject") + " " + row.at("drf") + " " + row.at("method")] = row;
  EXPECT_EQ(body.size(), 2u * 2u * 4u);  // 2 test subjects x 2 DRFs x (2 methods + 2 baselines)
  for (const char* subject : {"sim0000", "sim0002"}) {
    for (const char* drf : {"4", "20"}) {
      const std::string key = std::string(subject) + " " + drf + " ";
      // The identity network returns the low-dose image: the same scores as the lowdose baseline.
      EXPECT_NEAR(std::stod(body.at(key + "Identity").at("psnr")), std::stod(body.at(key + "lowdose").at("psnr")), 1e-3);
      EXPECT_EQ(body.at(key + "Perfect").at("psnr"), "inf");
      EXPECT_NEAR(std::stod(body.at(key + "Perfect").at("ssim")), 1.0, 1e-9);
      // The tuned Gaussian filter beats the raw low dose at its own criterion on these noisy images.
      EXPECT_GT(std::stod(body.at(key + "gaussian").at("psnr")), std::stod(body.at(key + "lowdose").at("psnr")));
    }
  }
  const std::string summary = read_bytes(report + "/summary.md");
  EXPECT_NE(summary.find("FWHM that maximises PSNR on the val split"), std::string::npos) << summary;
  EXPECT_NE(summary.find("4 computed, 0 cached"), std::string::npos) << summary;
  EXPECT_NE(summary.find("| **inf** |"), std::string::npos) << "the perfect method's PSNR is best: " << summary;

  // The identity model records no training: no DRF is marked as unseen.
  EXPECT_NE(read_bytes(report + "/index.html").find("DRFs seen in training: not recorded"), std::string::npos);
  EXPECT_EQ(read_bytes(report + "/index.html").find("hollow: not seen in training"), std::string::npos);

  // A re-run computes nothing new; DRF 20 is marked as not seen in training when told so.
  r = unipet_cli(args + " --trained-drfs 4");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(read_bytes(report + "/summary.md").find("0 computed, 4 cached"), std::string::npos);
  EXPECT_NE(read_bytes(report + "/index.html").find("hollow: not seen in training"), std::string::npos);

  if (!have_chromium()) GTEST_SKIP() << "chromium is not installed (./run installs Debian's chromium package)";
  // (One TempDir per test: a second one would have the same name and remove the first.)
  write_bytes(f.dir / "probed.html", with_probe(read_bytes(report + "/index.html")));
  const BrowserRun dom = run_chromium(f.dir, "--dump-dom", f.dir / "probed.html");
  ASSERT_EQ(dom.status, 0) << dom.log;
  EXPECT_EQ(unexpected_console_lines(dom.log), std::vector<std::string>{});
  EXPECT_GE(count(dom.out, "<table>"), 4u);  // 2 DRF summaries, paired differences, Gaussian FWHM
  EXPECT_GE(count(dom.out, "<svg "), 3u);    // PSNR, SSIM plots and the lesion profile at least
  // Pictures: MIP, slice and (but for the full dose) difference of low dose, 3 methods, full dose.
  const size_t images = count(dom.out, "<img ");
  EXPECT_EQ(images, 5u + 5u + 4u);
  EXPECT_NE(dom.out.find("data-decoded=\"" + std::to_string(images) + "/" + std::to_string(images) + "\""),
            std::string::npos)
      << "a picture did not decode";
  const fs::path screenshot = fs::path(UNIPET_CLI_PATH).parent_path() / "evaluate_report_screenshot.png";
  fs::remove(screenshot);
  const BrowserRun shot = run_chromium(f.dir, "--screenshot='" + screenshot.string() + "'", f.dir / "probed.html");
  ASSERT_EQ(shot.status, 0) << shot.log;
  EXPECT_GT(fs::file_size(screenshot), 20000u);
}

TEST(CliEvaluate, AnotherModelUnderTheSameNameIsRunAgainAndNoFileIsDeleted) {
  EvaluationFixture f;
  const std::string report = f.dir / "report", model = f.dir / "model.safetensors";
  const std::string args = "evaluate --dataset " + q(f.dataset) + " --method Net=" + q(model) + " --out " +
                           q(report) + " --baseline lowdose --drf 20 --tile 16 --threads 1";
  const auto psnr_of = [&](const std::string& method) {
    double sum = 0;
    for (const auto& row : read_csv(report + "/metrics.csv"))
      if (row.at("region") == "body" && row.at("method") == method) sum += std::stod(row.at("psnr"));
    return sum;
  };
  fs::copy_file(f.dir / "id.safetensors", model);
  auto r = unipet_cli(args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NEAR(psnr_of("Net"), psnr_of("lowdose"), 1e-3);  // the identity

  // The file is replaced by a trained model (a retrained run written to the same path): its
  // cached identity predictions must not be scored as the trained model's.
  fs::copy_file(trained_model_path(), model, fs::copy_options::overwrite_existing);
  // A user's file in the cache folder is left alone.
  write_bytes(report + "/predictions/Net/notes.txt", "mine");
  r = unipet_cli(args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("made 2 prediction(s) again"), std::string::npos) << r.output;
  EXPECT_NE(read_bytes(report + "/summary.md").find("2 computed, 0 cached"), std::string::npos);
  EXPECT_GT(std::abs(psnr_of("Net") - psnr_of("lowdose")), 0.1);
  EXPECT_EQ(read_bytes(report + "/predictions/Net/notes.txt"), "mine");

  // The same model and settings again: cached. Other tile settings: made again.
  r = unipet_cli(args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(read_bytes(report + "/summary.md").find("0 computed, 2 cached"), std::string::npos);
  r = unipet_cli(args + " --overlap 0.5");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(read_bytes(report + "/summary.md").find("2 computed, 0 cached"), std::string::npos);

  // A method name that would put the cache outside OUT/predictions is refused.
  r = unipet_cli("evaluate --dataset " + q(f.dataset) + " --method ..=" + q(model) + " --out " + q(report));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(error_line(r).find("may not start with '.'"), std::string::npos) << r.output;
}

TEST(CliEvaluate, APredictionWithOtherGeometryIsOneErrorNamingBothFiles) {
  EvaluationFixture f;
  const io::Dataset d = io::read_dataset(f.dataset);
  const auto& s = d.subjects[0];
  const fs::path bad = f.dir.path() / "perfect" / s.low_dose.at(20);
  Volume v = io::read_image(bad.string());
  v.spacing[2] *= 2;
  io::write_image(v, bad.string());
  const auto r = unipet_cli("evaluate --dataset " + q(f.dataset) + " --method P=" + q(f.dir / "perfect") +
                            " --baseline none --out " + q(f.dir / "report"));
  EXPECT_EQ(r.status, 1);
  const std::string line = error_line(r);
  EXPECT_NE(line.find(bad.string()), std::string::npos) << line;
  EXPECT_NE(line.find(d.resolve(s.full_dose)), std::string::npos) << line;
  EXPECT_NE(line.find("geometry"), std::string::npos) << line;
  EXPECT_FALSE(fs::exists(f.dir / "report")) << "a failed evaluation left its new report folder";
}

TEST(CliEvaluate, ScoresOnePairInsideAMaskWithLesions) {
  TempDir dir;
  auto ref = torch::ones({16, 16, 16});
  ref.narrow(0, 6, 3).narrow(1, 6, 3).narrow(2, 6, 3).fill_(8.0);  // lesion 1, inside
  ref.narrow(0, 6, 3).narrow(1, 6, 3).narrow(2, 0, 3).fill_(8.0);  // lesion 2, at the volume's border
  Volume r;
  r.data = ref;
  r.units = Units::SUV;
  io::write_image(r, dir / "ref.nii.gz");
  Volume p = r;
  p.data = ref * 0.9;
  io::write_image(p, dir / "pred.nii.gz");
  Volume labels = r;
  labels.data = (ref > 4).to(torch::kFloat32);
  labels.data.narrow(2, 0, 3).mul_(2);
  labels.units = Units::Unitless;
  io::write_image(labels, dir / "lesions.nii.gz");
  Volume mask = labels;
  mask.data = (labels.data == 1).to(torch::kFloat32);
  io::write_image(mask, dir / "mask.nii.gz");
  auto out = unipet_cli("evaluate --pred " + q(dir / "ref.nii.gz") + " --ref " + q(dir / "ref.nii.gz"));
  ASSERT_EQ(out.status, 0) << out.output;
  EXPECT_NE(out.output.find("whole volume"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("PSNR:        inf dB"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("SSIM:        1.0000"), std::string::npos) << out.output;
  out = unipet_cli("evaluate --pred " + q(dir / "pred.nii.gz") + " --ref " + q(dir / "ref.nii.gz") + " --mask " +
                   q(dir / "mask.nii.gz") + " --lesions " + q(dir / "lesions.nii.gz"));
  ASSERT_EQ(out.status, 0) << out.output;
  EXPECT_NE(out.output.find("inside " + (dir / "mask.nii.gz")), std::string::npos) << out.output;
  // Inside the lesion every voxel is 0.8 low: PSNR = 10 log10(20² / 0.64).
  std::ostringstream psnr;
  psnr << std::fixed << std::setprecision(3) << 10 * std::log10(400 / 0.64);
  EXPECT_NE(out.output.find("PSNR:        " + psnr.str() + " dB"), std::string::npos) << out.output;
  for (const char* lesion : {"lesion 1 (0.027 ml): SUVmax 7.200 vs 8.000 (-10.000%)", "lesion 2 (0.027 ml): SUVmax 7.200"})
    EXPECT_NE(out.output.find(lesion), std::string::npos) << out.output;
}

}  // namespace
}  // namespace unipet::test
