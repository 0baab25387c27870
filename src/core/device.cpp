#include "unipet/core/device.h"

#include <algorithm>
#include <iomanip>
#include <regex>
#include <sstream>
#include <thread>

#include <unistd.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "unipet/core/error.h"

namespace unipet {

torch::Device parse_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (name == "cpu") return torch::kCPU;
  // The spelling first, so a typo ("cudafoo") is not reported as a machine without CUDA.
  static const std::regex cuda_name("cuda(:[0-9]+)?");
  UNIPET_CHECK(std::regex_match(name, cuda_name),
               "--device: unknown device '" << name << "' (expected cpu, cuda, cuda:N or auto)");
  UNIPET_CHECK(torch::cuda::is_available(),
               "--device " << name << ": requested but CUDA is not available in this build or machine");
  torch::Device device(torch::kCPU);
  try {
    device = torch::Device(name);
  } catch (const std::exception&) {
    UNIPET_FAIL("--device: malformed device '" << name << "' (expected cuda or cuda:N)");
  }
  UNIPET_CHECK(!device.has_index() || device.index() < static_cast<int>(torch::cuda::device_count()),
               "--device " << name << ": does not exist: " << torch::cuda::device_count() << " CUDA device(s)");
  return device;
}

torch::ScalarType parse_dtype(const std::string& name, const std::string& option) {
  if (name == "float32" || name == "fp32" || name == "float") return torch::kFloat32;
  if (name == "bfloat16" || name == "bf16") return torch::kBFloat16;
  if (name == "float16" || name == "fp16" || name == "half") return torch::kFloat16;
  UNIPET_FAIL(option << ": expected fp32, bf16 or fp16, got '" << name << "'");
}

std::string dtype_name(torch::ScalarType type) {
  switch (type) {
    case torch::kFloat32: return "float32";
    case torch::kBFloat16: return "bfloat16";
    case torch::kFloat16: return "float16";
    default: return c10::toString(type);
  }
}

int max_threads() { return std::max(64, 4 * static_cast<int>(std::thread::hardware_concurrency())); }

int resolve_threads(int threads, const std::string& option) {
  UNIPET_CHECK(threads >= 0 && threads <= max_threads(),
               option << " must be between 0 and " << max_threads() << " (0: one per hardware thread), got "
                      << threads);
  // Debian's LibTorch starts with a single intra-op thread on some machines; 0 means every core.
  return threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

void check_dtype_on_device(torch::ScalarType type, const torch::Device& device, const std::string& option) {
  UNIPET_CHECK(!(type == torch::kFloat16 && device.is_cpu()),
               option << " float16 needs a CUDA device (--device cuda); on the CPU use bfloat16 or float32");
}

void set_threads(int threads) { torch::set_num_threads(resolve_threads(threads)); }

void keep_freed_memory_for_reuse() {
#if defined(__GLIBC__)
  // Blocks up to 1 GiB come from the heap rather than mmap, and up to 1 GiB of free heap is kept.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
#endif
}

double physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0.0;
}

namespace {

// Three significant digits, never in exponent form ("1e+03 GB" once read as a typo).
std::string gigabytes(double bytes) {
  std::ostringstream text;
  const double gb = bytes / 1e9;
  if (gb >= 100)
    text << std::fixed << std::setprecision(0) << gb;
  else
    text << std::setprecision(3) << gb;
  return text.str();
}

}  // namespace

void check_fits_in_memory(double bytes, const std::string& what) {
  const double available = physical_memory_bytes();
  UNIPET_CHECK(available <= 0 || bytes < 0.8 * available,
               what << " needs about " << gigabytes(bytes) << " GB of memory, more than this machine's "
                    << gigabytes(available) << " GB");
}

}  // namespace unipet
