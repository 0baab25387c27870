#pragma once
/// Device and precision selection shared by every command (`--device`, `--precision`, `--threads`).
///
///   torch::Device d = unipet::parse_device("cuda:0");    // throws if CUDA is not available
///   torch::ScalarType t = unipet::parse_dtype("bf16");
#include <string>

#include <torch/torch.h>

namespace unipet {

/// "cpu", "cuda", "cuda:N" or "auto" (CUDA when available, else CPU). Throws unipet::Error for
/// an unknown name or a CUDA device this build or machine does not have.
torch::Device parse_device(const std::string& name);

/// "fp32"/"float32"/"float", "bf16"/"bfloat16" or "fp16"/"float16"/"half" (CUDA only: see
/// check_dtype_on_device). Throws unipet::Error naming `option` for anything else.
torch::ScalarType parse_dtype(const std::string& name, const std::string& option = "--precision");

/// "float32", "bfloat16", "float16".
std::string dtype_name(torch::ScalarType type);

/// The thread count `threads` stands for (0: one per hardware thread), after checking it is in
/// [0, max_threads()]. Throws unipet::Error naming `option` (e.g. "--threads") otherwise.
int resolve_threads(int threads, const std::string& option = "--threads");

/// The most threads any command accepts: 4 per hardware thread, at least 64. More only thrash
/// (and a typo such as 100000 would hang the process creating them).
int max_threads();

/// Throws unipet::Error naming `option` when `type` cannot run on `device` (float16 convolutions
/// exist on CUDA only in LibTorch's CPU build).
void check_dtype_on_device(torch::ScalarType type, const torch::Device& device,
                           const std::string& option = "--precision");

/// Sets LibTorch's intra-op threads; 0 means one per hardware thread (see resolve_threads).
void set_threads(int threads);

/// Makes glibc keep freed memory for reuse instead of returning every large block to the system.
/// Each UniPET layer allocates a fresh feature map of tens to hundreds of MB; by default glibc
/// maps and unmaps each one, and the page faults of touching it again cost more than the layer's
/// elementwise work (a 64³ forward runs about 30% faster in bfloat16 with this). Call once, early,
/// from a program's main(); a no-op on other C libraries.
void keep_freed_memory_for_reuse();

/// The machine's physical memory in bytes (0 when the system does not say).
double physical_memory_bytes();

/// The one memory rule of every command that can be asked for more than the machine has: throws
/// unipet::Error "<what> needs about X GB of memory, more than this machine's Y GB" when `bytes`
/// exceeds 80% of physical memory, so a size inside an option's range is refused at once instead
/// of being killed by the kernel minutes later. `what` names the options that set the size.
void check_fits_in_memory(double bytes, const std::string& what);

}  // namespace unipet
