// nn/norms/registry.cpp — the table of norm types: name -> factory.
//
// What it is: the one place that knows every norm by name. make_norm(cfg, D, kernels)
// builds the layer named by cfg.type and hands it its kernel set; norm_types() lists them
// (config validation and error messages use it). Adding a norm = one new file src/nn/norms/<name>.cpp that defines
//   std::unique_ptr<Norm> make_<name>(const NormConfig& cfg, int D)
// plus one NL_NORM(<name>) line below. A norm with settings of its own (model.norm.<key>)
// also defines `NormKeys <name>_keys()` in its file, and its line is NL_NORM_WITH_KEYS(<name>):
// config reads and checks those keys through the rows the norm declares (config.h, NormKey).
// The encoder never changes, nor does anything outside
// this folder: the trainer, the gradient checks and compare ask a norm what it is
// (batch_stats(), reads_pad_rows(), exact_gradient()) or iterate norm_types().
// A norm whose statistics span the batch (BatchNorm) can share them across data-parallel
// ranks (model.norm.sync): its factory takes the ranks as a third argument, `Comm* comm`,
// and its line is NL_NORM_SYNC(<name>).
// What it is not: any norm's math (kernels/) or layer (the <name>.cpp files).
#include <stdexcept>

#include "normlab/core/names.h"
#include "normlab/nn/norm.h"

namespace nl {

namespace {

struct NormEntry {
  std::string name;
  NormFactory make;
  bool syncs;        // takes the ranks (model.norm.sync)
  bool batch_stats;  // its statistics span the batch (the layer has batch_stats())
  NormKeys keys;     // its own config keys (model.norm.<key>), none for most
};

}  // namespace

// NL_NORM(x): declares make_x (defined in src/nn/norms/x.cpp) and enters it as "x".
#define NL_NORM(name)                                                \
  std::unique_ptr<Norm> make_##name(const NormConfig& cfg, int D);   \
  entries.push_back({#name, [](const NormConfig& c, int D, Comm*) { return make_##name(c, D); }, false, false, {}})
// NL_NORM_SYNC(x): the same for make_x(cfg, D, comm), a norm that model.norm.sync applies to.
#define NL_NORM_SYNC(name)                                                       \
  std::unique_ptr<Norm> make_##name(const NormConfig& cfg, int D, Comm* comm);   \
  entries.push_back({#name, NormFactory(make_##name), true, true, {}})
// ..._WITH_KEYS(x): the same, with the keys x_keys() (defined in x.cpp beside make_x) declares.
#define NL_NORM_WITH_KEYS(name) \
  NormKeys name##_keys();       \
  NL_NORM(name);                \
  entries.back().keys = name##_keys()
#define NL_NORM_SYNC_WITH_KEYS(name) \
  NormKeys name##_keys();            \
  NL_NORM_SYNC(name);                \
  entries.back().keys = name##_keys()

// Built on first use, so code that runs before main (gradient-check registration, which
// iterates norm_types()) sees every norm whatever the order of static initialisation.
// (Outside the anonymous namespace: NL_NORM's block-scope declarations name nl::make_x.)
static std::vector<NormEntry>& table() {
  static std::vector<NormEntry> entries = [] {
    std::vector<NormEntry> entries;
    NL_NORM(layernorm);
    NL_NORM(layernorm_simple);
    NL_NORM(detachnorm);
    NL_NORM(rmsnorm);
    NL_NORM_WITH_KEYS(adanorm);
    NL_NORM_SYNC(batchnorm);
    NL_NORM_SYNC(batchnorm_padded);
    NL_NORM_SYNC_WITH_KEYS(powernorm);
    NL_NORM(none);
    return entries;
  }();
  return entries;
}

void register_norm(const std::string& name, NormFactory make, bool batch_statistics, NormKeys keys) {
  for (const NormEntry& e : table()) {
    if (e.name == name) throw std::invalid_argument("register_norm: '" + name + "' is already registered");
    for (const NormKey& theirs : e.keys.keys)
      for (const NormKey& mine : keys.keys)
        if (theirs.name == mine.name)
          throw std::invalid_argument("register_norm: '" + name + "': the key model.norm." + mine.name +
                                      " is already " + e.name + "'s");
  }
  table().push_back({name, std::move(make), false, batch_statistics, std::move(keys)});
}

void unregister_norm(const std::string& name) {
  std::vector<NormEntry>& t = table();
  for (size_t i = 0; i < t.size(); ++i)
    if (t[i].name == name) {
      t.erase(t.begin() + (long)i);
      return;
    }
}

std::vector<std::string> norm_types() {
  std::vector<std::string> names;
  for (const NormEntry& e : table()) names.push_back(e.name);
  return names;
}

std::vector<std::string> norm_types_with_sync() {
  std::vector<std::string> names;
  for (const NormEntry& e : table())
    if (e.syncs) names.push_back(e.name);
  return names;
}

std::unique_ptr<Norm> make_norm(const NormConfig& cfg, int D, KernelSet kernels, Comm* comm) {
  if (D <= 0) throw std::invalid_argument("make_norm: D must be positive, got " + std::to_string(D));
  for (const NormEntry& e : table())
    if (e.name == cfg.type) {
      std::unique_ptr<Norm> norm = e.make(cfg, D, comm);
      norm->kernels_ = kernels;
      return norm;
    }
  std::string known;
  for (const NormEntry& e : table()) known += (known.empty() ? "" : ", ") + e.name;
  throw std::invalid_argument("make_norm: unknown norm type '" + cfg.type + "'; known: " + known);
}

NormKeyTable norm_keys() {
  NormKeyTable out;
  for (const NormEntry& e : table())
    if (!e.keys.keys.empty() || e.keys.check) out.push_back({e.name, e.keys});
  return out;
}

std::map<std::string, double> norm_exact_gradient_settings(const std::string& type) {
  for (const NormEntry& e : table())
    if (e.name == type) return e.keys.exact_gradient;
  return {};
}

bool norm_batch_statistics(const std::string& type) {
  for (const NormEntry& e : table())
    if (e.name == type) return e.batch_stats;
  return false;
}

// The roles (norm.h), each the name of an NL_NORM line above.
static const std::vector<std::pair<std::string, std::string>>& roles() {
  static const std::vector<std::pair<std::string, std::string>> r = {
      {"standard", "layernorm"}, {"without_gain_bias", "layernorm_simple"},
      {"detached_statistics", "detachnorm"}, {"identity", "none"}};
  return r;
}

std::string norm_for_role(const std::string& role) {
  for (const auto& [r, type] : roles())
    if (r == role) return type;
  return "";
}

std::vector<std::string> norm_roles() {
  std::vector<std::string> out;
  for (const auto& [r, type] : roles()) out.push_back(r);
  return out;
}

// model.norm.type is checked against this list (src/config/, through normlab/core/names.h).
static const NamesRegistrar nl_norm_names("norm", norm_types);
// model.norm.sync = true is checked against this one.
static const NamesRegistrar nl_norm_sync_names("norm_sync", norm_types_with_sync);
// model.norm.<key> of a norm's own keys are read and checked through these rows.
static const bool nl_norm_keys = (register_norm_keys(norm_keys), true);

}  // namespace nl
