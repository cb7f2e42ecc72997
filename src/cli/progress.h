// Progress of long operator work (rebuild, check, import, export) on stderr.
//
// On a terminal: one line redrawn in place with \r, at most ten times a second:
//   rebuild [##########··········]  48%  1,203,000/2,500,000 events  412,300/s  ETA 0:03
// Otherwise (a log file, a pipe, CI): a plain line every CAIRN_PROGRESS_SECONDS seconds
// (default 2), so logs stay readable:
//   rebuild: 48% (1203000/2500000 events), 412300 events/s, ETA 3s
// With a total of 0 (unknown) the bar becomes a counter with a rate and no ETA; with an empty
// unit, just the elapsed time ("check: comparing… 12s").
//
// One owner at a time; not thread-safe. Callers poll their work and call Update().
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>

#include "cairn/status.h"

namespace cairn::cli {

class Progress {
 public:
  // `label` starts each line ("rebuild"); `unit` names what is counted ("events").
  // `quiet` turns every output off.
  Progress(std::string label, std::string unit, bool quiet = false);
  ~Progress();  // Finish()es
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Reports `done` of `total` (0: unknown). Prints when it is time to.
  void Update(uint64_t done, uint64_t total);
  // Changes what is being done ("check: replaying"), keeping the clock running.
  void SetLabel(std::string label);
  // Leaves the terminal line showing the final state and moves to a new line. Idempotent.
  void Finish();

  // Seconds since construction.
  double Elapsed() const;

 private:
  void Draw(bool final);
  std::string Line(bool terminal) const;

  std::string label_;
  std::string unit_;
  bool quiet_;
  bool terminal_;
  bool drawn_ = false;
  bool finished_ = false;
  std::chrono::milliseconds interval_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  uint64_t done_ = 0;
  uint64_t total_ = 0;
};

// Runs `work` on a thread of its own while the calling thread reports `poll()` (done, total) to
// `progress` ten times a second; returns what `work` returned. For engine calls that block
// (CatchUp, Check) but whose progress can be observed from outside.
using ProgressPoll = std::function<std::pair<uint64_t, uint64_t>()>;
Status RunWithProgress(Progress& progress, const std::function<Status()>& work,
                       const ProgressPoll& poll);

// "1,234,567".
std::string GroupDigits(uint64_t n);
// "0.4s", "12s", "2m05s", "1h02m".
std::string FormatDuration(double seconds);

}  // namespace cairn::cli
