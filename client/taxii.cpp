// The TAXII 2.1 resources of the local endpoint (taxii.hpp).
#include "client/taxii.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <ctime>
#include <set>
#include <tuple>

namespace focal::client::taxii {

namespace {

using nlohmann::json;

// One item's place in date_added order: what `next` names.
using SortKey = std::tuple<std::int64_t, std::string, std::size_t>;
SortKey keyOf(const Content::Item& i) { return {i.addedUs, i.bulletinId, i.index}; }

std::string cursorOf(const Content::Item& i) { return fmt::format("{}.{}.{}", i.addedUs, i.bulletinId, i.index); }

std::optional<SortKey> parseCursor(std::string_view text) {
  const auto a = text.find('.');
  const auto b = a == std::string_view::npos ? a : text.find('.', a + 1);
  if (b == std::string_view::npos) return std::nullopt;
  std::int64_t us = 0;
  std::size_t index = 0;
  const auto first = text.substr(0, a), bulletin = text.substr(a + 1, b - a - 1), last = text.substr(b + 1);
  if (std::from_chars(first.data(), first.data() + first.size(), us).ptr != first.data() + first.size() ||
      std::from_chars(last.data(), last.data() + last.size(), index).ptr != last.data() + last.size() ||
      first.empty() || last.empty() || bulletin.size() != 32 ||
      bulletin.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    return std::nullopt;
  }
  return SortKey{us, std::string(bulletin), index};
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decoding of a query component ('+' is a space); nullopt when an
// escape is malformed.
std::optional<std::string> percentDecode(std::string_view s, bool plusIsSpace) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      const int hi = hexValue(s[i + 1]), lo = hexValue(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (s[i] == '+' && plusIsSpace) {
      out += ' ';
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<std::string> splitOn(std::string_view s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= s.size()) {
    const auto end = std::min(s.find(sep, start), s.size());
    out.emplace_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

Response jsonResponse(const json& body, unsigned status = 200) {
  Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

// The query of an objects, manifest or versions request.
struct Query {
  std::optional<std::int64_t> addedAfterUs;
  std::size_t limit = DefaultPageItems;
  std::optional<SortKey> next;
  std::vector<std::string> types, ids, versions, specVersions;
};

// nullopt (and `error` set) when a parameter this endpoint knows is
// malformed; parameters it does not know are ignored (TAXII 2.1 §3.4).
std::optional<Query> parseQuery(std::string_view query, std::string& error) {
  Query q;
  if (query.empty()) return q;
  for (const auto& pair : splitOn(query, '&')) {
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    const auto name = percentDecode(std::string_view(pair).substr(0, eq), true);
    const auto value = percentDecode(eq == std::string::npos ? std::string_view() : std::string_view(pair).substr(eq + 1), true);
    if (!name || !value) {
      error = "a query parameter has a malformed percent escape";
      return std::nullopt;
    }
    const auto values = [&] {
      std::vector<std::string> out;
      for (auto& v : splitOn(*value, ',')) {
        if (auto t = trim(v); !t.empty()) out.push_back(std::move(t));
      }
      return out;
    };
    if (*name == "added_after") {
      q.addedAfterUs = parseTimestampMicros(*value);
      if (!q.addedAfterUs) {
        error = "added_after must be an RFC 3339 timestamp (2026-12-07T10:00:00.000Z)";
        return std::nullopt;
      }
    } else if (*name == "limit") {
      std::size_t n = 0;
      const auto* end = value->data() + value->size();
      if (value->empty() || std::from_chars(value->data(), end, n).ptr != end || n == 0) {
        error = "limit must be a positive whole number";
        return std::nullopt;
      }
      q.limit = std::min(n, MaxPageItems);
    } else if (*name == "next") {
      q.next = parseCursor(*value);
      if (!q.next) {
        error = "next is not a value this server gave";
        return std::nullopt;
      }
    } else if (*name == "match[type]") {
      for (auto& v : values()) q.types.push_back(std::move(v));
    } else if (*name == "match[id]") {
      for (auto& v : values()) q.ids.push_back(std::move(v));
    } else if (*name == "match[version]") {
      for (auto& v : values()) {
        if (v != "first" && v != "last" && v != "all" && !parseTimestampMicros(v)) {
          error = "match[version] takes first, last, all or RFC 3339 timestamps";
          return std::nullopt;
        }
        q.versions.push_back(std::move(v));
      }
    } else if (*name == "match[spec_version]") {
      for (auto& v : values()) q.specVersions.push_back(std::move(v));
    }
  }
  return q;
}

struct Page {
  std::vector<const Content::Item*> items;
  bool more = false;
};

// The items of `all` the query selects, in date_added order, one page of
// them. `versionFilter`: whether match[version] applies (default `last`).
Page select(const std::vector<Content::Item>& all, const Query& q, std::optional<std::string_view> onlyId,
            bool versionFilter) {
  auto in = [](const std::vector<std::string>& set, const std::string& v) {
    return set.empty() || std::find(set.begin(), set.end(), v) != set.end();
  };
  std::vector<const Content::Item*> candidates;
  std::map<std::string_view, std::pair<std::int64_t, std::int64_t>> span;  // id -> first, last version
  for (const auto& item : all) {
    if (onlyId && item.id != *onlyId) continue;
    if (!in(q.types, item.type) || !in(q.ids, item.id)) continue;
    const auto spec = item.object.contains("spec_version") && item.object["spec_version"].is_string()
                          ? item.object["spec_version"].get<std::string>()
                          : std::string("2.1");
    if (!in(q.specVersions, spec)) continue;
    candidates.push_back(&item);
    auto [it, fresh] = span.try_emplace(item.id, item.versionUs, item.versionUs);
    if (!fresh) {
      it->second.first = std::min(it->second.first, item.versionUs);
      it->second.second = std::max(it->second.second, item.versionUs);
    }
  }
  const std::vector<std::string> defaultVersions{"last"};
  const auto& versions = q.versions.empty() ? defaultVersions : q.versions;
  Page page;
  for (const auto* item : candidates) {
    if (versionFilter) {
      const auto first = span[item->id].first, last = span[item->id].second;
      const bool wanted = std::any_of(versions.begin(), versions.end(), [&](const std::string& v) {
        if (v == "all") return true;
        if (v == "last") return item->versionUs == last;
        if (v == "first") return item->versionUs == first;
        return parseTimestampMicros(v) == item->versionUs;
      });
      if (!wanted) continue;
    }
    if (q.addedAfterUs && item->addedUs <= *q.addedAfterUs) continue;
    if (q.next && !(keyOf(*item) > *q.next)) continue;
    if (page.items.size() == q.limit) {
      page.more = true;
      break;
    }
    page.items.push_back(item);
  }
  return page;
}

// more, next (when there is more), and the date_added headers.
void finishPage(Response& r, json& body, const Page& page) {
  body["more"] = page.more;
  if (page.more) body["next"] = cursorOf(*page.items.back());
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  if (!page.items.empty()) {
    r.headers.emplace_back("X-TAXII-Date-Added-First", formatMicros(page.items.front()->addedUs));
    r.headers.emplace_back("X-TAXII-Date-Added-Last", formatMicros(page.items.back()->addedUs));
  }
}

}  // namespace

std::vector<CollectionInfo> collectionsFor(bool includeRed) {
  std::vector<CollectionInfo> out{
      {"ef5c9f90-65d0-4918-ad95-0e7f3cf22ef3", "CLEAR", "Focal TLP:CLEAR", "Bulletins marked TLP:CLEAR"},
      {"0444c7cc-ebbc-4438-af69-cd86bca8bdc9", "GREEN", "Focal TLP:GREEN", "Bulletins marked TLP:GREEN"},
      {"7787da32-b713-4f66-8430-1708ba04df18", "AMBER", "Focal TLP:AMBER", "Bulletins marked TLP:AMBER"},
      {"ccb60a20-bbed-4135-819d-54b28cbcafe4", "AMBER+STRICT", "Focal TLP:AMBER+STRICT",
       "Bulletins marked TLP:AMBER+STRICT"},
  };
  if (includeRed) {
    out.push_back({"13411eb7-907a-48c0-a059-14d676bc122b", "RED", "Focal TLP:RED",
                   "Bulletins marked TLP:RED: for the named recipients only"});
  }
  return out;
}

std::string formatMicros(std::int64_t unixMicros) {
  const std::time_t secs = static_cast<std::time_t>(unixMicros / 1'000'000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, unixMicros % 1'000'000);
}

std::optional<std::int64_t> parseTimestampMicros(std::string_view t) {
  auto digits = [&](std::size_t at, std::size_t n) -> std::optional<int> {
    if (at + n > t.size()) return std::nullopt;
    int v = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return std::nullopt;
      v = v * 10 + (t[i] - '0');
    }
    return v;
  };
  const auto year = digits(0, 4), month = digits(5, 2), day = digits(8, 2), hour = digits(11, 2),
             minute = digits(14, 2), second = digits(17, 2);
  if (!year || !month || !day || !hour || !minute || !second || t[4] != '-' || t[7] != '-' ||
      (t[10] != 'T' && t[10] != 't') || t[13] != ':' || t[16] != ':' || *month < 1 || *month > 12 || *day < 1 ||
      *day > 31 || *hour > 23 || *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  std::size_t at = 19;
  std::int64_t micros = 0;
  if (at < t.size() && t[at] == '.') {
    ++at;
    std::size_t n = 0;
    while (at < t.size() && t[at] >= '0' && t[at] <= '9') {
      if (n < 6) micros = micros * 10 + (t[at] - '0');
      ++n;
      ++at;
    }
    if (n == 0) return std::nullopt;
    for (; n < 6; ++n) micros *= 10;
  }
  std::int64_t offsetSeconds = 0;
  if (at < t.size() && (t[at] == 'Z' || t[at] == 'z')) {
    ++at;
  } else if (at < t.size() && (t[at] == '+' || t[at] == '-')) {
    const auto oh = digits(at + 1, 2), om = digits(at + 4, 2);
    if (!oh || !om || at + 3 >= t.size() || t[at + 3] != ':' || *oh > 23 || *om > 59) return std::nullopt;
    offsetSeconds = (t[at] == '+' ? 1 : -1) * (*oh * 3600 + *om * 60);
    at += 6;
  } else {
    return std::nullopt;
  }
  if (at != t.size()) return std::nullopt;
  std::tm tm{};
  tm.tm_year = *year - 1900;
  tm.tm_mon = *month - 1;
  tm.tm_mday = *day;
  tm.tm_hour = *hour;
  tm.tm_min = *minute;
  tm.tm_sec = *second;
  const auto secs = static_cast<std::int64_t>(::timegm(&tm)) - offsetSeconds;
  return secs * 1'000'000 + micros;
}

Content::Content(const std::vector<CollectionInfo>& collections, const std::vector<BulletinObjects>& bulletins)
    : bulletins_(bulletins.size()) {
  for (const auto& c : collections) {
    std::vector<Item> items;
    for (const auto& b : bulletins) {
      if (b.tlp != c.tlp) continue;
      for (std::size_t i = 0; i < b.objects.size(); ++i) {
        const auto& o = b.objects[i];
        if (!o.is_object() || !o.contains("id") || !o["id"].is_string() || !o.contains("type") ||
            !o["type"].is_string()) {
          continue;
        }
        Item item;
        item.object = o;
        item.id = o["id"].get<std::string>();
        item.type = o["type"].get<std::string>();
        item.addedUs = b.addedAtMs * 1000 + static_cast<std::int64_t>(std::min<std::size_t>(i, 999));
        item.bulletinId = b.bulletinId;
        item.index = i;
        for (const char* field : {"modified", "created"}) {
          if (!o.contains(field) || !o[field].is_string()) continue;
          if (auto us = parseTimestampMicros(o[field].get<std::string>())) {
            item.version = o[field].get<std::string>();
            item.versionUs = *us;
            break;
          }
        }
        if (item.version.empty()) {
          item.version = formatMicros(item.addedUs);
          item.versionUs = item.addedUs;
        }
        items.push_back(std::move(item));
      }
    }
    std::sort(items.begin(), items.end(), [](const Item& x, const Item& y) { return keyOf(x) < keyOf(y); });
    // One copy of each version of an object: the first bulletin's.
    std::set<std::pair<std::string, std::int64_t>> seen;
    std::vector<Item> unique;
    for (auto& item : items) {
      if (seen.emplace(item.id, item.versionUs).second) unique.push_back(std::move(item));
    }
    byCollection_.emplace(c.id, std::move(unique));
  }
}

const std::vector<Content::Item>* Content::items(std::string_view collectionId) const {
  const auto it = byCollection_.find(collectionId);
  return it == byCollection_.end() ? nullptr : &it->second;
}

Response errorResponse(unsigned status, std::string_view title, std::string_view description) {
  return jsonResponse({{"title", title}, {"description", description}, {"http_status", std::to_string(status)}},
                      status);
}

bool acceptsTaxii(std::optional<std::string_view> accept) {
  if (!accept) return true;
  for (const auto& range : splitOn(*accept, ',')) {
    const auto parts = splitOn(range, ';');
    const auto type = lower(trim(parts.front()));
    if (type == "*/*" || type == "application/*") return true;
    if (type != "application/taxii+json") continue;
    bool versionOk = true;
    for (std::size_t i = 1; i < parts.size(); ++i) {
      const auto param = trim(parts[i]);
      const auto eq = param.find('=');
      if (eq == std::string::npos) continue;
      const auto name = lower(trim(std::string_view(param).substr(0, eq)));
      auto value = trim(std::string_view(param).substr(eq + 1));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
      if (name == "version" && value != "2.1") versionOk = false;
      if (name == "q" && (value == "0" || value == "0.0" || value == "0.00" || value == "0.000")) versionOk = false;
    }
    if (versionOk) return true;
  }
  return false;
}

Router::Router(std::string baseUrl, std::string title, std::vector<CollectionInfo> collections)
    : baseUrl_(std::move(baseUrl)), title_(std::move(title)), collections_(std::move(collections)) {}

Response Router::discovery() const {
  const auto root = baseUrl_ + std::string(ApiRootPath);
  return jsonResponse({{"title", title_},
                       {"description", "Bulletins this member received and verified, decrypted locally by Focal"},
                       {"default", root},
                       {"api_roots", json::array({root})}});
}

Response Router::apiRoot() const {
  return jsonResponse({{"title", title_},
                       {"description", "One collection per TLP level; read-only"},
                       {"versions", json::array({TaxiiMediaType})},
                       {"max_content_length", 0}});
}

nlohmann::json Router::collectionJson(const CollectionInfo& c) const {
  return {{"id", c.id},
          {"title", c.title},
          {"description", c.description},
          {"can_read", true},
          {"can_write", false},
          {"media_types", json::array({StixMediaType})}};
}

Response Router::collectionList() const {
  json list = json::array();
  for (const auto& c : collections_) list.push_back(collectionJson(c));
  return jsonResponse({{"collections", list}});
}

const CollectionInfo* Router::findCollection(std::string_view id) const {
  for (const auto& c : collections_) {
    if (c.id == id) return &c;
  }
  return nullptr;
}

Response Router::get(std::string_view target, std::optional<std::string_view> accept, const Content& content) const {
  if (!acceptsTaxii(accept)) {
    return errorResponse(406, "Not Acceptable",
                         fmt::format("this endpoint answers only in {} (the Accept header asks for another type)",
                                     TaxiiMediaType));
  }
  const auto question = target.find('?');
  const auto rawPath = target.substr(0, question);
  const auto rawQuery = question == std::string_view::npos ? std::string_view() : target.substr(question + 1);
  std::vector<std::string> segments;
  for (const auto& s : splitOn(rawPath, '/')) {
    if (s.empty()) continue;
    auto decoded = percentDecode(s, false);
    if (!decoded) return errorResponse(400, "Bad Request", "the path has a malformed percent escape");
    segments.push_back(std::move(*decoded));
  }
  const std::string root(ApiRootPath.substr(1, ApiRootPath.size() - 2));
  const auto notFound = [&] { return errorResponse(404, "Not Found", "no such TAXII resource here"); };
  if (segments.size() == 1 && segments[0] == "taxii2") return discovery();
  if (segments.empty() || segments[0] != root) return notFound();
  if (segments.size() == 1) return apiRoot();
  if (segments[1] == "status") {
    return errorResponse(404, "Not Found", "this endpoint is read-only: it has no status resources");
  }
  if (segments[1] != "collections") return notFound();
  if (segments.size() == 2) return collectionList();
  const auto* collection = findCollection(segments[2]);
  const auto* items = collection ? content.items(collection->id) : nullptr;
  if (collection == nullptr) {
    return errorResponse(404, "Not Found", "no such collection (GET " + std::string(ApiRootPath) + "collections/)");
  }
  if (segments.size() == 3) return jsonResponse(collectionJson(*collection));
  static const std::vector<Content::Item> none;
  const auto& all = items ? *items : none;
  std::string error;
  const auto q = parseQuery(rawQuery, error);
  if (!q) return errorResponse(400, "Bad Request", error);
  const auto& what = segments[3];
  Response r;
  if (segments.size() == 4 && what == "objects") {
    const auto page = select(all, *q, std::nullopt, true);
    json body{{"objects", json::array()}};
    for (const auto* i : page.items) body["objects"].push_back(i->object);
    finishPage(r, body, page);
    return r;
  }
  if (segments.size() == 4 && what == "manifest") {
    const auto page = select(all, *q, std::nullopt, true);
    json body{{"objects", json::array()}};
    for (const auto* i : page.items) {
      body["objects"].push_back({{"id", i->id},
                                 {"date_added", formatMicros(i->addedUs)},
                                 {"version", i->version},
                                 {"media_type", StixMediaType}});
    }
    finishPage(r, body, page);
    return r;
  }
  if (what != "objects" || segments.size() < 5 || segments.size() > 6 ||
      (segments.size() == 6 && segments[5] != "versions")) {
    return notFound();
  }
  const std::string_view objectId = segments[4];
  if (std::none_of(all.begin(), all.end(), [&](const Content::Item& i) { return i.id == objectId; })) {
    return errorResponse(404, "Not Found", "no object with this id in this collection");
  }
  if (segments.size() == 5) {
    const auto page = select(all, *q, objectId, true);
    json body{{"objects", json::array()}};
    for (const auto* i : page.items) body["objects"].push_back(i->object);
    finishPage(r, body, page);
    return r;
  }
  const auto page = select(all, *q, objectId, false);
  json body{{"versions", json::array()}};
  for (const auto* i : page.items) body["versions"].push_back(i->version);
  finishPage(r, body, page);
  return r;
}

}  // namespace focal::client::taxii
