// Reading counts ("300B" tokens) and writing quantities for humans ("33.0 days").
#pragma once
#include <initializer_list>
#include <string>
#include <utility>

namespace plait::plan {

// "300B", "1.5T", "500M", "10K", "3e11", "42": K=1e3, M=1e6, B=G=1e9, T=1e12.
// Throws UsageError naming `flag` when the text is not a positive count.
double parse_count(const std::string& text, const std::string& flag);

std::string human_seconds(
    double s);  // "850 us", "41.2 ms", "3.2 s", "2.5 h", "33.0 days", "365 years"
std::string human_bytes(double b);  // binary units: "512 B", "45.3 MiB", "63.9 GiB"
std::string human_count(double x);  // "174.6B", "300B", "1.5M"
std::string human_rate(double x, const char* unit);  // "156 T" + unit, SI prefixes
std::string fixed(double x, int decimals);
// "name1 1.2 s, name2 3.0 ms" leaving out the parts that are zero.
std::string join_times(std::initializer_list<std::pair<const char*, double>> parts,
                       const char* separator = ", ");
std::string percent(double fraction, int decimals = 1);

}  // namespace plait::plan
