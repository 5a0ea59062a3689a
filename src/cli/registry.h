// Each subcommand of `plait` lives in its own file under src/cli/ and registers
// itself here with a static Registrar, so adding a command touches one file:
//
//   static plait::cli::Registrar reg("train", [](plait::cli::Context& ctx) {
//     auto* cmd = ctx.root.add_subcommand("train", "...");
//     ... options bound to a shared_ptr<Options> ...
//     cmd->callback([&ctx, opts] { ctx.rc = run_train(*opts); });
//   });
//
// Commands under `plait bench` add themselves to ctx.bench instead of ctx.root.
// Callbacks throw plait::UsageError (exit 2) or plait::RuntimeError (exit 1);
// main() turns them into one line on stderr and the exit code.
#pragma once
#include <CLI/CLI.hpp>
#include <functional>
#include <string>

namespace plait::cli {

struct Context {
  CLI::App& root;
  CLI::App& bench;
  int rc = 0;  // exit code set by the command that ran
};

using Adder = std::function<void(Context&)>;

struct Registrar {
  Registrar(std::string name, Adder add);
};

// All registered adders, sorted by name (so `plait --help` lists them stably).
void add_all_commands(Context& ctx);

}  // namespace plait::cli
