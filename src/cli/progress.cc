// See progress.h.
#include "cli/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <thread>

namespace cairn::cli {
namespace {

std::chrono::milliseconds PlainInterval() {
  if (const char* text = std::getenv("CAIRN_PROGRESS_SECONDS")) {
    char* end = nullptr;
    const double seconds = std::strtod(text, &end);
    if (end != text && seconds > 0 && seconds < 86400) {
      return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    }
  }
  return std::chrono::seconds(2);
}

size_t TerminalWidth() {
  winsize size{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 20) return size.ws_col;
  return 80;
}

// "412.3k" style for a rate on the terminal.
std::string ShortNumber(double n) {
  char text[32];
  if (n >= 1e6) std::snprintf(text, sizeof text, "%.1fM", n / 1e6);
  else if (n >= 1e4) std::snprintf(text, sizeof text, "%.1fk", n / 1e3);
  else std::snprintf(text, sizeof text, "%.0f", n);
  return text;
}

}  // namespace

std::string GroupDigits(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

std::string FormatDuration(double seconds) {
  const int64_t s = std::max<int64_t>(0, std::llround(seconds));
  char text[32];
  if (seconds < 9.95) std::snprintf(text, sizeof text, "%.1fs", std::max(0.0, seconds));
  else if (s < 60) std::snprintf(text, sizeof text, "%llds", static_cast<long long>(s));
  else if (s < 3600) std::snprintf(text, sizeof text, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  else std::snprintf(text, sizeof text, "%lldh%02lldm", static_cast<long long>(s / 3600), static_cast<long long>(s % 3600 / 60));
  return text;
}

Progress::Progress(std::string label, std::string unit, bool quiet)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      quiet_(quiet),
      terminal_(isatty(STDERR_FILENO) == 1),
      interval_(terminal_ ? std::chrono::milliseconds(100) : PlainInterval()),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() { Finish(); }

double Progress::Elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::SetLabel(std::string label) { label_ = std::move(label); }

void Progress::Update(uint64_t done, uint64_t total) {
  done_ = done;
  total_ = total;
  if (quiet_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  // A terminal shows the bar at once; a log gets its first line only after one interval, so a
  // short job stays silent.
  if ((terminal_ && !drawn_) || now - last_draw_ >= interval_) {
    last_draw_ = now;
    Draw(false);
  }
}

void Progress::Finish() {
  if (finished_) return;
  finished_ = true;
  if (quiet_ || !terminal_ || !drawn_) return;
  Draw(true);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

void Progress::Draw(bool final) {
  drawn_ = true;
  if (terminal_) {
    std::string line = Line(true);
    const size_t width = TerminalWidth() - 1;
    if (line.size() > width) line.resize(width);
    std::fprintf(stderr, "\r%s\033[K", line.c_str());
    (void)final;
  } else {
    std::fprintf(stderr, "%s\n", Line(false).c_str());
  }
  std::fflush(stderr);
}

std::string Progress::Line(bool terminal) const {
  const double elapsed = Elapsed();
  const double rate = elapsed > 0 ? double(done_) / elapsed : 0;
  const bool known = total_ > 0;
  const double fraction = known ? std::min(1.0, double(done_) / double(total_)) : 0;
  std::string eta;
  if (known && rate > 0 && done_ < total_) eta = FormatDuration(double(total_ - done_) / rate);
  char pct[16];
  std::snprintf(pct, sizeof pct, "%3.0f%%", fraction * 100);
  std::string line;
  if (unit_.empty()) return label_ + (terminal ? " … " : ": running, ") + FormatDuration(elapsed) +
                            (terminal ? "" : " elapsed");
  if (terminal) {
    line = label_ + " ";
    if (known) {
      constexpr int kBarWidth = 24;
      const int filled = static_cast<int>(fraction * kBarWidth);
      line += '[';
      line.append(filled, '#').append(kBarWidth - filled, '.').append("] ");
      line += std::string(pct) + "  " + GroupDigits(done_) + "/" + GroupDigits(total_) + " " + unit_;
    } else {
      line += GroupDigits(done_) + " " + unit_;
    }
    line += "  " + ShortNumber(rate) + "/s";
    if (!eta.empty()) line += "  ETA " + eta;
    else line += "  " + FormatDuration(elapsed);
    return line;
  }
  line = label_ + ": ";
  if (known) {
    line += std::string(pct[0] == ' ' ? pct + (pct[1] == ' ' ? 2 : 1) : pct) + " (" +
            std::to_string(done_) + "/" + std::to_string(total_) + " " + unit_ + ")";
  } else {
    line += std::to_string(done_) + " " + unit_;
  }
  line += ", " + std::to_string(std::llround(rate)) + " " + unit_ + "/s";
  if (!eta.empty()) line += ", ETA " + eta;
  line += ", " + FormatDuration(elapsed) + " elapsed";
  return line;
}

Status RunWithProgress(Progress& progress, const std::function<Status()>& work,
                       const ProgressPoll& poll) {
  std::atomic<bool> done{false};
  Status status;
  std::thread worker([&] {
    status = work();
    done.store(true);
  });
  while (!done.load()) {
    const auto [current, total] = poll();
    progress.Update(current, total);
    for (int i = 0; i < 20 && !done.load(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  worker.join();
  if (status.ok()) {
    const auto [current, total] = poll();
    progress.Update(std::max(current, total), total);
  }
  return status;
}

}  // namespace cairn::cli
