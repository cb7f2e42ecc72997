// The on-disk format marker of the log's families. Log::Open calls CheckAndRecordFormat.
#pragma once

#include "cairn/status.h"
#include "cairn/store.h"

namespace cairn {

// Checks the data dir's log format and, unless the store is read-only, records this build's.
// A data dir of a newer format is kInvalidArgument ("upgrade cairn"); an older one is raised to
// this build's format when the store is writable (upgrades are one-way).
Status CheckAndRecordFormat(Store* store);

}  // namespace cairn
