// One generation of a projection's read model: its tables, each a column family named
// "rm.<projection>.<generation>.<table>". Queries read the live generation through the ReadModel
// interface; a rebuild writes the next one beside it. A superseded generation is dropped when the
// last reader lets go of it (RocksDB keeps a dropped family readable until its handle goes).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cairn/projection.h"
#include "cairn/store.h"

namespace cairn::cqrs {

class Generation : public ReadModel {
 public:
  // Opens (creating if needed, as `kind`) the tables of generation `number` of `spec`.
  static Result<std::shared_ptr<Generation>> Open(Store* store, const ProjectionSpec& spec,
                                                  uint32_t number,
                                                  FamilyKind kind = FamilyKind::kOrdered);
  ~Generation() override;

  // Whether the destructor drops the tables: true for scratch and superseded generations.
  void SetDropWhenReleased(bool drop) { drop_when_released_.store(drop); }
  const std::string& projection() const { return projection_; }
  // The table's family, or nullptr for an undeclared table.
  Family* Table(std::string_view table) const;
  const std::map<std::string, Family*, std::less<>>& tables() const { return tables_; }
  Store* store() const { return store_; }

  uint32_t generation() const override { return number_; }
  Result<std::optional<std::string>> Get(std::string_view table,
                                         std::string_view key) const override;
  Result<int64_t> GetCounter(std::string_view table, std::string_view key) const override;
  Status Scan(std::string_view table, std::string_view lower, std::string_view upper,
              const Store::Visitor& visit, bool reverse) const override;

  // "rm.<projection>.<generation>.<table>" and the prefix shared by every generation.
  static std::string FamilyName(std::string_view projection, uint32_t number, std::string_view table);
  static std::string FamilyPrefix(std::string_view projection);
  // The generation number in a family name that starts with FamilyPrefix(projection); 0 if none.
  static uint32_t NumberOf(std::string_view family_name, std::string_view projection);

 private:
  Generation(Store* store, std::string projection, uint32_t number)
      : store_(store), projection_(std::move(projection)), number_(number) {}
  Status UnknownTable(std::string_view table) const;

  Store* store_;
  std::string projection_;
  uint32_t number_;
  std::map<std::string, Family*, std::less<>> tables_;
  std::atomic<bool> drop_when_released_{false};
};

}  // namespace cairn::cqrs
