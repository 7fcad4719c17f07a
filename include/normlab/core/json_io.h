// json_io.h — parsing JSON a user wrote, so that no input can crash normlab or fill a
// message with a dump of itself.
//
// What it is: parse_json checks the nesting depth *before* nlohmann parses (nlohmann's
// parser and destructor are iterative, but copying, comparing and dumping a value
// recurse, and a value nested 1e5 deep overflows the stack), and turns every nlohmann
// exception into one UserError line naming the source and, when the parser was inside a
// value, its key path:
//   configs/x.json: malformed JSON: parse error at line 3, column 5: ...
//   configs/x.json: model.dropout: number out of range: 1e999
//   configs/x.json: model.d_model: duplicate key                (when asked to reject them)
//   configs/x.json: model.d_model[0]: JSON nested deeper than 64 levels at line 1, column 65
// json_describe shows a value in an error message: its type and at most ~40 characters,
// built without recursing through the value.
// What it is not: a schema; what keys mean is the caller's business (config.cpp, the
// checkpoint reader, the data readers, the compare config).
#pragma once
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace nl {

// Deep enough for every file normlab reads (a config is 3 levels deep, a checkpoint
// header 3), shallow enough that copying or printing a value cannot exhaust the stack.
constexpr int kMaxJsonDepth = 64;

struct JsonReadOptions {
  int code = 2;                        // UserError code (2 config / command line, 1 data files)
  bool reject_duplicate_keys = false;  // nlohmann keeps the last of two equal keys silently
  int max_depth = kMaxJsonDepth;
};

// UserError unless every [ and { outside strings is nested at most max_depth deep; the
// message names the key path it is under when there is one:
//   configs/x.json: model.d_model[0][0]: JSON nested deeper than 64 levels at line 1, column 85
void check_json_depth(std::string_view text, const std::string& source, int max_depth = kMaxJsonDepth,
                      int code = 2);

nlohmann::json parse_json(std::string_view text, const std::string& source, const JsonReadOptions& opt = {});
nlohmann::ordered_json parse_ordered_json(std::string_view text, const std::string& source,
                                          const JsonReadOptions& opt = {});

// A value for an error message: "string 'abc'", "number 1e+30", "array [1,2,[3,4],...",
// "object {\"a\":1,...". At most ~40 characters of value, one line, valid UTF-8.
std::string json_describe(const nlohmann::json& v);
std::string json_describe(const nlohmann::ordered_json& v);
// The same without the type name ("1.5", "'abc'", "[1,2,...").
std::string json_brief(const nlohmann::json& v);
std::string json_brief(const nlohmann::ordered_json& v);

// Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF): what nlohmann
// accepts in a JSON string and what its dump() requires.
bool is_valid_utf8(std::string_view s);
// The offset of the first byte that is not part of valid UTF-8 (as above); npos if none.
size_t first_invalid_utf8(std::string_view s);

// `s` made printable on one line for a message: control characters as \n, \t or \xNN,
// invalid UTF-8 bytes as \xNN, cut to about `max_chars` characters with "...".
std::string printable(std::string_view s, size_t max_chars = 40);

}  // namespace nl
