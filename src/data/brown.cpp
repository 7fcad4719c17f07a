// brown.cpp — the Brown corpus converter: corpus files (word/tag) -> normlab TSV files.
//
// What it is: convert_brown() (data/brown.h) and what it needs: the Brown tag table with
// each tag's universal tag, the document split, and the checks that turn a damaged corpus
// into one error line naming the file and line. `normlab data brown SRC OUT` calls it;
// scripts/corpora.sh fetches the corpus and runs that command once.
// What it is not: the tasks (brown_tasks.cpp read what this writes).
//
// The universal tags are those of Petrov, Das & McDonald 2012, "A Universal Part-of-Speech
// Tagset" (arXiv:1104.2086). The table follows their treebank mappings where the Brown tag has
// a Penn Treebank twin (subordinating conjunctions are ADP as PTB's IN, existential "there"
// is DET as EX, ordinals are ADJ as "first"/JJ, interjections are X as UH); the Brown tag
// descriptions are from the Brown Corpus Manual (Francis & Kucera 1979).
#include "normlab/data/brown.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <sstream>

#include "normlab/core/error.h"
#include "normlab/core/files.h"
#include "normlab/core/io.h"

namespace nl::brown {

namespace fs = std::filesystem;

const std::vector<Genre>& genres() {
  // Brown's own division: informative prose A-J, imaginative prose K-R. The coarse grouping
  // keeps that line and cuts informative prose in three: the press, general prose, and the
  // learned and official texts.
  static const std::vector<Genre> g = {
      {'a', "news", "press"},           {'b', "editorial", "press"},
      {'c', "reviews", "press"},        {'d', "religion", "general"},
      {'e', "hobbies", "general"},      {'f', "lore", "general"},
      {'g', "belles_lettres", "general"}, {'h', "government", "learned"},
      {'j', "learned", "learned"},      {'k', "fiction", "fiction"},
      {'l', "mystery", "fiction"},      {'m', "science_fiction", "fiction"},
      {'n', "adventure", "fiction"},    {'p', "romance", "fiction"},
      {'r', "humor", "fiction"},
  };
  return g;
}

const std::vector<std::string>& universal_tags() {
  static const std::vector<std::string> t = {".",   "ADJ", "ADP", "ADV",  "CONJ", "DET",
                                             "NOUN", "NUM", "PRON", "PRT", "VERB", "X"};
  return t;
}

// Brown tag -> universal tag. One row per tag of the manual (87 with the four marks fw, hl,
// nc, tl, which are prefixes and suffixes here), plus the possessives and the `nil` (untagged)
// that the corpus files use beyond the manual's list (ap$ cd$ dt$ jj$ rb$ pp nil).
static const std::map<std::string, std::string>& tag_table() {
  static const std::map<std::string, std::string> m = {
      // punctuation
      {".", "."}, {",", "."}, {":", "."}, {"--", "."}, {"(", "."}, {")", "."},
      {"``", "."}, {"''", "."}, {"'", "."},
      {"*", "ADV"},                                            // not, n't
      // determiners and quantifiers
      {"abl", "DET"}, {"abn", "DET"}, {"abx", "DET"},           // quite; all, half; both
      {"at", "DET"},                                           // a, the, no
      {"dt", "DET"}, {"dt$", "DET"}, {"dti", "DET"}, {"dts", "DET"}, {"dtx", "DET"},
      {"wdt", "DET"},                                          // which, what
      {"ex", "DET"},                                           // existential there
      {"ap", "ADJ"}, {"ap$", "ADJ"},                           // many, other, next
      // verbs: be, have, do, modals, lexical verbs, and their negated forms (*)
      {"be", "VERB"}, {"bed", "VERB"}, {"bed*", "VERB"}, {"bedz", "VERB"}, {"bedz*", "VERB"},
      {"beg", "VERB"}, {"bem", "VERB"}, {"bem*", "VERB"}, {"ben", "VERB"}, {"ber", "VERB"},
      {"ber*", "VERB"}, {"bez", "VERB"}, {"bez*", "VERB"},
      {"hv", "VERB"}, {"hv*", "VERB"}, {"hvd", "VERB"}, {"hvd*", "VERB"}, {"hvg", "VERB"},
      {"hvn", "VERB"}, {"hvz", "VERB"}, {"hvz*", "VERB"},
      {"do", "VERB"}, {"do*", "VERB"}, {"dod", "VERB"}, {"dod*", "VERB"}, {"doz", "VERB"},
      {"doz*", "VERB"},
      {"md", "VERB"}, {"md*", "VERB"},
      {"vb", "VERB"}, {"vbd", "VERB"}, {"vbg", "VERB"}, {"vbn", "VERB"}, {"vbz", "VERB"},
      // conjunctions and prepositions
      {"cc", "CONJ"},
      {"cs", "ADP"},                                           // if, because (PTB: IN)
      {"in", "ADP"},
      // numbers
      {"cd", "NUM"}, {"cd$", "NUM"},
      {"od", "ADJ"},                                           // first, 20th (PTB: JJ)
      // adjectives
      {"jj", "ADJ"}, {"jj$", "ADJ"}, {"jjr", "ADJ"}, {"jjs", "ADJ"}, {"jjt", "ADJ"},
      // nouns (common, proper, adverbial; possessives)
      {"nn", "NOUN"}, {"nn$", "NOUN"}, {"nns", "NOUN"}, {"nns$", "NOUN"},
      {"np", "NOUN"}, {"np$", "NOUN"}, {"nps", "NOUN"}, {"nps$", "NOUN"},
      {"nr", "NOUN"}, {"nr$", "NOUN"}, {"nrs", "NOUN"},
      // pronouns
      {"pn", "PRON"}, {"pn$", "PRON"}, {"pp", "PRON"}, {"pp$", "PRON"}, {"pp$$", "PRON"},
      {"ppl", "PRON"}, {"ppls", "PRON"}, {"ppo", "PRON"}, {"pps", "PRON"}, {"ppss", "PRON"},
      {"wp$", "PRON"}, {"wpo", "PRON"}, {"wps", "PRON"},
      // adverbs and qualifiers
      {"rb", "ADV"}, {"rb$", "ADV"}, {"rbr", "ADV"}, {"rbt", "ADV"}, {"rn", "ADV"},
      {"ql", "ADV"}, {"qlp", "ADV"}, {"wql", "ADV"}, {"wrb", "ADV"},
      // particles
      {"rp", "PRT"}, {"to", "PRT"},
      // the rest
      {"uh", "X"},                                             // interjection (PTB: UH -> X)
      {"nil", "X"},                                            // left untagged in the corpus
  };
  return m;
}

static bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string full_tag(const std::string& tag) {
  static const char* const marks[] = {"-hl", "-tl", "-nc", "-t", "-n"};
  std::string t = tag;
  for (bool cut = true; cut;) {
    cut = false;
    for (const char* m : marks) {
      // "--" (a dash) is a tag, not a mark: "---hl" is the dash in a headline.
      if (ends_with(t, m) && t.size() > std::string(m).size() && t != "--") {
        t.resize(t.size() - std::string(m).size());
        cut = true;
      }
    }
  }
  return t;
}

std::string universal_tag(const std::string& tag) {
  std::string t = full_tag(tag);
  const bool foreign = t.rfind("fw-", 0) == 0;
  if (foreign) t = t.substr(3);
  // Every part must be a known tag, even though only the first names the universal tag.
  std::string first;
  size_t b = 0;
  while (b <= t.size()) {
    size_t e = t.find('+', b);
    if (e == std::string::npos) e = t.size();
    auto it = tag_table().find(t.substr(b, e - b));
    if (it == tag_table().end()) return "";
    if (first.empty()) first = it->second;
    b = e + 1;
  }
  return foreign ? "X" : first;
}

bool is_test_document(const std::string& doc_id) {
  if (doc_id.size() != 4) return false;  // not c<genre><nn>
  const int number = std::atoi(doc_id.c_str() + 2);
  return number % 5 == 0;
}

namespace {

// A corpus file name: 'c', a genre letter, two digits.
const Genre* genre_of_file(const std::string& name) {
  if (name.size() != 4 || name[0] != 'c' || !isdigit((unsigned char)name[2]) || !isdigit((unsigned char)name[3]))
    return nullptr;
  for (const Genre& g : genres())
    if (g.letter == name[1]) return &g;
  return nullptr;
}

struct Sentence {
  std::string words, universal, full;  // space-joined
  int length = 0;
};

struct Document {
  std::string id;
  char genre = 0;
  std::vector<Sentence> sentences;
};

// One corpus file. Errors name "<file>:<line>".
Document read_document(const fs::path& path, const Genre& genre) {
  Document d;
  d.id = path.filename().string();
  d.genre = genre.letter;
  const std::string file = path.string();
  const std::string text = read_regular_file(file, file, "corpus file", kMaxDataFileBytes, 1);
  std::istringstream in(text);
  std::string line;
  for (int no = 1; std::getline(in, line); ++no) {
    const std::string where = file + ":" + std::to_string(no) + ": ";
    if (line.find('\0') != std::string::npos) throw UserError(where + "a NUL byte: not a text file (a corrupt download?)");
    std::istringstream words(line);
    Sentence s;
    for (std::string tok; words >> tok;) {
      const size_t slash = tok.rfind('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == tok.size())
        throw UserError(where + "token '" + tok.substr(0, 40) + "' is not word/tag");
      const std::string word = tok.substr(0, slash), tag = tok.substr(slash + 1);
      const std::string u = universal_tag(tag);
      if (u.empty()) throw UserError(where + "tag '" + tag.substr(0, 40) + "' (of '" + word.substr(0, 40) + "') is not in the Brown tag map");
      const char* sep = s.length ? " " : "";
      s.words += sep + word;
      s.universal += sep + u;
      s.full += sep + full_tag(tag);
      ++s.length;
    }
    if (s.length > 0) d.sentences.push_back(std::move(s));
  }
  if (d.sentences.empty()) throw UserError(file + ": no sentences (an empty or truncated file?)");
  return d;
}

void write_split(const std::string& dir, const std::string& name, const std::vector<Document>& docs) {
  AtomicFile pos(dir + "/pos/" + name + ".tsv"), full(dir + "/pos_full/" + name + ".tsv"),
      genre(dir + "/genre/" + name + ".tsv");
  for (const Document& d : docs) {
    std::string p, f, g;
    for (const Sentence& s : d.sentences) {
      p += s.words + '\t' + s.universal + '\n';
      f += s.words + '\t' + s.full + '\n';
      g += s.words + '\t' + d.genre + '\n';
    }
    pos.write(p), full.write(f), genre.write(g);
  }
  pos.commit(), full.commit(), genre.commit();
}

}  // namespace

ConvertReport convert_brown(const std::string& src_dir, const std::string& out_arg) {
  std::error_code ec;
  std::string out_dir = fs::path(out_arg).lexically_normal().string();  // "data/brown/" -> "data/brown"
  while (out_dir.size() > 1 && out_dir.back() == '/') out_dir.pop_back();
  if (!fs::is_directory(src_dir, ec)) throw UserError("data brown: '" + src_dir + "' is not a folder");
  if (fs::exists(out_dir, ec)) throw UserError("data brown: '" + out_dir + "' already exists (remove it to convert again)");
  std::vector<fs::path> files;
  for (const fs::directory_entry& e : fs::directory_iterator(src_dir, ec))
    if (genre_of_file(e.path().filename().string())) files.push_back(e.path());
  if (ec) throw UserError("data brown: cannot list '" + src_dir + "': " + ec.message());
  std::sort(files.begin(), files.end());
  if (files.empty()) throw UserError("data brown: '" + src_dir + "' has no corpus files (c<genre><nn>, e.g. ca01)");

  std::vector<Document> train, test;
  ConvertReport r;
  for (const fs::path& f : files) {
    Document d = read_document(f, *genre_of_file(f.filename().string()));
    const bool held_out = is_test_document(d.id);
    SplitCounts& c = held_out ? r.test : r.train;
    ++c.documents;
    c.sentences += (long)d.sentences.size();
    for (const Sentence& s : d.sentences) c.words += s.length;
    (held_out ? test : train).push_back(std::move(d));
  }
  if (train.empty() || test.empty())
    throw UserError("data brown: '" + src_dir + "': the " + std::string(train.empty() ? "training" : "test") +
                    " split is empty (test documents are those numbered 05, 10, 15, ...; training the others)");

  // Everything goes into a fresh folder beside OUT_DIR, renamed to OUT_DIR at the end.
  const std::string tmp = out_dir + ".tmp";
  fs::remove_all(tmp, ec);
  for (const char* sub : {"/pos", "/pos_full", "/genre"}) fs::create_directories(tmp + sub, ec);
  if (ec) throw UserError("data brown: cannot create '" + tmp + "': " + ec.message());
  try {
    write_split(tmp, "train", train);
    write_split(tmp, "test", test);
    std::string docs = "doc\tgenre\tsplit\tsentences\twords\n";
    for (const auto* split : {&train, &test})
      for (const Document& d : *split) {
        long words = 0;
        for (const Sentence& s : d.sentences) words += s.length;
        docs += d.id + '\t' + d.genre + '\t' + (split == &test ? "test" : "train") + '\t' +
                std::to_string(d.sentences.size()) + '\t' + std::to_string(words) + '\n';
      }
    write_file_atomic(tmp + "/docs.tsv", docs);
    fs::rename(tmp, out_dir, ec);
    if (ec) throw UserError("data brown: cannot rename '" + tmp + "' to '" + out_dir + "': " + ec.message());
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  return r;
}

}  // namespace nl::brown
