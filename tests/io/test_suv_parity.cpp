// unipet's SUV factor against an independent implementation: cornerstone's calculate-suv (npm,
// MIT), which OHIF and Cornerstone3D use, run by node on the same tags the test writes into DICOM
// series that unipet reads back. `./run test` installs the package into build/node; without it
// (no npm, no registry) the tests say plainly that parity was not checked.
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "io/dicom_test_util.h"
#include "test_paths.h"
#include "test_util.h"
#include "unipet/core/error.h"
#include "unipet/io/dicom.h"

namespace unipet::io {
namespace {

using nlohmann::json;
using test::RawDicom;

// The SUV tags of one series, as a scanner of each vendor writes them.
struct Variant {
  std::string name, manufacturer = "SIEMENS", units = "BQML", decay = "START";
  std::vector<std::string> corrected = {"DECY", "ATTN", "SCAT"};
  std::string series_date = "20240315", series_time = "110000";
  std::string acquisition_date = "20240315", acquisition_time = "110500";
  std::string injection_time = "100000", injection_datetime;
  std::optional<double> weight = 75;
  double dose = 370e6, half_life = 6586.2;
  std::string ge_post_injection;            // GE private (0009,100D), "GEMS_PETD_01"
  std::optional<double> philips_suv_scale;  // Philips private (7053,1000)
};

std::string joined(const std::vector<std::string>& values) {
  std::string s;
  for (const auto& v : values) s += (s.empty() ? "" : "\\") + v;
  return s;
}

// Writes the variant as a 2-slice series and returns unipet's factor, or its error.
struct UnipetResult {
  std::optional<double> factor;
  std::string error;
};

UnipetResult unipet_factor(const Variant& v, const std::string& folder) {
  test::write_pet_series(folder, "1.2.826.0.1.3680043.99.80." + std::to_string(std::hash<std::string>{}(v.name) % 1000),
                         2, 3.0, 2, 2, [](int) { return std::vector<int16_t>{1, 2, 3, 4}; }, 1.0, [&](RawDicom& d) {
                           RawDicom isotope;
                           isotope.set(0x0018, 0x1072, "TM", v.injection_time)
                               .set(0x0018, 0x1074, "DS", std::to_string(static_cast<long long>(v.dose)))
                               .set(0x0018, 0x1075, "DS", "6586.2")
                               .set_sequence(0x0054, 0x0300, test::code_item("77004003", "SCT", "^18^Fluorine"));
                           if (!v.injection_datetime.empty()) isotope.set(0x0018, 0x1078, "DT", v.injection_datetime);
                           d.set_sequence(0x0054, 0x0016, isotope)
                               .set(0x0008, 0x0070, "LO", v.manufacturer)
                               .set(0x0054, 0x1001, "CS", v.units)
                               .set(0x0054, 0x1102, "CS", v.decay)
                               .set(0x0028, 0x0051, "CS", joined(v.corrected))
                               .set(0x0008, 0x0021, "DA", v.series_date)
                               .set(0x0008, 0x0031, "TM", v.series_time)
                               .set(0x0008, 0x0022, "DA", v.acquisition_date)
                               .set(0x0008, 0x0032, "TM", v.acquisition_time);
                           if (v.weight) d.set(0x0010, 0x1030, "DS", std::to_string(*v.weight));
                           else d.erase(0x0010, 0x1030);
                           if (!v.ge_post_injection.empty())
                             d.set(0x0009, 0x0010, "LO", "GEMS_PETD_01").set(0x0009, 0x100D, "DT", v.ge_post_injection);
                           if (v.philips_suv_scale)
                             d.set(0x7053, 0x0010, "LO", "Philips PET Private Group")
                                 .set(0x7053, 0x1000, "DS", std::to_string(*v.philips_suv_scale));
                         });
  UnipetResult r;
  try {
    r.factor = suv_factor(read_dicom_series(folder).suv_tags).factor;
  } catch (const Error& e) {
    r.error = e.what();
  }
  return r;
}

// calculate-suv's InstanceMetadata for the variant's two slices.
json instances(const Variant& v) {
  json one = {{"CorrectedImage", v.corrected},     {"Units", v.units},
              {"RadionuclideHalfLife", v.half_life}, {"RadionuclideTotalDose", v.dose},
              {"DecayCorrection", v.decay},         {"SeriesDate", v.series_date},
              {"SeriesTime", v.series_time},        {"AcquisitionDate", v.acquisition_date},
              {"AcquisitionTime", v.acquisition_time}, {"RadiopharmaceuticalStartTime", v.injection_time}};
  if (v.weight) one["PatientWeight"] = *v.weight;
  if (!v.injection_datetime.empty()) one["RadiopharmaceuticalStartDateTime"] = v.injection_datetime;
  if (!v.ge_post_injection.empty()) one["GEPrivatePostInjectionDateTime"] = v.ge_post_injection;
  if (v.philips_suv_scale) one["PhilipsPETPrivateGroup"] = {{"SUVScaleFactor", *v.philips_suv_scale}};
  return json::array({one, one});
}

std::string calculate_suv_module() {
  const std::string module = std::string(UNIPET_NODE_MODULES) + "/@cornerstonejs/calculate-suv";
  return std::filesystem::exists(module + "/package.json") && test::on_path("node") ? module : "";
}

// Runs calculate-suv once on every variant: name -> {"suvbw": [...]} or {"error": "..."}.
json run_calculate_suv(const std::vector<Variant>& variants, const test::TempDir& dir) {
  json cases = json::object();
  for (const auto& v : variants) cases[v.name] = instances(v);
  test::write_bytes(dir / "cases.json", cases.dump());
  test::write_bytes(dir / "parity.js",
                    "const { calculateSUVScalingFactors } = require(process.argv[2]);\n"
                    "const cases = JSON.parse(require('fs').readFileSync(process.argv[3], 'utf8'));\n"
                    "console.warn = () => {};  // PatientSize is absent: no SUL or BSA, said on stderr\n"
                    "const out = {};\n"
                    "for (const [name, instances] of Object.entries(cases)) {\n"
                    "  try { out[name] = { suvbw: calculateSUVScalingFactors(instances).map(f => f.suvbw) }; }\n"
                    "  catch (e) { out[name] = { error: String(e.message) }; }\n"
                    "}\n"
                    "process.stdout.write(JSON.stringify(out));\n");
  const auto r = test::run_command("node " + test::q(dir / "parity.js") + " " + test::q(calculate_suv_module()) +
                                   " " + test::q(dir / "cases.json"));
  EXPECT_EQ(r.status, 0) << r.output;
  return json::parse(r.output);
}

#define REQUIRE_CALCULATE_SUV()                                                                              \
  if (calculate_suv_module().empty())                                                                       \
  GTEST_FAIL() << "SUV PARITY NOT CHECKED: @cornerstonejs/calculate-suv is not installed in " UNIPET_NODE_MODULES \
                  " (./run test installs it with npm; npm or the registry was unavailable)"

Variant ge() {
  Variant v;
  v.name = "ge_start";
  v.manufacturer = "GE MEDICAL SYSTEMS";
  v.corrected = {"DECY", "ATTN", "SCAT", "DTIM", "RAN", "NORM"};
  v.ge_post_injection = "20240315110000";
  return v;
}

Variant siemens() {
  Variant v;
  v.name = "siemens_datetime";
  v.corrected = {"NORM", "DTIM", "ATTN", "SCAT", "DECY", "RAN"};
  v.injection_time = "100000.000000";
  v.injection_datetime = "20240315100000.000000";
  return v;
}

Variant philips() {
  Variant v;
  v.name = "philips_bqml";
  v.manufacturer = "Philips Medical Systems";
  v.corrected = {"DECY", "RADL", "ATTN", "SCAT", "DTIM", "RAN", "NORM"};
  v.philips_suv_scale = 0.000296;  // ignored for BQML by both
  return v;
}

Variant before_midnight() {
  Variant v;
  v.name = "injection_before_midnight";
  v.injection_time = "234000";
  v.injection_datetime = "20240314234000";
  v.series_time = "002500";
  v.acquisition_time = "002500";
  return v;
}

double factor_of(const json& result) { return result.at("suvbw").at(0).get<double>(); }

TEST(SuvParity, CalculateSuvGivesUnipetsFactorForGeSiemensPhilipsAndAnInjectionBeforeMidnight) {
  REQUIRE_CALCULATE_SUV();
  test::TempDir dir;
  const std::vector<Variant> variants = {ge(), siemens(), philips(), before_midnight()};
  const json theirs = run_calculate_suv(variants, dir);
  for (const auto& v : variants) {
    SCOPED_TRACE(v.name);
    const UnipetResult ours = unipet_factor(v, dir / v.name);
    ASSERT_TRUE(ours.factor.has_value()) << ours.error;
    ASSERT_TRUE(theirs[v.name].contains("suvbw")) << theirs[v.name].dump();
    EXPECT_NEAR(*ours.factor, factor_of(theirs[v.name]), 1e-9 * *ours.factor);
  }
}

TEST(SuvParity, BothRefuseAMissingWeightAndAnInjectionTimeAfterTheSeriesWithoutADate) {
  REQUIRE_CALCULATE_SUV();
  test::TempDir dir;
  Variant no_weight;
  no_weight.name = "missing_weight";
  no_weight.weight.reset();
  Variant time_only = before_midnight();
  time_only.name = "midnight_time_only";
  time_only.injection_datetime.clear();
  const json theirs = run_calculate_suv({no_weight, time_only}, dir);
  for (const auto& v : {no_weight, time_only}) {
    SCOPED_TRACE(v.name);
    EXPECT_TRUE(theirs[v.name].contains("error")) << theirs[v.name].dump();
    EXPECT_FALSE(unipet_factor(v, dir / v.name).factor.has_value());
  }
  EXPECT_NE(unipet_factor(no_weight, dir / "again").error.find("PatientWeight (0010,1030) is missing"), std::string::npos);
}

TEST(SuvParity, WhereTheyDifferUnipetFollowsTheDecayCorrectionTheImageDeclares) {
  REQUIRE_CALCULATE_SUV();
  test::TempDir dir;
  // ADMIN: the pixels are decay-corrected to the administration time, so the dose must not be
  // decayed (PS3.3 C.8.9.1.1.6). calculate-suv ignores DecayCorrection and always decays the dose
  // to the scan time: its factor is unipet's times 2^(dt / T1/2).
  Variant admin;
  admin.name = "admin";
  admin.decay = "ADMIN";
  // SeriesTime after the acquisition (a series saved again later): unipet keeps SeriesDate/Time,
  // which PS3.3 C.8.9.1 makes the reference time of every PET activity; calculate-suv applies
  // QIBA's heuristic and takes the earliest AcquisitionTime instead.
  Variant resaved;
  resaved.name = "series_time_after_acquisition";
  resaved.series_time = "120000";
  resaved.acquisition_time = "110500";
  // NONE: every frame is at its own time; a single factor would be wrong, so unipet refuses and
  // calculate-suv decays to the scan start as for START.
  Variant none;
  none.name = "decay_none";
  none.decay = "NONE";
  // Philips counts: only the private SUV scale factor gives SUV; unipet reads standard tags only.
  Variant counts = philips();
  counts.name = "philips_counts";
  counts.units = "CNTS";
  const json theirs = run_calculate_suv({admin, resaved, none, counts}, dir);

  const double ln2_over_t = std::log(2.0) / 6586.2;
  const UnipetResult ours_admin = unipet_factor(admin, dir / "admin");
  ASSERT_TRUE(ours_admin.factor) << ours_admin.error;
  EXPECT_NEAR(*ours_admin.factor, 75000.0 / 370e6, 1e-15);
  EXPECT_NEAR(factor_of(theirs["admin"]), *ours_admin.factor * std::exp(3600 * ln2_over_t), 1e-12);

  const UnipetResult ours_resaved = unipet_factor(resaved, dir / "resaved");
  ASSERT_TRUE(ours_resaved.factor) << ours_resaved.error;
  // unipet decays over 7200 s (10:00 to 12:00), calculate-suv over 3900 s (10:00 to 11:05).
  EXPECT_NEAR(*ours_resaved.factor, factor_of(theirs[resaved.name]) * std::exp((7200 - 3900) * ln2_over_t),
              1e-9 * *ours_resaved.factor);

  const UnipetResult ours_none = unipet_factor(none, dir / "none");
  EXPECT_NE(ours_none.error.find("DecayCorrection (0054,1102) is 'NONE'"), std::string::npos) << ours_none.error;
  EXPECT_TRUE(theirs["decay_none"].contains("suvbw")) << theirs["decay_none"].dump();

  const UnipetResult ours_counts = unipet_factor(counts, dir / "counts");
  EXPECT_NE(ours_counts.error.find("Units (0054,1001) is 'CNTS'"), std::string::npos) << ours_counts.error;
  EXPECT_DOUBLE_EQ(factor_of(theirs["philips_counts"]), 0.000296);
}

}  // namespace
}  // namespace unipet::io
