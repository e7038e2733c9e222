// TEMPORARY (not for commit): runs bench_dqn until the lead wires `vkwb bench dqn`.
#include <cstdio>
#include "apps/cli.h"
#include "bench/dqn_bench.h"
namespace vkwb::app {
static void reg_fn(CLI::App& app) {
  auto* cmd = app.add_subcommand("dqnbench-tmp", "temporary");
  auto o = std::make_shared<bench::DqnBenchOptions>();
  cmd->add_option("--updates", o->updates);
  cmd->add_option("--reps", o->reps);
  cmd->add_option("--optimizer", o->optimizer);
  cmd->callback([o] { std::printf("%s", bench::format(bench::bench_dqn(open_device(), *o)).c_str()); });
}
static Registrar reg(999, reg_fn);
}
