// OrderQueries over a live Engine. Separate from queries.cc so code that answers queries from
// another ReadModelSource (the tests) does not need the engine linked in.
#include "cairn/engine.h"
#include "cairn/orders/queries.h"

namespace cairn {

OrderQueries::OrderQueries(const Engine& engine)
    : source_([&engine](const std::string& projection) { return engine.Read(projection); }) {}

}  // namespace cairn
