#include "protocol/iso3166.hpp"

#include <algorithm>
#include <string_view>

namespace focal::protocol {

namespace {
const detail::Iso3166Entry* findCode(std::string_view code) {
  if (code.size() != 2) return nullptr;
  const auto* begin = detail::Iso3166Table;
  const auto* end = begin + detail::Iso3166TableSize;
  const auto* it = std::lower_bound(begin, end, code, [](const detail::Iso3166Entry& e, std::string_view c) {
    return std::string_view(e.code) < c;
  });
  return it != end && std::string_view(it->code) == code ? it : nullptr;
}
}  // namespace

bool isIso3166Alpha2(std::string_view code) { return findCode(code) != nullptr; }

std::string_view iso3166Name(std::string_view code) {
  const auto* e = findCode(code);
  return e == nullptr ? std::string_view() : std::string_view(e->name);
}

}  // namespace focal::protocol
