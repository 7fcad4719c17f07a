// nn/norms/registry.cpp — the table of norm types: name -> factory.
//
// What it is: the one place that knows every norm by name. make_norm(cfg, D, kernels)
// builds the layer named by cfg.type and hands it its kernel set; norm_types() lists them
// (config validation and error messages use it). Adding a norm = one new file src/nn/norms/<name>.cpp that defines
//   std::unique_ptr<Norm> make_<name>(const NormConfig& cfg, int D)
// plus one NL_NORM(<name>) line below. The encoder never changes. A norm whose statistics
// span the batch (BatchNorm) can share them across data-parallel ranks (model.norm.sync):
// its factory takes the ranks as a third argument, `Comm* comm`, and its line is
// NL_NORM_SYNC(<name>).
// What it is not: any norm's math (kernels/) or layer (the <name>.cpp files).
#include <stdexcept>

#include "normlab/nn/norm.h"

namespace nl {

namespace {

struct NormEntry {
  std::string name;
  NormFactory make;
  bool syncs;  // takes the ranks (model.norm.sync)
};

std::vector<NormEntry>& table() {
  static std::vector<NormEntry> entries;
  return entries;
}

struct NormRegistrar {
  using Plain = std::unique_ptr<Norm> (*)(const NormConfig&, int);
  NormRegistrar(const char* name, Plain make) {
    table().push_back({name, [make](const NormConfig& c, int D, Comm*) { return make(c, D); }, false});
  }
  NormRegistrar(const char* name, NormFactory make) { table().push_back({name, std::move(make), true}); }
};

}  // namespace

// NL_NORM(x): declares make_x (defined in src/nn/norms/x.cpp) and enters it as "x".
#define NL_NORM(name)                                                \
  std::unique_ptr<Norm> make_##name(const NormConfig& cfg, int D);   \
  static const NormRegistrar nl_norm_##name(#name, make_##name)
// NL_NORM_SYNC(x): the same for make_x(cfg, D, comm), a norm that model.norm.sync applies to.
#define NL_NORM_SYNC(name)                                                       \
  std::unique_ptr<Norm> make_##name(const NormConfig& cfg, int D, Comm* comm);   \
  static const NormRegistrar nl_norm_##name(#name, NormFactory(make_##name))

NL_NORM(layernorm);
NL_NORM(layernorm_simple);
NL_NORM(detachnorm);
NL_NORM(rmsnorm);
NL_NORM(adanorm);
NL_NORM_SYNC(batchnorm);
NL_NORM_SYNC(batchnorm_padded);
NL_NORM(none);

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

}  // namespace nl
