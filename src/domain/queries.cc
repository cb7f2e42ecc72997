// OrderQueries: the order queries, answered from the read models of OrderProjections() only.
// Key layouts in keys.h.
#include <algorithm>
#include <map>
#include <unordered_map>

#include "cairn/orders.h"
#include "domain/keys.h"
#include "domain/search_terms.h"
#include "base/bytes.h"
#include "base/iso_time.h"
#include "base/json_reader.h"
#include "base/json_writer.h"

namespace cairn {
namespace {

using namespace domain;

constexpr uint32_t kMaxPage = 1'000'000;
constexpr uint32_t kMaxLimit = 100;
constexpr size_t kMaxQueryBytes = 256;
constexpr size_t kMaxQueryTerms = 8;
// The days of the dashboard period `30d`; `all` charts as many.
constexpr int64_t kMonthDays = 30;

Status CheckPaging(uint32_t page, uint32_t limit) {
  if (page < 1 || page > kMaxPage) {
    return Status::InvalidArgument("page must be between 1 and 1000000", "page");
  }
  if (limit < 1 || limit > kMaxLimit) {
    return Status::InvalidArgument("limit must be between 1 and 100", "limit");
  }
  return Status::Ok();
}

// A number parameter of `min`..`max`, all digits.
Result<uint32_t> ParseBounded(std::string_view text, std::string_view field, uint32_t min,
                              uint32_t max) {
  const std::string message = std::string(field) + " must be an integer between " +
                              std::to_string(min) + " and " + std::to_string(max);
  if (text.empty() || text.size() > 9 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return Status::InvalidArgument(message, std::string(field));
  }
  const uint32_t value = static_cast<uint32_t>(std::stoul(std::string(text)));
  if (value < min || value > max) return Status::InvalidArgument(message, std::string(field));
  return value;
}

// A parameter that is absent or empty counts as not given.
bool Given(const std::optional<std::string>& param) { return param && !param->empty(); }

// The view JSON of each id, in order. An id without a view is skipped (a search index may run
// ahead of the views while both catch up).
Result<std::vector<std::string>> FetchViews(const ReadModel& orders,
                                            const std::vector<std::string>& ids) {
  std::vector<std::string> views;
  views.reserve(ids.size());
  for (const std::string& id : ids) {
    Result<std::optional<std::string>> view = orders.Get(kViews, id);
    if (!view.ok()) return view.status();
    if (view->has_value()) views.push_back(std::move(**view));
  }
  return views;
}

// Which index a list query scans, and the counter holding its size.
struct ListIndex {
  std::string_view table;
  std::string prefix;
  std::string count_key;
};

ListIndex ChooseIndex(const std::optional<std::string>& user,
                      const std::optional<OrderStatus>& status) {
  if (user && status) {
    return {kByUserStatus, UserStatusPrefix(*user, *status), CountUserStatus(*user, *status)};
  }
  if (user) return {kByUser, UserPrefix(*user), CountUser(*user)};
  if (status) return {kByStatus, StatusPrefix(*status), CountStatus(*status)};
  return {kByTime, "", CountAll()};
}

// Adds the counters of one "totals"/"days" entry to `figures`.
void AddFigure(std::string_view name, int64_t value, DashboardFigures& figures,
               std::map<std::string, int64_t>& revenue) {
  const auto count = static_cast<uint64_t>(std::max<int64_t>(value, 0));
  if (name == kStatOrders) {
    figures.orders += count;
  } else if (name == kStatPaid) {
    figures.paid_orders += count;
  } else if (name.starts_with(kStatStatusPrefix)) {
    Result<OrderStatus> status =
        ParseOrderStatus(name.substr(kStatStatusPrefix.size()), "status");
    if (status.ok()) figures.by_status[static_cast<int>(*status)] += count;
  } else if (name.starts_with(kStatRevenuePrefix)) {
    revenue[std::string(name.substr(kStatRevenuePrefix.size()))] += value;
  }
}

// Sums the counters of days [first_day, end_day), or of the totals when `all`.
Result<DashboardFigures> SumFigures(const ReadModel& stats, bool all, int64_t first_day,
                                    int64_t end_day) {
  DashboardFigures figures;
  std::map<std::string, int64_t> revenue;
  const std::string_view table = all ? kTotals : kDays;
  const std::string lower = all ? std::string() : DayKey(first_day);
  const std::string upper = all ? std::string() : DayKey(end_day);
  const size_t name_offset = all ? 0 : DayKey(0).size();
  CAIRN_RETURN_IF_ERROR(stats.Scan(table, lower, upper, [&](std::string_view key,
                                                            std::string_view value) {
    AddFigure(key.substr(name_offset), DecodeCounter(value), figures, revenue);
    return true;
  }));
  for (auto& [currency, amount] : revenue) {
    if (amount != 0) figures.revenue_by_currency.emplace_back(currency, amount);
  }
  return figures;
}

// The figures of each day of [first_day, end_day), oldest first.
Result<std::vector<DashboardDay>> DailyFigures(const ReadModel& stats, int64_t first_day,
                                               int64_t end_day) {
  std::vector<DashboardDay> days;
  for (int64_t day = first_day; day < end_day; ++day) {
    Result<DashboardFigures> figures = SumFigures(stats, false, day, day + 1);
    if (!figures.ok()) return figures.status();
    days.push_back({day, figures->orders, figures->Revenue(kDefaultCurrency)});
  }
  return days;
}

void WriteDays(json::JsonWriter& out, const std::vector<DashboardDay>& days) {
  out.Key("days").BeginArray();
  for (const DashboardDay& day : days) {
    const std::string date = json::FormatIsoTime(day.day * json::kMicrosPerDay).substr(0, 10);
    out.BeginObject().Key("date").String(date).Key("orders").Uint(day.orders);
    out.Key("revenue").Int(day.revenue).EndObject();
  }
  out.EndArray();
}

void WriteTrend(json::JsonWriter& out, std::string_view key, int64_t current,
                std::optional<int64_t> previous) {
  out.Key(key).BeginObject().Key("current").Int(current).Key("previous");
  if (previous) {
    out.Int(*previous);
  } else {
    out.Null();
  }
  out.Key("changePercent");
  if (previous && *previous != 0) {
    out.Fixed(100.0 * static_cast<double>(current - *previous) / static_cast<double>(*previous),
              1);
  } else {
    out.Null();
  }
  out.EndObject();
}

// The (created_at, user) of every order under `term` (exactly, or as a prefix).
using Postings = std::unordered_map<std::string, std::pair<int64_t, std::string>>;
Result<Postings> ReadPostings(const ReadModel& search, const std::string& term, bool prefix) {
  Postings postings;
  const std::string lower = prefix ? term : term + std::string(1, '\0');
  const std::string upper = prefix ? PrefixEnd(term) : term + std::string(1, '\x01');
  CAIRN_RETURN_IF_ERROR(search.Scan(kTerms, lower, upper, [&](std::string_view key,
                                                              std::string_view value) {
    const size_t separator = key.find('\0');
    if (separator == std::string_view::npos || value.size() < 8) return true;
    postings.emplace(std::string(key.substr(separator + 1)),
                     std::pair(static_cast<int64_t>(bytes::GetBigEndian64(value)),
                               std::string(value.substr(8))));
    return true;
  }));
  return postings;
}

// The distinct indexed terms that start with `prefix`, at most `max` (nullopt: more than that).
// Skips from one term to the next without reading their postings.
Result<std::optional<std::vector<std::string>>> TermsWithPrefix(const ReadModel& search,
                                                                 const std::string& prefix,
                                                                 size_t max) {
  std::vector<std::string> terms;
  const std::string upper = PrefixEnd(prefix);
  std::string from = prefix;
  for (;;) {
    std::optional<std::string> term;
    CAIRN_RETURN_IF_ERROR(search.Scan(kTerms, from, upper, [&](std::string_view key, std::string_view) {
      const size_t separator = key.find('\0');
      if (separator != std::string_view::npos) term = std::string(key.substr(0, separator));
      return false;
    }));
    if (!term) return std::optional<std::vector<std::string>>(std::move(terms));
    if (terms.size() == max) return std::optional<std::vector<std::string>>();
    from = *term + std::string(1, '\x01');  // past every posting of this term
    terms.push_back(std::move(*term));
  }
}

// Keeps the matches indexed under `term` (exactly, or as a prefix) by looking each one up,
// instead of reading the term's postings: a query's later terms ("keyboard", "seoul") can have
// postings on a large share of all orders while its first term narrowed them to a few.
// Returns false, changing nothing, when the prefix covers too many distinct terms for that.
Result<bool> FilterByLookup(const ReadModel& search, const std::string& term, bool prefix,
                            Postings* matches) {
  constexpr size_t kMaxPrefixTerms = 64;
  std::vector<std::string> terms = {term};
  if (prefix) {
    Result<std::optional<std::vector<std::string>>> expanded =
        TermsWithPrefix(search, term, kMaxPrefixTerms);
    if (!expanded.ok()) return expanded.status();
    if (!expanded->has_value()) return false;
    terms = std::move(**expanded);
  }
  Status failed;
  std::erase_if(*matches, [&](const auto& match) {
    for (const std::string& t : terms) {
      if (!failed.ok()) return false;
      Result<std::optional<std::string>> posting = search.Get(kTerms, TermKey(t, match.first));
      if (!posting.ok()) failed = posting.status();
      if (posting.ok() && posting->has_value()) return false;
    }
    return failed.ok();
  });
  if (!failed.ok()) return failed;
  return true;
}

}  // namespace

Result<ListQuery> ParseListQuery(const ListParams& params) {
  ListQuery query;
  if (Given(params.status)) {
    CAIRN_RETURN_IF_ERROR(json::Assign(ParseOrderStatus(*params.status, "status"), &query.status));
  }
  if (Given(params.date_from)) {
    Result<json::ParsedTime> from = json::ParseIsoTime(*params.date_from, "dateFrom");
    if (!from.ok()) return from.status();
    query.created_from_us = from->micros;
  }
  if (Given(params.date_to)) {
    Result<json::ParsedTime> to = json::ParseIsoTime(*params.date_to, "dateTo");
    if (!to.ok()) return to.status();
    // Inclusive for the user: a date covers its whole day, a time itself.
    query.created_to_us = to->micros + (to->date_only ? json::kMicrosPerDay : 1);
  }
  if (Given(params.user_id)) {
    if (params.user_id->size() > kMaxIdBytes) {
      return Status::InvalidArgument("userId must be at most 64 bytes", "userId");
    }
    query.user_id = *params.user_id;
  }
  if (Given(params.page)) {
    CAIRN_RETURN_IF_ERROR(json::Assign(ParseBounded(*params.page, "page", 1, kMaxPage),
                                       &query.page));
  }
  if (Given(params.limit)) {
    CAIRN_RETURN_IF_ERROR(json::Assign(ParseBounded(*params.limit, "limit", 1, kMaxLimit),
                                       &query.limit));
  }
  return query;
}

Result<DashboardPeriod> ParseDashboardPeriod(std::string_view text) {
  for (DashboardPeriod period : {DashboardPeriod::kToday, DashboardPeriod::k7Days,
                                 DashboardPeriod::k30Days, DashboardPeriod::kAll}) {
    if (DashboardPeriodName(period) == text) return period;
  }
  return Status::InvalidArgument("period must be one of today, 7d, 30d, all", "period");
}

std::string_view DashboardPeriodName(DashboardPeriod period) {
  switch (period) {
    case DashboardPeriod::kToday: return "today";
    case DashboardPeriod::k7Days: return "7d";
    case DashboardPeriod::k30Days: return "30d";
    case DashboardPeriod::kAll: return "all";
  }
  return "all";
}

int64_t DashboardFigures::Revenue(std::string_view currency) const {
  for (const auto& [code, amount] : revenue_by_currency) {
    if (code == currency) return amount;
  }
  return 0;
}

std::string OrderPage::ToJson() const {
  json::JsonWriter out;
  out.BeginObject().Key("orders").BeginArray();
  for (const std::string& view : orders) out.Raw(view);
  out.EndArray().Key("total").Uint(total).Key("page").Uint(page).Key("limit").Uint(limit);
  return out.EndObject().Take();
}

std::string SearchResults::ToJson() const {
  json::JsonWriter out;
  out.BeginObject().Key("results").BeginArray();
  for (const std::string& view : results) out.Raw(view);
  out.EndArray().Key("total").Uint(total);
  return out.EndObject().Take();
}

std::string Dashboard::ToJson() const {
  json::JsonWriter out;
  const int64_t revenue = current.Revenue(kDefaultCurrency);
  out.BeginObject().Key("total").Uint(current.orders).Key("byStatus").BeginObject();
  for (OrderStatus status : kAllOrderStatuses) {
    out.Key(OrderStatusName(status)).Uint(current.by_status[static_cast<int>(status)]);
  }
  out.EndObject()
      .Key("paidOrders").Uint(current.paid_orders)
      .Key("revenue").Int(revenue)
      .Key("currency").String(kDefaultCurrency)
      .Key("formattedRevenue").String(FormatMoney(revenue, kDefaultCurrency))
      .Key("revenueByCurrency").BeginObject();
  for (const auto& [code, amount] : current.revenue_by_currency) out.Key(code).Int(amount);
  out.EndObject().Key("period").BeginObject().Key("name").String(DashboardPeriodName(period));
  out.Key("from");
  if (from_us) {
    out.String(json::FormatIsoTime(*from_us));
  } else {
    out.Null();
  }
  out.Key("to").String(json::FormatIsoTime(to_us)).EndObject();
  out.Key("trends").BeginObject();
  WriteTrend(out, "orders", static_cast<int64_t>(current.orders),
             previous ? std::optional<int64_t>(previous->orders) : std::nullopt);
  WriteTrend(out, "revenue", revenue,
             previous ? std::optional<int64_t>(previous->Revenue(kDefaultCurrency)) : std::nullopt);
  out.EndObject();
  WriteDays(out, days);
  out.EndObject();
  return out.Take();
}

Result<std::shared_ptr<const ReadModel>> OrderQueries::Read(std::string_view projection) const {
  return source_(std::string(projection));
}

Result<std::string> OrderQueries::GetOrder(std::string_view order_id, const Actor& actor) const {
  CAIRN_RETURN_IF_ERROR(ValidateOrderId(order_id));
  Result<std::shared_ptr<const ReadModel>> orders = Read(kOrdersProjection);
  if (!orders.ok()) return orders.status();
  Result<std::optional<std::string>> view = (*orders)->Get(kViews, order_id);
  if (!view.ok()) return view.status();
  const Status not_found = Status::NotFound("order " + std::string(order_id) + " not found");
  if (!view->has_value()) return not_found;
  if (!actor.is_admin()) {
    Result<OrderView> parsed = ParseOrderView(**view);
    if (!parsed.ok()) return parsed.status();
    // Another user's order does not exist as far as this actor can tell.
    if (parsed->user_id != actor.user_id) return not_found;
  }
  return std::move(**view);
}

Result<OrderPage> OrderQueries::ListOrders(const ListQuery& query, const Actor& actor) const {
  CAIRN_RETURN_IF_ERROR(CheckPaging(query.page, query.limit));
  std::optional<std::string> user = query.user_id;
  if (!actor.is_admin()) {
    if (user && *user != actor.user_id) {
      return Status(ErrorCode::kPermissionDenied, "only an admin may list another user's orders",
                    "userId");
    }
    user = actor.user_id;
  }
  Result<std::shared_ptr<const ReadModel>> orders = Read(kOrdersProjection);
  if (!orders.ok()) return orders.status();
  const ReadModel& model = **orders;

  // Every filter is part of the scanned key range, so paging counts only matching orders.
  const ListIndex index = ChooseIndex(user, query.status);
  const bool by_date = query.created_from_us || query.created_to_us;
  OrderPage page;
  page.page = query.page;
  page.limit = query.limit;
  if (query.created_to_us && *query.created_to_us == INT64_MIN) return page;
  const std::string lower =
      index.prefix + (query.created_to_us ? NewestFirst(*query.created_to_us - 1) : "");
  const std::string upper =
      PrefixEnd(index.prefix + (query.created_from_us ? NewestFirst(*query.created_from_us) : ""));
  if (query.created_from_us && query.created_to_us &&
      *query.created_from_us >= *query.created_to_us) {
    return page;
  }

  const uint64_t skip = uint64_t{query.page - 1} * query.limit;
  uint64_t seen = 0;
  std::vector<std::string> ids;
  CAIRN_RETURN_IF_ERROR(model.Scan(index.table, lower, upper, [&](std::string_view key,
                                                                  std::string_view) {
    if (seen >= skip && ids.size() < query.limit) {
      ids.emplace_back(IndexKeyOrderId(key, index.prefix.size()));
    }
    ++seen;
    // Without a date range the total is a counter: stop once the page is full.
    return by_date || ids.size() < query.limit;
  }));
  if (by_date) {
    page.total = seen;
  } else {
    Result<int64_t> total = model.GetCounter(kCounts, index.count_key);
    if (!total.ok()) return total.status();
    page.total = static_cast<uint64_t>(std::max<int64_t>(*total, 0));
  }
  Result<std::vector<std::string>> views = FetchViews(model, ids);
  if (!views.ok()) return views.status();
  page.orders = std::move(views).value();
  return page;
}

Result<Dashboard> OrderQueries::GetDashboard(DashboardPeriod period, int64_t now_us,
                                             const Actor& actor) const {
  if (!actor.is_admin()) {
    return Status(ErrorCode::kPermissionDenied, "only an admin may see the dashboard");
  }
  Result<std::shared_ptr<const ReadModel>> stats = Read(kOrderStatsProjection);
  if (!stats.ok()) return stats.status();
  Dashboard dashboard;
  dashboard.period = period;
  const int64_t end_day = json::DayOf(now_us) + 1;
  dashboard.to_us = end_day * json::kMicrosPerDay;
  const int64_t days = period == DashboardPeriod::kToday ? 1
                       : period == DashboardPeriod::k7Days ? 7
                                                           : kMonthDays;
  Result<std::vector<DashboardDay>> daily = DailyFigures(**stats, end_day - days, end_day);
  if (!daily.ok()) return daily.status();
  dashboard.days = std::move(daily).value();
  if (period == DashboardPeriod::kAll) {
    Result<DashboardFigures> all = SumFigures(**stats, true, 0, 0);
    if (!all.ok()) return all.status();
    dashboard.current = std::move(all).value();
    return dashboard;
  }
  dashboard.from_us = (end_day - days) * json::kMicrosPerDay;
  Result<DashboardFigures> current = SumFigures(**stats, false, end_day - days, end_day);
  if (!current.ok()) return current.status();
  Result<DashboardFigures> previous =
      SumFigures(**stats, false, end_day - 2 * days, end_day - days);
  if (!previous.ok()) return previous.status();
  dashboard.current = std::move(current).value();
  dashboard.previous = std::move(previous).value();
  return dashboard;
}

Result<SearchResults> OrderQueries::Search(std::string_view q, uint32_t limit,
                                           const Actor& actor) const {
  if (q.size() > kMaxQueryBytes) {
    return Status::InvalidArgument("q must be at most 256 bytes", "q");
  }
  const std::vector<std::string> terms = QueryTerms(q);
  if (terms.empty()) return Status::InvalidArgument("q must contain a word to search for", "q");
  if (terms.size() > kMaxQueryTerms) {
    return Status::InvalidArgument("q must have at most 8 words", "q");
  }
  if (limit < 1 || limit > kMaxLimit) {
    return Status::InvalidArgument("limit must be between 1 and 100", "limit");
  }
  Result<std::shared_ptr<const ReadModel>> search = Read(kOrderSearchProjection);
  if (!search.ok()) return search.status();

  // Orders under every term: the last term as a prefix, the others exactly.
  // The first term's postings, then each later term either looked up per match (few matches
  // left) or intersected with its postings.
  constexpr size_t kMaxLookups = 2'000;
  Postings matches;
  for (size_t i = 0; i < terms.size(); ++i) {
    const bool prefix = i + 1 == terms.size();
    if (i > 0 && matches.size() <= kMaxLookups) {
      Result<bool> filtered = FilterByLookup(**search, terms[i], prefix, &matches);
      if (!filtered.ok()) return filtered.status();
      if (*filtered) {
        if (matches.empty()) break;
        continue;
      }
    }
    Result<Postings> postings = ReadPostings(**search, terms[i], prefix);
    if (!postings.ok()) return postings.status();
    if (i == 0) {
      matches = std::move(postings).value();
    } else {
      std::erase_if(matches, [&](const auto& m) { return !postings->contains(m.first); });
    }
    if (matches.empty()) break;
  }
  // (created_at, id) of each match the actor may see, newest first.
  std::vector<std::pair<int64_t, std::string>> visible;
  for (const auto& [id, info] : matches) {
    if (actor.is_admin() || info.second == actor.user_id) visible.emplace_back(info.first, id);
  }
  std::sort(visible.begin(), visible.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });

  SearchResults results;
  results.total = visible.size();
  std::vector<std::string> ids;
  for (size_t i = 0; i < visible.size() && i < limit; ++i) ids.push_back(visible[i].second);
  Result<std::shared_ptr<const ReadModel>> orders = Read(kOrdersProjection);
  if (!orders.ok()) return orders.status();
  Result<std::vector<std::string>> views = FetchViews(**orders, ids);
  if (!views.ok()) return views.status();
  results.results = std::move(views).value();
  return results;
}

}  // namespace cairn
