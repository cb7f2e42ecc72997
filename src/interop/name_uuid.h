// Name-based UUIDs (version 5, RFC 9562 §5.5): the same name in the same namespace always gives
// the same id. The Kafka import derives its event ids with them (kafka_record.h), so importing
// the same records twice finds the first copy.
#pragma once

#include <string>
#include <string_view>

namespace cairn::interop {

// The version 5 UUID of `name` in `namespace_id`, in UuidText's form (base/uuid.h): SHA-1 of
// the namespace's 16 bytes followed by the name. REQUIRES: namespace_id is a UUID in that form.
//   Uuid5("6ba7b811-9dad-11d1-80b4-00c04fd430c8", "http://example.com")   // NAMESPACE_URL
//     == "8c9ddcb0-8084-5a7f-a988-1095ab18b5df", as Python's uuid.uuid5 computes it.
std::string Uuid5(std::string_view namespace_id, std::string_view name);

}  // namespace cairn::interop
