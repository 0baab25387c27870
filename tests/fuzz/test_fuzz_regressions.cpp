// Replays the fuzz harnesses' entry points (fuzz/fuzz_entry_points.h) without sanitizers: every
// input a fuzzer once crashed on (tests/data/fuzz/<target>/) must now end in unipet::Error or
// success, and the seed corpora must say what their names promise.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "fuzz_seeds.h"
#include "test_util.h"

namespace unipet::fuzz {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> kept_inputs(const std::string& target) {
  std::vector<fs::path> files;
  const fs::path dir = fs::path(UNIPET_TEST_DATA_DIR) / "fuzz" / target;
  if (!fs::is_directory(dir)) return files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(FuzzRegressions, EveryKeptCrashInputEndsInErrorOrSuccess) {
  // The targets whose fuzzers found crashes, each kept under tests/data/fuzz/<target>/; the others
  // have found none yet. Stated here so that a missing or misnamed folder fails the test instead
  // of replaying zero inputs.
  const std::set<std::string> with_crashes = {"fuzz_image"};
  for (const auto& target : fuzz_targets()) {
    const auto files = kept_inputs(target);
    if (with_crashes.count(target))
      EXPECT_FALSE(files.empty()) << target << ": its kept crash inputs are missing";
    else
      EXPECT_TRUE(files.empty()) << target << ": has kept crash inputs; add it to with_crashes";
    for (const auto& file : files) {
      SCOPED_TRACE(file.string());
      // The entry point swallows unipet::Error; anything else escaping is the old bug.
      EXPECT_NO_THROW(run_entry_point(target, test::read_bytes(file.string())));
    }
  }
}

TEST(FuzzSeeds, ValidSeedsAreAcceptedAndBadOnesRejected) {
  for (const auto& target : fuzz_targets()) {
    test::TempDir work;
    const auto seeds = make_seeds(target, work.path());
    EXPECT_GE(seeds.size(), 3u) << target;
    for (const auto& seed : seeds) {
      SCOPED_TRACE(target + "/" + seed.name);
      bool accepted = false;
      EXPECT_NO_THROW(accepted = run_entry_point(target, seed.bytes));
      EXPECT_EQ(accepted, seed.valid());
    }
  }
}

}  // namespace
}  // namespace unipet::fuzz
