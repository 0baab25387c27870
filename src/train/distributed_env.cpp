// How a launcher describes a job: torchrun's and Slurm's environment variables. Pure functions
// over a map, so every rule is tested without touching the process environment.
#include <cstdlib>
#include <optional>

#include "unipet/core/error.h"
#include "unipet/train/distributed.h"

extern char** environ;

namespace unipet::train {
namespace {

using Env = std::map<std::string, std::string>;

std::optional<std::string> lookup(const Env& env, const std::string& name) {
  const auto it = env.find(name);
  if (it == env.end() || it->second.empty()) return std::nullopt;
  return it->second;
}

int64_t parse_count(const std::string& name, const std::string& text, int64_t min_value) {
  size_t used = 0;
  long long value = -1;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  UNIPET_CHECK(used == text.size() && used > 0, name << "=" << text << ": not an integer");
  UNIPET_CHECK(value >= min_value, name << "=" << text << ": must be >= " << min_value);
  return value;
}

int64_t require(const Env& env, const std::string& name, int64_t min_value, const std::string& why) {
  const auto text = lookup(env, name);
  UNIPET_CHECK(text, name << " is not set (" << why << ")");
  return parse_count(name, *text, min_value);
}

int64_t optional_count(const Env& env, const std::string& name, int64_t fallback, int64_t min_value) {
  const auto text = lookup(env, name);
  return text ? parse_count(name, *text, min_value) : fallback;
}

int parse_port(const Env& env, std::optional<int> fallback, const std::string& why) {
  const auto text = lookup(env, "MASTER_PORT");
  UNIPET_CHECK(text || fallback, "MASTER_PORT is not set (" << why << ")");
  if (!text) return *fallback;
  const int64_t port = parse_count("MASTER_PORT", *text, 1);
  UNIPET_CHECK(port <= 65535, "MASTER_PORT=" << *text << ": not a TCP port (1-65535)");
  return static_cast<int>(port);
}

void check_layout(const DistributedEnvironment& e, const char* rank, const char* world, const char* local,
                  const char* local_world) {
  UNIPET_CHECK(e.rank < e.world_size,
               rank << "=" << e.rank << " is not below " << world << "=" << e.world_size);
  UNIPET_CHECK(e.local_world_size <= e.world_size,
               local_world << "=" << e.local_world_size << " exceeds " << world << "=" << e.world_size);
  UNIPET_CHECK(e.local_rank < e.local_world_size,
               local << "=" << e.local_rank << " is not below " << local_world << "=" << e.local_world_size);
}

// The first number of SLURM_TASKS_PER_NODE, "2(x3),1" -> 2 (the tasks on the first nodes; Slurm
// gives this node's count only through SLURM_NTASKS_PER_NODE when the job asked for it).
std::optional<std::string> slurm_tasks_on_node(const Env& env) {
  if (auto n = lookup(env, "SLURM_NTASKS_PER_NODE")) return n;
  auto list = lookup(env, "SLURM_TASKS_PER_NODE");
  if (!list) return std::nullopt;
  return list->substr(0, list->find_first_of("(,"));
}

}  // namespace

std::string first_host(const std::string& nodelist) {
  UNIPET_CHECK(!nodelist.empty(), "SLURM_JOB_NODELIST is empty");
  std::string host;
  size_t i = 0;
  // Characters up to the first top-level comma; from each bracket group only the start of its
  // first range ("[01-04,07]" -> "01"), which keeps the zero padding Slurm writes.
  while (i < nodelist.size() && nodelist[i] != ',') {
    if (nodelist[i] != '[') {
      UNIPET_CHECK(nodelist[i] != ']', "SLURM_JOB_NODELIST=" << nodelist << ": unmatched ']'");
      host += nodelist[i++];
      continue;
    }
    const size_t close = nodelist.find(']', i);
    UNIPET_CHECK(close != std::string::npos, "SLURM_JOB_NODELIST=" << nodelist << ": unmatched '['");
    const std::string group = nodelist.substr(i + 1, close - i - 1);
    const std::string first = group.substr(0, group.find_first_of("-,"));
    UNIPET_CHECK(!first.empty() && first.find_first_not_of("0123456789") == std::string::npos,
                 "SLURM_JOB_NODELIST=" << nodelist << ": expected numbers in [" << group << "]");
    host += first;
    i = close + 1;
  }
  UNIPET_CHECK(!host.empty(), "SLURM_JOB_NODELIST=" << nodelist << ": no host name");
  return host;
}

DistributedEnvironment distributed_environment(const Env& env) {
  DistributedEnvironment e;
  e.source = "single";
  if (lookup(env, "RANK") || lookup(env, "WORLD_SIZE")) {
    const std::string why =
        "torchrun-style launch: RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT go together";
    e.source = "torchrun";
    e.rank = require(env, "RANK", 0, why);
    e.world_size = require(env, "WORLD_SIZE", 1, why);
    e.local_rank = optional_count(env, "LOCAL_RANK", 0, 0);
    e.local_world_size = optional_count(env, "LOCAL_WORLD_SIZE", std::max<int64_t>(1, e.local_rank + 1), 1);
    check_layout(e, "RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE");
    if (e.world_size == 1) return e;
    const auto addr = lookup(env, "MASTER_ADDR");
    UNIPET_CHECK(addr, "MASTER_ADDR is not set (" << why << ")");
    e.master_addr = *addr;
    e.master_port = parse_port(env, std::nullopt, why);
    const auto agent = lookup(env, "TORCHELASTIC_USE_AGENT_STORE");
    e.store_hosted_by_launcher = agent && (*agent == "True" || *agent == "true" || *agent == "1");
    return e;
  }
  if (lookup(env, "SLURM_PROCID")) {
    const std::string why = "a Slurm job step (srun) sets it";
    e.source = "slurm";
    e.rank = require(env, "SLURM_PROCID", 0, why);
    e.world_size = require(env, "SLURM_NTASKS", 1, why);
    e.local_rank = optional_count(env, "SLURM_LOCALID", 0, 0);
    const auto on_node = slurm_tasks_on_node(env);
    e.local_world_size =
        on_node ? parse_count("SLURM_NTASKS_PER_NODE", *on_node, 1) : std::max<int64_t>(1, e.local_rank + 1);
    check_layout(e, "SLURM_PROCID", "SLURM_NTASKS", "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE");
    if (e.world_size == 1) return e;
    if (const auto addr = lookup(env, "MASTER_ADDR")) {
      e.master_addr = *addr;
    } else {
      const auto nodes = lookup(env, "SLURM_JOB_NODELIST");
      UNIPET_CHECK(nodes,
                   "MASTER_ADDR is not set and there is no SLURM_JOB_NODELIST to take the first host from");
      e.master_addr = first_host(*nodes);
    }
    // torch.distributed's default port, so a job script needs no MASTER_PORT unless two jobs
    // share a node.
    e.master_port = parse_port(env, 29500, why);
  }
  return e;
}

DistributedEnvironment distributed_environment() {
  Env env;
  for (char** v = environ; v && *v; ++v) {
    const std::string entry(*v);
    const size_t eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return distributed_environment(env);
}

}  // namespace unipet::train
