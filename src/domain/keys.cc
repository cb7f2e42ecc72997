// Key encodings of the order read models (layouts in keys.h).
#include "domain/keys.h"

#include "base/bytes.h"

namespace cairn::domain {

std::string NewestFirst(int64_t created_at_us) {
  const uint64_t ordered = static_cast<uint64_t>(created_at_us) ^ (uint64_t{1} << 63);
  std::string out;
  bytes::PutBigEndian64(&out, ~ordered);
  return out;
}

std::string UserPrefix(std::string_view user_id) {
  std::string out(user_id);
  out.push_back('\0');
  return out;
}

std::string StatusPrefix(OrderStatus status) {
  std::string out(OrderStatusName(status));
  out.push_back('\0');
  return out;
}

std::string UserStatusPrefix(std::string_view user_id, OrderStatus status) {
  return UserPrefix(user_id) + StatusPrefix(status);
}

std::string IndexKey(std::string_view prefix, int64_t created_at_us, std::string_view order_id) {
  std::string key(prefix);
  key += NewestFirst(created_at_us);
  key += order_id;
  return key;
}

std::string_view IndexKeyOrderId(std::string_view key, size_t prefix_size) {
  const size_t start = prefix_size + kTimeKeyBytes;
  return start <= key.size() ? key.substr(start) : std::string_view();
}

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) != 0xFF) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return end;  // no bound: to the end of the table
}

std::string CountAll() { return "all"; }
std::string CountStatus(OrderStatus status) {
  return "status:" + std::string(OrderStatusName(status));
}
std::string CountUser(std::string_view user_id) { return "user:" + std::string(user_id); }
std::string CountUserStatus(std::string_view user_id, OrderStatus status) {
  return "user_status:" + UserStatusPrefix(user_id, status);
}

std::string DayKey(int64_t day) {
  const uint32_t ordered = static_cast<uint32_t>(day) ^ 0x80000000u;
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8) {
    out.push_back(static_cast<char>((ordered >> shift) & 0xFF));
  }
  return out;
}

std::string DayKey(int64_t day, std::string_view name) {
  std::string key = DayKey(day);
  key += name;
  return key;
}

std::string StatStatus(OrderStatus status) {
  return std::string(kStatStatusPrefix) + std::string(OrderStatusName(status));
}

std::string StatRevenue(std::string_view currency) {
  return std::string(kStatRevenuePrefix) + std::string(currency);
}

std::string TermKey(std::string_view term, std::string_view order_id) {
  std::string key;
  SetTermKey(term, order_id, &key);
  return key;
}

void SetTermKey(std::string_view term, std::string_view order_id, std::string* key) {
  key->assign(term);
  key->push_back('\0');
  key->append(order_id);
}

std::string TermValue(int64_t created_at_us, std::string_view user_id) {
  std::string value;
  bytes::PutBigEndian64(&value, static_cast<uint64_t>(created_at_us));
  value += user_id;
  return value;
}

}  // namespace cairn::domain
