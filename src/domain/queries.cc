// OrderQueries: the order queries, answered from the read models of OrderProjections() only.
// Key layouts in keys.h.
#include <algorithm>
#include <map>
#include <unordered_map>

#include "cairn/orders/commands.h"
#include "cairn/orders/queries.h"
#include "cairn/orders/views.h"
#include "domain/keys.h"
#include "domain/search_terms.h"
#include "base/bytes.h"
#include "base/iso_time.h"

namespace cairn {
namespace {

using namespace domain;

constexpr size_t kMaxQueryBytes = 256;
constexpr size_t kMaxQueryTerms = 8;
// The days of the dashboard period `30d`; `all` charts as many.
constexpr int64_t kMonthDays = 30;

Status CheckPaging(uint32_t page, uint32_t limit) {
  if (page < 1 || page > kMaxListPage) {
    return Status::InvalidArgument("page must be between 1 and 1000000", "page");
  }
  if (limit < 1 || limit > kMaxQueryLimit) {
    return Status::InvalidArgument("limit must be between 1 and 100", "limit");
  }
  return Status::Ok();
}

// The view JSON of each id, in order. An id without a view is skipped (a search index may run
// ahead of the views while both catch up).
Result<std::vector<std::string>> FetchViews(const ReadModel& orders,
                                            const std::vector<std::string>& ids) {
  std::vector<std::string> views;
  views.reserve(ids.size());
  for (const std::string& id : ids) {
    CAIRN_ASSIGN_OR_RETURN(std::optional<std::string> view, orders.Get(kViews, id));
    if (view.has_value()) views.push_back(std::move(*view));
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
    CAIRN_ASSIGN_OR_RETURN(const DashboardFigures figures, SumFigures(stats, false, day, day + 1));
    days.push_back({day, figures.orders, figures.Revenue(kDefaultCurrency)});
  }
  return days;
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
    CAIRN_ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> expanded,
                           TermsWithPrefix(search, term, kMaxPrefixTerms));
    if (!expanded.has_value()) return false;
    terms = std::move(*expanded);
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

// The user whose orders a list shows: for an admin the one named, if any (nullopt: everyone);
// for anyone else itself, and naming another user is kPermissionDenied.
Result<std::optional<std::string>> ListedUser(const ListQuery& query, const Actor& actor) {
  if (actor.is_admin()) return query.user_id;
  if (query.user_id && *query.user_id != actor.user_id) {
    return Status(ErrorCode::kPermissionDenied, "only an admin may list another user's orders",
                  "userId");
  }
  return std::optional<std::string>(actor.user_id);
}

// [lower, upper) of `index` holding the orders created within the query's dates, newest first;
// nullopt when no order can be in it.
std::optional<std::pair<std::string, std::string>> DateRange(const ListIndex& index,
                                                             const ListQuery& query) {
  const std::optional<int64_t>& from = query.created_from_us;
  const std::optional<int64_t>& to = query.created_to_us;
  if ((to && *to == INT64_MIN) || (from && to && *from >= *to)) return std::nullopt;
  return std::pair(index.prefix + (to ? NewestFirst(*to - 1) : ""),
                   PrefixEnd(index.prefix + (from ? NewestFirst(*from) : "")));
}

// The order ids on the query's page of `range`, and how many entries the scan passed: every
// entry of the range when `count_all`, else it stops once the page is full.
struct PageScan {
  std::vector<std::string> ids;
  uint64_t seen = 0;
};
Result<PageScan> ScanPage(const ReadModel& model, const ListIndex& index,
                          const std::pair<std::string, std::string>& range,
                          const ListQuery& query, bool count_all) {
  const uint64_t skip = uint64_t{query.page - 1} * query.limit;
  PageScan scan;
  CAIRN_RETURN_IF_ERROR(model.Scan(index.table, range.first, range.second,
                                   [&](std::string_view key, std::string_view) {
    if (scan.seen >= skip && scan.ids.size() < query.limit) {
      scan.ids.emplace_back(IndexKeyOrderId(key, index.prefix.size()));
    }
    ++scan.seen;
    return count_all || scan.ids.size() < query.limit;
  }));
  return scan;
}

// The orders under every term of a search: the last term as a prefix, the others exactly. The
// first term's postings, then each later term either looked up per match (few matches left) or
// intersected with its postings.
Result<Postings> MatchEveryTerm(const ReadModel& search, const std::vector<std::string>& terms) {
  constexpr size_t kMaxLookups = 2'000;
  Postings matches;
  for (size_t i = 0; i < terms.size(); ++i) {
    const bool prefix = i + 1 == terms.size();
    if (i > 0 && matches.size() <= kMaxLookups) {
      CAIRN_ASSIGN_OR_RETURN(bool filtered, FilterByLookup(search, terms[i], prefix, &matches));
      if (filtered) {
        if (matches.empty()) break;
        continue;
      }
    }
    CAIRN_ASSIGN_OR_RETURN(Postings postings, ReadPostings(search, terms[i], prefix));
    if (i == 0) {
      matches = std::move(postings);
    } else {
      std::erase_if(matches, [&](const auto& m) { return !postings.contains(m.first); });
    }
    if (matches.empty()) break;
  }
  return matches;
}

// The ids of the matches the actor may see, newest first (ties by id).
std::vector<std::string> VisibleNewestFirst(const Postings& matches, const Actor& actor) {
  std::vector<std::pair<int64_t, std::string>> visible;  // (created_at, id)
  for (const auto& [id, info] : matches) {
    if (actor.is_admin() || info.second == actor.user_id) visible.emplace_back(info.first, id);
  }
  std::sort(visible.begin(), visible.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<std::string> ids;
  ids.reserve(visible.size());
  for (auto& [created_at, id] : visible) ids.push_back(std::move(id));
  return ids;
}

}  // namespace

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

Result<std::shared_ptr<const ReadModel>> OrderQueries::Read(std::string_view projection) const {
  return source_(std::string(projection));
}

Result<std::string> OrderQueries::GetOrder(std::string_view order_id, const Actor& actor) const {
  CAIRN_RETURN_IF_ERROR(ValidateOrderId(order_id));
  CAIRN_ASSIGN_OR_RETURN(std::shared_ptr<const ReadModel> orders, Read(kOrdersProjection));
  CAIRN_ASSIGN_OR_RETURN(std::optional<std::string> view, orders->Get(kViews, order_id));
  const Status not_found = Status::NotFound("order " + std::string(order_id) + " not found");
  if (!view.has_value()) return not_found;
  if (!actor.is_admin()) {
    CAIRN_ASSIGN_OR_RETURN(OrderView parsed, ParseOrderView(*view));
    // Another user's order does not exist as far as this actor can tell.
    if (parsed.user_id != actor.user_id) return not_found;
  }
  return std::move(*view);
}

Result<OrderPage> OrderQueries::ListOrders(const ListQuery& query, const Actor& actor) const {
  CAIRN_RETURN_IF_ERROR(CheckPaging(query.page, query.limit));
  CAIRN_ASSIGN_OR_RETURN(std::optional<std::string> user, ListedUser(query, actor));
  CAIRN_ASSIGN_OR_RETURN(std::shared_ptr<const ReadModel> orders, Read(kOrdersProjection));
  OrderPage page;
  page.page = query.page;
  page.limit = query.limit;
  // Every filter is part of the scanned key range, so paging counts only matching orders.
  const ListIndex index = ChooseIndex(user, query.status);
  const std::optional<std::pair<std::string, std::string>> range = DateRange(index, query);
  if (!range) return page;
  // Without a date range the total is a counter, and the scan stops once the page is full.
  const bool by_date = query.created_from_us || query.created_to_us;
  CAIRN_ASSIGN_OR_RETURN(PageScan scan, ScanPage(*orders, index, *range, query, by_date));
  if (by_date) {
    page.total = scan.seen;
  } else {
    CAIRN_ASSIGN_OR_RETURN(int64_t total, orders->GetCounter(kCounts, index.count_key));
    page.total = static_cast<uint64_t>(std::max<int64_t>(total, 0));
  }
  CAIRN_ASSIGN_OR_RETURN(page.orders, FetchViews(*orders, scan.ids));
  return page;
}

Result<Dashboard> OrderQueries::GetDashboard(DashboardPeriod period, int64_t now_us,
                                             const Actor& actor) const {
  if (!actor.is_admin()) {
    return Status(ErrorCode::kPermissionDenied, "only an admin may see the dashboard");
  }
  CAIRN_ASSIGN_OR_RETURN(std::shared_ptr<const ReadModel> stats, Read(kOrderStatsProjection));
  Dashboard dashboard;
  dashboard.period = period;
  const int64_t end_day = json::DayOf(now_us) + 1;
  dashboard.to_us = end_day * json::kMicrosPerDay;
  const int64_t days = period == DashboardPeriod::kToday ? 1
                       : period == DashboardPeriod::k7Days ? 7
                                                           : kMonthDays;
  CAIRN_ASSIGN_OR_RETURN(dashboard.days, DailyFigures(*stats, end_day - days, end_day));
  if (period == DashboardPeriod::kAll) {
    CAIRN_ASSIGN_OR_RETURN(dashboard.current, SumFigures(*stats, true, 0, 0));
    return dashboard;
  }
  dashboard.from_us = (end_day - days) * json::kMicrosPerDay;
  CAIRN_ASSIGN_OR_RETURN(dashboard.current,
                         SumFigures(*stats, false, end_day - days, end_day));
  CAIRN_ASSIGN_OR_RETURN(dashboard.previous,
                         SumFigures(*stats, false, end_day - 2 * days, end_day - days));
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
  if (limit < 1 || limit > kMaxQueryLimit) {
    return Status::InvalidArgument("limit must be between 1 and 100", "limit");
  }
  CAIRN_ASSIGN_OR_RETURN(std::shared_ptr<const ReadModel> search, Read(kOrderSearchProjection));
  CAIRN_ASSIGN_OR_RETURN(Postings matches, MatchEveryTerm(*search, terms));
  std::vector<std::string> ids = VisibleNewestFirst(matches, actor);
  SearchResults results;
  results.total = ids.size();
  if (ids.size() > limit) ids.resize(limit);
  CAIRN_ASSIGN_OR_RETURN(std::shared_ptr<const ReadModel> orders, Read(kOrdersProjection));
  CAIRN_ASSIGN_OR_RETURN(results.results, FetchViews(*orders, ids));
  return results;
}

}  // namespace cairn
