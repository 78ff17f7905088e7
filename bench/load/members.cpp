#include "bench/load/members.hpp"

#include "protocol/message.hpp"
#include "tests/support/log_events.hpp"

#include <capnp/message.h>

#include <chrono>

namespace focal::bench {

std::int64_t wallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string runPrefix() {
  auto r = crypto::randomFixed<crypto::BulletinId>();
  return "lb-" + crypto::toHex(r.view()).substr(0, 6);
}

std::vector<crypto::MemberKeys> generateMembers(const std::string& prefix, const std::string& role, std::size_t count) {
  std::vector<crypto::MemberKeys> out;
  out.reserve(count);
  const auto now = wallMs();
  for (std::size_t i = 0; i < count; ++i) {
    out.push_back(crypto::MemberKeys::generate(prefix + "-" + role + std::to_string(i), now));
  }
  return out;
}

void registerMembers(const HubTarget& hub, std::span<const crypto::MemberKeys> members) {
  if (members.empty()) return;
  auto admin = connectAs(hub, *hub.admin);
  for (const auto& member : members) {
    const auto pk = member.publicKeys();
    capnp::MallocMessageBuilder event;
    auto e = event.initRoot<wire::LogEvent>();
    e.setIssuedAtMs(wallMs());
    test_support::events::fillRegistration(e, {pk.memberId, "SG", wire::Institution::LAW_ENFORCEMENT, false}, pk,
                                           "focal-bench " + pk.memberId);
    (void)admin->admin(event);
  }
}

std::unique_ptr<client::Connection> connectAs(const HubTarget& hub, const crypto::MemberKeys& keys,
                                              client::ConnectOptions options) {
  auto c = std::make_unique<client::Connection>(options);
  c->connect(hub.host, hub.port, hub.caFile);
  c->authenticate(keys);
  return c;
}

}  // namespace focal::bench
