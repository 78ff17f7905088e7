// The key agent's request handling (client/agent_protocol.hpp) on hostile
// input, its peer check, and the agent's key operations against the
// in-process ones: same signatures, same openings, through a real socket.
#include "client/agent_client.hpp"
#include "client/key_agent.hpp"
#include "protocol/records.hpp"
#include "tests/support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>

using namespace focal;
using namespace focal::client::agent;
using focal::test_support::TempDir;

namespace {

crypto::MemberKeys rotatedKeys() {
  crypto::initialize();
  auto keys = crypto::MemberKeys::generate("sg-spf", 1'700'000'000'000);
  keys.previousEncryption.push_back(crypto::BoxKeyPair::generate());
  keys.previousEncryption.push_back(crypto::BoxKeyPair::generate());
  return keys;
}

Status statusOf(const Handled& h) { return static_cast<Status>(h.response.at(0)); }

// The agent's serving loop on a socket in a temporary directory, in a
// thread; stopped (as by a signal) when the test ends.
struct ServedAgent {
  TempDir dir;
  crypto::LocalKeyOps ops{rotatedKeys()};
  AgentInfo info;
  std::filesystem::path socket = dir.path() / "a.sock";
  int stop[2] = {-1, -1};
  std::thread loop;

  ServedAgent() {
    REQUIRE(::pipe2(stop, O_CLOEXEC) == 0);
    info.memberId = ops.keys().memberId;
    info.identity = ops.keys().identity.publicKey;
    info.encryption = ops.keys().encryption.publicKey;
    const int fd = listenAt(socket);
    loop = std::thread([this, fd] { serve(fd, stop[0], socket, ops, info, AgentTimes{}); });
  }
  ~ServedAgent() {
    (void)::write(stop[1], "x", 1);
    loop.join();
    ::close(stop[0]);
    ::close(stop[1]);
  }
};

}  // namespace

TEST_CASE("the agent answers every malformed request with a typed status", "[agent]") {
  crypto::LocalKeyOps ops(rotatedKeys());
  AgentInfo info;
  auto handle = [&](crypto::Bytes b) { return handleRequest(b, ops, info); };
  CHECK(statusOf(handle({})) == Status::Malformed);
  CHECK(statusOf(handle({1})) == Status::Malformed);
  CHECK(statusOf(handle({2, 1})) == Status::BadVersion);
  CHECK(statusOf(handle({1, 0})) == Status::UnknownOp);
  CHECK(statusOf(handle({1, 200})) == Status::UnknownOp);
  CHECK(statusOf(handle({1, 1, 0})) == Status::Malformed);  // Describe takes nothing
  CHECK(statusOf(handle({1, 2, 0})) == Status::Malformed);  // half a context length
  CHECK(statusOf(handle({1, 2, 0xff, 0xff, 'a'})) == Status::Malformed);
  CHECK(statusOf(handle({1, 3})) == Status::Malformed);
  CHECK(statusOf(handle({1, 3, 1, 1, 2})) == Status::Malformed);  // a named key cut short
  CHECK(statusOf(handle({1, 4, 9})) == Status::Malformed);
  CHECK_FALSE(handle({1, 4, 9}).lock);
  CHECK(handle({1, 4}).lock);
  // Random bytes never crash it and always get one status byte first.
  std::uint32_t seed = 7;
  for (int i = 0; i < 2000; ++i) {
    crypto::Bytes b(1 + (seed % 200));
    for (auto& x : b) x = static_cast<std::uint8_t>((seed = seed * 1103515245u + 12345u) >> 16);
    if (i % 2 == 0) b[0] = WireVersion;
    const auto h = handle(b);
    REQUIRE_FALSE(h.response.empty());
    CHECK(h.response[0] <= static_cast<std::uint8_t>(Status::Refused));
  }
}

TEST_CASE("the agent's description round-trips and a truncated one is refused", "[agent]") {
  crypto::initialize();
  AgentInfo i;
  i.memberId = "sg-spf";
  i.previousEncryption = {crypto::BoxKeyPair::generate().publicKey};
  i.keyFile = "/home/poc/sg.key";
  i.stamp = {1, 2, 3, 4};
  i.expiresAtMs = 5;
  i.pid = 42;
  const auto bytes = encodeInfo(i);
  const auto back = decodeInfo(bytes);
  REQUIRE(back);
  CHECK(back->memberId == i.memberId);
  CHECK(back->previousEncryption == i.previousEncryption);
  CHECK(back->stamp == i.stamp);
  CHECK(back->pid == 42);
  for (std::size_t n = 0; n < bytes.size(); ++n) CHECK_FALSE(decodeInfo(crypto::ByteView(bytes).first(n)));
}

TEST_CASE("only the agent's own uid may use it", "[agent]") {
  CHECK(peerAllowed(1000, 1000));
  CHECK_FALSE(peerAllowed(0, 1000));
  CHECK_FALSE(peerAllowed(1001, 1000));
}

TEST_CASE("through the agent a Keyring signs and opens as the key file's own keys do", "[agent]") {
  ServedAgent served;
  auto keyring = agentKeyring(served.socket, "");
  REQUIRE_FALSE(keyring);  // the stamp of "" is no file's: refused
  const auto info = describeAgent(served.socket);
  REQUIRE(info);
  const crypto::Keyring agentKeys(info->memberId, info->identity, info->encryption, info->previousEncryption,
                                  info->createdAtMs, std::make_shared<const AgentKeyOps>(served.socket));
  const crypto::Keyring local(served.ops.keys());

  const auto message = crypto::asBytes("a message");
  CHECK(agentKeys.sign("focal/v1/test", message) == local.sign("focal/v1/test", message));
  CHECK(crypto::verify("focal/v1/test", message, agentKeys.sign("focal/v1/test", message), info->identity));
  // Content keys sealed to the current and to a previous key open; a key
  // for someone else does not.
  for (const auto* pk : {&served.ops.keys().encryption.publicKey, &served.ops.keys().previousEncryption[1].publicKey}) {
    const auto ck = crypto::ContentKey::random();
    const auto wrapped = crypto::wrapKey(ck, *pk);
    auto any = agentKeys.unwrapKey(wrapped, nullptr);
    REQUIRE(any);
    CHECK(any->equals(ck));
    auto named = agentKeys.unwrapKey(wrapped, pk);
    REQUIRE(named);
    CHECK(named->equals(ck));
  }
  const auto stranger = crypto::wrapKey(crypto::ContentKey::random(), crypto::BoxKeyPair::generate().publicKey);
  CHECK_FALSE(agentKeys.unwrapKey(stranger, nullptr));
  // A comment sealed to the member opens through the agent.
  const auto record = protocol::makeComment(crypto::randomFixed<crypto::BulletinId>(), false, "agreed",
                                            info->encryption, local, 1);
  auto comment = protocol::verifyComment(record.body, record.signature, info->identity);
  REQUIRE(comment);
  CHECK(protocol::openCommentText(comment->sealedText, agentKeys) == std::optional<std::string>("agreed"));
}

TEST_CASE("the agent refuses a peer of another uid", "[agent]") {
  if (::geteuid() != 0) {
    WARN("SKIPPED: needs root to connect as another uid (peerAllowed is checked above)");
    return;
  }
  ServedAgent served;
  // Open to all for this test only: the uid check alone must refuse.
  REQUIRE(::chmod(served.dir.path().c_str(), 0711) == 0);
  REQUIRE(::chmod(served.socket.c_str(), 0777) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(100);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, served.socket.c_str(), sizeof addr.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) ::_exit(101);
    const unsigned char req[] = {0, 0, 0, 2, WireVersion, static_cast<unsigned char>(Op::Describe)};
    (void)::send(fd, req, sizeof req, MSG_NOSIGNAL);
    unsigned char answer[5] = {};
    std::size_t got = 0;
    while (got < sizeof answer) {
      const ssize_t n = ::read(fd, answer + got, sizeof answer - got);
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    ::_exit(got == sizeof answer ? answer[4] : 102);
  }
  int st = 0;
  REQUIRE(::waitpid(child, &st, 0) == child);
  REQUIRE(WIFEXITED(st));
  CHECK(WEXITSTATUS(st) == static_cast<int>(Status::Refused));
  CHECK(describeAgent(served.socket));  // its own uid still gets answers
}
