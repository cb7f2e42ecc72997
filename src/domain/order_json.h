// JSON forms of the order's nested values (items, shipping address), shared by the HTTP layer's
// request parsers (src/http/order_requests.cc; strict: unknown fields are errors) and the
// domain's readers of stored JSON — event data from the log, views — (lenient: unknown fields
// are ignored, so older and newer writers both read). Private to src/domain and the layers above.
#pragma once

#include <string_view>
#include <vector>

#include "cairn/orders/values.h"
#include "cairn/status.h"
#include "base/json_reader.h"
#include "base/json_writer.h"

namespace cairn::domain {

enum class Strictness {
  kRequest,  // a client's body: unknown fields rejected; address fields all required
  kStored,   // JSON Cairn or the seed wrote: unknown fields ignored; address fields optional
};

// [{productId, name, price, quantity}, …]; each item's four fields are required.
Status ReadItems(json::Value value, std::string_view path, Strictness strictness,
                 std::vector<OrderItem>* out);
// {street, city, zipCode, country, express?}.
Status ReadAddress(json::Value value, std::string_view path, Strictness strictness,
                   ShippingAddress* out);

void WriteItems(json::JsonWriter& out, const std::vector<OrderItem>& items);
void WriteAddress(json::JsonWriter& out, const ShippingAddress& address);

}  // namespace cairn::domain
