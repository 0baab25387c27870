// The demo's summary at the library: the numbers it prints and how it words them. The whole run
// (simulation, denoising, report) is tested through the CLI (tests/cli/test_cli_demo.cpp).
#include <gtest/gtest.h>

#include <cmath>

#include "unipet/eval/evaluation.h"
#include "unipet/workflow/demo.h"

namespace unipet {
namespace {

eval::LesionScore lesion(double suv_max, double full_max) {
  eval::LesionScore l;
  l.suv_max = suv_max;
  l.full_max = full_max;
  return l;
}

TEST(MeanLesionSuvmaxBias, AveragesTheLesionsWithAReferenceAndIsNanWithout) {
  eval::Score s;
  EXPECT_TRUE(std::isnan(eval::mean_lesion_suvmax_bias(s)));
  s.lesions = {lesion(9, 10), lesion(12, 10), lesion(5, 0), lesion(7, eval::kNaN)};
  EXPECT_DOUBLE_EQ(eval::mean_lesion_suvmax_bias(s), (-0.1 + 0.2) / 2);
}

TEST(DemoSummary, PrintsEachDrfAsLowDoseToDenoisedWithTheGainAndTheLesionBias) {
  workflow::DemoSummary summary;
  summary.model = "m.safetensors";
  summary.report = "demo/report/index.html";
  summary.data_range = 20;
  workflow::DemoRow row;
  row.drf = 4;
  row.low_dose.psnr = 36.4;
  row.low_dose.psnr_clipped = 37;
  row.low_dose.ssim = 0.9;
  row.low_dose.lesions = {lesion(10.69, 10)};
  row.denoised = row.low_dose;
  row.denoised.psnr = 38.15;
  row.denoised.lesions = {lesion(9.6, 10)};
  summary.rows = {row};
  summary.total_seconds = 61;
  const std::string table = summary.table();
  EXPECT_NE(table.find("denoised with m.safetensors"), std::string::npos) << table;
  EXPECT_NE(table.find("36.40 -> 38.15 (+1.75)"), std::string::npos) << table;
  EXPECT_NE(table.find("37.00 -> 37.00 (+0.00)"), std::string::npos) << table;
  EXPECT_NE(table.find("+6.9% -> -4.0%"), std::string::npos) << table;
  EXPECT_NE(table.find("total 61 s"), std::string::npos) << table;
  EXPECT_NE(table.find("report: demo/report/index.html"), std::string::npos) << table;
}

}  // namespace
}  // namespace unipet
