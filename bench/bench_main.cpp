// unipet_bench: throughput of the networks and the simulator. Examples:
//   ./build/unipet_bench --benchmark_filter='UniPET|BareConvStack'
//   ./run bench --benchmark_filter='/64/'
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
