// plait: the command-line entry point. Exit codes (docs/ARCHITECTURE.md, "Errors"):
// 0 success, 2 bad usage or bad input (one line naming what and where), 1 a run-time
// failure.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "cli/build_info.h"
#include "cli/registry.h"
#include "fault/supervisor.h"
#include "tensor/openblas_core.h"
#include "util/error.h"

namespace {

// An argument the command does not know is reported first, as one line naming it
// and the command (CLI11 would first report a missing required flag, or print
// the leftovers in reverse). Returns false when every argument was known.
bool report_unknown(const CLI::App& root, int argc, char** argv) {
  const std::vector<std::string> left = root.remaining(true);
  if (left.empty()) return false;
  std::string command = "plait";
  for (const CLI::App* app = &root; !app->get_subcommands().empty();) {
    app = app->get_subcommands().front();
    command += " " + app->get_name();
  }
  std::string word;
  for (int i = 1; i < argc && word.empty(); ++i)
    if (std::find(left.begin(), left.end(), argv[i]) != left.end()) word = argv[i];
  for (const auto& l : left)
    if (word.empty() && !l.empty() && l[0] == '-') word = l;
  if (word.empty()) word = left.front();
  std::fprintf(stderr, "plait: unknown %s '%s' for %s (see %s --help)\n",
               word[0] == '-' ? "flag" : "argument", word.c_str(), command.c_str(),
               command.c_str());
  return true;
}

int run(int argc, char** argv);

}  // namespace

// Under plait launch with backup workers each MPI rank leaves its exit code for the
// supervisor (fault/supervisor.h).
int main(int argc, char** argv) { return plait::fault::record_exit_code(run(argc, argv)); }

namespace {

int run(int argc, char** argv) {
  plait::ensure_openblas_core(argv);  // may re-execute with OPENBLAS_CORETYPE set
  CLI::App root{"plait: train GPT-style language models across many workers"};
  root.require_subcommand(1);
  root.set_help_all_flag("--help-all", "help for every command");
  root.set_version_flag("--version", [] {
    std::string text = plait::cli::version_text();
    text.pop_back();  // CLI::App::exit prints a newline after it
    return text;
  }, "version, git commit, build type, BLAS and MPI libraries");
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
    if (!report_unknown(root, argc, argv)) std::fprintf(stderr, "plait: %s (see --help)\n", e.what());
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

}  // namespace
