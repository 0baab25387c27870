// CTest runs the real `unipet speed` binary.
#include <gtest/gtest.h>

#include "test_util.h"

namespace unipet {
namespace {

using unipet::test::unipet_cli;

TEST(CliSpeed, DenoisesASyntheticVolumeAndReportsShapeTimeAndParameters) {
  const auto r = unipet_cli("speed --size 16 --repeats 1 --threads 1");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("parameters:   2748509"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("output:       [1, 1, 16, 16, 16]"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("s per forward"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("cpu, float32, 1 thread(s)"), std::string::npos) << r.output;
}

TEST(CliSpeed, BadOptionsGiveOneLineErrorsAndExitCodeOne) {
  for (const std::string args : {"--dtype int7", "--size 3", "--device tpu", "--model /no/such.safetensors"}) {
    const auto r = unipet_cli("speed " + args);
    EXPECT_EQ(r.status, 1) << args << ": " << r.output;
    EXPECT_EQ(r.output.rfind("unipet: error: ", 0), 0u) << r.output;
    EXPECT_EQ(r.output.find('\n'), r.output.size() - 1) << "not one line: " << r.output;
  }
}

TEST(CliSpeed, UnknownSubcommandIsAUsageError) {
  const auto r = unipet_cli("frobnicate");
  EXPECT_NE(r.status, 0);
}

}  // namespace
}  // namespace unipet
