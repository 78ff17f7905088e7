// The local TAXII 2.1 endpoint (`focal taxii`, docs/cti.md (TAXII)): what it
// serves and how it answers, without the network. The HTTPS listener, the
// Basic authentication and the Accept check in front of it are
// client/taxii_server.hpp.
//
// Content: the STIX objects of the bulletins in the member's local archive
// (client/archive.hpp), one collection per TLP level of the bulletin that
// carried them (RED only when asked), read-only. An object that several
// bulletins carry (the TLP marking definitions, the sender's identity, the
// provenance extension definition) is kept once per version, with the
// date_added of the first bulletin that carried it.
//
// date_added: the time the archive took the bulletin, in microseconds,
// plus the object's position in the bundle, so the objects of one bulletin
// have distinct, ordered date_added values. Every list (objects, manifest,
// versions) is in date_added order; `next` is an opaque cursor after the
// last item of a page, stable when content is added or removed.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace focal::client::taxii {

inline constexpr std::string_view TaxiiMediaType = "application/taxii+json;version=2.1";
inline constexpr std::string_view StixMediaType = "application/stix+json;version=2.1";
// The API root's path (and the discovery document's only API root).
inline constexpr std::string_view ApiRootPath = "/focal/";
// A page holds at most this many items; `limit` may ask for fewer.
inline constexpr std::size_t MaxPageItems = 1000;
inline constexpr std::size_t DefaultPageItems = 100;

// One collection per TLP level; the ids are fixed, so a MISP or OpenCTI
// feed configured once keeps working (docs/cti.md (TAXII) lists them).
struct CollectionInfo {
  std::string id;
  std::string tlp;  // "CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"
  std::string title;
  std::string description;
};
// CLEAR, GREEN, AMBER, AMBER+STRICT and, with `includeRed`, RED.
std::vector<CollectionInfo> collectionsFor(bool includeRed);

// A bulletin's share of the content: its STIX objects (stixBundleFor's
// `objects`), its TLP name and when the archive took it.
struct BulletinObjects {
  std::string bulletinId;
  std::string tlp;
  std::int64_t addedAtMs = 0;
  std::vector<nlohmann::json> objects;
};

// RFC 3339 with microseconds ("2026-12-07T10:12:58.123456Z").
std::string formatMicros(std::int64_t unixMicros);
// An RFC 3339 timestamp (any fraction, Z or an offset) as microseconds
// since the epoch; nullopt when malformed.
std::optional<std::int64_t> parseTimestampMicros(std::string_view text);

// The objects served, per collection. Built anew from the bulletins each
// time the archive changed; read by the router.
class Content {
 public:
  struct Item {
    nlohmann::json object;
    std::string id, type;
    std::string version;          // modified, else created, else date_added
    std::int64_t versionUs = 0;   // the same, parsed
    std::int64_t addedUs = 0;     // date_added
    std::string bulletinId;       // the first bulletin that carried it
    std::size_t index = 0;        // its position in that bundle
  };

  Content() = default;
  Content(const std::vector<CollectionInfo>& collections, const std::vector<BulletinObjects>& bulletins);

  // Items of collection `id` in date_added order; nullptr when unknown.
  const std::vector<Item>* items(std::string_view collectionId) const;
  std::size_t bulletinCount() const { return bulletins_; }

 private:
  std::map<std::string, std::vector<Item>, std::less<>> byCollection_;
  std::size_t bulletins_ = 0;
};

struct Response {
  unsigned status = 200;
  std::string contentType{TaxiiMediaType};
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// A TAXII error message (TAXII 2.1 §3.6.1) with that HTTP status.
Response errorResponse(unsigned status, std::string_view title, std::string_view description);

// Whether an Accept header admits application/taxii+json;version=2.1 (also
// bare application/taxii+json, application/*, */*). No header admits it.
bool acceptsTaxii(std::optional<std::string_view> accept);

// Answers one authenticated GET. `baseUrl`: "https://127.0.0.1:9443", for
// the discovery document's API root URL.
class Router {
 public:
  Router(std::string baseUrl, std::string title, std::vector<CollectionInfo> collections);
  // `target`: the request target (path and query, percent-encoded).
  Response get(std::string_view target, std::optional<std::string_view> accept, const Content& content) const;
  const std::vector<CollectionInfo>& collections() const { return collections_; }

 private:
  Response discovery() const;
  Response apiRoot() const;
  Response collectionList() const;
  nlohmann::json collectionJson(const CollectionInfo& c) const;
  const CollectionInfo* findCollection(std::string_view id) const;

  std::string baseUrl_;
  std::string title_;
  std::vector<CollectionInfo> collections_;
};

}  // namespace focal::client::taxii
