#include "unipet/io/image_io.h"

#include <gtest/gtest.h>

#include "io/io_test_util.h"
#include "io/nifti_test_util.h"
#include "unipet/core/error.h"

namespace unipet::io {
namespace {

using test::expect_error;
using test::TempDir;

void expect_same_volume(const Volume& a, const Volume& b) {
  EXPECT_TRUE(same_geometry(a, b, 1e-4)) << "geometry changed";
  for (int i = 0; i < 9; ++i) EXPECT_NEAR(a.direction[i], b.direction[i], 1e-6) << "cosine " << i;
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(a.spacing[i], b.spacing[i], 1e-5);
    EXPECT_NEAR(a.origin[i], b.origin[i], 1e-4);
  }
  EXPECT_TRUE(torch::equal(a.data, b.data)) << "voxel values changed";
  EXPECT_EQ(a.units, b.units);
}

class ImageIoRoundTrip : public ::testing::TestWithParam<std::string> {};

TEST_P(ImageIoRoundTrip, KeepsValuesObliqueGeometryAndUnits) {
  TempDir dir;
  const Volume original = test::awkward_volume(Units::SUV);
  const std::string path = dir / ("pet" + GetParam());
  write_image(original, path);
  expect_same_volume(original, read_image(path));
  // Nothing but the image (and a .mhd's data file) is left in the folder.
  int files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(e.path().filename().string().rfind("pet", 0), 0u) << e.path();
    ++files;
  }
  EXPECT_EQ(files, GetParam() == ".mhd" ? 2 : 1);
}

TEST_P(ImageIoRoundTrip, KeepsALeftHandedDirection) {
  // A flipped axis (NIfTI qfac = -1, radiological storage) is where converters often go wrong.
  TempDir dir;
  Volume original = test::awkward_volume(Units::BqPerMl);
  for (int r = 0; r < 3; ++r) original.direction[r * 3 + 0] = -original.direction[r * 3 + 0];
  const std::string path = dir / ("flipped" + GetParam());
  write_image(original, path);
  expect_same_volume(original, read_image(path));
}

INSTANTIATE_TEST_SUITE_P(ImageIoEveryFormat, ImageIoRoundTrip,
                         ::testing::Values(".nii", ".nii.gz", ".mha", ".mhd", ".nrrd"), [](const auto& info) {
                           std::string n = info.param.substr(1);
                           for (char& c : n) c = c == '.' ? '_' : c;
                           return n;
                         });

TEST(ImageIo, WriteReplacesAnExistingFile) {
  TempDir dir;
  Volume v = test::awkward_volume();
  write_image(v, dir / "a.nii.gz");
  v.data = v.data * 2;
  write_image(v, dir / "a.nii.gz");
  EXPECT_TRUE(torch::equal(read_image(dir / "a.nii.gz").data, v.data));
}

TEST(ImageIo, SmallNegativeVoxelsAreKept) {
  TempDir dir;
  Volume v = test::awkward_volume();
  v.data[0][0][0] = -0.25f;
  write_image(v, dir / "neg.nrrd");
  EXPECT_FLOAT_EQ(read_image(dir / "neg.nrrd").data[0][0][0].item<float>(), -0.25f);
}

TEST(ImageIo, MissingFileIsAnErrorNamingIt) {
  TempDir dir;
  expect_error([&] { read_image(dir / "nope.nii"); }, {"nope.nii", "no such file"});
}

TEST(ImageIo, UnknownExtensionIsAnError) {
  TempDir dir;
  test::write_bytes(dir / "x.png", "abc");
  expect_error([&] { read_image(dir / "x.png"); }, {"x.png", "unknown image format"});
  expect_error([&] { write_image(test::awkward_volume(), dir / "y.png"); },
               {"y.png", "unknown image format"});
  EXPECT_FALSE(std::filesystem::exists(dir / "y.png"));
}

TEST(ImageIo, GarbageFilesAreErrorsForEveryFormat) {
  TempDir dir;
  for (const std::string ext : {".nii", ".nii.gz", ".mha", ".nrrd"}) {
    const std::string path = dir / ("junk" + ext);
    test::write_bytes(path, std::string(500, 'x'));
    expect_error([&] { read_image(path); }, {path});
  }
}

TEST(ImageIo, TruncatedFilesAreErrors) {
  TempDir dir;
  for (const std::string ext : {".nii", ".nii.gz", ".mha", ".nrrd"}) {
    const std::string good = dir / ("good" + ext), cut = dir / ("cut" + ext);
    write_image(test::awkward_volume(), good);
    const std::string bytes = test::read_bytes(good);
    test::write_bytes(cut, bytes.substr(0, bytes.size() * 2 / 3));
    expect_error([&] { read_image(cut); }, {cut});
  }
  // A .mhd whose separate .raw data file lost its end.
  write_image(test::awkward_volume(), dir / "split.mhd");
  const std::string raw = test::read_bytes(dir / "split.raw");
  test::write_bytes(dir / "split.raw", raw.substr(0, raw.size() / 2));
  expect_error([&] { read_image(dir / "split.mhd"); }, {"split.mhd", "truncated"});
}

TEST(ImageIo, TwoDimensionalAndFourDimensionalImagesAreRejected) {
  TempDir dir;
  // Hand-written MetaImage headers: the simplest way to make a 2D and a 4D image.
  test::write_bytes(dir / "flat.mha",
                    "ObjectType = Image\nNDims = 2\nDimSize = 3 4\nElementType = MET_FLOAT\n"
                    "ElementDataFile = LOCAL\n" +
                        std::string(3 * 4 * 4, '\0'));
  expect_error([&] { read_image(dir / "flat.mha"); }, {"flat.mha", "expected a 3D image", "2D"});
  test::write_bytes(dir / "movie.mha",
                    "ObjectType = Image\nNDims = 4\nDimSize = 2 2 2 3\nElementType = MET_FLOAT\n"
                    "ElementDataFile = LOCAL\n" +
                        std::string(2 * 2 * 2 * 3 * 4, '\0'));
  expect_error([&] { read_image(dir / "movie.mha"); }, {"movie.mha", "4D"});
  // A single slice stored as 3D is a 2D image too.
  test::write_bytes(dir / "slice.nii", test::NiftiBytes(3, 4, 1, std::vector<float>(12, 1.0f)).bytes());
  expect_error([&] { read_image(dir / "slice.nii"); }, {"slice.nii", "2D"});
}

TEST(ImageIo, NanVoxelsAreRejectedOnReadAndWrite) {
  TempDir dir;
  Volume v = test::awkward_volume();
  expect_error(
      [&] {
        v.data[1][2][3] = std::nanf("");
        write_image(v, dir / "nan.nii");
      },
      {"nan.nii", "NaN or Inf"});
  EXPECT_FALSE(std::filesystem::exists(dir / "nan.nii"));
  test::write_bytes(dir / "inf.mha",
                    "ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementType = MET_FLOAT\n"
                    "ElementDataFile = LOCAL\n");
  std::string body(8 * 4, '\0');
  const float inf = INFINITY;
  std::memcpy(body.data() + 4, &inf, 4);
  std::ofstream(dir / "inf.mha", std::ios::app | std::ios::binary) << body;
  expect_error([&] { read_image(dir / "inf.mha"); }, {"inf.mha", "1 voxels are NaN or Inf"});
}

TEST(ImageIo, NanAndInfAreCountedSeparatelyAndKeptWhereAllowed) {
  TempDir dir;
  std::vector<float> values(8, 1.0f);
  values[1] = std::nanf("");
  values[2] = -INFINITY;
  values[5] = INFINITY;
  test::write_raw_mha(dir / "bad.mha", {2, 2, 2}, values);
  expect_error([&] { read_image(dir / "bad.mha"); }, {"bad.mha", "3 voxels are NaN or Inf", "1 NaN, 2 Inf"});
  ReadImageOptions options;
  options.allow_non_finite = true;
  const Volume v = read_image(dir / "bad.mha", options);
  EXPECT_TRUE(std::isnan(v.data[0][0][1].item<float>()));
  EXPECT_EQ(v.data[1][0][1].item<float>(), INFINITY);
}

TEST(ImageIo, EmptyFilesFoldersAndHeaderOnlyFilesAreOneLineErrors) {
  TempDir dir;
  for (const std::string ext : {".nii", ".nii.gz", ".mha", ".mhd", ".nrrd", ".nhdr"}) {
    test::write_bytes(dir / ("empty" + ext), "");
    expect_error([&] { read_image(dir / ("empty" + ext)); }, {"empty" + ext, "empty file"});
    std::filesystem::create_directories(dir / ("folder" + ext));
    expect_error([&] { read_image(dir / ("folder" + ext)); }, {"folder" + ext, "not a file"});
  }
  test::write_bytes(dir / "header.nrrd",
                    "NRRD0004\ntype: float\ndimension: 3\nsizes: 2 2 2\nencoding: raw\n");
  expect_error([&] { read_image(dir / "header.nrrd"); }, {"header.nrrd", "no voxel data"});
}

TEST(ImageIo, ReaderErrorsCarryNoItkClassNamesOrAddresses) {
  // Headers that pass unipet's own checks but that ITK's readers reject.
  TempDir dir;
  test::write_bytes(
      dir / "type.nrrd",
      "NRRD0004\ntype: quaternion\ndimension: 3\nsizes: 2 2 2\nencoding: raw\n\n" + std::string(64, '\0'));
  test::write_bytes(dir / "type.mha",
                    "ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementType = MET_BOGUS\n"
                    "ElementDataFile = LOCAL\n" +
                        std::string(64, '\0'));
  for (const std::string name : {"type.nrrd", "type.mha"}) {
    try {
      read_image(dir / name);
      ADD_FAILURE() << name << " was read";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
      EXPECT_NE(message.find(name), std::string::npos) << message;
      EXPECT_EQ(message.find("0x"), std::string::npos) << message;
      EXPECT_EQ(message.find("itk::"), std::string::npos) << message;
    }
  }
}

TEST(ImageIo, AbsurdSpacingIsRejected) {
  TempDir dir;
  test::write_bytes(dir / "huge.mha",
                    "ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementSpacing = 1 1 50000\n"
                    "ElementType = MET_FLOAT\nElementDataFile = LOCAL\n" +
                        std::string(32, '\0'));
  expect_error([&] { read_image(dir / "huge.mha"); }, {"huge.mha", "absurd voxel spacing"});
}

TEST(ImageIo, WritingIntoAMissingFolderLeavesNothing) {
  TempDir dir;
  expect_error([&] { write_image(test::awkward_volume(), dir / "no/such/dir/a.nii"); },
               {"a.nii", "does not exist"});
}

}  // namespace
}  // namespace unipet::io
