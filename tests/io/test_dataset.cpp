#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "test_util.h"
#include "unipet/core/error.h"
#include "unipet/io/dataset.h"

namespace unipet::io {
namespace {

namespace fs = std::filesystem;

class DatasetFile : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return tmp_ / name; }

  static Dataset example() {
    Dataset d;
    d.name = "phantoms";
    d.source = "simulated";
    d.units = Units::BqPerMl;
    d.drfs = {4, 2, 2.5};
    d.numbers = {{"seed", 7}, {"voxel_mm", 4.0}};
    d.strings = {{"tracer", "FDG"}};
    DatasetSubject a;
    a.id = "sim0000";
    a.split = "train";
    a.full_dose = "sim0000/full.nii.gz";
    a.low_dose = {{2, "sim0000/drf_2.nii.gz"}, {2.5, "sim0000/drf_2.5.nii.gz"}};
    a.images = {{"mumap", "sim0000/mumap.nii.gz"}};
    a.numbers = {{"counts_full", 1.5e8}, {"weight_kg", 72.5}};
    a.strings = {{"sex", "F"}};
    DatasetSubject b = a;
    b.id = "sim0001";
    b.split = "test";
    b.low_dose = {{4, "/abs/drf_4.nii.gz"}};
    d.subjects = {a, b};
    return d;
  }

  /// Writes `text` as dataset.json and returns the error message read_dataset gives.
  std::string read_error(const nlohmann::json& text) const {
    const std::string file = path("dataset.json");
    std::ofstream(file) << text.dump();
    try {
      read_dataset(file);
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  }

  static nlohmann::json valid_json() {
    return nlohmann::json::parse(R"({"format": "unipet-dataset", "version": 1, "name": "n",
      "source": "udpet", "units": "Bq/ml", "drfs": [2, 4], "study": {"tracer": "FDG"},
      "subjects": [{"id": "p1", "split": "val", "full": "p1/full.nii.gz",
                    "low": {"4": "p1/drf_4.nii.gz"}}]})");
  }

  test::TempDir tmp_;
  const fs::path& dir_ = tmp_.path();
};

TEST_F(DatasetFile, WriteThenReadReturnsTheSameDataset) {
  const Dataset written = example();
  write_dataset(written, path("dataset.json"));
  const Dataset read = read_dataset(path("dataset.json"));
  EXPECT_EQ(read.name, written.name);
  EXPECT_EQ(read.source, written.source);
  EXPECT_EQ(read.units, Units::BqPerMl);
  EXPECT_EQ(read.drfs, (std::vector<double>{2, 2.5, 4}));  // sorted on the way
  EXPECT_EQ(read.numbers, written.numbers);
  EXPECT_EQ(read.strings, written.strings);
  ASSERT_EQ(read.subjects.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(read.subjects[i].id, written.subjects[i].id);
    EXPECT_EQ(read.subjects[i].split, written.subjects[i].split);
    EXPECT_EQ(read.subjects[i].full_dose, written.subjects[i].full_dose);
    EXPECT_EQ(read.subjects[i].low_dose, written.subjects[i].low_dose);
    EXPECT_EQ(read.subjects[i].images, written.subjects[i].images);
    EXPECT_EQ(read.subjects[i].numbers, written.subjects[i].numbers);
    EXPECT_EQ(read.subjects[i].strings, written.subjects[i].strings);
  }
  EXPECT_EQ(fs::path(read.root), fs::absolute(dir_).lexically_normal());
}

TEST_F(DatasetFile, IntegerDrfKeysAreWrittenWithoutFraction) {
  write_dataset(example(), path("dataset.json"));
  const auto j = nlohmann::json::parse(std::ifstream(path("dataset.json")));
  EXPECT_EQ(j["format"], "unipet-dataset");
  EXPECT_EQ(j["version"], 1);
  EXPECT_TRUE(j["subjects"][0]["low"].contains("2"));
  EXPECT_TRUE(j["subjects"][0]["low"].contains("2.5"));
  EXPECT_EQ(j["subjects"][0]["info"]["sex"], "F");
  EXPECT_EQ(j["study"]["tracer"], "FDG");
}

TEST_F(DatasetFile, WholeNumbersAreWrittenAsJsonIntegers) {
  Dataset d = example();
  d.numbers["fraction"] = 0.25;
  write_dataset(d, path("dataset.json"));
  const auto j = nlohmann::json::parse(std::ifstream(path("dataset.json")));
  EXPECT_TRUE(j["study"]["seed"].is_number_integer());
  EXPECT_TRUE(j["study"]["voxel_mm"].is_number_integer());
  EXPECT_TRUE(j["study"]["fraction"].is_number_float());
  EXPECT_TRUE(j["drfs"][0].is_number_integer());  // 2
  EXPECT_TRUE(j["drfs"][1].is_number_float());    // 2.5
  EXPECT_EQ(read_dataset(path("dataset.json")).numbers.at("fraction"), 0.25);
}

TEST_F(DatasetFile, WritingLeavesNoTemporaryFileBehind) {
  write_dataset(example(), path("dataset.json"));
  write_dataset(example(), path("dataset.json"));  // overwrite in place
  size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir_)) ++files;
  EXPECT_EQ(files, 1u);
}

TEST_F(DatasetFile, SubjectsInSplitKeepFileOrderAndResolveJoinsTheRoot) {
  write_dataset(example(), path("dataset.json"));
  const Dataset d = read_dataset(path("dataset.json"));
  ASSERT_EQ(d.subjects_in_split("train").size(), 1u);
  EXPECT_EQ(d.subjects_in_split("train")[0]->id, "sim0000");
  EXPECT_TRUE(d.subjects_in_split("val").empty());
  EXPECT_EQ(fs::path(d.resolve("sim0000/full.nii.gz")),
            fs::absolute(dir_ / "sim0000" / "full.nii.gz").lexically_normal());
  EXPECT_EQ(d.resolve("/abs/drf_4.nii.gz"), "/abs/drf_4.nii.gz");
}

TEST_F(DatasetFile, AMinimalRealDataDescriptionIsAccepted) {
  const std::string file = path("dataset.json");
  std::ofstream(file) << valid_json().dump();
  const Dataset d = read_dataset(file);
  EXPECT_EQ(d.source, "udpet");
  EXPECT_TRUE(d.subjects[0].images.empty());
  EXPECT_EQ(d.subjects[0].low_dose.at(4), "p1/drf_4.nii.gz");
}

TEST_F(DatasetFile, ReadErrorsNameTheFileAndTheField) {
  auto j = valid_json();
  j["format"] = "nnunet";
  EXPECT_NE(read_error(j).find("dataset.json: format: expected 'unipet-dataset'"), std::string::npos);

  j = valid_json();
  j["version"] = 2;
  EXPECT_NE(read_error(j).find("version: unsupported version 2"), std::string::npos);

  j = valid_json();
  j["drfs"] = {2, 0.5};
  EXPECT_NE(read_error(j).find("drfs[1]: a DRF must be a finite number > 1"), std::string::npos);

  j = valid_json();
  j["subjects"][0]["split"] = "training";
  EXPECT_NE(read_error(j).find("subjects[0].split: expected train, val or test, got 'training'"),
            std::string::npos);

  j = valid_json();
  j["subjects"][0]["low"] = {{"10", "p1/drf_10.nii.gz"}};
  EXPECT_NE(read_error(j).find("subjects[0].low.10: DRF not listed in drfs"), std::string::npos);

  j = valid_json();
  j["subjects"][0].erase("full");
  EXPECT_NE(read_error(j).find("subjects[0].full: missing"), std::string::npos);

  j = valid_json();
  j["subjects"].push_back(j["subjects"][0]);
  EXPECT_NE(read_error(j).find("subjects[1].id: 'p1' is not unique"), std::string::npos);

  j = valid_json();
  j["study"]["scanner"] = nlohmann::json::array();
  EXPECT_NE(read_error(j).find("study.scanner: expected a number or a string"), std::string::npos);

  j = valid_json();
  j["units"] = "kBq";
  EXPECT_NE(read_error(j).find("units: unknown units 'kBq'"), std::string::npos);
}

TEST_F(DatasetFile, ReadErrorsAreOneLine) {
  const std::string file = path("dataset.json");
  std::ofstream(file) << "{\"format\": \"unipet-dataset\",\n \"version\": ";
  try {
    read_dataset(file);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_NE(message.find("not valid JSON"), std::string::npos);
  }
  EXPECT_THROW(read_dataset(path("missing.json")), Error);
}

TEST_F(DatasetFile, WritingAnInvalidDatasetThrowsAndWritesNothing) {
  Dataset d = example();
  d.subjects[1].id = d.subjects[0].id;
  EXPECT_THROW(write_dataset(d, path("dataset.json")), Error);
  d = example();
  d.subjects[0].low_dose[10] = "x.nii.gz";
  EXPECT_THROW(write_dataset(d, path("dataset.json")), Error);
  d = example();
  d.drfs.push_back(1.0);
  EXPECT_THROW(write_dataset(d, path("dataset.json")), Error);
  EXPECT_FALSE(fs::exists(path("dataset.json")));
}

}  // namespace
}  // namespace unipet::io
