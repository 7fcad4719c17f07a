// error.h — the errors a user can fix, and how they reach the exit code.
//
// What it is: UserError, thrown anywhere below the CLI (config, data, checkpoint, norms,
// training) with a one-line message and an exit code; main prints
// "normlab: error: <what>" and exits with `code`. Codes: 1 a runtime failure (missing
// file, corrupt checkpoint), 2 a bad config or bad command line, 3 a NaN/Inf loss.
// What it is not: the command-line layer (cli.h), which pulls in CLI11; nothing below
// src/cli/ needs to see CLI11.
#pragma once
#include <stdexcept>
#include <string>

namespace nl {

// An error the user can fix (bad config, missing file, corrupt checkpoint, NaN loss).
struct UserError : std::runtime_error {
  int code;
  explicit UserError(const std::string& what, int code = 1) : std::runtime_error(what), code(code) {}
};

}  // namespace nl
