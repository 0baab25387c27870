// CTest runs the real `unipet demo` binary: simulate, denoise with a model, score, report.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <map>
#include <vector>
#include <sstream>

#include "test_util.h"

namespace unipet {
namespace {

namespace fs = std::filesystem;
using unipet::test::q;
using unipet::test::run_command;
using unipet::test::unipet_cli;

const std::string kModel = std::string(UNIPET_TEST_DATA_DIR) + "/../../results/cpu-profile/unipet/model_final.safetensors";
const std::string kSmall = " --matrix 48 --slices 24 --threads 2";

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The value of `column` in the metrics.csv row of (method, drf).
double metric(const std::string& csv, const std::string& method, const std::string& drf, const std::string& column) {
  std::istringstream lines(csv);
  std::string header, line;
  std::getline(lines, header);
  std::vector<std::string> names;
  {
    std::istringstream cells(header);
    for (std::string cell; std::getline(cells, cell, ',');) names.push_back(cell);
  }
  while (std::getline(lines, line)) {
    std::vector<std::string> cells;
    std::istringstream in(line);
    for (std::string cell; std::getline(in, cell, ',');) cells.push_back(cell);
    std::map<std::string, std::string> row;
    for (size_t i = 0; i < names.size() && i < cells.size(); ++i) row[names[i]] = cells[i];
    if (row["method"] == method && row["drf"] == drf && row["region"] == "body") return std::stod(row[column]);
  }
  return std::nan("");
}

TEST(CliDemo, SimulatesDenoisesScoresAndPrintsTheReportsNumbers) {
  test::TempDir dir;
  const fs::path out = dir.path() / "demo";
  const auto r = unipet_cli("demo --out " + q(out.string()) + " --drf 4,50 -m " + q(kModel) + kSmall);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::is_regular_file(out / "report" / "index.html"));
  EXPECT_TRUE(fs::is_regular_file(out / "data" / "sim0000" / "drf_50.nii.gz"));
  EXPECT_NE(r.output.find("report: " + (out / "report" / "index.html").string()), std::string::npos) << r.output;
  // The printed PSNRs are the report's, to the printed 2 decimals.
  const std::string csv = read_text(out / "report" / "metrics.csv");
  for (const std::string drf : {"4", "50"}) {
    for (const std::string column : {"psnr", "psnr_clipped"}) {
      const double low = metric(csv, "lowdose", drf, column), net = metric(csv, "UniPET", drf, column);
      ASSERT_TRUE(std::isfinite(low) && std::isfinite(net)) << drf << "\n" << csv.substr(0, 400);
      std::ostringstream cell;
      cell << std::fixed << std::setprecision(2) << low << " -> " << net << " (" << std::showpos << net - low << ")";
      EXPECT_NE(r.output.find(cell.str()), std::string::npos) << cell.str() << "\n" << r.output;
    }
  }
  // Less dose, lower low-dose PSNR: the study really is simulated at each DRF.
  EXPECT_GT(metric(csv, "lowdose", "4", "psnr"), metric(csv, "lowdose", "50", "psnr") + 5);

  // A second run reuses the folder (the study is not simulated again) and prints the same table.
  const auto again = unipet_cli("demo --out " + q(out.string()) + " --drf 4,50 -m " + q(kModel) + kSmall);
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("already complete"), std::string::npos) << again.output;
  const auto table = [](const std::string& text) {
    const size_t start = text.find("DRF   PSNR");
    return text.substr(start, text.find("simulation ", start) - start);
  };
  EXPECT_EQ(table(again.output), table(r.output));
}

TEST(CliDemo, RefusesAFolderItDidNotMakeAndAMissingModel) {
  test::TempDir dir;
  std::ofstream(dir.path() / "notes.txt") << "mine";
  auto r = unipet_cli("demo --out " + q(dir.path().string()) + " -m " + q(kModel) + kSmall);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(test::error_line(r).find(dir.path().string()), std::string::npos) << r.output;
  EXPECT_TRUE(fs::is_regular_file(dir.path() / "notes.txt"));

  r = run_command("UNIPET_DEFAULT_MODEL=" + q((dir.path() / "none.safetensors").string()) + " '" + UNIPET_CLI_PATH +
                  "' demo --out " + q((dir.path() / "d").string()) + kSmall);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(test::error_line(r).find("UNIPET_DEFAULT_MODEL"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir.path() / "d"));

  // A bad precision or device, or a phantom too small to score, is refused before anything is
  // simulated.
  for (const std::string& args : std::vector<std::string>{kSmall + " --precision fp8", kSmall + " --device tpu",
                                 kSmall + " --precision fp16 --device cpu", " --matrix 48 --slices 11",
                                 " --matrix 8 --slices 24"}) {
    r = unipet_cli("demo --out " + q((dir.path() / "e").string()) + " -m " + q(kModel) + args);
    EXPECT_EQ(r.status, 1) << args << ": " << r.output;
    EXPECT_EQ(r.output.find("simulating"), std::string::npos) << args << ": " << r.output;
    EXPECT_FALSE(fs::exists(dir.path() / "e")) << args;
  }
}

}  // namespace
}  // namespace unipet
