// See export.h.
#include "interop/export.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "log/event_json.h"

namespace cairn::interop {
namespace {

constexpr size_t kFlushBytes = 1u << 20;
constexpr size_t kCursorBatch = 4096;

// Events of `topics` (empty: all) with after < seq <= last.
Result<uint64_t> CountEvents(const Log& log, const std::vector<std::string>& topics, Seq after,
                             Seq last) {
  if (topics.empty()) return last.value() > after.value() ? last.value() - after.value() : 0;
  uint64_t total = 0;
  for (const std::string& topic : topics) {
    CAIRN_ASSIGN_OR_RETURN(const TopicInfo info, log.GetTopic(topic));
    CAIRN_ASSIGN_OR_RETURN(const std::vector<Offset> starts, log.OffsetsAfterSeq(topic, after));
    for (const PartitionInfo& p : info.partition_info) {
      const uint64_t start = p.partition.value() < starts.size()
                                 ? starts[p.partition.value()].value()
                                 : p.high_water_mark.value();
      if (p.high_water_mark.value() > start) total += p.high_water_mark.value() - start;
    }
  }
  return total;
}

}  // namespace

Result<ExportPlan> PlanExport(const Log& log, std::vector<std::string> topics, Seq after) {
  ExportPlan plan;
  plan.topics = std::move(topics);
  plan.after = after;
  plan.last = log.LastSeq();
  CAIRN_ASSIGN_OR_RETURN(plan.total, CountEvents(log, plan.topics, plan.after, plan.last));
  return plan;
}

ExportOutput::~ExportOutput() {
  if (!temp_.empty() && file_) {
    std::fclose(file_);
    std::remove(temp_.c_str());
  }
}

Status ExportOutput::Open(const std::string& path) {
  path_ = path;
  if (path.empty()) {
    file_ = stdout;
    return Status::Ok();
  }
  temp_ = path + ".partial-" + std::to_string(getpid());
  file_ = std::fopen(temp_.c_str(), "wbx");
  if (!file_) return Status::IOError("cannot create " + temp_ + ": " + std::strerror(errno));
  return Status::Ok();
}

Status ExportOutput::Write(std::string& buffer) {
  if (!buffer.empty() && std::fwrite(buffer.data(), 1, buffer.size(), file_) != buffer.size()) {
    return Status::IOError(std::string("writing ") + Name() + " failed: " + std::strerror(errno));
  }
  buffer.clear();
  return Status::Ok();
}

Status ExportOutput::Commit() {
  if (std::fflush(file_) != 0 || std::ferror(file_)) {
    return Status::IOError(std::string("writing ") + Name() + " failed: " + std::strerror(errno));
  }
  if (temp_.empty()) return Status::Ok();
  // The file's durability point: synced before the rename makes it appear.
  const bool synced = fsync(fileno(file_)) == 0;
  const bool closed = std::fclose(file_) == 0;
  file_ = nullptr;
  if (!synced || !closed || std::rename(temp_.c_str(), path_.c_str()) != 0) {
    const std::string error = std::strerror(errno);
    std::remove(temp_.c_str());
    return Status::IOError("writing " + path_ + " failed: " + error);
  }
  temp_.clear();
  return Status::Ok();
}

Result<uint64_t> WriteExport(const Log& log, const ExportPlan& plan, ExportOutput& out,
                             const ProgressFn& progress) {
  CAIRN_ASSIGN_OR_RETURN(std::unique_ptr<LogCursor> cursor, log.OpenCursor(plan.topics, plan.after));
  std::string buffer;
  buffer.reserve(kFlushBytes + 64 * 1024);
  uint64_t written = 0;
  bool reached_end = false;
  auto write_line = [&](const EventView& event) {
    if (event.seq() > plan.last) {
      reached_end = true;
      return false;
    }
    buffer += json::EventToJson(event);
    buffer += '\n';
    ++written;
    return true;
  };
  while (!reached_end) {
    CAIRN_ASSIGN_OR_RETURN(const size_t consumed, cursor->Next(kCursorBatch, write_line));
    if (consumed == 0) reached_end = true;
    if (buffer.size() >= kFlushBytes || reached_end) CAIRN_RETURN_IF_ERROR(out.Write(buffer));
    Report(progress, written, plan.total);
  }
  CAIRN_RETURN_IF_ERROR(out.Commit());
  return written;
}

}  // namespace cairn::interop
