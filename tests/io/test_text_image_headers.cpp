// MetaImage and NRRD headers that would make ITK's readers allocate too much, return memory they
// never filled, or read files outside the input (src/io/text_image_headers.cpp), through read_image.
#include <gtest/gtest.h>

#include <chrono>

#include "io/io_test_util.h"
#include "io/nifti_test_util.h"
#include "unipet/core/error.h"
#include "unipet/io/image_io.h"

namespace unipet::io {
namespace {

namespace fs = std::filesystem;
using test::expect_error;
using test::TempDir;

std::vector<float> ramp(int n) {
  std::vector<float> v(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) v[static_cast<size_t>(i)] = static_cast<float>(i) - 3.5f;
  return v;
}

const std::string kMetaHeader = "ObjectType = Image\nNDims = 3\nDimSize = 2 3 4\nElementType = MET_FLOAT\n";
const std::string kNrrdHeader = "NRRD0004\ntype: float\ndimension: 3\nsizes: 2 3 4\nendian: little\n";

void expect_ramp(const Volume& v) {
  ASSERT_EQ(v.data.sizes(), (std::vector<int64_t>{4, 3, 2}));
  EXPECT_TRUE(torch::equal(v.data.flatten(), torch::tensor(ramp(24))));
}

TEST(ImageIoMetaImage, AListOfSliceFilesIsRefusedNotReadAsUninitialisedMemory) {
  TempDir dir;
  test::write_bytes(dir / "list.mhd", kMetaHeader + "ElementDataFile = LIST 2D\n");
  expect_error([&] { read_image(dir / "list.mhd"); }, {"list.mhd", "LIST 2D", "not supported"});
  test::write_bytes(dir / "a.raw", test::float_bytes(ramp(6)));
  test::write_bytes(dir / "list2.mha", kMetaHeader + "ElementDataFile = LIST\na.raw\na.raw\na.raw\na.raw\n");
  expect_error([&] { read_image(dir / "list2.mha"); }, {"list2.mha", "LIST", "not supported"});
  test::write_bytes(dir / "pattern.mhd", kMetaHeader + "ElementDataFile = slice%03d.raw 1 4 1\n");
  expect_error([&] { read_image(dir / "pattern.mhd"); }, {"pattern.mhd", "not supported"});
}

// An attached compressed MetaImage as ITK writes it, with CompressedDataSize `size`.
std::string compressed_mha(const std::string& packed, uint64_t size) {
  return kMetaHeader + "CompressedData = True\nCompressedDataSize = " + std::to_string(size) +
         "\nElementDataFile = LOCAL\n" + packed;
}

TEST(ImageIoMetaImage, CompressedFilesAreReadAndCheckedAgainstTheirData) {
  TempDir dir;
  const std::string packed = test::zlib_bytes(test::float_bytes(ramp(24)));
  // As ITK writes them: attached (.mha) and detached (.mhd + .zraw, where the size is optional).
  test::write_bytes(dir / "z.mha", compressed_mha(packed, packed.size()));
  expect_ramp(read_image(dir / "z.mha"));
  test::write_bytes(dir / "z.zraw", packed);
  test::write_bytes(dir / "z.mhd", kMetaHeader + "CompressedData = True\nElementDataFile = z.zraw\n");
  expect_ramp(read_image(dir / "z.mhd"));

  // Attached data without its size: ITK's reader printed "Uncompress failed" and returned garbage.
  test::write_bytes(dir / "nosize.mha",
                    kMetaHeader + "CompressedData = True\nElementDataFile = LOCAL\n" + packed);
  expect_error([&] { read_image(dir / "nosize.mha"); }, {"nosize.mha", "needs CompressedDataSize"});
  // A size that cuts the stream short did the same; one beyond the file made it read past the end.
  test::write_bytes(dir / "short.mha", compressed_mha(packed, packed.size() - 9));
  expect_error([&] { read_image(dir / "short.mha"); }, {"short.mha", "truncated"});
  test::write_bytes(dir / "big.mha", compressed_mha(packed, 99999999999));
  expect_error([&] { read_image(dir / "big.mha"); }, {"big.mha", "CompressedDataSize", "truncated"});
  // Data that inflates to fewer voxels than declared would leave the rest of the buffer unset.
  const std::string few = test::zlib_bytes(test::float_bytes(ramp(20)));
  test::write_bytes(dir / "few.mha", compressed_mha(few, few.size()));
  expect_error([&] { read_image(dir / "few.mha"); }, {"few.mha", "truncated"});
  std::string corrupt = packed;
  corrupt.back() = static_cast<char>(corrupt.back() ^ 0x40);  // the Adler-32 checksum
  test::write_bytes(dir / "bad.mha", compressed_mha(corrupt, corrupt.size()));
  expect_error([&] { read_image(dir / "bad.mha"); }, {"bad.mha", "corrupt"});
}

TEST(ImageIoMetaImage, BadSizesAndTextVoxelsAreRefused) {
  TempDir dir;
  const auto header = [](const std::string& dims) {
    return "ObjectType = Image\nNDims = 3\nDimSize = " + dims +
           "\nElementType = MET_FLOAT\nElementDataFile = LOCAL\n";
  };
  for (const std::string dims : {"2 -3 4", "2 0 4", "2 3", "2 x 4", "2 3 4.5"}) {
    test::write_bytes(dir / "dims.mha", header(dims) + std::string(96, '\0'));
    expect_error([&] { read_image(dir / "dims.mha"); }, {"dims.mha", "DimSize"});
  }
  test::write_bytes(dir / "huge.mha", header("2000000 2000000 2000000"));
  expect_error([&] { read_image(dir / "huge.mha"); }, {"huge.mha", "too large"});
  test::write_bytes(dir / "text.mha", kMetaHeader + "BinaryData = False\nElementDataFile = LOCAL\n1 2 3");
  expect_error([&] { read_image(dir / "text.mha"); }, {"text.mha", "BinaryData = False"});
  test::write_bytes(dir / "header_only.mha", kMetaHeader + "ElementDataFile = LOCAL\n");
  expect_error([&] { read_image(dir / "header_only.mha"); }, {"header_only.mha", "truncated"});
  // MetaIO takes only LOCAL, Local and local as "attached"; any other spelling names a data file
  // (found by fuzz_image: MetaIO leaked when that file was missing).
  test::write_bytes(dir / "misspelt.mha", kMetaHeader + "ElementDataFile = LOCAl\n" + std::string(96, '\0'));
  expect_error([&] { read_image(dir / "misspelt.mha"); }, {"misspelt.mha", "LOCAl"});
}

TEST(ImageIoNrrd, AHugeHeaderIsRefusedBeforeAllocating) {
  // 1200 x 1200 x 1000 float voxels (5.8 GB) declared by a header of a few bytes.
  TempDir dir;
  const std::string huge = "NRRD0004\ntype: float\ndimension: 3\nsizes: 1200 1200 1000\nendian: little\n";
  const auto start = std::chrono::steady_clock::now();
  test::write_bytes(dir / "raw.nrrd", huge + "encoding: raw\n\n" + std::string(64, '\0'));
  expect_error([&] { read_image(dir / "raw.nrrd"); }, {"raw.nrrd", "truncated"});
  test::write_bytes(dir / "gz.nrrd", huge + "encoding: gzip\n\n" + test::gzip_bytes(std::string(4096, '\0')));
  expect_error([&] { read_image(dir / "gz.nrrd"); }, {"gz.nrrd", "truncated", "compressed bytes"});
  test::write_bytes(dir / "text.nrrd", huge + "encoding: ascii\n\n1 2 3\n");
  expect_error([&] { read_image(dir / "text.nrrd"); }, {"text.nrrd", "truncated"});
  test::write_bytes(dir / "data.raw", std::string(64, '\0'));
  test::write_bytes(dir / "detached.nhdr", huge + "encoding: raw\ndata file: data.raw\n");
  expect_error([&] { read_image(dir / "detached.nhdr"); }, {"detached.nhdr", "truncated"});
  test::write_bytes(dir / "overflow.nrrd",
                    "NRRD0004\ntype: float\ndimension: 3\nsizes: 2000000 2000000 2000000\n"
                    "encoding: raw\n\n");
  expect_error([&] { read_image(dir / "overflow.nrrd"); }, {"overflow.nrrd", "too large"});
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(ImageIoNrrd, GzipDataIsReadAndItsChecksumVerified) {
  TempDir dir;
  const std::string packed = test::gzip_bytes(test::float_bytes(ramp(24)));
  test::write_bytes(dir / "gz.nrrd", kNrrdHeader + "encoding: gzip\n\n" + packed);
  expect_ramp(read_image(dir / "gz.nrrd"));
  std::string bad = packed;
  bad[bad.size() - 6] = static_cast<char>(bad[bad.size() - 6] ^ 1);  // CRC-32 in the trailer
  test::write_bytes(dir / "crc.nrrd", kNrrdHeader + "encoding: gzip\n\n" + bad);
  expect_error([&] { read_image(dir / "crc.nrrd"); }, {"crc.nrrd", "corrupt"});
  test::write_bytes(dir / "bz.nrrd", kNrrdHeader + "encoding: bzip2\n\nBZh9");
  expect_error([&] { read_image(dir / "bz.nrrd"); }, {"bz.nrrd", "encoding 'bzip2' is not supported"});
}

TEST(ImageIoNrrd, DetachedDataInTheHeadersFolderIsRead) {
  TempDir dir;
  fs::create_directories(dir / "voxels");
  test::write_bytes(dir / "voxels/d.raw", test::float_bytes(ramp(24)));
  test::write_bytes(dir / "a.nhdr", kNrrdHeader + "encoding: raw\ndata file: voxels/d.raw\n");
  expect_ramp(read_image(dir / "a.nhdr"));
  test::write_bytes(dir / "b.nhdr", kNrrdHeader + "encoding: raw\ndatafile: ./voxels/../voxels/d.raw\n");
  expect_ramp(read_image(dir / "b.nhdr"));
  test::write_bytes(dir / "list.nhdr", kNrrdHeader + "encoding: raw\ndata file: LIST\nvoxels/d.raw\n");
  expect_error([&] { read_image(dir / "list.nhdr"); }, {"list.nhdr", "not supported"});
}

// A header in `dir/inner` pointing at a data file outside it, in each of the ways a hostile
// header can: absolute path, "..", and a symlink inside the folder that leads out.
class ExternalData : public ::testing::TestWithParam<std::string> {};

TEST_P(ExternalData, IsRefusedUnlessAllowedExplicitly) {
  TempDir dir;
  fs::create_directories(dir / "inner");
  test::write_bytes(dir / "secret.raw", test::float_bytes(ramp(24)));
  fs::create_symlink(dir / "secret.raw", dir / "inner/link.raw");
  const bool nrrd = GetParam() == ".nhdr";
  for (const std::string& name :
       {dir / "secret.raw", std::string("../secret.raw"), std::string("link.raw")}) {
    const std::string header = dir / ("inner/h" + GetParam());
    test::write_bytes(header, nrrd ? kNrrdHeader + "encoding: raw\ndata file: " + name + "\n"
                                   : kMetaHeader + "ElementDataFile = " + name + "\n");
    expect_error([&] { read_image(header); },
                 {header, name, "outside the header's folder", "--allow-external-data"});
    ReadImageOptions allow;
    allow.allow_external_data = true;
    expect_ramp(read_image(header, allow));
  }
  // Whatever is allowed, a data file must be a file (a FIFO or device would hang the reader).
  ReadImageOptions allow;
  allow.allow_external_data = true;
  const std::string header = dir / ("inner/dev" + GetParam());
  test::write_bytes(header, nrrd ? kNrrdHeader + "encoding: raw\ndata file: /dev/zero\n"
                                 : kMetaHeader + "ElementDataFile = /dev/zero\n");
  expect_error([&] { read_image(header, allow); }, {header, "/dev/zero", "not a file"});
}

INSTANTIATE_TEST_SUITE_P(ImageIoDetachedHeaders, ExternalData, ::testing::Values(".mhd", ".nhdr"),
                         [](const auto& info) { return info.param.substr(1); });

}  // namespace
}  // namespace unipet::io
