#include <gtest/gtest.h>

#include <functional>

#include "io/dicom_test_util.h"
#include "io/io_test_util.h"
#include "unipet/core/error.h"
#include "unipet/io/dicom.h"

namespace unipet::io {
namespace {

using test::expect_error;
using test::pet_slice;
using test::TempDir;

constexpr int kRows = 3, kColumns = 4;
const double kSlopes[] = {0.5, 1.25, 2.0, 0.1};
const double kIntercepts[] = {0.0, 10.0, -5.0, 0.0};

std::vector<int16_t> stored_values(int slice) {
  std::vector<int16_t> v(kRows * kColumns);
  for (int i = 0; i < kRows * kColumns; ++i) v[i] = static_cast<int16_t>((i - 2) * (slice + 1) * 100);
  return v;
}

// Four slices 3.27 mm apart, written in an order unrelated to their position and file names.
void write_series(const std::string& dir, const std::string& uid, int slices = 4,
                  const std::vector<double>& z = {10.0, 13.27, 16.54, 19.81}) {
  std::filesystem::create_directories(dir);
  const int order[] = {2, 0, 3, 1};
  for (int n = 0; n < slices; ++n) {
    const int k = slices == 4 ? order[n] : n;
    pet_slice(uid, k, z[k], kRows, kColumns, stored_values(k), kSlopes[k], kIntercepts[k])
        .save(dir + "/file" + std::to_string(n) + ".dcm");
  }
}

TEST(DicomRead, AppliesPerSliceRescaleAndSortsSlicesByPosition) {
  TempDir dir;
  write_series(dir / "pet", "1.2.826.0.1.3680043.99.2");
  test::write_bytes(dir / "pet/README.txt", "not a DICOM file");
  const DicomSeries s = read_dicom_series(dir / "pet");
  ASSERT_EQ(s.volume.data.sizes(), (std::vector<int64_t>{4, kRows, kColumns}));
  for (int k = 0; k < 4; ++k) {
    const auto stored = stored_values(k);
    for (int r = 0; r < kRows; ++r)
      for (int c = 0; c < kColumns; ++c)
        EXPECT_FLOAT_EQ(s.volume.data[k][r][c].item<float>(),
                        static_cast<float>(stored[r * kColumns + c] * kSlopes[k] + kIntercepts[k]))
            << "slice " << k;
  }
  EXPECT_NEAR(s.volume.spacing[0], 2.0, 1e-9);
  EXPECT_NEAR(s.volume.spacing[1], 2.5, 1e-9);
  EXPECT_NEAR(s.volume.spacing[2], 3.27, 1e-9);
  EXPECT_EQ(s.volume.origin, (std::array<double, 3>{-100, -80.5, 10}));
  EXPECT_EQ(s.volume.direction, (std::array<double, 9>{1, 0, 0, 0, 1, 0, 0, 0, 1}));
  EXPECT_EQ(s.volume.units, Units::BqPerMl);
  EXPECT_EQ(s.files.size(), 4u);
  EXPECT_NE(s.files[0].find("file1.dcm"), std::string::npos);  // slice 0 was written second
  // SUV uses SeriesTime (11:00), not the per-slice AcquisitionTime (11:05): hand-computed factor.
  EXPECT_NEAR(suv_factor(s.suv_tags).factor, 2.960750161260463e-4, 1e-15);
}

TEST(DicomRead, SeveralPetSeriesAreListedAndChosenByUid) {
  TempDir dir;
  write_series(dir / "study/a", "1.2.826.0.1.3680043.99.10");
  write_series(dir / "study/b", "1.2.826.0.1.3680043.99.11");
  const auto series = list_dicom_series(dir / "study");
  ASSERT_EQ(series.size(), 2u);
  EXPECT_EQ(series[0].files, 4);
  EXPECT_EQ(series[0].modality, "PT");
  expect_error([&] { read_dicom_series(dir / "study"); },
               {"2 PET series found", "1.2.826.0.1.3680043.99.10", "1.2.826.0.1.3680043.99.11"});
  EXPECT_EQ(read_dicom_series(dir / "study", "1.2.826.0.1.3680043.99.11").info.series_uid,
            "1.2.826.0.1.3680043.99.11");
  expect_error([&] { read_dicom_series(dir / "study", "1.2.3"); },
               {"no series with SeriesInstanceUID 1.2.3"});
}

TEST(DicomRead, AFolderWithoutAPetSeriesIsAnError) {
  TempDir dir;
  std::filesystem::create_directories(dir / "empty");
  expect_error([&] { read_dicom_series(dir / "empty"); }, {"empty", "no DICOM series found"});
  std::filesystem::create_directories(dir / "ct");
  test::pet_slice("1.2.826.0.1.3680043.99.3", 0, 0, 2, 2, {1, 2, 3, 4}, 1, 0)
      .set(0x0008, 0x0060, "CS", "CT")
      .save(dir / "ct/ct.dcm");
  expect_error([&] { read_dicom_series(dir / "ct"); }, {"ct", "no PET series", "found CT"});
  expect_error([&] { read_dicom_series(dir / "missing"); }, {"missing", "not a folder"});
}

TEST(DicomRead, CorruptAndTruncatedFilesAreErrorsNamingTheFile) {
  TempDir dir;
  write_series(dir / "corrupt", "1.2.826.0.1.3680043.99.4");
  test::write_bytes(dir / "corrupt/bad.dcm", std::string(128, '\0') + "DICM" + std::string(40, '\xff'));
  expect_error([&] { read_dicom_series(dir / "corrupt"); }, {"bad.dcm", "corrupt DICOM file"});

  write_series(dir / "cut", "1.2.826.0.1.3680043.99.5");
  const std::string bytes = test::read_bytes(dir / "cut/file2.dcm");
  test::write_bytes(dir / "cut/file2.dcm", bytes.substr(0, bytes.size() - 10));
  expect_error([&] { read_dicom_series(dir / "cut"); }, {"file2.dcm"});
}

TEST(DicomRead, ASingleSliceIsRejectedAsTwoDimensional) {
  TempDir dir;
  write_series(dir / "one", "1.2.826.0.1.3680043.99.6", 1);
  expect_error([&] { read_dicom_series(dir / "one"); }, {"one", "single slice", "2D"});
}

TEST(DicomRead, SeveralFramesAtOnePositionAreRejectedAsFourDimensional) {
  TempDir dir;
  write_series(dir / "dyn", "1.2.826.0.1.3680043.99.7", 3, {10.0, 10.0, 13.27});
  expect_error([&] { read_dicom_series(dir / "dyn"); }, {"dyn", "4D"});
}

TEST(DicomRead, AMissingSliceIsReportedAsUnevenSpacing) {
  TempDir dir;
  write_series(dir / "gap", "1.2.826.0.1.3680043.99.8", 3, {10.0, 13.27, 19.81});
  expect_error([&] { read_dicom_series(dir / "gap"); }, {"gap", "uneven slice spacing"});
}

TEST(DicomRead, UnsignedPixelsAboveTheSignedRangeAreKept) {
  TempDir dir;
  std::filesystem::create_directories(dir / "u16");
  // 40000 and 65535 stored as uint16 (PixelRepresentation 0) would read as negative if signed.
  const std::vector<uint16_t> raw = {0, 1, 40000, 65535};
  std::vector<int16_t> bits(raw.size());
  std::memcpy(bits.data(), raw.data(), raw.size() * 2);
  for (int k = 0; k < 2; ++k)
    pet_slice("1.2.826.0.1.3680043.99.12", k, 2.0 * k, 2, 2, bits, 0.5, 0)
        .set(0x0028, 0x0103, "US", test::RawDicom::u16(0))
        .save(dir / ("u16/" + std::to_string(k) + ".dcm"));
  const Volume v = read_dicom_series(dir / "u16").volume;
  EXPECT_FLOAT_EQ(v.data[1][1][0].item<float>(), 20000.0f);
  EXPECT_FLOAT_EQ(v.data[1][1][1].item<float>(), 32767.5f);
}

TEST(DicomRead, PixelModuleMismatchesAreRefusedNamingTheFileAndTags) {
  // Each of these used to be decoded into wrong values (or read past the pixel data).
  using test::RawDicom;
  struct Case {
    std::string name;
    std::function<void(RawDicom&)> change;
    std::vector<std::string> parts;
  };
  const auto u16 = [](uint16_t v) { return RawDicom::u16(v); };
  const std::vector<int16_t> pixels = {1, 2, 3, 4};
  const std::string pixel_bytes(reinterpret_cast<const char*>(pixels.data()), 8);
  const std::vector<Case> cases = {
      {"stored",
       [&](RawDicom& d) { d.set(0x0028, 0x0101, "US", u16(17)).set(0x0028, 0x0102, "US", u16(16)); },
       {"BitsStored (0028,0101) 17", "BitsAllocated (0028,0100) 16"}},
      {"highbit", [&](RawDicom& d) { d.set(0x0028, 0x0102, "US", u16(11)); }, {"HighBit (0028,0102) is 11"}},
      {"allocated",
       [&](RawDicom& d) {
         d.set(0x0028, 0x0100, "US", u16(12))
             .set(0x0028, 0x0101, "US", u16(12))
             .set(0x0028, 0x0102, "US", u16(11));
       },
       {"BitsAllocated (0028,0100) is 12"}},
      {"representation",
       [&](RawDicom& d) { d.set(0x0028, 0x0103, "US", u16(2)); },
       {"PixelRepresentation (0028,0103) is 2"}},
      {"nohighbit", [&](RawDicom& d) { d.erase(0x0028, 0x0102); }, {"HighBit (0028,0102) is missing"}},
      {"long",
       [&](RawDicom& d) { d.set(0x7FE0, 0x0010, "OW", pixel_bytes + std::string(4, '\0')); },
       {"PixelData (7FE0,0010) holds 12 bytes", "Rows (0028,0010)", "= 8"}},
      {"short",
       [&](RawDicom& d) { d.set(0x7FE0, 0x0010, "OW", pixel_bytes.substr(0, 6)); },
       {"PixelData (7FE0,0010) holds 6 bytes"}},
      {"wide",
       [&](RawDicom& d) {
         d.set(0x0028, 0x0100, "US", u16(32))
             .set(0x0028, 0x0101, "US", u16(32))
             .set(0x0028, 0x0102, "US", u16(31));
       },
       {"PixelData (7FE0,0010) holds 8 bytes", "= 16"}},
      {"slope", [&](RawDicom& d) { d.set(0x0028, 0x1053, "DS", "NaN"); }, {"RescaleSlope (0028,1053)"}},
      {"position",
       [&](RawDicom& d) { d.set(0x0020, 0x0032, "DS", "0\\inf\\0"); },
       {"ImagePositionPatient (0020,0032) is inf"}},
      {"rows", [&](RawDicom& d) { d.set(0x0028, 0x0010, "US", u16(0)); }, {"Rows (0028,0010) 0"}},
  };
  TempDir dir;
  for (const auto& c : cases) {
    std::filesystem::create_directories(dir / c.name);
    for (int k = 0; k < 2; ++k) {
      RawDicom slice = pet_slice("1.2.826.0.1.3680043.99.14", k, 2.0 * k, 2, 2, pixels, 1, 0);
      c.change(slice);
      slice.save(dir / (c.name + "/s" + std::to_string(k) + ".dcm"));
    }
    std::vector<std::string> parts = c.parts;
    parts.push_back("s0.dcm");
    try {
      read_dicom_series(dir / c.name);
      ADD_FAILURE() << c.name << ": expected an error";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
      for (const auto& p : parts)
        EXPECT_NE(message.find(p), std::string::npos) << c.name << ": '" << p << "' not in " << message;
    }
  }
}

TEST(DicomRead, JpegLosslessSlicesAreDecoded) {
  if (!test::on_path("dcmcjpeg")) GTEST_SKIP() << "dcmcjpeg not on PATH: compressed-input check skipped";
  TempDir dir;
  write_series(dir / "plain", "1.2.826.0.1.3680043.99.13");
  std::filesystem::create_directories(dir / "jpeg");
  for (int n = 0; n < 4; ++n) {
    const std::string name = "/file" + std::to_string(n) + ".dcm";
    const auto r = test::run_command("dcmcjpeg --encode-lossless-sv1 " + (dir / "plain") + name + " " +
                                     (dir / "jpeg") + name);
    ASSERT_EQ(r.status, 0) << r.output;
  }
  ASSERT_EQ(test::run_command("dcmdump " + (dir / "jpeg") + "/file0.dcm | grep -c JPEGLossless").status, 0);
  EXPECT_TRUE(torch::equal(read_dicom_series(dir / "jpeg").volume.data,
                           read_dicom_series(dir / "plain").volume.data));
}

TEST(DicomRead, MissingSuvTagsAreErrorsNamingFileAndTag) {
  TempDir dir;
  std::filesystem::create_directories(dir / "noweight");
  for (int k = 0; k < 2; ++k)
    pet_slice("1.2.826.0.1.3680043.99.9", k, 2.0 * k, 2, 2, {1, 2, 3, 4}, 1, 0)
        .erase(0x0010, 0x1030)
        .save(dir / ("noweight/s" + std::to_string(k) + ".dcm"));
  const DicomSeries s = read_dicom_series(dir / "noweight");  // the image itself is fine
  expect_error([&] { suv_factor(s.suv_tags); }, {"s0.dcm", "PatientWeight (0010,1030) is missing"});
}

}  // namespace
}  // namespace unipet::io
