// config/fields.h — the machinery behind the config tables: one row per JSON key.
//
// What it is: a Field<S> is one key of struct S, declared once as a row such as
//   int_key("d_model", &ModelConfig::d_model, 1, 65536, "D, width of every token vector")
// and holding everything the rest of config needs about it: how to read it from JSON
// (type check, range or allowed names, then store into the member), how to write it
// back (config_to_json), and what to tell the reader (type, allowed values, doc). A
// Table<S> is the list of rows of S; read_object() reads one JSON object through it,
// reporting a wrong type, a bad value or an unknown key as one line
//   <file>: <key path>: <what is wrong and what is allowed>
// (UserError, code 2). The default of each key is its struct initialiser in config.h.
// What it is not: the tables themselves (config.cpp), nor checks that involve more than
// one key (config.cpp, after the tables are read).
#pragma once
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "normlab/config/config.h"
#include "normlab/core/error.h"
#include "normlab/core/json_io.h"
#include "normlab/core/names.h"

namespace nl {
namespace config {

using nlohmann::json;

// ---- errors ----------------------------------------------------------------------------

[[noreturn]] inline void fail(const std::string& source, const std::string& path, const std::string& msg) {
  throw UserError(source + ": " + (path.empty() ? std::string("(top level)") : path) + ": " + msg, 2);
}

inline std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
  return s;
}

// A short, one-line rendering of a JSON value for error messages: its type and at most
// ~40 characters, never a recursive dump (json_io.h).
inline std::string show(const json& v) { return json_describe(v); }

// "model" + "norm" -> "model.norm"; "task.eval_lengths" + "[0]" -> "task.eval_lengths[0]"
inline std::string key_path(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + (key[0] == '[' ? "" : ".") + key;
}

// Where a value sits: the file (for errors) and its key path.
struct Where {
  const std::string& source;
  std::string path;
  [[noreturn]] void fail(const std::string& msg) const { config::fail(source, path, msg); }
};

// Shortest decimal that reads back as the same float (0.1f -> 0.1, not 0.10000000149).
inline std::string float_str(float f) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, f);
  return std::string(buf, r.ptr);
}
inline double float_to_json(float f) { return std::strtod(float_str(f).c_str(), nullptr); }

// ---- one key ---------------------------------------------------------------------------

// J is the JSON type the table reads: nlohmann::json for training configs, ordered_json
// where the file's key order means something (the variants of a compare config).
template <class S, class J = json>
struct Field {
  std::string name;     // the JSON key
  std::string type;     // int | uint64 | float | bool | string | object | range | ranges
  std::string allowed;  // in words: "1..65536", "> 0", "post, pre"; "" when anything goes
  std::string doc;      // one line
  std::function<void(const J& value, S& s, const Where& at)> read;  // check, then store
  std::function<J(const S& s)> write;                                // the resolved value
  // Object keys only: the keys of the nested table, under `prefix` ("model.norm").
  std::function<void(const std::string& prefix, std::vector<ConfigKey>& out)> keys;
};

template <class S, class J = json>
using Table = std::vector<Field<S, J>>;

size_t edit_distance(const std::string& a, const std::string& b);

// " (did you mean 'layers'?)" for the known name within edit distance 2 of `name`, else "".
std::string did_you_mean(const std::string& name, const std::vector<std::string>& known);

// Reads the keys of `table` from the JSON object `j` into `s`, in table order; keys that
// are absent keep their defaults. Then every key present must be in the table.
template <class S, class J>
void read_object(const Table<S, J>& table, const J& j, S& s, const Where& at) {
  if (!j.is_object()) at.fail("expected an object {...}, got " + json_describe(j));
  for (const Field<S, J>& f : table) {
    auto it = j.find(f.name);
    if (it != j.end()) f.read(*it, s, Where{at.source, key_path(at.path, f.name)});
  }
  std::vector<std::string> known;
  for (const Field<S, J>& f : table) known.push_back(f.name);
  for (auto it = j.begin(); it != j.end(); ++it) {
    bool ok = false;
    for (const auto& k : known) ok = ok || k == it.key();
    if (ok) continue;
    fail(at.source, key_path(at.path, it.key()),
         "unknown key" + did_you_mean(it.key(), known) + "; allowed: " + join(known));
  }
}

template <class S, class J>
J write_object(const Table<S, J>& table, const S& s) {
  J j = J::object();
  for (const Field<S, J>& f : table) j[f.name] = f.write(s);
  return j;
}

template <class S, class J>
void list_keys(const Table<S, J>& table, const std::string& prefix, std::vector<ConfigKey>& out) {
  for (const Field<S, J>& f : table) {
    const std::string p = key_path(prefix, f.name);
    out.push_back({p, f.type, f.allowed, f.doc});
    if (f.keys) f.keys(p, out);
  }
}

// ---- the kinds of rows -----------------------------------------------------------------

template <class S>
Field<S> bool_key(const char* name, bool S::*m, const char* doc) {
  return {name, "bool", "", doc,
          [m](const json& v, S& s, const Where& at) {
            if (!v.is_boolean()) at.fail("expected true or false, got " + show(v));
            s.*m = v.get<bool>();
          },
          [m](const S& s) { return json(s.*m); }, nullptr};
}

// An integer in lo..hi (`range` says so in words), or a one-line error naming the key.
inline int read_int_in(const json& v, int lo, int hi, const std::string& range, const Where& at) {
  if (!v.is_number_integer()) at.fail("expected an integer in " + range + ", got " + show(v));
  // JSON integers are int64 or uint64; compare in int64 after ruling out huge ones.
  bool in = !(v.is_number_unsigned() && v.get<uint64_t>() > (uint64_t)hi) &&
            v.get<int64_t>() >= lo && v.get<int64_t>() <= hi;
  if (!in) at.fail(json_brief(v) + " is out of range (allowed: " + range + ")");
  return (int)v.get<int64_t>();
}

template <class S>
Field<S> int_key(const char* name, int S::*m, int lo, int hi, const char* doc) {
  const std::string range = std::to_string(lo) + ".." + std::to_string(hi);
  return {name, "int", range, doc,
          [m, lo, hi, range](const json& v, S& s, const Where& at) { s.*m = read_int_in(v, lo, hi, range, at); },
          [m](const S& s) { return json(s.*m); }, nullptr};
}

template <class S>
Field<S> uint64_key(const char* name, uint64_t S::*m, const char* doc) {
  return {name, "uint64", ">= 0", doc,
          [m](const json& v, S& s, const Where& at) {
            if (!v.is_number_unsigned()) at.fail("expected a non-negative integer, got " + show(v));
            s.*m = v.get<uint64_t>();
          },
          [m](const S& s) { return json(s.*m); }, nullptr};
}

// `allowed` says the range in words (errors and docs); `ok` checks it. Values that are not
// finite as a float (1e300) are out of range whatever `ok` says.
inline float read_float_ok(const json& v, const std::string& words, bool (*ok)(float), const Where& at) {
  if (!v.is_number()) at.fail("expected a number " + words + ", got " + show(v));
  const float f = (float)v.get<double>();
  if (!std::isfinite(f) || !ok(f)) at.fail(json_brief(v) + " is out of range (allowed: " + words + ")");
  return f;
}

template <class S>
Field<S> float_key(const char* name, float S::*m, const char* allowed, bool (*ok)(float), const char* doc) {
  const std::string words = allowed;
  return {name, "float", words, doc,
          [m, words, ok](const json& v, S& s, const Where& at) { s.*m = read_float_ok(v, words, ok, at); },
          [m](const S& s) { return json(float_to_json(s.*m)); }, nullptr};
}

// A key a norm declares (NormKey, config.h): read into NormConfig::settings through the
// same checks as int_key and float_key, written back as the int or float it is.
inline Field<NormConfig> norm_key(const NormKey& k) {
  const std::string name = k.name;
  if (k.integer)
    return {k.name, "int", k.allowed, k.doc,
            [k](const json& v, NormConfig& s, const Where& at) {
              s.settings[k.name] = read_int_in(v, k.lo, k.hi, k.allowed, at);
            },
            [name](const NormConfig& s) { return json((int)s.setting(name)); }, nullptr};
  return {k.name, "float", k.allowed, k.doc,
          [k](const json& v, NormConfig& s, const Where& at) {
            s.settings[k.name] = read_float_ok(v, k.allowed, k.ok, at);
          },
          [name](const NormConfig& s) { return json(float_to_json((float)s.setting(name))); }, nullptr};
}

enum class Empty { allowed, not_allowed };

template <class S>
Field<S> string_key(const char* name, std::string S::*m, Empty empty, const char* doc) {
  const bool need = empty == Empty::not_allowed;
  return {name, "string", need ? "non-empty" : "", doc,
          [m, need](const json& v, S& s, const Where& at) {
            if (!v.is_string()) at.fail("expected a string, got " + show(v));
            if (need && v.get<std::string>().empty()) at.fail("must not be empty");
            s.*m = v.get<std::string>();
          },
          [m](const S& s) { return json(s.*m); }, nullptr};
}

// A string that must be one of `names`; shared by enum keys and registered names.
inline std::string read_one_of(const json& v, const std::vector<std::string>& names, const Where& at) {
  if (!v.is_string()) at.fail("expected a string, one of " + join(names) + "; got " + show(v));
  const std::string s = v.get<std::string>();
  for (const auto& n : names)
    if (n == s) return s;
  at.fail("'" + printable(s) + "' is not one of " + join(names));
}

// A key with a fixed set of values: the enum E, whose names are choices(E{}) (config.cpp).
template <class E>
using Choices = std::vector<std::pair<const char*, E>>;

template <class E>
std::vector<std::string> names_of(const Choices<E>& c) {
  std::vector<std::string> v;
  for (const auto& [n, e] : c) v.push_back(n);
  return v;
}

template <class S, class E>
Field<S> enum_key(const char* name, E S::*m, const Choices<E>& choices, const char* doc) {
  const std::vector<std::string> names = names_of(choices);
  return {name, "string", join(names), doc,
          [m, &choices, names](const json& v, S& s, const Where& at) {
            const std::string n = read_one_of(v, names, at);
            for (const auto& [cn, e] : choices)
              if (n == cn) s.*m = e;
          },
          [m, &choices](const S& s) {
            for (const auto& [cn, e] : choices)
              if (e == s.*m) return json(cn);
            return json(nullptr);  // unreachable: every enum value has a name
          },
          nullptr};
}

// A string naming something a layer above registers (names.h): a norm type, a task.
template <class S>
Field<S> registered_key(const char* name, std::string S::*m, const char* kind, const char* doc) {
  const std::string k = kind;
  return {name, "string", std::string("a registered ") + kind, doc,
          [m, k](const json& v, S& s, const Where& at) { s.*m = read_one_of(v, registered_names(k), at); },
          [m](const S& s) { return json(s.*m); }, nullptr};
}

// A nested object with its own table (model.norm).
template <class S, class C>
Field<S> object_key(const char* name, C S::*m, const Table<C>& (*table)(), const char* doc) {
  return {name, "object", "", doc,
          [m, table](const json& v, S& s, const Where& at) { read_object(table(), v, s.*m, at); },
          [m, table](const S& s) { return write_object(table(), s.*m); },
          [table](const std::string& prefix, std::vector<ConfigKey>& out) { list_keys(table(), prefix, out); }};
}

// {"min": m, "max": n}, 1 <= min <= max; documented as one key (its two sub-keys are fixed).
const Table<LengthRange>& length_range_table();
void read_range(const json& v, LengthRange& r, const Where& at);

template <class S>
Field<S> range_key(const char* name, LengthRange S::*m, const char* doc) {
  return {name, "range", "1 <= min <= max", doc,
          [m](const json& v, S& s, const Where& at) { read_range(v, s.*m, at); },
          [m](const S& s) { return write_object(length_range_table(), s.*m); }, nullptr};
}

// A non-empty array of ranges; each element starts from LengthRange{} (min 1, max 1).
template <class S>
Field<S> ranges_key(const char* name, std::vector<LengthRange> S::*m, const char* doc) {
  return {name, "ranges", "non-empty; each 1 <= min <= max", doc,
          [m](const json& v, S& s, const Where& at) {
            if (!v.is_array() || v.empty())
              at.fail("expected a non-empty array of {\"min\": m, \"max\": n}, got " + show(v));
            std::vector<LengthRange> out;
            for (size_t i = 0; i < v.size(); ++i) {
              LengthRange r;
              read_range(v[i], r, Where{at.source, key_path(at.path, "[" + std::to_string(i) + "]")});
              out.push_back(r);
            }
            s.*m = out;
          },
          [m](const S& s) {
            json a = json::array();
            for (const LengthRange& r : s.*m) a.push_back(write_object(length_range_table(), r));
            return a;
          },
          nullptr};
}

}  // namespace config
}  // namespace nl
