#include "cli/flag_ranges.h"

#include <cerrno>
#include <charconv>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <sstream>

#include "model/limits.h"

namespace plait::cli {
namespace {

constexpr long double kInt = 2147483647.0L;            // INT_MAX: an `int` flag's ceiling
constexpr long double kU64 = 18446744073709551615.0L;  // a seed
constexpr long double kCount = 1e12L;                  // steps, tokens: far past any run
constexpr long double kRanks = 65536;                  // workers, servers, mesh sizes

FlagRange closed(long double lo, long double hi) { return {lo, hi, false, false}; }
FlagRange open_lo(long double lo, long double hi) { return {lo, hi, true, false}; }

// THE table: every numeric flag's range, by flag name; "command --flag" overrides it
// for one command. What a range means is in docs/SECURITY.md ("Flags"). A flag missing
// here is still refused when not a finite number of its type, and
// tests/cli/flag_ranges_test.cpp fails until it is added.
const std::map<std::string, FlagRange>& table() {
  static const std::map<std::string, FlagRange> t = {
      // the model (the same limits bound a checkpoint's config: model/config.h)
      {"--layers", closed(1, GPTLimits::layers)},
      {"--dim", closed(1, GPTLimits::dim)},
      {"--heads", closed(1, GPTLimits::heads)},
      {"--ctx", closed(1, GPTLimits::ctx)},
      {"--vocab", closed(8, GPTLimits::vocab)},
      // optimisation
      {"--batch", closed(1, 1 << 24)},
      {"--micro-batch", closed(0, 1 << 24)},
      {"--steps", closed(1, kCount)},
      {"--lr", open_lo(0, 1)},
      {"--warmup", closed(0, kInt)},
      {"--weight-decay", closed(0, 10)},
      {"--clip", closed(0, 1e6)},
      {"--seed", closed(0, kU64)},
      // evaluation, checkpoints, output
      {"--eval-every", closed(0, kInt)},
      {"--eval-windows", closed(1, 1 << 24)},
      {"--checkpoint-every", closed(0, kInt)},
      {"--keep-checkpoints", closed(1, 1e6)},
      {"--stop-after", closed(0, kCount)},
      // layout: what the machine can schedule is checked when the command runs
      {"--workers", closed(1, kRanks)},
      {"--dp", closed(0, kRanks)},
      {"--tp", closed(1, kRanks)},
      {"--pp", closed(1, kRanks)},
      {"--stages", closed(1, GPTLimits::layers)},
      {"--stage-memory", closed(0, 1e9)},
      {"--repartition-threshold", closed(0, 100)},
      {"--repartition-after", closed(1, 1e6)},
      {"--micro-batches", closed(0, 1 << 24)},
      {"--blas-threads", closed(0, 4096)},
      {"--bucket-mb", open_lo(0, 1 << 20)},
      {"--ranks-per-node", closed(0, kRanks)},
      {"--speeds", open_lo(0, 1e6)},
      {"--balance-every", closed(1, 1e6)},
      {"--balance-threshold", closed(0, 1)},
      {"--servers", closed(0, kRanks)},
      {"--staleness", closed(0, 1e6)},
      {"--backup-workers", closed(0, kRanks)},
      {"--zero", closed(0, 3)},
      // sampling
      {"--tokens", closed(0, 1 << 24)},
      {"--temperature", closed(0, 100)},
      {"--top-k", closed(0, GPTLimits::vocab)},
      {"--top-p", open_lo(0, 1)},
      {"--repetition-penalty", open_lo(0, 100)},
      // serving
      {"--port", closed(0, 65535)},
      {"--queue", closed(1, 1 << 20)},
      {"--max-body-bytes", closed(1, 1 << 30)},
      {"--max-tokens-limit", closed(1, 1 << 24)},
      // planning
      {"--gpus", closed(1, 1 << 24)},
      {"plan --batch", closed(1, 1LL << 40)},
      {"--top", closed(1, 1e6)},
      {"--memory-fraction", open_lo(0, 1)},
      {"--large-after-days", open_lo(0, 1e6)},
      // data
      {"--val-fraction", closed(0, 0.99)},
      {"--tokenize-threads", closed(0, 4096)},
      {"--shard-tokens", closed(1024, 1LL << 40)},
      {"--max-sentences", closed(0, 1e10)},
      {"--train-threads", closed(0, 4096)},
      // benchmarks
      {"--reps", closed(1, 100000)},
      {"--batch-tokens", closed(1, 1 << 24)},
      {"--batch-ctx", closed(1, GPTLimits::ctx)},
      {"bench comm --warmup", closed(0, 100000)},
      {"--timeout", open_lo(0, 86400)},
      {"--heartbeat-timeout", closed(0, 86400)},
      // supervision
      {"--max-restarts", closed(0, 1000)},
      {"--metrics-port", closed(0, 65535)},
      {"--max-nonfinite", closed(1, 1000000)},
      {"--min-workers", closed(0, kRanks)},
      {"--memory-snapshot-every", closed(0, kInt)},
      {"launch --np", closed(1, kRanks)},
      {"--rounds", closed(1, 10000)},
      {"--pairs", closed(1, 10000)},
      {"bench train --steps", closed(1, 1e6)},
      {"bench data --steps", closed(1, 1e8)},
      {"bench calibrate --steps", closed(1, 1e6)},
      {"--probe-seconds", closed(0.01, 60)},
      {"--check-probe-seconds", closed(0.01, 60)},
  };
  return t;
}

// The option's value type as CLI11 names it, before any validator's description.
std::string base_type(const CLI::Option& o) {
  const std::string t = o.get_type_name();
  return t.substr(0, t.find(':'));
}

std::string command_path(const CLI::App* app) {
  std::string path;
  for (; app != nullptr && app->get_parent() != nullptr; app = app->get_parent())
    path = app->get_name() + (path.empty() ? "" : " " + path);
  return path;
}

// Integers exactly (a seed's 18446744073709551615), other values shortly.
std::string number(long double v) {
  std::ostringstream s;
  if (v == std::floor(v) && v >= 0 && v <= kU64)
    s << static_cast<unsigned long long>(v);
  else if (v == std::floor(v) && v < 0 && v >= -9.2e18L)
    s << static_cast<long long>(v);
  else
    s << static_cast<double>(v);
  return s.str();
}

void collect(CLI::App* app, std::vector<std::pair<NumericFlag, CLI::Option*>>& out) {
  const std::string cmd = command_path(app);
  for (CLI::Option* o : app->get_options()) {
    const std::string type = base_type(*o);
    const bool integer = type == "INT" || type == "UINT";
    if (!integer && type != "FLOAT") continue;
    NumericFlag f{cmd, o->get_name(), {}, false};
    const auto& t = table();
    auto it = t.find(cmd + " " + f.flag);
    if (it == t.end()) it = t.find(f.flag);
    if (it != t.end()) {
      f.range = it->second;
      f.ranged = true;
    } else {
      f.range = integer ? closed(type == "UINT" ? 0 : -kU64, kU64) : closed(-HUGE_VALL, HUGE_VALL);
    }
    f.range.integer = integer;
    out.emplace_back(f, o);
  }
  for (CLI::App* sub : app->get_subcommands({})) collect(sub, out);
}

std::vector<std::pair<NumericFlag, CLI::Option*>> collect_all(CLI::App& root) {
  std::vector<std::pair<NumericFlag, CLI::Option*>> out;
  for (CLI::App* sub : root.get_subcommands({})) collect(sub, out);
  return out;
}

// `text` as an integer, exactly (no wrap past 64 bits, no float rounding).
bool parse_integer(const std::string& text, long double& v) {
  const char* b = text.data();
  const char* e = b + text.size();
  if (b != e && *b == '+') ++b;
  if (b != e && *b == '-') {
    int64_t x = 0;
    auto [p, ec] = std::from_chars(b, e, x);
    if (ec != std::errc() || p != e) return false;
    v = static_cast<long double>(x);
    return true;
  }
  uint64_t x = 0;
  auto [p, ec] = std::from_chars(b, e, x);
  if (ec == std::errc::result_out_of_range) {  // all digits, but more than 64 bits hold
    v = HUGE_VALL;
    return true;
  }
  if (ec != std::errc() || p != e) return false;
  v = static_cast<long double>(x);
  return true;
}

}  // namespace

std::string FlagRange::text() const {
  return std::string(lo_open ? "(" : "[") + number(lo) + ", " + number(hi) + "]";
}

std::string check_number(const std::string& text, const FlagRange& r) {
  const std::string want = std::string(r.integer ? "an integer" : "a number") + " in " + r.text();
  long double v = 0;
  if (!text.empty() && std::isspace(static_cast<unsigned char>(text[0])))
    return "'" + text + "' is not " + want;
  if (r.integer) {
    if (!parse_integer(text, v)) return "'" + text + "' is not " + want;
  } else {
    char* end = nullptr;
    errno = 0;
    v = std::strtold(text.c_str(), &end);
    if (text.empty() || end != text.c_str() + text.size() || std::isnan(v))
      return "'" + text + "' is not " + want;
  }
  if (!std::isfinite(v) || !r.contains(v)) return "'" + text + "' is out of range: want " + want;
  return "";
}

std::vector<NumericFlag> numeric_flags(CLI::App& root) {
  std::vector<NumericFlag> out;
  for (auto& [f, o] : collect_all(root)) out.push_back(f);
  return out;
}

void apply_flag_ranges(CLI::App& root) {
  for (auto& [f, o] : collect_all(root)) {
    const FlagRange r = f.range;
    o->check(CLI::Validator([r](std::string& s) { return check_number(s, r); },
                            f.ranged ? r.text() : std::string()));
  }
}

}  // namespace plait::cli
