// TLS from outside, with the `openssl s_client` tool against the real focald:
// TLS 1.3 works (positive control); TLS 1.2 with CBC suites, TLS 1.2 with
// AEAD suites, TLS 1.1 and TLS 1.0 are refused by the hub with a
// protocol_version alert (the client side is told to allow them with
// @SECLEVEL=0, so the refusal is the hub's, not the tool's); renegotiation
// needs TLS <= 1.2, so it is refused with them, and on a TLS 1.3 session
// `R` (renegotiate) fails while the session goes on working.
// The full external grading (testssl.sh) is a manual step: docs/reliability.md.
#include "hub_fixture.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

using namespace focal;
using namespace focal::test;
using namespace std::chrono_literals;

namespace {

const char* const OpenSsl = "/usr/bin/openssl";

ProcessResult sClient(const Hub& hub, std::vector<std::string> extra, const std::string& stdinText = "") {
  std::vector<std::string> argv{OpenSsl, "s_client", "-connect", hub.address(), "-servername", "127.0.0.1"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return runProcess(argv, {}, stdinText, 20s);
}

bool contains(const ProcessResult& r, const std::string& s) {
  return r.out.find(s) != std::string::npos || r.err.find(s) != std::string::npos;
}

}  // namespace

TEST_CASE("TLS: only 1.3 is spoken, 1.2 (CBC or AEAD), 1.1, 1.0 and renegotiation are refused by the hub",
          "[integration][tls]") {
  if (::access(OpenSsl, X_OK) != 0) {
    WARN("SKIPPED: " << OpenSsl << " is missing (Debian package openssl)");
    return;
  }
  Hub hub;

  // Positive control: TLS 1.3 with the hub's CA verifies, AEAD suite.
  auto ok = sClient(hub, {"-tls1_3", "-CAfile", hub.caFile().string(), "-verify_return_error", "-brief"}, "");
  INFO(ok.out << ok.err);
  CHECK(ok.exitCode == 0);
  CHECK(contains(ok, "Protocol version: TLSv1.3"));
  CHECK((contains(ok, "TLS_AES_256_GCM_SHA384") || contains(ok, "TLS_CHACHA20_POLY1305_SHA256") ||
         contains(ok, "TLS_AES_128_GCM_SHA256")));
  CHECK(contains(ok, "Verification: OK"));

  struct Old {
    const char* name;
    std::vector<std::string> args;
  };
  const std::vector<Old> refused{
      {"TLS 1.2 with CBC suites",
       {"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:AES128-SHA:@SECLEVEL=0"}},
      {"TLS 1.2 with AEAD suites", {"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:@SECLEVEL=0"}},
      {"TLS 1.1", {"-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"}},
      {"TLS 1.0", {"-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"}},
  };
  for (const auto& old : refused) {
    INFO(old.name);
    auto r = sClient(hub, old.args, "");
    INFO(r.out << r.err);
    CHECK(r.exitCode != 0);
    // The hub's alert, not a client-side "no protocols available".
    CHECK(contains(r, "alert protocol version"));
    CHECK_FALSE(contains(r, "no protocols available"));
    CHECK_FALSE(contains(r, "Cipher is ECDHE"));
  }

  // Renegotiation on a TLS 1.3 session: s_client's `R` command cannot
  // renegotiate (there is no such thing in TLS 1.3); the connection stays up
  // and the hub answers nothing unexpected. A renegotiation needs TLS 1.2,
  // refused above.
  auto reneg = sClient(hub, {"-tls1_3", "-CAfile", hub.caFile().string()}, "R\n");
  INFO(reneg.out << reneg.err);
  CHECK(contains(reneg, "TLSv1.3"));
  CHECK_FALSE(contains(reneg, "Secure Renegotiation IS supported"));
  CHECK(hub.running());
}
