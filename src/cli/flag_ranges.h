// The validation layer at the command line's edge: every numeric flag of every command
// has a documented range (one table, flag_ranges.cpp), checked on the flag's TEXT
// before CLI11 converts it, so NaN, infinities, negative counts, values past the
// type (2^64 as a uint64, 2^31 as an int) and non-numbers are refused with exit 2
// and one line naming the flag and the value. `--help` shows each range.
//
// The ranges are static (what a value can mean); what this machine can hold or
// schedule (memory, threads) is checked by machine_limits.h once the command knows
// its sizes, before it allocates.
#pragma once
#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace plait::cli {

struct FlagRange {
  long double lo = 0, hi = 0;
  bool lo_open = false;  // (lo, hi]: lo itself refused (a rate, a fraction, a time)
  bool integer = false;  // filled from the option's type
  std::string text() const;  // "[0, 1e+06]", "(0, 1]"
  bool contains(long double v) const { return (lo_open ? v > lo : v >= lo) && v <= hi; }
};

// A numeric flag of one command, with its range (`ranged` false: the table lacks it,
// and it is checked only for being a finite number of its type).
struct NumericFlag {
  std::string command;  // "train", "bench comm"
  std::string flag;     // "--clip"
  FlagRange range;
  bool ranged = false;
};

// Every numeric option of every subcommand of `root` (recursively), with its range.
std::vector<NumericFlag> numeric_flags(CLI::App& root);

// Attaches the range check to every numeric option numeric_flags() lists. Called once,
// after every command has registered (registry.cpp: add_all_commands).
void apply_flag_ranges(CLI::App& root);

// The error (empty: fine) for `text` given to a flag with range `r`.
std::string check_number(const std::string& text, const FlagRange& r);

}  // namespace plait::cli
