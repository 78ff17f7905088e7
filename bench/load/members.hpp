// Load-run members: keys generated in memory (never written to disk) and
// registered through the admin key, one signed LogEvent.register each, the
// same event `focal admin register` builds (client/cmd_admin.cpp keeps its
// builder private to the CLI, so it is repeated here).
#pragma once

#include "bench/load/hub_process.hpp"
#include "client/connection.hpp"
#include "crypto/keyfile.hpp"

#include <memory>
#include <span>
#include <string>
#include <vector>

namespace focal::bench {

std::int64_t wallMs();

// "lb-" + 6 random hex digits: member ids of one run never collide with an
// earlier run's on a shared hub (--hub).
std::string runPrefix();

// `count` members named PREFIX-ROLE0, PREFIX-ROLE1, ...
std::vector<crypto::MemberKeys> generateMembers(const std::string& prefix, const std::string& role, std::size_t count);

// Registers every member (law enforcement, state SG) over one admin session.
void registerMembers(const HubTarget& hub, std::span<const crypto::MemberKeys> members);

// Connected and authenticated.
std::unique_ptr<client::Connection> connectAs(const HubTarget& hub, const crypto::MemberKeys& keys,
                                              client::ConnectOptions options = {});

}  // namespace focal::bench
