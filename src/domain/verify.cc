// See verify.h.
#include "domain/verify.h"

#include "cairn/db.h"

namespace cairn {

Result<DataDirVerification> VerifyDataDir(const std::string& path,
                                          std::vector<DomainSpec> domains) {
  DbOptions options;
  options.store.create_if_missing = false;
  // The catch-up below can always be redone from the dir's own log: no fsync per batch.
  options.store.sync = SyncMode::kNone;
  options.store.block_cache_bytes = 32u << 20;
  options.engine.start_threads = false;
  options.create_owned_topics = false;
  options.domains = std::move(domains);
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<Db> db, Db::Open(path, std::move(options)));
  CAIRN_RETURN_IF_ERROR(db->engine().CatchUp());
  DataDirVerification v;
  v.events = db->log().LastSeq().value();
  v.topics = db->log().Topics().size();
  CAIRN_ASSIGN_OR_RETURN(v.check, db->engine().Check(CheckOptions{}));
  return v;
}

}  // namespace cairn
