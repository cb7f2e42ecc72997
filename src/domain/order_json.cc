// JSON of items and shipping addresses.
#include "domain/order_json.h"

namespace cairn::domain {
namespace {

Status ReadItem(json::Value value, const std::string& path, Strictness strictness,
                OrderItem* item) {
  CAIRN_ASSIGN_OR_RETURN(json::Object object, json::ReadObject(value, path));
  bool has_product = false, has_name = false, has_price = false, has_quantity = false;
  CAIRN_RETURN_IF_ERROR(json::ForEachField(object, path, [&](std::string_view key,
                                                             json::Value v) -> Status {
    const json::Path field(path, key);
    if (key == "productId") {
      has_product = true;
      return json::Assign(json::ReadString(v, field), &item->product_id);
    }
    if (key == "name") {
      has_name = true;
      return json::Assign(json::ReadString(v, field), &item->name);
    }
    if (key == "price") {
      has_price = true;
      return json::Assign(json::ReadInt(v, field), &item->price);
    }
    if (key == "quantity") {
      has_quantity = true;
      return json::Assign(json::ReadInt(v, field), &item->quantity);
    }
    return strictness == Strictness::kRequest ? json::UnknownField(path, key) : Status::Ok();
  }));
  if (!has_product) return json::MissingField(json::JoinPath(path, "productId"));
  if (!has_name) return json::MissingField(json::JoinPath(path, "name"));
  if (!has_price) return json::MissingField(json::JoinPath(path, "price"));
  if (!has_quantity) return json::MissingField(json::JoinPath(path, "quantity"));
  return Status::Ok();
}

}  // namespace

Status ReadItems(json::Value value, std::string_view path, Strictness strictness,
                 std::vector<OrderItem>* out) {
  CAIRN_ASSIGN_OR_RETURN(json::Array array, json::ReadArray(value, path));
  out->clear();
  return json::ForEachElement(array, path, [&](size_t index, json::Value v) -> Status {
    if (out->size() >= kMaxOrderItems && strictness == Strictness::kRequest) {
      return json::FieldError(path, "must have at most " + std::to_string(kMaxOrderItems) +
                                        " items");
    }
    out->emplace_back();
    return ReadItem(v, json::IndexPath(path, index), strictness, &out->back());
  });
}

Status ReadAddress(json::Value value, std::string_view path, Strictness strictness,
                   ShippingAddress* out) {
  CAIRN_ASSIGN_OR_RETURN(json::Object object, json::ReadObject(value, path));
  bool has_street = false, has_city = false, has_zip = false, has_country = false;
  CAIRN_RETURN_IF_ERROR(json::ForEachField(object, path, [&](std::string_view key,
                                                             json::Value v) -> Status {
    const json::Path field(path, key);
    if (key == "street") {
      has_street = true;
      return json::Assign(json::ReadString(v, field), &out->street);
    }
    if (key == "city") {
      has_city = true;
      return json::Assign(json::ReadString(v, field), &out->city);
    }
    if (key == "zipCode") {
      has_zip = true;
      return json::Assign(json::ReadString(v, field), &out->zip_code);
    }
    if (key == "country") {
      has_country = true;
      return json::Assign(json::ReadString(v, field), &out->country);
    }
    if (key == "express") {
      if (json::IsNull(v)) return Status::Ok();
      return json::Assign(json::ReadBool(v, field), &out->express);
    }
    return strictness == Strictness::kRequest ? json::UnknownField(path, key) : Status::Ok();
  }));
  if (strictness == Strictness::kStored) return Status::Ok();
  if (!has_street) return json::MissingField(json::JoinPath(path, "street"));
  if (!has_city) return json::MissingField(json::JoinPath(path, "city"));
  if (!has_zip) return json::MissingField(json::JoinPath(path, "zipCode"));
  if (!has_country) return json::MissingField(json::JoinPath(path, "country"));
  return Status::Ok();
}

void WriteItems(json::JsonWriter& out, const std::vector<OrderItem>& items) {
  out.BeginArray();
  for (const OrderItem& item : items) {
    out.BeginObject()
        .Key("productId").String(item.product_id)
        .Key("name").String(item.name)
        .Key("price").Int(item.price)
        .Key("quantity").Int(item.quantity)
        .EndObject();
  }
  out.EndArray();
}

void WriteAddress(json::JsonWriter& out, const ShippingAddress& address) {
  out.BeginObject()
      .Key("street").String(address.street)
      .Key("city").String(address.city)
      .Key("zipCode").String(address.zip_code)
      .Key("country").String(address.country)
      .Key("express").Bool(address.express)
      .EndObject();
}

}  // namespace cairn::domain
