#include "unipet/io/suv.h"

#include <gtest/gtest.h>

#include <cmath>

#include "io/io_test_util.h"
#include "unipet/core/error.h"

namespace unipet::io {
namespace {


TEST(Suv, TheBodyWeightFormulaAndItsInverse) {
  // 70 kg and 350 MBq at scan time: 70 000 g / 3.5e8 Bq.
  EXPECT_DOUBLE_EQ(suv_per_bqml(70, 3.5e8), 2e-4);
  EXPECT_DOUBLE_EQ(bq_per_ml_per_suv(3.5e8, 70), 5000);
  EXPECT_NEAR(suv_per_bqml(83.2, 2.1e8) * bq_per_ml_per_suv(2.1e8, 83.2), 1.0, 1e-15);
  test::expect_error([] { suv_per_bqml(0, 3.5e8); }, {"positive dose and weight"});
  test::expect_error([] { bq_per_ml_per_suv(-1, 70); }, {"positive dose and weight"});
  test::expect_error([] { suv_per_bqml(70, std::nan("")); }, {"positive dose and weight"});
}

TEST(Suv, StartDecayCorrectionMatchesAHandComputedFactor) {
  const SuvResult r = suv_factor(test::suv_tags_start_case());
  EXPECT_NEAR(r.elapsed_s, 3600.0, 1e-9);
  EXPECT_NEAR(r.decayed_dose_bq, 253314180.24164078, 1e-3);
  EXPECT_NEAR(r.factor, 2.960750161260463e-4, 1e-15);
  EXPECT_GE(r.used.size(), 7u);
}

TEST(Suv, StartDateTimeTakesPrecedenceOverStartTime) {
  SuvTags t = test::suv_tags_start_case();
  t.injection_time = "090000";                          // would give two hours
  t.injection_datetime = "20240315100000.000000+0100";  // UTC offsets ignored: one hour
  EXPECT_NEAR(suv_factor(t).factor, 2.960750161260463e-4, 1e-15);
}

TEST(Suv, AdminDecayCorrectionHasNoDecayTerm) {
  SuvTags t = test::suv_tags_start_case();
  t.decay_correction = "ADMIN";
  t.half_life_s.reset();  // not needed for ADMIN
  const SuvResult r = suv_factor(t);
  EXPECT_NEAR(r.factor, 75000.0 / 370e6, 1e-15);
  EXPECT_EQ(r.elapsed_s, 0.0);
}

TEST(Suv, AnInjectionTimeAfterTheSeriesTimeIsRefusedWithoutADateToPlaceIt) {
  // 23:40 against a series at 00:25 could be a scan past midnight or a wrong clock: taking the
  // previous day silently gave an SUV 44 times too high when the clock was wrong.
  SuvTags t = test::suv_tags_start_case();
  t.injection_time = "234000";
  t.series_time = "002500";
  test::expect_error(
      [&] { suv_factor(t); },
      {"slice.dcm", "RadiopharmaceuticalStartTime (0018,1072) 234000", "SeriesTime (0008,0031) 002500",
       "RadiopharmaceuticalStartDateTime (0018,1078)", "--suv-factor"});
}

TEST(Suv, AnInjectionBeforeMidnightIsAcceptedWhenItsDateTimeSaysSo) {
  SuvTags t = test::suv_tags_start_case();
  t.injection_time = "234000";
  t.injection_datetime = "20240314234000";  // 23:40 on the 14th
  t.series_date = "20240315";
  t.series_time = "002500";  // 00:25 on the 15th: 45 minutes later
  const SuvResult r = suv_factor(t);
  EXPECT_NEAR(r.elapsed_s, 2700.0, 1e-9);
  EXPECT_NEAR(r.factor, 2.693185118355678e-4, 1e-15);
  // The same interval across a month boundary.
  t.injection_datetime = "20240229234000";
  t.series_date = "20240301";
  EXPECT_NEAR(suv_factor(t).elapsed_s, 2700.0, 1e-9);
}

TEST(Suv, GmlUnitsAreAlreadySuv) {
  SuvTags t;
  t.units = "GML";
  EXPECT_EQ(suv_factor(t).factor, 1.0);
}

TEST(Suv, EachMissingOrBadQuantityIsAnErrorNamingTheTag) {
  using test::expect_error;
  auto with = [](auto change) {
    SuvTags t = test::suv_tags_start_case();
    change(t);
    return t;
  };
  expect_error([&] { suv_factor(with([](SuvTags& t) { t.units = "CNTS"; })); },
               {"slice.dcm", "Units (0054,1001)", "CNTS"});
  expect_error([&] { suv_factor(with([](SuvTags& t) { t.units = ""; })); }, {"Units (0054,1001) is missing"});
  expect_error([&] { suv_factor(with([](SuvTags& t) { t.corrected_image = {"ATTN"}; })); },
               {"CorrectedImage (0028,0051)"});
  expect_error([&] { suv_factor(with([](SuvTags& t) { t.decay_correction = "NONE"; })); },
               {"DecayCorrection (0054,1102)"});
  expect_error([&] { suv_factor(with([](SuvTags& t) { t.patient_weight_kg.reset(); })); },
               {"PatientWeight (0010,1030) is missing"});
  expect_error([&] { suv_factor(with([](SuvTags& t) { t.patient_weight_kg = -3; })); },
               {"PatientWeight (0010,1030) is -3"});
  expect_error([&] { suv_factor(with([](SuvTags& t) { t.total_dose_bq.reset(); })); },
               {"RadionuclideTotalDose (0018,1074)"});
  expect_error([&] { suv_factor(with([](SuvTags& t) { t.total_dose_bq = 0; })); },
               {"RadionuclideTotalDose (0018,1074) is 0"});
  expect_error([&] { suv_factor(with([](SuvTags& t) { t.half_life_s.reset(); })); },
               {"RadionuclideHalfLife (0018,1075)"});
  expect_error([&] { suv_factor(with([](SuvTags& t) { t.injection_time = ""; })); },
               {"RadiopharmaceuticalStartTime (0018,1072)"});
  expect_error([&] { suv_factor(with([](SuvTags& t) { t.series_time = ""; })); }, {"SeriesTime (0008,0031)"});
  expect_error([&] { suv_factor(with([](SuvTags& t) { t.injection_datetime = "20240315120000"; })); },
               {"injection is", "after"});
  expect_error([&] { suv_factor(with([](SuvTags& t) { t.series_date = "2024-03-15"; })); },
               {"malformed DICOM date"});
}

TEST(Suv, DicomSecondsCountsDaysAcrossLeapYears) {
  EXPECT_DOUBLE_EQ(dicom_seconds("19700101", "000000", "x"), 0.0);
  EXPECT_DOUBLE_EQ(dicom_seconds("20240301", "", "x") - dicom_seconds("20240228", "", "x"), 2 * 86400.0);
  EXPECT_DOUBLE_EQ(dicom_seconds("20240101", "1230", "x"), dicom_seconds("20240101123000", "", "x"));
  EXPECT_NEAR(dicom_seconds("20240101", "12:30:15.25", "x") - dicom_seconds("20240101", "1230", "x"), 15.25,
              1e-6);
}

}  // namespace
}  // namespace unipet::io
