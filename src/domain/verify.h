// Verifying a copy of a data dir (a backup, a restored dir): open it with the domains that run on
// it, bring its projections up to its log, replay the log and compare every read model with the
// replay (Engine::Check). Called by `cairn backup --verify` and `cairn restore` (offline) and by
// POST /api/admin/backup with "verify" (the server, on the backup it just wrote).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cairn/domain_spec.h"
#include "cairn/engine.h"
#include "cairn/status.h"

namespace cairn {

struct DataDirVerification {
  uint64_t events = 0;  // in its log (its last seq)
  size_t topics = 0;
  CheckReport check;    // consistent when every read model equals the replay
};

// Verifies the data dir at `path`, which nothing else may hold (kBusy otherwise; kNotFound when
// it is not a data dir). It leaves the dir as a server would after catching up: projection
// checkpoints may move forward, nothing else changes. A drift is a report, not an error.
Result<DataDirVerification> VerifyDataDir(const std::string& path,
                                          std::vector<DomainSpec> domains);

}  // namespace cairn
