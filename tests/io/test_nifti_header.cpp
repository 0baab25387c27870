// NIfTI headers and voxels that ITK's reader would abort on or silently alter (src/io/nifti_header.cpp),
// checked through read_image.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "io/io_test_util.h"
#include "io/nifti_test_util.h"
#include "unipet/core/error.h"
#include "unipet/io/image_io.h"

namespace unipet::io {
namespace {

using test::expect_error;
using test::NiftiBytes;
using test::TempDir;
using namespace test::nifti1;

constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<float> ramp(int n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = 0.5f * static_cast<float>(i);
  return v;
}

NiftiBytes small_image() { return NiftiBytes(3, 4, 5, ramp(3 * 4 * 5)); }

// Writes `image` as .nii in both byte orders and as .nii.gz, returning the three paths.
std::vector<std::string> write_every_way(const TempDir& dir, const std::string& stem,
                                         const NiftiBytes& image) {
  const std::vector<std::string> paths = {dir / (stem + ".nii"), dir / (stem + "_be.nii"),
                                          dir / (stem + ".nii.gz")};
  test::write_bytes(paths[0], image.bytes());
  test::write_bytes(paths[1], image.bytes(true));
  test::write_bytes(paths[2], test::gzip_bytes(image.bytes()));
  return paths;
}

TEST(ImageIoNifti, AHandBuiltFileReadsInEveryByteOrderAndCompressed) {
  TempDir dir;
  for (const auto& path : write_every_way(dir, "good", small_image())) {
    const Volume v = read_image(path);
    ASSERT_EQ(v.data.sizes(), (std::vector<int64_t>{5, 4, 3})) << path;
    EXPECT_FLOAT_EQ(v.data[4][3][2].item<float>(), 0.5f * 59) << path;
    EXPECT_NEAR(v.spacing[2], 2.0, 1e-9) << path;
  }
}

TEST(ImageIoNifti, NonFiniteSformOrQformIsRefusedNamingTheField) {
  // ITK's matrix code asserts (aborting the process) on these; each must be one line instead.
  TempDir dir;
  const std::pair<size_t, std::string> fields[] = {
      {kSrowX + 4, "srow_x[1]"}, {kSrowY + 12, "srow_y[3]"},   {kSrowZ + 8, "srow_z[2]"},
      {kQuaternB, "quatern_b"},  {kQuaternB + 8, "quatern_d"}, {kQoffsetX + 8, "qoffset_z"}};
  for (const auto& [offset, name] : fields)
    for (const float bad : {kNan, kInf, -kInf}) {
      NiftiBytes image = small_image();
      image.set<float>(offset, bad);
      for (const auto& path : write_every_way(dir, "bad", image))
        expect_error([&] { read_image(path); }, {path, "corrupt NIfTI header", name});
    }
}

TEST(ImageIoNifti, ANonFiniteSformIsRefusedEvenWhenItsCodeIsZero) {
  TempDir dir;
  NiftiBytes image = small_image();
  image.set<int16_t>(kSformCode, 0).set<float>(kSrowX, kNan);
  test::write_bytes(dir / "a.nii", image.bytes());
  expect_error([&] { read_image(dir / "a.nii"); }, {"a.nii", "srow_x[0]", "sform_code 0"});
}

TEST(ImageIoNifti, ASingularSformIsRefused) {
  TempDir dir;
  NiftiBytes image = small_image();
  for (size_t c = 0; c < 3; ++c) image.set<float>(kSrowZ + 4 * c, 0.0f);  // no z direction
  test::write_bytes(dir / "flat.nii", image.bytes());
  expect_error([&] { read_image(dir / "flat.nii"); }, {"flat.nii", "sform", "singular"});
}

TEST(ImageIoNifti, ZeroNegativeOrNonFinitePixdimIsRefused) {
  // niftilib would replace 0 and NaN with 1 mm: a silently wrong geometry.
  TempDir dir;
  for (size_t axis = 1; axis <= 3; ++axis)
    for (const float bad : {0.0f, -2.0f, kNan, kInf}) {
      NiftiBytes image = small_image();
      image.set<float>(kPixdim + 4 * axis, bad);
      for (const auto& path : write_every_way(dir, "pixdim", image))
        expect_error([&] { read_image(path); },
                     {path, "pixdim[" + std::to_string(axis) + "]", "qform_code 1"});
    }
  NiftiBytes image = small_image();
  image.set<float>(kPixdim, kNan);
  test::write_bytes(dir / "qfac.nii", image.bytes());
  expect_error([&] { read_image(dir / "qfac.nii"); }, {"qfac.nii", "pixdim[0] (qfac)"});
}

TEST(ImageIoNifti, AVoxOffsetInsideTheHeaderOrNotWholeIsRefused) {
  // niftilib would move a vox_offset below 352 to 352 and read other bytes than the file says.
  TempDir dir;
  for (const float bad : {0.0f, 348.0f, 351.0f, 352.5f, kNan, -1.0f}) {
    NiftiBytes image = small_image();
    image.set<float>(kVoxOffset, bad);
    for (const auto& path : write_every_way(dir, "offset", image))
      expect_error([&] { read_image(path); }, {path, "vox_offset", "352"});
  }
}

TEST(ImageIoNifti, NonFiniteScalingIsRefused) {
  TempDir dir;
  for (const size_t field : {kSclSlope, kSclInter}) {
    NiftiBytes image = small_image();
    image.set<float>(field, kNan);
    test::write_bytes(dir / "scl.nii", image.bytes());
    expect_error([&] { read_image(dir / "scl.nii"); },
                 {"scl.nii", field == kSclSlope ? "scl_slope" : "scl_inter"});
  }
}

TEST(ImageIoNifti, BadDimsAndDatatypesAreRefused) {
  TempDir dir;
  const auto refused = [&](const NiftiBytes& image, const std::string& part) {
    test::write_bytes(dir / "dims.nii", image.bytes());
    expect_error([&] { read_image(dir / "dims.nii"); }, {dir / "dims.nii", part});
  };
  refused(small_image().set<int16_t>(kDim, 0), "dim[0] is 0");
  refused(small_image().set<int16_t>(kDim, 9), "dim[0] is 9");
  refused(small_image().set<int16_t>(kDim + 4, -4), "dim[2] is -4");
  refused(small_image().set<int16_t>(kDim + 6, 0), "dim[3] is 0");
  // 32767^4 voxels overflow 32-bit products and exceed any sane image.
  NiftiBytes huge = small_image();
  huge.set<int16_t>(kDim, 4);
  for (size_t i = 1; i <= 4; ++i) huge.set<int16_t>(kDim + 2 * i, 32767);
  refused(huge, "too large");
  refused(small_image().set<int16_t>(kDatatype, 17), "unknown datatype 17");
  refused(small_image().set<int16_t>(kBitpix, 16), "bitpix is 16");
}

TEST(ImageIoNifti, AHeaderDeclaringMoreVoxelsThanPresentIsRefusedBeforeReading) {
  TempDir dir;
  NiftiBytes image = small_image();
  for (size_t i = 1; i <= 3; ++i) image.set<int16_t>(kDim + 2 * i, 1000);  // 4 GB of float32
  for (const auto& path : write_every_way(dir, "big", image))
    expect_error([&] { read_image(path); }, {path, "truncated"});
}

TEST(ImageIoNifti, HeaderOnlyAndAnalyzeFilesAreRefused) {
  // "ni1" means the voxels are in a separate .img file, which the reader would open: not ours.
  TempDir dir;
  test::write_bytes(dir / "pair.img", std::string(240, '\0'));
  NiftiBytes pair = small_image();
  pair.set_raw(kMagic, std::string("ni1\0", 4));
  test::write_bytes(dir / "pair.nii", pair.bytes());
  expect_error([&] { read_image(dir / "pair.nii"); }, {"pair.nii", "separate .img"});
  NiftiBytes analyze = small_image();
  analyze.set_raw(kMagic, std::string(4, '\0'));
  test::write_bytes(dir / "analyze.nii", analyze.bytes());
  expect_error([&] { read_image(dir / "analyze.nii"); }, {"analyze.nii", "not a single-file NIfTI"});
  test::write_bytes(dir / "short.nii", small_image().bytes().substr(0, 200));
  expect_error([&] { read_image(dir / "short.nii"); }, {"short.nii"});
}

TEST(ImageIoNifti, AGzipStreamWithAWrongCrcIsRefused) {
  // The data length still fits (the trailer's length field is intact): only the CRC tells.
  TempDir dir;
  write_image(test::awkward_volume(), dir / "good.nii.gz");
  std::string bytes = test::read_bytes(dir / "good.nii.gz");
  bytes[bytes.size() - 8] = static_cast<char>(bytes[bytes.size() - 8] ^ 0x5a);
  test::write_bytes(dir / "crc.nii.gz", bytes);
  expect_error([&] { read_image(dir / "crc.nii.gz"); }, {"crc.nii.gz", "corrupt", "incorrect data check"});
  // A gzip stream cut short is refused too, whatever the header says.
  const std::string good = test::read_bytes(dir / "good.nii.gz");
  test::write_bytes(dir / "cut.nii.gz", good.substr(0, good.size() - 6));
  expect_error([&] { read_image(dir / "cut.nii.gz"); }, {"cut.nii.gz"});
}

TEST(ImageIoNifti, NanAndInfVoxelsAreRefusedWithTheirCount) {
  // ITK's NIfTI reader turns them into 0; read_image counts them in the file instead.
  TempDir dir;
  std::vector<float> values = ramp(60);
  values[7] = kNan;
  values[8] = kNan;
  values[30] = -kInf;
  for (const auto& path : write_every_way(dir, "nan", NiftiBytes(3, 4, 5, values)))
    expect_error([&] { read_image(path); }, {path, "3 voxels are NaN or Inf", "2 NaN, 1 Inf"});
}

TEST(ImageIoNifti, NanAndInfVoxelsAreKeptWhereAllowed) {
  TempDir dir;
  std::vector<float> values = ramp(60);
  values[7] = kNan;    // x 1, y 2, z 0
  values[30] = -kInf;  // x 0, y 2, z 2
  NiftiBytes image(3, 4, 5, values);
  image.set<float>(kSclSlope, 2.0f).set<float>(kSclInter, 1.0f);
  ReadImageOptions options;
  options.allow_non_finite = true;
  for (const auto& path : write_every_way(dir, "kept", image)) {
    const Volume v = read_image(path, options);
    EXPECT_TRUE(std::isnan(v.data[0][2][1].item<float>())) << path;
    EXPECT_EQ(v.data[2][2][0].item<float>(), -kInf) << path;
    EXPECT_FLOAT_EQ(v.data[0][0][1].item<float>(), 0.5f * 2 + 1) << path;  // scaled as ITK does
    EXPECT_EQ(torch::isfinite(v.data).logical_not().sum().item<int64_t>(), 2) << path;
  }
}

}  // namespace
}  // namespace unipet::io
