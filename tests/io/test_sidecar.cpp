#include "unipet/io/sidecar.h"

#include <tuple>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "io/io_test_util.h"
#include "unipet/core/error.h"

namespace unipet::io {
namespace {

using test::expect_error;
using test::TempDir;

// The SUV case of test_suv.cpp written as PET-BIDS: 370 MBq F-18 injected one hour before the
// decay-correction reference, 75 kg: factor 75000 / (370e6 * 2^(-3600 / 6586.2)) = 2.9607502e-4.
const char* kBids = R"({"Modality": "PT", "Units": "Bq/mL", "TracerRadionuclide": "F18",
  "InjectedRadioactivity": 370, "InjectedRadioactivityUnits": "MBq", "BodyWeight": 75,
  "TimeZero": "10:00:00", "InjectionStart": 0, "ScanStart": 3600, "ImageDecayCorrected": true,
  "ImageDecayCorrectionTime": 3600})";

Sidecar sidecar(const TempDir& dir, const std::string& text, const std::string& name = "pet") {
  test::write_bytes(dir / (name + ".json"), text);
  const auto s = read_sidecar(dir / (name + ".nii.gz"));
  EXPECT_TRUE(s.has_value());
  return s.value_or(Sidecar{});
}

TEST(Sidecar, ItsPathReplacesAnyImageExtension) {
  EXPECT_EQ(sidecar_path("a/sub-01_pet.nii.gz"), "a/sub-01_pet.json");
  EXPECT_EQ(sidecar_path("x.v2/scan.MHA"), "x.v2/scan.json");
  EXPECT_FALSE(read_sidecar("/nonexistent/pet.nii.gz").has_value());
}

TEST(Sidecar, PetBidsFieldsGiveTheHandComputedFactor) {
  TempDir dir;
  const Sidecar s = sidecar(dir, kBids);
  EXPECT_EQ(sidecar_units(s), Units::BqPerMl);
  const SuvResult r = sidecar_suv_factor(s);
  EXPECT_NEAR(r.elapsed_s, 3600, 1e-12);
  EXPECT_NEAR(r.factor, 2.960750161260463e-4, 1e-15);
  // --weight replaces the recorded weight; mCi are 3.7e7 Bq.
  EXPECT_NEAR(sidecar_suv_factor(s, 60.0).factor, 2.960750161260463e-4 * 60 / 75, 1e-15);
  const Sidecar mci = sidecar(dir, R"({"Units": "Bq/mL", "InjectedRadioactivity": 10, "InjectedRadioactivityUnits": "mCi",
    "BodyWeight": 75, "ImageDecayCorrected": true, "ImageDecayCorrectionTime": 0, "InjectionStart": 0})");
  EXPECT_NEAR(sidecar_suv_factor(mci).factor, 75000.0 / 370e6, 1e-15);
}

TEST(Sidecar, Dcm2niixFieldsWithAdminDecayCorrectionNeedNoTimes) {
  TempDir dir;
  const Sidecar s = sidecar(dir, R"({"Modality": "PT", "Units": "BQML", "RadionuclideTotalDose": 3.7e+08,
    "RadionuclideHalfLife": 6586.2, "DecayCorrection": "ADMIN", "PatientWeight": 75})");
  EXPECT_NEAR(sidecar_suv_factor(s).factor, 75000.0 / 370e6, 1e-15);
  // START: dcm2niix records neither the injection time nor SeriesTime.
  const Sidecar start = sidecar(dir, R"({"Units": "BQML", "RadionuclideTotalDose": 3.7e+08,
    "RadionuclideHalfLife": 6586.2, "DecayCorrection": "START", "PatientWeight": 75})");
  expect_error([&] { sidecar_suv_factor(start); },
               {"pet.json", "InjectionStart", "dcm2niix does not record the injection time", "--suv-factor"});
}

TEST(Sidecar, BadSidecarsAreRefusedWithOneLineNamingTheFieldAtFault) {
  TempDir dir;
  test::write_bytes(dir / "junk.json", "{\"Units\": \"Bq/mL\",\n oops}");
  expect_error([&] { read_sidecar(dir / "junk.nii"); }, {"junk.json", "not valid JSON"});
  test::write_bytes(dir / "list.json", "[1, 2]");
  expect_error([&] { read_sidecar(dir / "list.nii"); }, {"list.json", "expected a JSON object"});
  test::write_bytes(dir / "ct.json", R"({"Modality": "CT", "Units": "HU"})");
  expect_error([&] { read_sidecar(dir / "ct.nii"); }, {"ct.json", "CT series, not PET"});
  test::write_bytes(dir / "kbq.json", R"({"Units": "kBq/mL"})");
  expect_error([&] { read_sidecar(dir / "kbq.nii"); }, {"kbq.json", "Units is 'kBq/mL'"});
  test::write_bytes(dir / "text.json", R"({"Units": "Bq/mL", "BodyWeight": "75"})");
  expect_error([&] { read_sidecar(dir / "text.nii"); }, {"text.json", "BodyWeight must be a number"});

  nlohmann::json bids = nlohmann::json::parse(kBids);
  // Each change to a good sidecar, and what the one-line error must say (besides the file).
  const std::vector<std::tuple<const char*, nlohmann::json, std::string>> changes = {
      {"BodyWeight", 0, "BodyWeight/PatientWeight is 0 kg"},
      {"BodyWeight", nullptr, "no BodyWeight or PatientWeight"},
      {"InjectedRadioactivity", nullptr, "no InjectedRadioactivity"},
      {"InjectedRadioactivity", -1, "InjectedRadioactivity is -1e+06 Bq"},
      {"ImageDecayCorrected", false, "ImageDecayCorrected is false"},
      {"ImageDecayCorrectionTime", -60, "60 s before InjectionStart"},
      {"TracerRadionuclide", "Xx99", "unknown TracerRadionuclide 'Xx99'"}};
  for (const auto& [field, value, message] : changes) {
    SCOPED_TRACE(field);
    nlohmann::json changed = bids;
    if (value.is_null()) changed.erase(field);
    else changed[field] = value;
    test::write_bytes(dir / "bad.json", changed.dump());
    expect_error([&] { sidecar_suv_factor(read_sidecar(dir / "bad.nii").value()); }, {"bad.json", message});
  }
}

TEST(Sidecar, WhatUnipetWritesGivesBackTheSourcesFactorAndSaysWhatMadeIt) {
  TempDir dir;
  const Sidecar source = sidecar(dir, kBids, "in");
  SidecarContent content;
  content.units = Units::BqPerMl;
  content.sources = {"in.nii.gz"};
  content.provenance.operation = "denoised";
  content.provenance.model_file = "m.safetensors";
  content.provenance.model_sha256 = std::string(64, 'b');
  content.provenance.command_line = "unipet denoise -i in.nii.gz -o out.nii.gz";
  content.source_sidecar = &source;
  test::write_bytes(dir / "out.json", sidecar_json(content));
  const auto out = read_sidecar(dir / "out.nii.gz");
  ASSERT_TRUE(out.has_value());
  EXPECT_DOUBLE_EQ(sidecar_suv_factor(*out).factor, sidecar_suv_factor(source).factor);
  const auto doc = nlohmann::json::parse(out->json);
  EXPECT_EQ(doc["Units"], "Bq/mL");
  EXPECT_EQ(doc["Sources"], nlohmann::json::array({"in.nii.gz"}));
  EXPECT_EQ(doc["GeneratedBy"][0]["ModelSHA256"], std::string(64, 'b'));
  EXPECT_EQ(doc["GeneratedBy"][0]["CommandLine"], content.provenance.command_line);
  const std::string shown = describe_sidecar_provenance(*out);
  for (const std::string part : {"denoised with model m.safetensors", "made by:       unipet", "command:", "source:        in.nii.gz"})
    EXPECT_NE(shown.find(part), std::string::npos) << part << " not in " << shown;
  EXPECT_EQ(describe_sidecar_provenance(source), "");  // not unipet's

  // From DICOM tags (START, one hour): the same factor as the tags give.
  const SuvTags tags = test::suv_tags_start_case();
  content.source_sidecar = nullptr;
  content.source_tags = &tags;
  test::write_bytes(dir / "fromdicom.json", sidecar_json(content));
  EXPECT_NEAR(sidecar_suv_factor(*read_sidecar(dir / "fromdicom.nii")).factor, suv_factor(tags).factor, 1e-15);
}

}  // namespace
}  // namespace unipet::io
