// ISO-8601 formatting and parsing with the civil-date algorithms of Howard Hinnant
// (http://howardhinnant.github.io/date_algorithms.html), which are exact for every day.
#include "base/iso_time.h"

#include <cstdio>

namespace cairn::json {
namespace {

struct CivilDate {
  int64_t year;
  int month;  // 1..12
  int day;    // 1..31
};

int64_t DaysFromCivil(CivilDate date) {
  const int64_t y = date.year - (date.month <= 2 ? 1 : 0);
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t mp = (date.month + 9) % 12;
  const int64_t doy = (153 * mp + 2) / 5 + date.day - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

CivilDate CivilFromDays(int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return CivilDate{yoe + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

int DaysInMonth(int64_t year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDays[month - 1];
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// A cursor over the text being parsed.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}
  bool done() const { return pos_ == text_.size(); }
  bool Peek(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  bool Take(char c) {
    if (!Peek(c)) return false;
    ++pos_;
    return true;
  }
  // Reads exactly `count` digits into *out.
  bool Digits(int count, int64_t* out) {
    int64_t v = 0;
    for (int i = 0; i < count; ++i) {
      if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9') return false;
      v = v * 10 + (text_[pos_++] - '0');
    }
    *out = v;
    return true;
  }
  // Reads 1-9 digits of a fraction of a second as microseconds.
  bool Fraction(int64_t* micros) {
    int count = 0;
    int64_t v = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      if (++count > 9) return false;
      if (count <= 6) v = v * 10 + (text_[pos_] - '0');
      ++pos_;
    }
    for (int i = count; i < 6; ++i) v *= 10;
    *micros = v;
    return count > 0;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

// Parses an optional "Z", "±HH:MM" or "±HHMM" into seconds east of UTC.
bool ParseOffset(Scanner& in, int64_t* seconds) {
  *seconds = 0;
  if (in.done() || in.Take('Z') || in.Take('z')) return true;
  const int sign = in.Take('+') ? 1 : (in.Take('-') ? -1 : 0);
  int64_t hours, minutes;
  if (sign == 0 || !in.Digits(2, &hours)) return false;
  in.Take(':');
  if (!in.Digits(2, &minutes) || hours > 23 || minutes > 59) return false;
  *seconds = sign * (hours * 3600 + minutes * 60);
  return true;
}

}  // namespace

std::string FormatIsoTime(int64_t micros) {
  const int64_t days = FloorDiv(micros, kMicrosPerDay);
  const int64_t in_day = micros - days * kMicrosPerDay;
  const CivilDate date = CivilFromDays(days);
  const int64_t seconds = in_day / kMicrosPerSecond;
  if (date.year < 0 || date.year > 9999) {
    char buffer[96];
    std::snprintf(buffer, sizeof buffer, "%04lld-%02d-%02dT%02lld:%02lld:%02lld.%06lldZ",
                  static_cast<long long>(date.year), date.month, date.day,
                  static_cast<long long>(seconds / 3600), static_cast<long long>(seconds / 60 % 60),
                  static_cast<long long>(seconds % 60),
                  static_cast<long long>(in_day % kMicrosPerSecond));
    return buffer;
  }
  // The common case without snprintf, which was a visible share of rendering order views.
  std::string out = "0000-00-00T00:00:00.000000Z";
  const auto digits = [&out](size_t end, int64_t value, int count) {
    for (int i = 1; i <= count; ++i, value /= 10) {
      out[end - i] = static_cast<char>('0' + value % 10);
    }
  };
  digits(4, date.year, 4);
  digits(7, date.month, 2);
  digits(10, date.day, 2);
  digits(13, seconds / 3600, 2);
  digits(16, seconds / 60 % 60, 2);
  digits(19, seconds % 60, 2);
  digits(26, in_day % kMicrosPerSecond, 6);
  return out;
}

Result<ParsedTime> ParseIsoTime(std::string_view text, std::string_view field) {
  const auto invalid = [&] {
    return Status::InvalidArgument(
        std::string(field) + " must be an ISO-8601 date or time, e.g. 2026-11-01 or " +
            "2026-11-01T14:33:00Z",
        std::string(field));
  };
  Scanner in(text);
  int64_t year, month, day;
  if (!in.Digits(4, &year) || !in.Take('-') || !in.Digits(2, &month) || !in.Take('-') ||
      !in.Digits(2, &day)) {
    return invalid();
  }
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, static_cast<int>(month))) {
    return invalid();
  }
  const int64_t midnight =
      DaysFromCivil(CivilDate{year, static_cast<int>(month), static_cast<int>(day)}) *
      kMicrosPerDay;
  if (in.done()) return ParsedTime{midnight, true};

  int64_t hour, minute, second = 0, fraction = 0, offset = 0;
  if (!(in.Take('T') || in.Take('t')) || !in.Digits(2, &hour) || !in.Take(':') ||
      !in.Digits(2, &minute)) {
    return invalid();
  }
  if (in.Take(':')) {
    if (!in.Digits(2, &second)) return invalid();
    if (in.Take('.') && !in.Fraction(&fraction)) return invalid();
  }
  if (hour > 23 || minute > 59 || second > 59) return invalid();
  if (!ParseOffset(in, &offset) || !in.done()) return invalid();
  const int64_t seconds_of_day = hour * 3600 + minute * 60 + second - offset;
  return ParsedTime{midnight + seconds_of_day * kMicrosPerSecond + fraction, false};
}

int64_t DayOf(int64_t micros) { return FloorDiv(micros, kMicrosPerDay); }

}  // namespace cairn::json
