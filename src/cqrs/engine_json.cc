// See engine_json.h.
#include "cqrs/engine_json.h"

#include <simdjson.h>

#include "base/json_reader.h"
#include "base/json_writer.h"

namespace cairn::json {

std::string Printable(std::string_view bytes) {
  bool printable = simdjson::validate_utf8(bytes.data(), bytes.size());
  for (unsigned char c : bytes) {
    if (c < 0x20 || c == 0x7f) printable = false;
  }
  if (printable) return std::string(bytes);
  static const char* kHex = "0123456789abcdef";
  std::string out = "0x";
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 0xf]);
  }
  return out;
}

void WriteProjectionStatus(JsonWriter& w, const ProjectionStatus& s) {
  w.BeginObject();
  w.Key("name").String(s.name);
  w.Key("state").String(ProjectionStateName(s.state));
  w.Key("generation").Uint(s.generation);
  w.Key("checkpoint").Uint(s.checkpoint.value());
  w.Key("lag").Uint(s.lag_events);
  if (!s.error.empty()) w.Key("error").String(s.error);
  if (s.failed_at) w.Key("failedAt").String(s.failed_at->ToString());
  w.Key("partitions").BeginArray();
  for (const PartitionLag& p : s.partitions) {
    w.BeginObject();
    w.Key("topic").String(p.topic);
    w.Key("partition").Uint(p.partition.value());
    w.Key("checkpoint").Uint(p.checkpoint.value());
    w.Key("highWaterMark").Uint(p.high_water_mark.value());
    w.Key("lag").Uint(p.lag_events);
    if (p.last_applied_age) w.Key("lastAppliedAgeMs").Int(p.last_applied_age->count() / 1000);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

std::string ProjectionStatusesToJson(const std::vector<ProjectionStatus>& statuses) {
  JsonWriter w;
  w.BeginObject().Key("projections").BeginArray();
  for (const ProjectionStatus& s : statuses) WriteProjectionStatus(w, s);
  w.EndArray().EndObject();
  return w.Take();
}

void WriteRebuildProgress(JsonWriter& w, const RebuildProgress& p) {
  w.BeginObject();
  w.Key("id").Uint(p.id);
  w.Key("projections").BeginArray();
  for (const std::string& name : p.projections) w.String(name);
  w.EndArray();
  w.Key("state").String(RebuildStateName(p.state));
  w.Key("eventsDone").Uint(p.events_done);
  w.Key("eventsTotal").Uint(p.events_total);
  w.Key("eventsPerSecond").Fixed(p.events_per_second, 1);
  if (p.eta) w.Key("etaSeconds").Int(p.eta->count());
  if (!p.error.empty()) w.Key("error").String(p.error);
  w.EndObject();
}

std::string RebuildJobToJson(const RebuildProgress& progress) {
  JsonWriter w;
  w.BeginObject().Key("job");
  WriteRebuildProgress(w, progress);
  w.EndObject();
  return w.Take();
}

std::string CheckReportToJson(const CheckReport& r) {
  JsonWriter w;
  w.BeginObject();
  w.Key("consistent").Bool(r.consistent);
  w.Key("keysCompared").Uint(r.keys_compared);
  w.Key("differencesTotal").Uint(r.differences_total);
  w.Key("differences").BeginArray();
  for (const Difference& d : r.differences) {
    w.BeginObject();
    w.Key("projection").String(d.projection);
    w.Key("table").String(d.table);
    w.Key("key").String(Printable(d.key));
    w.Key("expected");
    d.expected ? w.String(Printable(*d.expected)) : w.Null();
    w.Key("actual");
    d.actual ? w.String(Printable(*d.actual)) : w.Null();
    w.EndObject();
  }
  w.EndArray();
  for (auto [key, list] : {std::pair{"drifted", &r.drifted}, std::pair{"repaired", &r.repaired}}) {
    w.Key(key).BeginArray();
    for (const std::string& name : *list) w.String(name);
    w.EndArray();
  }
  w.EndObject();
  return w.Take();
}

namespace {

Status ReadStringList(Value v, std::string_view path, std::vector<std::string>* out) {
  CAIRN_ASSIGN_OR_RETURN(Array array, ReadArray(v, path));
  return ForEachElement(array, path, [&](size_t i, Value element) -> Status {
    CAIRN_ASSIGN_OR_RETURN(std::string name, ReadString(element, IndexPath(path, i)));
    out->push_back(std::move(name));
    return Status::Ok();
  });
}

Result<uint64_t> ReadCount(Value v, std::string_view path) {
  CAIRN_ASSIGN_OR_RETURN(const int64_t n, ReadInt(v, path));
  if (n < 0) return FieldError(path, "must not be negative");
  return uint64_t(n);
}

Result<double> ReadNumber(Value v, std::string_view path) {
  double d = 0;
  if (v.get_double().get(d)) return FieldError(path, "must be a number");
  return d;
}

Status ReadJobFields(Object& job, std::string_view path, RebuildProgress* p) {
  return ForEachField(job, path, [&](std::string_view key, Value v) -> Status {
    const std::string field = JoinPath(path, key);
    if (key == "id") return Assign(ReadCount(v, field), &p->id);
    if (key == "projections") return ReadStringList(v, field, &p->projections);
    if (key == "state") {
      CAIRN_ASSIGN_OR_RETURN(const std::string state, ReadString(v, field));
      if (state == "running") p->state = RebuildProgress::State::kRunning;
      else if (state == "done") p->state = RebuildProgress::State::kDone;
      else if (state == "failed") p->state = RebuildProgress::State::kFailed;
      else return FieldError(field, "must be running, done or failed");
      return Status::Ok();
    }
    if (key == "eventsDone") return Assign(ReadCount(v, field), &p->events_done);
    if (key == "eventsTotal") return Assign(ReadCount(v, field), &p->events_total);
    if (key == "eventsPerSecond") {
      if (IsNull(v)) return Status::Ok();
      return Assign(ReadNumber(v, field), &p->events_per_second);
    }
    if (key == "etaSeconds") {
      if (IsNull(v)) return Status::Ok();
      CAIRN_ASSIGN_OR_RETURN(const int64_t eta, ReadInt(v, field));
      p->eta = std::chrono::seconds(eta);
      return Status::Ok();
    }
    if (key == "error") return Assign(ReadString(v, field), &p->error);
    return Status::Ok();  // a newer server's field
  });
}

Status ReadDifference(Value v, std::string_view path, Difference* d) {
  CAIRN_ASSIGN_OR_RETURN(Object object, ReadObject(v, path));
  return ForEachField(object, path, [&](std::string_view key, Value field) -> Status {
    const std::string where = JoinPath(path, key);
    if (key == "projection") return Assign(ReadString(field, where), &d->projection);
    if (key == "table") return Assign(ReadString(field, where), &d->table);
    if (key == "key") return Assign(ReadString(field, where), &d->key);
    if (key == "expected" || key == "actual") {
      std::optional<std::string>& slot = key == "expected" ? d->expected : d->actual;
      if (IsNull(field)) return Status::Ok();
      return Assign(ReadString(field, where), &slot);
    }
    return Status::Ok();
  });
}

}  // namespace

Result<RebuildProgress> ParseRebuildJob(std::string_view text) {
  Input input(text);
  CAIRN_ASSIGN_OR_RETURN(Object root, input.RootObject());
  RebuildProgress progress;
  bool wrapped = false;
  // The bare job object has no "job" field; the wrapped one has nothing else that matters.
  CAIRN_RETURN_IF_ERROR(ForEachField(root, "", [&](std::string_view key, Value v) -> Status {
    if (key != "job") return Status::Ok();
    wrapped = true;
    CAIRN_ASSIGN_OR_RETURN(Object job, ReadObject(v, "job"));
    return ReadJobFields(job, "job", &progress);
  }));
  if (wrapped) return progress;
  Input bare(text);
  CAIRN_ASSIGN_OR_RETURN(Object object, bare.RootObject());
  CAIRN_RETURN_IF_ERROR(ReadJobFields(object, "", &progress));
  return progress;
}

Result<CheckReport> ParseCheckReport(std::string_view text) {
  Input input(text);
  CAIRN_ASSIGN_OR_RETURN(Object root, input.RootObject());
  CheckReport r;
  bool has_consistent = false;
  CAIRN_RETURN_IF_ERROR(ForEachField(root, "", [&](std::string_view key, Value v) -> Status {
    if (key == "consistent") {
      has_consistent = true;
      return Assign(ReadBool(v, key), &r.consistent);
    }
    if (key == "keysCompared") return Assign(ReadCount(v, key), &r.keys_compared);
    if (key == "differencesTotal") return Assign(ReadCount(v, key), &r.differences_total);
    if (key == "drifted") return ReadStringList(v, key, &r.drifted);
    if (key == "repaired") return ReadStringList(v, key, &r.repaired);
    if (key == "differences") {
      CAIRN_ASSIGN_OR_RETURN(Array array, ReadArray(v, key));
      return ForEachElement(array, key, [&](size_t i, Value element) -> Status {
        r.differences.emplace_back();
        return ReadDifference(element, IndexPath(key, i), &r.differences.back());
      });
    }
    return Status::Ok();
  }));
  if (!has_consistent) return MissingField("consistent");
  return r;
}

}  // namespace cairn::json
