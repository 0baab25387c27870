// The one vocabulary of --device, --precision and --threads, and the one way a command line is
// recorded.
#include <gtest/gtest.h>

#include <thread>

#include "test_util.h"
#include "unipet/core/command_line.h"
#include "unipet/core/compute.h"

namespace unipet {
namespace {

TEST(Compute, ResolvesTheDefaultsAndNamesEachBadOption) {
  ComputeOptions o;
  o.device = "cpu";
  const Compute c = resolve_compute(o);
  EXPECT_TRUE(c.device.is_cpu());
  EXPECT_EQ(c.dtype, torch::kFloat32);
  EXPECT_EQ(c.threads, static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  o.precision = "bf16";
  o.threads = 3;
  EXPECT_EQ(resolve_compute(o).dtype, torch::kBFloat16);
  EXPECT_EQ(resolve_compute(o).threads, 3);

  ComputeOptions bad = o;
  bad.device = "gpu";
  test::expect_error([&] { resolve_compute(bad); }, {"--device", "gpu"});
  bad = o;
  bad.precision = "int8";
  test::expect_error([&] { resolve_compute(bad); }, {"--precision", "int8"});
  bad = o;
  bad.precision = "fp16";  // float16 convolutions exist on CUDA only
  test::expect_error([&] { resolve_compute(bad); }, {"--precision", "float16"});
  bad = o;
  bad.threads = -1;
  test::expect_error([&] { resolve_compute(bad); }, {"--threads", "-1"});
  bad.threads = max_threads() + 1;
  test::expect_error([&] { resolve_compute(bad); }, {"--threads"});
}

TEST(Compute, ApplyComputeSetsTheThreadsOnlyWhenEverythingIsValid) {
  const int before = torch::get_num_threads();
  ComputeOptions o;
  o.device = "cpu";
  o.threads = before == 1 ? 2 : 1;
  o.precision = "nonsense";
  test::expect_error([&] { apply_compute(o); }, {"--precision"});
  EXPECT_EQ(torch::get_num_threads(), before);
  o.precision = "fp32";
  apply_compute(o);
  EXPECT_EQ(torch::get_num_threads(), o.threads);
  torch::set_num_threads(before);
}

TEST(CommandLine, IsRecordedAsAShellGivesItBack) {
  const std::vector<std::string> argv{"/opt/x/bin/unipet", "train", "--set", "lambda=0.5", "--out",
                                      "my runs/a", "it's", "", "$HOME", "a\"b"};
  const std::string line = shell_command(argv);
  EXPECT_EQ(line.rfind("unipet train --set lambda=0.5 --out 'my runs/a' ", 0), 0u) << line;
  // /bin/sh splits the record back into exactly the arguments typed, nothing expanded.
  const auto r = test::run_command("sh -c 'unipet() { for a in \"$@\"; do printf \"[%s]\" \"$a\"; done; }; " +
                                   std::string("eval \"$0\"' ") + "'" + [&] {
                                     std::string quoted;
                                     for (char ch : line) quoted += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
                                     return quoted;
                                   }() + "'");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.output, "[train][--set][lambda=0.5][--out][my runs/a][it's][][$HOME][a\"b]");
}

TEST(Compute, Bfloat16OnACpuWithoutAvx512IsWarnedAboutAndNothingElseIs) {
  ComputeOptions o;
  EXPECT_EQ(precision_warning(resolve_compute(o)), "");
  o.precision = "bf16";
  o.device = "cpu";
  const std::string warning = precision_warning(resolve_compute(o));
#if defined(__GNUC__) && defined(__x86_64__)
  const bool avx512 = __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("avx512dq");
#else
  const bool avx512 = true;
#endif
  if (avx512) {
    EXPECT_EQ(warning, "");
  } else {
    EXPECT_EQ(warning.rfind("--precision bf16: this CPU has no AVX-512", 0), 0u) << warning;
    EXPECT_EQ(warning.find('\n'), std::string::npos);  // one line
  }
}

}  // namespace
}  // namespace unipet
