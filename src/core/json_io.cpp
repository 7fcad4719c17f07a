// json_io.cpp — depth-checked JSON parsing with one-line errors, and short value
// descriptions for messages (json_io.h).
//
// What it is: a bracket scan that runs before the parser (strings skipped, so "[[[" in a
// string is not nesting), a parse callback that remembers the key path the parser is in
// (for errors and duplicate keys), the mapping of nlohmann's exceptions onto UserError,
// and a bounded printer: it stops after ~40 characters, so its recursion is at most ~40
// deep whatever the value.
// What it is not: a JSON parser (nlohmann does that) nor a schema.
#include "normlab/core/json_io.h"

#include <set>
#include <vector>

#include "normlab/core/error.h"

namespace nl {

namespace {

constexpr size_t kBriefChars = 40;

// Length of the UTF-8 sequence starting at s[i] if it is valid (strict), else 0.
size_t utf8_seq(std::string_view s, size_t i) {
  const unsigned char c = (unsigned char)s[i];
  if (c < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) n = 2, cp = c & 0x1F;
  else if (c >= 0xE0 && c <= 0xEF) n = 3, cp = c & 0x0F;
  else if (c >= 0xF0 && c <= 0xF4) n = 4, cp = c & 0x07;
  else return 0;  // a continuation byte, an overlong lead (C0, C1) or above U+10FFFF (F5..)
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const unsigned char d = (unsigned char)s[i + k];
    if ((d & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (d & 0x3F);
  }
  if (n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;  // overlong, surrogate
  if (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
  return n;
}

// Each event of nlohmann's parse callback moves this along, so that when the parser
// stops, here() names the value it was reading ("model.dropout", "task.eval_lengths[1]").
template <class J>
struct PathTracker {
  struct Frame {
    bool is_array;
    std::string name;
    std::set<std::string> keys;  // only filled when duplicates are rejected
    int index = 0;
  };
  std::vector<Frame> stack;
  std::string pending;  // the key whose value comes next
  const std::string& source;
  const JsonReadOptions& opt;

  PathTracker(const std::string& s, const JsonReadOptions& o) : source(s), opt(o) {}

  std::string path() const {
    std::string p;
    for (size_t i = 1; i < stack.size(); ++i)
      p += (p.empty() || stack[i].name[0] == '[' ? "" : ".") + stack[i].name;
    return p;
  }
  std::string next_name() {
    if (stack.empty()) return "";
    if (stack.back().is_array) return "[" + std::to_string(stack.back().index++) + "]";
    return pending;
  }
  std::string here() const {
    if (stack.empty()) return "";
    std::string p = path();
    if (stack.back().is_array) return p + "[" + std::to_string(stack.back().index) + "]";
    return p.empty() ? pending : p + "." + pending;
  }
  bool operator()(int, nlohmann::detail::parse_event_t ev, J& parsed) {
    using E = nlohmann::detail::parse_event_t;
    switch (ev) {
      case E::object_start: stack.push_back({false, next_name(), {}, 0}); break;
      case E::array_start: stack.push_back({true, next_name(), {}, 0}); break;
      case E::object_end:
      case E::array_end:
        if (!stack.empty()) stack.pop_back();
        break;
      case E::key:
        pending = parsed.template get<std::string>();
        if (opt.reject_duplicate_keys && !stack.empty() && !stack.back().keys.insert(pending).second) {
          std::string p = path();
          throw UserError(source + ": " + printable(p.empty() ? pending : p + "." + pending, 200) +
                              ": duplicate key",
                          opt.code);
        }
        break;
      case E::value:
        if (!stack.empty() && stack.back().is_array) stack.back().index++;
        break;
    }
    return true;
  }
};

// "[json.exception.parse_error.101] parse error at line 1, column 3: syntax error while
// parsing value - invalid literal; last read: 'tru<U+000A>'" -> without the prefix, the
// quoted input shortened and made printable.
std::string clean_message(const std::string& what) {
  std::string msg = what;
  size_t at = msg.find("] ");
  if (at != std::string::npos && msg.rfind("[json.exception.", 0) == 0) msg = msg.substr(at + 2);
  const std::string lr = "last read: '";
  size_t q = msg.find(lr);
  if (q != std::string::npos) {
    size_t b = q + lr.size(), e = msg.rfind('\'');
    if (e != std::string::npos && e >= b)
      msg = msg.substr(0, b) + printable(std::string_view(msg).substr(b, e - b), kBriefChars) + msg.substr(e);
  }
  return printable(msg, 400);
}

template <class J>
J parse_any(std::string_view text, const std::string& source, const JsonReadOptions& opt) {
  check_json_depth(text, source, opt.max_depth, opt.code);
  PathTracker<J> tracker(source, opt);
  try {
    return J::parse(text.begin(), text.end(), std::ref(tracker));
  } catch (const nlohmann::json::exception& e) {
    if (e.id >= 101 && e.id < 200)  // parse_error: syntax, with line and column
      throw UserError(source + ": malformed JSON: " + clean_message(e.what()), opt.code);
    std::string where = tracker.here();
    std::string what = e.id == 406 ? "number out of range" : clean_message(e.what());
    if (e.id == 406) {  // "number overflow parsing '1e999'": keep the number
      std::string m = e.what();
      size_t q = m.find('\'');
      if (q != std::string::npos) what += ": " + printable(std::string_view(m).substr(q + 1, m.size() - q - 2), kBriefChars);
    }
    throw UserError(source + ": " + (where.empty() ? "(top level)" : printable(where, 200)) + ": " + what, opt.code);
  }
}

template <class J>
void brief_into(const J& v, std::string& out, size_t budget) {
  if (out.size() > budget) return;
  using T = nlohmann::detail::value_t;
  switch (v.type()) {
    case T::array: {
      out += '[';
      bool first = true;
      for (const J& e : v) {
        if (out.size() > budget) return;
        if (!first) out += ',';
        first = false;
        brief_into(e, out, budget);  // each level adds a '[' first: recursion <= budget deep
      }
      out += ']';
      return;
    }
    case T::object: {
      out += '{';
      bool first = true;
      for (auto it = v.begin(); it != v.end(); ++it) {
        if (out.size() > budget) return;
        if (!first) out += ',';
        first = false;
        out += "\"" + printable(it.key(), budget) + "\":";
        brief_into(it.value(), out, budget);
      }
      out += '}';
      return;
    }
    case T::string:
      out += "'" + printable(v.template get_ref<const typename J::string_t&>(), budget) + "'";
      return;
    default:
      out += v.dump();  // a number, bool or null: no strings inside, so dump cannot throw
  }
}

template <class J>
std::string brief(const J& v) {
  std::string out;
  brief_into(v, out, kBriefChars);
  if (out.size() > kBriefChars) {
    size_t cut = kBriefChars - 3;
    while (cut > 0 && ((unsigned char)out[cut] & 0xC0) == 0x80) --cut;  // not inside a character
    out = out.substr(0, cut) + "...";
  }
  return out;
}

}  // namespace

namespace {

// Where the depth scan is: one entry per open container, the key an object is at (the
// last string before a ':') or the index an array is at (its commas so far).
struct ScanLevel {
  bool object;
  std::string_view key;
  size_t index = 0;
};

// "model.d_model[0][0]..." for the levels open: keys joined by '.', indexes as [i], cut short;
// "" when the outermost value is an array (no key names it).
std::string scan_path(const std::vector<ScanLevel>& levels) {
  std::string path;
  if (levels.empty() || !levels.front().object) return path;
  for (const ScanLevel& l : levels) {
    if (path.size() > 80) return path + "...";
    if (l.object && l.key.empty()) break;  // no key read yet at this level
    if (l.object) path += (path.empty() ? "" : ".") + printable(l.key, 40);
    else path += "[" + std::to_string(l.index) + "]";
  }
  return path;
}

}  // namespace

void check_json_depth(std::string_view text, const std::string& source, int max_depth, int code) {
  std::vector<ScanLevel> levels;  // at most max_depth + 1: the scan stops there
  bool in_string = false;
  size_t string_begin = 0;
  std::string_view last_string;
  size_t line = 1, col = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    ++col;
    if (c == '\n') ++line, col = 0;
    if (in_string) {
      if (c == '\\') ++i, ++col;  // the escaped character cannot end the string
      else if (c == '"') in_string = false, last_string = text.substr(string_begin, i - string_begin);
      continue;
    }
    if (c == '"') {
      in_string = true;
      string_begin = i + 1;
    } else if (c == ':' && !levels.empty() && levels.back().object) {
      levels.back().key = last_string;
    } else if (c == ',' && !levels.empty() && !levels.back().object) {
      ++levels.back().index;
    } else if (c == '[' || c == '{') {
      if ((int)levels.size() + 1 > max_depth) {
        // The key path the nesting is under, when there is one (not a top-level array).
        const std::string path = scan_path(levels);
        throw UserError(source + ": " + (path.empty() ? "" : path + ": ") + "JSON nested deeper than " +
                            std::to_string(max_depth) + " levels at line " + std::to_string(line) + ", column " +
                            std::to_string(col),
                        code);
      }
      levels.push_back({c == '{', {}, 0});
    } else if ((c == ']' || c == '}') && !levels.empty()) {
      levels.pop_back();
    }
  }
}

nlohmann::json parse_json(std::string_view text, const std::string& source, const JsonReadOptions& opt) {
  return parse_any<nlohmann::json>(text, source, opt);
}

nlohmann::ordered_json parse_ordered_json(std::string_view text, const std::string& source,
                                          const JsonReadOptions& opt) {
  return parse_any<nlohmann::ordered_json>(text, source, opt);
}

std::string json_brief(const nlohmann::json& v) { return brief(v); }
std::string json_brief(const nlohmann::ordered_json& v) { return brief(v); }
std::string json_describe(const nlohmann::json& v) { return std::string(v.type_name()) + " " + brief(v); }
std::string json_describe(const nlohmann::ordered_json& v) { return std::string(v.type_name()) + " " + brief(v); }

bool is_valid_utf8(std::string_view s) { return first_invalid_utf8(s) == std::string_view::npos; }

size_t first_invalid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    size_t n = utf8_seq(s, i);
    if (n == 0) return i;
    i += n;
  }
  return std::string_view::npos;
}

std::string printable(std::string_view s, size_t max_chars) {
  std::string out;
  size_t chars = 0;
  for (size_t i = 0; i < s.size();) {
    if (chars == max_chars) return out + "...";
    const unsigned char c = (unsigned char)s[i];
    const size_t n = utf8_seq(s, i);
    char buf[8];
    if (n == 0 || c == 0x7F) {  // a stray byte, or DEL
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
      i += 1;
    } else if (c < 0x20) {
      if (c == '\n') out += "\\n";
      else if (c == '\t') out += "\\t";
      else if (c == '\r') out += "\\r";
      else std::snprintf(buf, sizeof buf, "\\x%02X", c), out += buf;
      i += 1;
    } else {
      out.append(s.data() + i, n);
      i += n;
    }
    ++chars;
  }
  return out;
}

}  // namespace nl
