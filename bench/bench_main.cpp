// unipet_bench: throughput of the networks and the simulator. Examples:
//   ./build/unipet_bench --benchmark_filter='UniPET|BareConvStack'
//   ./run bench --benchmark_filter='/64/'
#include <benchmark/benchmark.h>

#include "unipet/core/device.h"

int main(int argc, char** argv) {
  unipet::keep_freed_memory_for_reuse();  // as the unipet CLI does
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
