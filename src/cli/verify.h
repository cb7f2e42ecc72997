// Verifying a copy of a data dir from the command line, for `cairn backup --verify` and `cairn
// restore`: domain/verify.h's VerifyDataDir with a progress line, and one way to print what it
// found.
#pragma once

#include <string>
#include <string_view>

#include "cairn/status.h"
#include "domain/verify.h"

namespace cairn::cli {

// VerifyDataDir on `dir` with the default domains, showing "<command>: verifying <dir>" while
// it runs (unless `quiet`).
Result<DataDirVerification> VerifyWithProgress(std::string_view command, const std::string& dir,
                                               bool quiet);

// Prints the verdict on stderr (unless `quiet` and consistent) and returns the exit code:
// kExitOk when every read model equals the replay, kExitDrift when one does not.
int ReportVerification(std::string_view command, const std::string& dir,
                       const DataDirVerification& v, bool quiet);

}  // namespace cairn::cli
