// plait: the command-line entry point. Exit codes (DESIGN.md): 0 success,
// 2 bad usage or bad input (one line naming what and where), 1 a run-time failure.
#include <cstdio>
#include <exception>
#include <string>

#include "cli/registry.h"
#include "tensor/openblas_core.h"
#include "util/error.h"

int main(int argc, char** argv) {
  plait::ensure_openblas_core(argv);  // may re-execute with OPENBLAS_CORETYPE set
  CLI::App root{"plait: train GPT-style language models across many workers"};
  root.require_subcommand(1);
  root.set_help_all_flag("--help-all", "help for every command");
  CLI::App* bench = root.add_subcommand("bench", "measure speed against a yardstick");
  bench->require_subcommand(1);
  plait::cli::Context ctx{root, *bench};
  plait::cli::add_all_commands(ctx);
  std::string names;
  bool known = false;
  for (const CLI::App* sub : root.get_subcommands({})) {
    names += (names.empty() ? "" : ", ") + sub->get_name();
    known = known || (argc > 1 && sub->get_name() == argv[1]);
  }
  if (argc > 1 && argv[1][0] != '-' && !known) {
    std::fprintf(stderr, "plait: unknown command '%s' (commands: %s)\n", argv[1], names.c_str());
    return 2;
  }
  try {
    root.parse(argc, argv);
  } catch (const CLI::Success& e) {
    return root.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "plait: %s (see --help)\n", e.what());
    return 2;
  } catch (const plait::UsageError& e) {
    std::fprintf(stderr, "plait: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "plait: error: %s\n", e.what());
    return 1;
  }
  return ctx.rc;
}
