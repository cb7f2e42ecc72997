// Who acts on the order domain: the authenticated user and its role. The HTTP layer takes them
// from the bearer token (never from a request body) and hands them to every command and query;
// the domain decides what each role may do (see include/cairn/orders.h).
#pragma once

#include <string>
#include <string_view>

#include "cairn/status.h"

namespace cairn {

enum class Role { kCustomer, kService, kAdmin };
// "customer", "service", "admin".
std::string_view RoleName(Role role);
// Parses a role name (as above); anything else is kInvalidArgument naming "role".
Result<Role> ParseRole(std::string_view text);

// Who is acting: the authenticated user and role.
struct Actor {
  std::string user_id;
  Role role = Role::kCustomer;
  bool is_admin() const { return role == Role::kAdmin; }
};

}  // namespace cairn
