// Generations of read models (see generation.h).
#include "cqrs/generation.h"

#include <spdlog/spdlog.h>

#include <charconv>

namespace cairn::cqrs {

std::string Generation::FamilyPrefix(std::string_view projection) {
  return "rm." + std::string(projection) + ".";
}

std::string Generation::FamilyName(std::string_view projection, uint32_t number,
                                   std::string_view table) {
  return FamilyPrefix(projection) + std::to_string(number) + "." + std::string(table);
}

uint32_t Generation::NumberOf(std::string_view family_name, std::string_view projection) {
  const std::string prefix = FamilyPrefix(projection);
  if (family_name.substr(0, prefix.size()) != prefix) return 0;
  std::string_view rest = family_name.substr(prefix.size());
  uint32_t number = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), number);
  if (ec != std::errc() || end == rest.data() + rest.size() || *end != '.') return 0;
  return number;
}

Result<std::shared_ptr<Generation>> Generation::Open(Store* store, const ProjectionSpec& spec,
                                                     uint32_t number, FamilyKind kind) {
  std::shared_ptr<Generation> gen(new Generation(store, spec.name, number));
  std::vector<std::string> names;
  for (const std::string& table : spec.tables) {
    names.push_back(FamilyName(spec.name, number, table));
  }
  CAIRN_ASSIGN_OR_RETURN(const std::vector<Family*> families,
                         store->OpenFamilies(names, kind));
  for (size_t i = 0; i < spec.tables.size(); ++i) gen->tables_.emplace(spec.tables[i], families[i]);
  return gen;
}

Generation::~Generation() {
  if (!drop_when_released_.load()) return;
  std::vector<std::string> names;
  for (const auto& [table, family] : tables_) {
    names.push_back(FamilyName(projection_, number_, table));
  }
  Status s = store_->DropFamilies(names);
  if (!s.ok()) {
    spdlog::warn("could not drop generation {} of {}: {}", number_, projection_, s.ToString());
  }
}

Family* Generation::Table(std::string_view table) const {
  auto it = tables_.find(table);
  return it == tables_.end() ? nullptr : it->second;
}

Status Generation::UnknownTable(std::string_view table) const {
  return Status::NotFound("projection " + projection_ + " has no table " + std::string(table));
}

Result<std::optional<std::string>> Generation::Get(std::string_view table,
                                                   std::string_view key) const {
  Family* family = Table(table);
  if (!family) return UnknownTable(table);
  return store_->Get(family, key);
}

Result<int64_t> Generation::GetCounter(std::string_view table, std::string_view key) const {
  CAIRN_ASSIGN_OR_RETURN(const std::optional<std::string> value, Get(table, key));
  return value.has_value() ? DecodeCounter(*value) : int64_t{0};
}

Status Generation::Scan(std::string_view table, std::string_view lower, std::string_view upper,
                        const Store::Visitor& visit, bool reverse) const {
  Family* family = Table(table);
  if (!family) return UnknownTable(table);
  return store_->Scan(family, lower, upper, visit, reverse);
}

}  // namespace cairn::cqrs
