// Fuzz target: the stored envelope (src/log/envelope.h) as read back from disk, i.e. a value of
// the log family that may be corrupt: envelope::Verify (what import and checks run on bytes
// this build did not write), DecodeFormat3, SeqOf and EventView.
//
// Input: the value's bytes (format 3 when it starts with 0xC3, else format 2, flatbuffers).
//
// Properties: no crash and no undefined behaviour on any input in Verify and DecodeFormat3; a
// format 3 value DecodeFormat3 accepts has every field inside the value (or the id's own text
// buffer), Verify agrees with it, and re-encoding its fields (EncodeBody + AppendHeader, what
// the writer does) decodes to the same fields; a value Verify accepts decodes as an EventView
// (either format) whose seq SeqOf reads too.
#include <cstdint>
#include <string>
#include <string_view>

#include "cairn/log.h"
#include "fuzz_util.h"
#include "log/envelope.h"

namespace cairn {
namespace {

namespace env = envelope;

bool Inside(std::string_view field, std::string_view whole) {
  return field.empty() || (field.data() >= whole.data() &&
                           field.data() + field.size() <= whole.data() + whole.size());
}

void CheckFieldsInside(const env::Fields& f, std::string_view value) {
  const std::string_view id_text(f.id_text, sizeof(f.id_text));
  FUZZ_CHECK(Inside(f.id, value) || Inside(f.id, id_text), "the id lies inside the value");
  for (std::string_view field : {f.type, f.stream, f.data, f.command_id, f.correlation_id,
                                 f.causation_id, f.user_id}) {
    FUZZ_CHECK(Inside(field, value), "every decoded field lies inside the value");
  }
}

// What the writer would store for these fields: the appender's body, then the leader's header.
std::string Reencode(const env::Fields& f) {
  NewEvent event;
  event.id = std::string(f.id);
  event.type = std::string(f.type);
  event.data = std::string(f.data);
  event.metadata = EventMetadata{std::string(f.command_id), std::string(f.correlation_id),
                                 std::string(f.causation_id), std::string(f.user_id)};
  event.timestamp_us = f.timestamp_us;
  std::string value;
  env::AppendHeader(&value, event.id, f.seq, f.version);
  value += env::EncodeBody(event, f.stream);
  return value;
}

void CheckFormat3(std::string_view value) {
  env::Fields fields;
  if (!env::DecodeFormat3(value, &fields)) return;
  CheckFieldsInside(fields, value);
  FUZZ_CHECK(env::Verify(value), "Verify accepts what DecodeFormat3 accepts");
  if (fields.id.empty()) return;  // the writer never stores an empty id
  const std::string again = Reencode(fields);
  env::Fields reread;
  FUZZ_CHECK(env::DecodeFormat3(again, &reread), "a re-encoded envelope decodes");
  FUZZ_CHECK(reread.id == fields.id && reread.type == fields.type &&
                 reread.stream == fields.stream && reread.data == fields.data &&
                 reread.seq == fields.seq && reread.version == fields.version &&
                 reread.timestamp_us == fields.timestamp_us &&
                 reread.command_id == fields.command_id &&
                 reread.correlation_id == fields.correlation_id &&
                 reread.causation_id == fields.causation_id && reread.user_id == fields.user_id,
             "a re-encoded envelope decodes to the same fields");
}

void CheckVerified(std::string_view value) {
  if (!env::Verify(value)) return;
  const EventView view("fuzz-topic", PartitionId(3), Offset(7), value);
  const Event event = view.ToEvent();
  FUZZ_CHECK(event.topic == "fuzz-topic" && event.offset == Offset(7),
             "the position comes from the key");
  FUZZ_CHECK(env::SeqOf(value) == view.seq(), "SeqOf reads the seq the view decodes");
  const EventView copy = view;
  FUZZ_CHECK(copy.ToEvent() == event, "a copied view decodes to the same event");
}

}  // namespace
}  // namespace cairn

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string value(reinterpret_cast<const char*>(data), size);  // its own allocation
  cairn::CheckFormat3(value);
  cairn::CheckVerified(value);
  return 0;
}
