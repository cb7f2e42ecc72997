// Fuzz target: the lines `cairn import` reads (src/interop/import.h): Cairn events as `cairn
// export` writes them (log/event_json.h) and Kafka records as `kcat -C -J` prints them
// (interop/kafka_record.h), then the order domain's rules for the streams they name.
//
// Input: NDJSON, one candidate line per line.
//
// Properties: no crash and no undefined behaviour on any input; a line that parses as a Cairn
// event writes back (EventToJson) to JSON that parses to the same event (export -> import is
// lossless); an accepted line has an id, a type, a topic, a stream and a version >= 1; the
// order domain's StreamChecker, fed the accepted lines of each stream in input order, answers
// every one without crashing (it may refuse them).
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "cairn/domain_spec.h"
#include "cairn/orders.h"
#include "fuzz_util.h"
#include "interop/import.h"
#include "log/event_json.h"

namespace cairn {
namespace {

// A Cairn event line must survive export -> import unchanged.
void CheckRoundTrip(std::string_view line) {
  Result<json::ParsedEvent> parsed = json::ParseEventJson(line);
  if (!parsed.ok()) return;
  const std::string written = json::EventToJson(parsed->event);
  Result<json::ParsedEvent> again = json::ParseEventJson(written);
  FUZZ_CHECK(again.ok(), "an event written by EventToJson parses");
  FUZZ_CHECK(again->event == parsed->event, "an event reads back unchanged after EventToJson");
}

void CheckLines(std::string_view input) {
  static const std::vector<DomainSpec> domains = {OrderDomain()};
  interop::ImportReadOptions options;
  std::map<std::string, std::unique_ptr<StreamChecker>> checkers;
  size_t number = 0;
  while (!input.empty()) {
    const size_t end = input.find('\n');
    const std::string_view line = input.substr(0, end);
    input = end == std::string_view::npos ? std::string_view() : input.substr(end + 1);
    ++number;
    CheckRoundTrip(line);
    Result<interop::ImportEvent> e = interop::ParseImportLine(line, number, options);
    if (!e.ok()) continue;
    FUZZ_CHECK(!e->event.id.empty() && !e->event.type.empty() && !e->topic.empty() &&
                   !e->stream.empty() && e->version >= 1,
               "an accepted line has an id, a type, a topic, a stream and a version");
    auto [it, inserted] = checkers.try_emplace(e->stream);
    if (inserted) it->second = NewStreamChecker(domains, e->stream);
    if (it->second) (void)it->second->Check(e->event, StreamVersion(e->version));
  }
}

}  // namespace
}  // namespace cairn

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  cairn::CheckLines(std::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
