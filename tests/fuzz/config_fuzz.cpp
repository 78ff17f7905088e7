// libFuzzer harness for focald's configuration parser: the input is the
// text of focal.toml, given to server::parseConfig (the function loadConfig
// uses after reading the file).
//
// The file is written by the operator, not by a network peer; what matters
// is that a typo or a damaged file is reported, never crashes focald, and
// never yields a configuration that breaks the documented bounds.
//
// Properties:
//  - no crash, hang or sanitizer report; every refusal is a message that
//    names the source ("fuzz.toml");
//  - an accepted configuration respects the protocol limits
//    (maxFrameBytes <= protocol::MaxFrameBytes, and so on);
//  - renderConfig(parse(x)) parses again to the same configuration: what
//    `focald init` writes, focald reads back unchanged.
#include "server/config.hpp"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

using namespace focal;
using namespace focal::server;

namespace {

[[noreturn]] void broken(const char* what, const std::string& detail = {}) {
  std::fprintf(stderr, "config_fuzz: property violated: %s %s\n", what, detail.c_str());
  std::abort();
}

bool sameLimits(const Limits& a, const Limits& b) {
  return a.maxFrameBytes == b.maxFrameBytes && a.maxConnections == b.maxConnections &&
         a.maxConnectionsPerMember == b.maxConnectionsPerMember && a.handshakeTimeoutMs == b.handshakeTimeoutMs &&
         a.unauthenticatedTimeoutMs == b.unauthenticatedTimeoutMs && a.idleTimeoutMs == b.idleTimeoutMs &&
         a.readTimeoutMs == b.readTimeoutMs && a.writeTimeoutMs == b.writeTimeoutMs &&
         a.outboundQueueBytes == b.outboundQueueBytes && a.outboundQueueFrames == b.outboundQueueFrames &&
         a.requestsPerSecond == b.requestsPerSecond && a.requestBurst == b.requestBurst &&
         a.maxInflightRequests == b.maxInflightRequests && a.authFailuresPerMinute == b.authFailuresPerMinute &&
         a.writeQueue == b.writeQueue && a.writeBatch == b.writeBatch &&
         a.maxOpenUploadsPerMember == b.maxOpenUploadsPerMember && a.maxAttachmentBytes == b.maxAttachmentBytes;
}

bool sameConfig(const Config& a, const Config& b) {
  return a.hubId == b.hubId && a.listenHost == b.listenHost && a.listenPort == b.listenPort &&
         a.database == b.database && a.signingKey == b.signingKey && a.tlsCertificate == b.tlsCertificate &&
         a.tlsPrivateKey == b.tlsPrivateKey && sameLimits(a.limits, b.limits);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  // An absolute base directory: resolved paths are absolute, so a second
  // parse of the rendered text must leave them as they are.
  const std::filesystem::path base = "/etc/focal";
  auto parsed = parseConfig(text, "fuzz.toml", base);
  if (!parsed.ok()) {
    if (parsed.error().rfind("fuzz.toml", 0) != 0) broken("a refusal does not name the file:", parsed.error());
    return 0;
  }
  const Config& c = parsed.value();
  const Limits& l = c.limits;
  if (l.maxFrameBytes > protocol::MaxFrameBytes || l.maxAttachmentBytes > protocol::MaxAttachmentBytes ||
      l.maxConnections == 0 || l.maxConnectionsPerMember == 0 || l.writeBatch == 0 || l.writeQueue == 0 ||
      l.maxInflightRequests == 0 || l.requestsPerSecond == 0) {
    broken("an accepted configuration breaks a documented bound");
  }
  for (const auto* p : {&c.database, &c.signingKey, &c.tlsCertificate, &c.tlsPrivateKey}) {
    if (p->empty() || p->is_relative()) broken("a path was not resolved against the configuration's directory");
  }
  const std::string rendered = renderConfig(c);
  auto again = parseConfig(rendered, "fuzz.toml", base);
  if (!again.ok()) broken("renderConfig wrote a file parseConfig refuses:", again.error() + "\n" + rendered);
  if (!sameConfig(c, again.value())) broken("a configuration changed in a render/parse round trip:", rendered);
  return 0;
}
