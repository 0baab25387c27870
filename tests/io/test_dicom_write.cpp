#include <gtest/gtest.h>

#include "io/dicom_test_util.h"
#include "io/dicom_validators.h"
#include "io/io_test_util.h"
#include "unipet/core/error.h"
#include "unipet/io/dicom.h"

namespace unipet::io {
namespace {

using test::expect_error;
using test::TempDir;

// Every voxel within half a quantisation step of its slice (max|slice| / 32767 / 2, plus float
// rounding), and the geometry within the 16-character DS precision.
void expect_round_trip(const Volume& written, const Volume& read) {
  ASSERT_EQ(written.data.sizes(), read.data.sizes());
  for (int64_t k = 0; k < written.data.size(0); ++k) {
    const double step = written.data[k].abs().max().item<double>() / 32767.0;
    const double worst = (written.data[k] - read.data[k]).abs().max().item<double>();
    EXPECT_LE(worst, 0.5 * step * (1 + 1e-6) + 1e-6 * step) << "slice " << k;
  }
  EXPECT_TRUE(same_geometry(written, read, 1e-6));
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(written.direction[i], read.direction[i], 1e-9);
  EXPECT_EQ(written.units, read.units);
}

TEST(DicomWrite, RoundTripKeepsValuesAndObliqueGeometry) {
  TempDir dir;
  Volume v = test::awkward_volume(Units::BqPerMl);
  v.data[2] = v.data[2] * 1e-3f;  // a faint slice keeps its own precision
  write_dicom_series(v, dir / "out");
  const DicomSeries back = read_dicom_series(dir / "out");
  expect_round_trip(v, back.volume);
  EXPECT_EQ(back.files.size(), 5u);
  EXPECT_EQ(back.info.modality, "PT");
  EXPECT_NE(back.info.series_description.find("unipet"), std::string::npos);
  // Nothing but the series folder was created.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(DicomWrite, SuvVolumesAreWrittenAsGml) {
  TempDir dir;
  const Volume v = test::awkward_volume(Units::SUV);
  write_dicom_series(v, dir / "suv");
  const DicomSeries back = read_dicom_series(dir / "suv");
  EXPECT_EQ(back.volume.units, Units::SUV);
  EXPECT_EQ(suv_factor(back.suv_tags).factor, 1.0);
}

TEST(DicomWrite, ALeftHandedVolumeIsStoredAsTheSameImage) {
  TempDir dir;
  Volume v = test::awkward_volume();
  for (int r = 0; r < 3; ++r) v.direction[r * 3 + 2] = -v.direction[r * 3 + 2];
  write_dicom_series(v, dir / "flip");
  const Volume back = read_dicom_series(dir / "flip").volume;
  // Same voxels at the same physical points: the slice axis is reversed.
  const Volume expected = [&] {
    Volume e = with_geometry_of(v, v.data.flip({0}));
    for (int r = 0; r < 3; ++r) {
      e.origin[r] += v.direction[r * 3 + 2] * v.spacing[2] * 4;
      e.direction[r * 3 + 2] = -v.direction[r * 3 + 2];
    }
    return e;
  }();
  expect_round_trip(expected, back);
}

TEST(DicomWrite, DerivedSeriesKeepsPatientAndStudyWithNewUids) {
  TempDir dir;
  std::filesystem::create_directories(dir / "src");
  for (int k = 0; k < 3; ++k)
    test::pet_slice("1.2.826.0.1.3680043.99.20", k, 5.0 * k, 2, 3, {1, 2, 3, 4, 5, 6}, 2.0, 0)
        .save(dir / ("src/s" + std::to_string(k) + ".dcm"));
  const DicomSeries source = read_dicom_series(dir / "src");
  DicomWriteOptions options;
  options.template_file = source.files.front();
  write_dicom_series(with_geometry_of(source.volume, source.volume.data * 0.5), dir / "out", options);
  const DicomSeries derived = read_dicom_series(dir / "out");
  EXPECT_NE(derived.info.series_uid, source.info.series_uid);
  EXPECT_EQ(derived.info.patient_id, "P001");
  EXPECT_EQ(derived.info.series_description, "WB 3D test [unipet]");
  EXPECT_EQ(derived.info.series_number, "1003");  // the source's 3 + 1000
  expect_round_trip(with_geometry_of(source.volume, source.volume.data * 0.5), derived.volume);
  // SUV tags (dose, injection, SeriesTime, weight) survive, so the SUV factor is unchanged.
  EXPECT_DOUBLE_EQ(suv_factor(derived.suv_tags).factor, suv_factor(source.suv_tags).factor);

  const auto dump = test::run_command(
      "dcmdump +P 0008,0008 +P 0008,0018 +P 0010,0010 +P 0020,000d +P 0054,1001 +P 0008,0060 " +
      derived.files.front());
  ASSERT_EQ(dump.status, 0) << dump.output;
  EXPECT_NE(dump.output.find("[DERIVED\\PRIMARY\\CONVERTED]"), std::string::npos) << dump.output;
  EXPECT_NE(dump.output.find("[Test^Patient]"), std::string::npos) << dump.output;
  EXPECT_NE(dump.output.find("[1.2.826.0.1.3680043.99.1]"), std::string::npos) << dump.output;  // study kept
  EXPECT_EQ(dump.output.find("1.2.826.0.1.3680043.99.20"), std::string::npos)
      << dump.output;  // new SOP UIDs
  EXPECT_NE(dump.output.find("[BQML]"), std::string::npos) << dump.output;
  EXPECT_NE(dump.output.find("[PT]"), std::string::npos) << dump.output;
}

TEST(DicomWrite, ADerivedSeriesIsValidAndSaysWhatMadeItFromWhichImages) {
  TempDir dir;
  const std::string uid = "1.2.826.0.1.3680043.99.21";
  test::write_pet_series(dir / "src", uid, 4, 3.0, 2, 3,
                         [](int k) { return std::vector<int16_t>{1, 2, 3, 4, 5, static_cast<int16_t>(6 + k)}; }, 2.0);
  ASSERT_EQ(test::dicom_validation_errors(dir / "src"), "");  // the source is a valid series
  const DicomSeries source = read_dicom_series(dir / "src");
  DicomWriteOptions options;
  options.template_file = source.files.front();
  options.source_files = source.files;
  options.series_description = "unipet denoised";
  options.image_type3 = "DENOISED";
  options.provenance.operation = "denoised";
  options.provenance.model_file = "model.safetensors";
  options.provenance.model_sha256 = std::string(64, 'a');
  options.provenance.derivation = {"113087", "DCM", "Smoothing"};
  write_dicom_series(with_geometry_of(source.volume, source.volume.data * 0.5), dir / "out", options);
  EXPECT_EQ(test::dicom_validation_errors(dir / "out"), "");

  const DicomSeries derived = read_dicom_series(dir / "out");
  EXPECT_EQ(derived.info.series_description, "WB 3D test [unipet denoised]");
  EXPECT_EQ(derived.derivation.image_type, "DERIVED\\PRIMARY\\DENOISED");
  EXPECT_EQ(derived.derivation.source_series_uid, uid);
  EXPECT_EQ(derived.derivation.software.rfind("unipet ", 0), 0u) << derived.derivation.software;
  EXPECT_NE(derived.derivation.description.find("model.safetensors (sha256 " + std::string(64, 'a') + ")"),
            std::string::npos)
      << derived.derivation.description;
  EXPECT_NE(derived.derivation.description.find("from series " + uid), std::string::npos);
  EXPECT_EQ(derived.derivation.date_time.size(), 19u) << derived.derivation.date_time;  // YYYYMMDDHHMMSS+0000
  EXPECT_DOUBLE_EQ(suv_factor(derived.suv_tags).factor, suv_factor(source.suv_tags).factor);

  // Slice k references source slice k (the test encoder's SOPInstanceUID is uid.1.k), and the
  // PET modules the validator requires were copied, not emptied.
  for (size_t k = 0; k < derived.files.size(); ++k) {
    const auto dump = test::run_command("dcmdump -q " + derived.files[k]);
    ASSERT_EQ(dump.status, 0) << dump.output;
    // The Source Image Sequence (0008,2112) follows the Referenced Series Sequence (0008,1115),
    // which lists every source instance: its first ReferencedSOPInstanceUID is this slice's source.
    const size_t source_image = dump.output.find("(0008,2112) SQ");
    ASSERT_NE(source_image, std::string::npos) << dump.output;
    const size_t reference = dump.output.find("(0008,1155) UI [", source_image);
    ASSERT_NE(reference, std::string::npos) << dump.output;
    const size_t value = reference + std::string("(0008,1155) UI [").size();
    EXPECT_EQ(dump.output.substr(value, dump.output.find(']', value) - value), uid + ".1." + std::to_string(k));
    for (const std::string part :
         {"[121322]", "[109102]", "[113087]",
          "[121323]", "[Processing Equipment]", "(0008,1115) SQ", "(0018,1181) CS [NONE]", "[102538003]",
          "[102540008]", "[WHOLEBODY]", "(0054,1102) CS [START]", "(0008,0031) TM [110000]",
          "(0008,0032) TM [110500]", "[77004003]", "(0054,1321) DS [1]"})
      EXPECT_NE(dump.output.find(part), std::string::npos) << part << " not in slice " << k << ":\n" << dump.output;
  }
}

TEST(DicomWrite, StandaloneSeriesIsValidForDcmtkGdcmAndDicom3tools) {
  TempDir dir;
  write_dicom_series(test::awkward_volume(), dir / "alone");
  EXPECT_EQ(test::dicom_validation_errors(dir / "alone"), "");
  const auto files = read_dicom_series(dir / "alone").files;
  const auto dump = test::run_command("dcmdump -E " + files.front());
  EXPECT_EQ(dump.status, 0) << dump.output;
  EXPECT_NE(dump.output.find("[Anonymous]"), std::string::npos) << dump.output;
  // GDCM's own reading of the first slice's geometry: an independent check of the writer.
  const auto gdcm = test::run_command("gdcminfo " + files.front());
  EXPECT_EQ(gdcm.status, 0) << gdcm.output;
  for (const std::string part : {"1.2.840.10008.5.1.4.1.1.128", "Dimensions: (7,6,1)",
                                 "Origin: (-120.25,33.5,402.75)", "Spacing: (1.65,2.1,"})
    EXPECT_NE(gdcm.output.find(part), std::string::npos) << part << " not in " << gdcm.output;
}

TEST(DicomWrite, PydicomReadsTheFilesWherePresent) {
  // `run` installs Debian's python3-pydicom for the system interpreter; a python3 earlier on PATH
  // (pyenv, a virtualenv) may not have it.
  std::string python;
  for (const std::string candidate : {"python3", "/usr/bin/python3"}) {
    if (test::run_command(candidate + " -c 'import pydicom'").status == 0) {
      python = candidate;
      break;
    }
  }
  if (python.empty()) GTEST_SKIP() << "no python3 with pydicom: pydicom check skipped";
  TempDir dir;
  write_dicom_series(test::awkward_volume(), dir / "py");
  const auto files = read_dicom_series(dir / "py").files;
  const auto r = test::run_command(
      python + " -c \"import pydicom, sys; d = pydicom.dcmread(sys.argv[1]); "
      "print(d.Modality, '/'.join(d.ImageType), d.Rows, d.Columns, len(d.PixelData), d.Units)\" " +
      files.front());
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("PT DERIVED/PRIMARY/CONVERTED 6 7 84 BQML"), std::string::npos) << r.output;
}

TEST(DicomWrite, ANonEmptyFolderIsRefusedAndErrorsLeaveNothing) {
  TempDir dir;
  std::filesystem::create_directories(dir / "busy");
  test::write_bytes(dir / "busy/keep.txt", "mine");
  expect_error([&] { write_dicom_series(test::awkward_volume(), dir / "busy"); }, {"busy", "not empty"});
  EXPECT_TRUE(std::filesystem::exists(dir / "busy/keep.txt"));
  Volume bad = test::awkward_volume();
  bad.data[0][0][0] = NAN;
  expect_error([&] { write_dicom_series(bad, dir / "nan"); }, {"nan", "NaN or Inf"});
  EXPECT_FALSE(std::filesystem::exists(dir / "nan"));
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

}  // namespace
}  // namespace unipet::io
