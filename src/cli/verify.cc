// See verify.h.
#include "cli/verify.h"

#include <cstdio>

#include "cairn/db.h"
#include "cli/commands.h"
#include "cli/progress.h"

namespace cairn::cli {

Result<DataDirVerification> VerifyWithProgress(std::string_view command, const std::string& dir,
                                               bool quiet) {
  Result<DataDirVerification> verified = Status::Internal("verification did not run");
  Progress progress(std::string(command) + ": verifying " + dir, "", quiet);
  Status ran = RunWithProgress(
      progress,
      [&] {
        verified = VerifyDataDir(dir, DbOptions{}.domains);
        return verified.status();
      },
      [] { return std::pair<uint64_t, uint64_t>{0, 0}; });
  progress.Finish();
  if (!ran.ok()) return ran;
  return verified;
}

int ReportVerification(std::string_view command, const std::string& dir,
                       const DataDirVerification& v, bool quiet) {
  const std::string c(command);
  if (v.check.consistent) {
    if (!quiet) {
      std::fprintf(stderr,
                   "%s: verified %s: %s events in %zu topics; every read model equals a replay of "
                   "its log (%s keys compared)\n",
                   c.c_str(), dir.c_str(), GroupDigits(v.events).c_str(), v.topics,
                   GroupDigits(v.check.keys_compared).c_str());
    }
    return kExitOk;
  }
  std::string drifted;
  for (const std::string& name : v.check.drifted) drifted += (drifted.empty() ? "" : ", ") + name;
  std::fprintf(stderr,
               "%s: %s does NOT verify: %s difference%s between a replay of its log and the read "
               "models of %s; `cairn check --data %s` lists them, `--repair` rebuilds them\n",
               c.c_str(), dir.c_str(), GroupDigits(v.check.differences_total).c_str(),
               v.check.differences_total == 1 ? "" : "s", drifted.c_str(), dir.c_str());
  return kExitDrift;
}

}  // namespace cairn::cli
