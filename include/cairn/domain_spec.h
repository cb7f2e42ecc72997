// What a domain (aggregates, their commands and their read models; src/domain holds the order
// domain) registers with Cairn: its projections, the topics only its commands may append to,
// and the rules an event entering one of its streams from outside its commands (an import)
// must pass. The engine runs the projections; the HTTP API, the Kafka listener and the importer
// read the rest, so none of them needs to know the domain.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/log.h"
#include "cairn/projection.h"
#include "cairn/status.h"

namespace cairn {

// Checks the events bound for one stream, in version order, against what the stream already
// holds: what the domain's projections could apply. One per stream; not thread-safe.
class StreamChecker {
 public:
  virtual ~StreamChecker() = default;
  // Folds in an event the log already holds, oldest first. A history the checker cannot fold
  // (written by something that broke the rules) turns it off: it then accepts everything.
  virtual void Load(const Event& stored) = 0;
  // Ok when `event`, as version `version` of the stream, can follow what came before, and then
  // folds it in; otherwise why not (kInvalidArgument, the message names the field).
  virtual Status Check(const NewEvent& event, StreamVersion version) = 0;
};

struct DomainSpec {
  // [a-z0-9_]+, e.g. "orders".
  std::string name;
  // The domain's read models, for Engine::Open.
  std::vector<ProjectionSpec> projections;
  // Topics whose events come only through the domain's commands. Raw appends to them are
  // refused: an event that breaks the domain's rules would stop its projections.
  std::vector<std::string> owned_topics;
  // A checker for `stream` (e.g. "order-6415"), or nullptr when the domain has no rules for
  // it. Empty: no checks.
  std::function<std::unique_ptr<StreamChecker>(std::string_view stream)> new_checker;

  // Whether `topic` is one of owned_topics.
  bool Owns(std::string_view topic) const {
    for (const std::string& t : owned_topics) {
      if (t == topic) return true;
    }
    return false;
  }
};

// The checker of the first of `domains` that has rules for `stream`, or nullptr.
inline std::unique_ptr<StreamChecker> NewStreamChecker(const std::vector<DomainSpec>& domains,
                                                       std::string_view stream) {
  for (const DomainSpec& d : domains) {
    if (!d.new_checker) continue;
    if (std::unique_ptr<StreamChecker> checker = d.new_checker(stream)) return checker;
  }
  return nullptr;
}

}  // namespace cairn
