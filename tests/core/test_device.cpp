// Device, precision and thread selection (core/device.h): each name the options accept, each one
// they refuse with a message naming the option, and the memory rule every command shares.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "test_util.h"
#include "unipet/core/device.h"

namespace unipet {
namespace {

using test::expect_error;

// The number printed after `before` in `text` (NaN when absent).
double number_after(const std::string& text, const std::string& before) {
  const auto at = text.find(before);
  if (at == std::string::npos) return std::numeric_limits<double>::quiet_NaN();
  return std::stod(text.substr(at + before.size()));
}

TEST(Device, CpuIsTheCpuAndAutoIsCudaOnlyWhenCudaIsAvailable) {
  EXPECT_TRUE(parse_device("cpu").is_cpu());
  EXPECT_FALSE(parse_device("cpu").has_index());
  const torch::Device automatic = parse_device("auto");
  if (torch::cuda::is_available()) {
    EXPECT_TRUE(automatic.is_cuda());
  } else {
    EXPECT_TRUE(automatic.is_cpu());
    EXPECT_FALSE(automatic.has_index());
  }
}

TEST(Device, CudaIsRefusedWithOneLineNamingTheDeviceWhenCudaIsMissing) {
  if (torch::cuda::is_available()) {
    const auto count = static_cast<int>(torch::cuda::device_count());
    EXPECT_TRUE(parse_device("cuda").is_cuda());
    EXPECT_EQ(parse_device("cuda:0"), torch::Device(torch::kCUDA, 0));
    const std::string missing = "cuda:" + std::to_string(count);
    expect_error([&] { parse_device(missing); },
                 {"--device " + missing, "does not exist", std::to_string(count) + " CUDA device(s)"});
    return;
  }
  for (const std::string name : {"cuda", "cuda:0", "cuda:3"})
    expect_error([&] { parse_device(name); },
                 {"--device " + name + ": requested but CUDA is not available in this build or machine"});
}

TEST(Device, UnknownDeviceNamesAreRefusedNamingWhatWasTyped) {
  // A misspelt CUDA device is a typo, not a machine without CUDA (once reported as the latter).
  for (const std::string name : {"gpu", "", "mps", "cpu:0", " cpu", "automatic", "cudafoo", "cuda:x", "cuda:", "CUDA"})
    expect_error([&] { parse_device(name); },
                 {"--device: unknown device '" + name + "' (expected cpu, cuda, cuda:N or auto)"});
}

TEST(Device, EveryPrecisionAliasParsesAndNamesItsType) {
  for (const std::string name : {"fp32", "float32", "float"})
    EXPECT_EQ(parse_dtype(name), torch::kFloat32) << name;
  for (const std::string name : {"bf16", "bfloat16"}) EXPECT_EQ(parse_dtype(name), torch::kBFloat16) << name;
  for (const std::string name : {"fp16", "float16", "half"})
    EXPECT_EQ(parse_dtype(name), torch::kFloat16) << name;
  EXPECT_EQ(dtype_name(torch::kFloat32), "float32");
  EXPECT_EQ(dtype_name(torch::kBFloat16), "bfloat16");
  EXPECT_EQ(dtype_name(torch::kFloat16), "float16");
  // A type no option gives falls back to LibTorch's own name.
  EXPECT_EQ(dtype_name(torch::kFloat64), "Double");
  // Every canonical name parses back to its type.
  for (auto type : {torch::kFloat32, torch::kBFloat16, torch::kFloat16})
    EXPECT_EQ(parse_dtype(dtype_name(type)), type);
}

TEST(Device, UnknownPrecisionsAreRefusedNamingTheOptionAndTheValue) {
  for (const std::string name : {"int8", "", "fp64", "double", "FP32"})
    expect_error([&] { parse_dtype(name); },
                 {"--precision: expected fp32, bf16 or fp16, got '" + name + "'"});
  expect_error([&] { parse_dtype("fp8", "--set precision"); }, {"--set precision: expected", "got 'fp8'"});
}

TEST(Device, Float16IsRefusedOnTheCpuOnly) {
  expect_error([] { check_dtype_on_device(torch::kFloat16, torch::kCPU); },
               {"--precision float16 needs a CUDA device (--device cuda)", "bfloat16 or float32"});
  expect_error([] { check_dtype_on_device(torch::kFloat16, torch::kCPU, "--dtype"); }, {"--dtype float16"});
  EXPECT_NO_THROW(check_dtype_on_device(torch::kBFloat16, torch::kCPU));
  EXPECT_NO_THROW(check_dtype_on_device(torch::kFloat32, torch::kCPU));
  // A CUDA device object exists without CUDA; the check is about the type, not the machine.
  EXPECT_NO_THROW(check_dtype_on_device(torch::kFloat16, torch::Device(torch::kCUDA, 0)));
}

TEST(Device, ThreadCountsResolveZeroToOnePerHardwareThread) {
  const int hardware = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_EQ(resolve_threads(0), hardware);
  EXPECT_EQ(resolve_threads(1), 1);
  EXPECT_EQ(resolve_threads(3), 3);
  EXPECT_EQ(resolve_threads(max_threads()), max_threads());
  EXPECT_EQ(max_threads(), std::max(64, 4 * static_cast<int>(std::thread::hardware_concurrency())));
  EXPECT_GE(max_threads(), 64);
}

TEST(Device, ThreadCountsOutsideTheRangeAreRefusedNamingTheOption) {
  const std::string range = "must be between 0 and " + std::to_string(max_threads());
  expect_error([] { resolve_threads(-1); }, {"--threads " + range, "got -1"});
  expect_error([] { resolve_threads(max_threads() + 1); },
               {"--threads " + range, "got " + std::to_string(max_threads() + 1)});
  expect_error([] { resolve_threads(100000, "--workers"); }, {"--workers " + range, "got 100000"});
}

TEST(Device, SetThreadsSetsLibTorchsThreadsAndLeavesThemOnABadCount) {
  const int before = torch::get_num_threads();
  const int wanted = before == 2 ? 3 : 2;
  set_threads(wanted);
  EXPECT_EQ(torch::get_num_threads(), wanted);
  expect_error([] { set_threads(-4); }, {"--threads", "got -4"});
  EXPECT_EQ(torch::get_num_threads(), wanted);
  set_threads(before);
  EXPECT_EQ(torch::get_num_threads(), before);
}

TEST(Device, PhysicalMemoryIsWhatTheKernelReports) {
  // /proc/meminfo's MemTotal (kB) is the same total that sysconf's page count gives.
  std::ifstream meminfo("/proc/meminfo");
  ASSERT_TRUE(meminfo) << "a Linux test";
  std::string key;
  double total_kb = 0;
  while (meminfo >> key) {
    if (key == "MemTotal:") {
      meminfo >> total_kb;
      break;
    }
    meminfo.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  ASSERT_GT(total_kb, 0);
  EXPECT_NEAR(physical_memory_bytes(), total_kb * 1024.0, 0.01 * total_kb * 1024.0);
}

TEST(Device, MemoryBeyondEightyPercentOfTheMachineIsRefusedWithBothSizes) {
  const double machine = physical_memory_bytes();
  ASSERT_GT(machine, 0);
  EXPECT_NO_THROW(check_fits_in_memory(0, "--patch 8"));
  EXPECT_NO_THROW(check_fits_in_memory(0.79 * machine, "--patch 8"));
  const double wanted = 0.81 * machine;
  try {
    check_fits_in_memory(wanted, "--patch 512 --batch 64");
    ADD_FAILURE() << "expected unipet::Error";
  } catch (const std::exception& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("--patch 512 --batch 64 needs about ", 0), 0u) << msg;
    EXPECT_NE(msg.find(" GB of memory, more than this machine's "), std::string::npos) << msg;
    // Three significant digits of each size, in GB.
    EXPECT_NEAR(number_after(msg, "needs about "), wanted / 1e9, 0.006 * wanted / 1e9) << msg;
    EXPECT_NEAR(number_after(msg, "this machine's "), machine / 1e9, 0.006 * machine / 1e9) << msg;
  }
}

}  // namespace
}  // namespace unipet
