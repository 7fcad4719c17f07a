// usage.cpp — the checks every number on the command line gets, and a parse error as one line.
//
// What it is: after the commands have added their options, check_numbers walks them all and
// adds, by the type CLI11 will convert to:
//   FLOAT  finite: nan, inf and 1e999 are usage errors (`generate --temperature nan` would
//          otherwise make every token the vocabulary's last)
//   UINT   plain decimal digits that fit: `--seed -1` and 2^64 are refused (strtoull would
//          wrap -1 to 2^64-1 and clamp 2^64), and "010" is ten, not octal eight
//   INT    an optional '-' and decimal digits (CLI11 checks the range of the type)
// plus non_negative(), a short-message twin of CLI::NonNegativeNumber (whose message prints
// DBL_MAX with 309 digits). usage_error turns a CLI11 parse error into the one-line message
// main prints with exit code 2.
// What it is not: the options themselves (each command's file), nor config validation
// (config/fields.h checks config values the same way: finite, in range).
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "normlab/cli/cli.h"
#include "normlab/core/json_io.h"

namespace nl {

namespace {

bool all_digits(const std::string& s, size_t from) {
  if (from >= s.size()) return false;
  for (size_t i = from; i < s.size(); ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

std::string shown(const std::string& s) { return "'" + printable(s, 40) + "'"; }

CLI::Validator finite_number() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        if (end == s.c_str() || *end != 0) return "";  // not a number: CLI11's conversion says so
        if (!std::isfinite(v)) return shown(s) + " is not a finite number";
        return "";
      },
      "");
}

CLI::Validator unsigned_decimal() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        if (!all_digits(s, 0)) return shown(s) + " is not a non-negative whole number (digits 0-9 only)";
        errno = 0;
        const unsigned long long v = std::strtoull(s.c_str(), nullptr, 10);
        if (errno == ERANGE) return shown(s) + " is out of range (at most 18446744073709551615)";
        s = std::to_string(v);  // no leading zeros: CLI11 reads "010" as octal
        return "";
      },
      "");
}

CLI::Validator signed_decimal() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        if (!all_digits(s, s.size() > 0 && s[0] == '-' ? 1 : 0)) return shown(s) + " is not a whole number";
        errno = 0;
        const long long v = std::strtoll(s.c_str(), nullptr, 10);
        if (errno == ERANGE) return shown(s) + " is out of range";
        s = std::to_string(v);
        return "";
      },
      "");
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

CLI::Validator non_negative() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        if (end == s.c_str() || *end != 0) return "";  // not a number: CLI11's conversion says so
        if (v < 0) return shown(s) + " is negative (allowed: >= 0)";
        return "";
      },
      ">= 0");
}

void check_numbers(CLI::App& app) {
  for (CLI::Option* o : app.get_options()) {
    const std::string type = o->get_type_name();
    // transform: before the option's own checks (so a range check never sees nan or an octal
    // "010"), and allowed to rewrite the text ("010" -> "10").
    if (starts_with(type, "FLOAT")) o->transform(finite_number());
    else if (starts_with(type, "UINT")) o->transform(unsigned_decimal());
    else if (starts_with(type, "INT")) o->transform(signed_decimal());
  }
  for (CLI::App* sub : app.get_subcommands({})) check_numbers(*sub);
}

std::string usage_error(const CLI::App& app, const CLI::ParseError& e) {
  std::string what = printable(e.what(), 300);
  std::string command = "normlab";
  for (const CLI::App* sub : app.get_subcommands()) command += " " + sub->get_name();
  return what + " (" + command + " --help lists the options)";
}

}  // namespace nl
