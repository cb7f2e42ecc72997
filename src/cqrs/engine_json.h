// The JSON forms of the engine's reports, shared by the HTTP admin API and `cairn ... --json`:
// projection status with lag, rebuild jobs, consistency reports. camelCase, timestamps ISO-8601.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "cairn/engine.h"
#include "cairn/status.h"

namespace cairn::json {

class JsonWriter;

// {name, state, generation, checkpoint, lag, error?, failedAt?, partitions: [{topic, partition,
//  checkpoint, highWaterMark, lag, lastAppliedAgeMs?}]}
void WriteProjectionStatus(JsonWriter& w, const ProjectionStatus& status);
// {projections: [...]}
std::string ProjectionStatusesToJson(const std::vector<ProjectionStatus>& statuses);
// {id, projections, state, eventsDone, eventsTotal, eventsPerSecond, etaSeconds?, error?}
void WriteRebuildProgress(JsonWriter& w, const RebuildProgress& progress);
// {"job": {...}}
std::string RebuildJobToJson(const RebuildProgress& progress);
// {consistent, keysCompared, differencesTotal, differences: [{projection, table, key,
//  expected, actual}], drifted, repaired}. Keys and values are shown as text when they are
// printable UTF-8, else as hex prefixed with "0x".
std::string CheckReportToJson(const CheckReport& report);

// How a stored key or value is shown to a person: itself when it is valid UTF-8 without control
// characters, else "0x" + hex.
std::string Printable(std::string_view bytes);

// Readers of the forms above, for clients of the admin API (`cairn rebuild|check --url`).
// kInvalidArgument naming the field when the text is not what the writers above produce
// (unknown fields are ignored, so a newer server may add some).
//
// {"job": {...}} or the bare job object.
Result<RebuildProgress> ParseRebuildJob(std::string_view text);
// The report as CheckReportToJson wrote it; keys and values stay in their Printable form.
Result<CheckReport> ParseCheckReport(std::string_view text);

}  // namespace cairn::json
