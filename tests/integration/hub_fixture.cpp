#include "hub_fixture.hpp"

#include "tests/support/files.hpp"
#include "crypto/secure_file.hpp"
#include "tests/support/log_events.hpp"

#include "client/attachment_saver.hpp"
#include "client/bulletin_reader.hpp"
#include "client/key_directory.hpp"
#include "protocol/bulletin.hpp"
#include "protocol/consensus.hpp"
#include "protocol/signing.hpp"

#include <algorithm>
#include <capnp/message.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace focal::test {

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> mergedEnv(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string::npos && extra.count(kv.substr(0, eq)) != 0) continue;
    env.push_back(kv);
  }
  for (const auto& [k, v] : extra) env.push_back(k + "=" + v);
  return env;
}

std::vector<char*> cstrs(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    r = fds[0];
    w = fds[1];
  }
};

// Spawns argv with stdin/stdout/stderr connected to the given fds.
pid_t spawn(std::vector<std::string> argv, const std::map<std::string, std::string>& env, int in, int out, int err) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in, 0);
  posix_spawn_file_actions_adddup2(&fa, out, 1);
  posix_spawn_file_actions_adddup2(&fa, err, 2);
  auto envStrings = mergedEnv(env);
  auto envp = cstrs(envStrings);
  auto args = cstrs(argv);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot run " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

int waitExit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

// libsodium must be initialised before the first key is generated or read.
const bool sodiumReady = (crypto::initialize(), true);

std::int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

ProcessResult runProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                         const std::optional<std::string>& stdinText, std::chrono::milliseconds timeout,
                         const OutputCondition& interruptWhen) {
  Pipe out, err, in;
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t pid = spawn(argv, env, stdinText ? in.r : devnull, out.w, err.w);
  ::close(devnull);
  ::close(out.w);
  ::close(err.w);
  ::close(in.r);
  if (stdinText) {
    // Small inputs only: written before reading the outputs.
    std::size_t done = 0;
    while (done < stdinText->size()) {
      const ssize_t n = ::write(in.w, stdinText->data() + done, stdinText->size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
  }
  ::close(in.w);
  ProcessResult result;
  const auto deadline = Clock::now() + timeout;
  pollfd fds[2] = {{out.r, POLLIN, 0}, {err.r, POLLIN, 0}};
  int open = 2;
  bool interrupted = false, killed = false;
  while (open > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    // At the deadline, or once the caller saw what it waits for: SIGINT (how
    // a user stops `focal listen`); SIGKILL 5 s after the deadline.
    if (!interrupted && (left <= 0 || (interruptWhen && interruptWhen(result)))) {
      ::kill(pid, SIGINT);
      interrupted = true;
    }
    if (left <= -5000 && !killed) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    if (::poll(fds, 2, left > 0 ? static_cast<int>(std::min<long>(left, 1000)) : 100) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buf[65536];
      const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buf, static_cast<std::size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  result.exitCode = waitExit(pid);
  return result;
}

ProcessResult runCli(const std::vector<std::string>& args, const std::optional<std::string>& stdinText,
                     std::chrono::milliseconds timeout, const OutputCondition& interruptWhen) {
  std::vector<std::string> argv{FOCAL_CLI_PATH};
  argv.insert(argv.end(), args.begin(), args.end());
  return runProcess(argv, {{"FOCAL_PASSPHRASE", TestPassphrase}}, stdinText, timeout, interruptWhen);
}

fs::path makeKeyFileWithPublic(const fs::path& dir, const std::string& id) {
  const fs::path file = dir / (id + ".key");
  const auto keys = crypto::MemberKeys::generate(id, nowMs());
  if (!crypto::writeKeyFile(file, keys, TestPassphrase, crypto::KdfStrength::Interactive)) {
    throw std::runtime_error("cannot write " + file.string());
  }
  crypto::writeFileAtomic(file.string() + ".pub", crypto::formatPublicKeys(keys.publicKeys()), 0644);
  return file;
}

// ---------------------------------------------------------------- Hub ----

Hub::Hub(HubOptions options) {
  // As an operator does it: the admin makes its keys on its own machine and
  // hands over the .pub file; init never sees a private admin key.
  adminKeyFile_ = makeKeyFileWithPublic(adminDir_.path());
  std::vector<std::string> initArgv{FOCALD_PATH, "init", dir().string(), "--admin-pub", adminKeyFile_.string() + ".pub",
                                    "--json"};
  initArgv.insert(initArgv.end(), options.initArgs.begin(), options.initArgs.end());
  // A single-admin test hub whose admin may rotate a member's keys at once
  // (tests/integration/admin_quorum_test.cpp sets the delay it tests).
  if (std::find(initArgv.begin(), initArgv.end(), "--forced-rotation-delay") == initArgv.end()) {
    initArgv.insert(initArgv.end(), {"--forced-rotation-delay", "0"});
  }
  // Any free port: tests run in parallel.
  if (std::find(initArgv.begin(), initArgv.end(), "--metrics") == initArgv.end()) {
    initArgv.insert(initArgv.end(), {"--metrics", "127.0.0.1:0"});
  }
  auto init = runProcess(initArgv, {});
  if (init.exitCode != 0) throw std::runtime_error("focald init failed: " + init.out + init.err);
  const auto j = nlohmann::json::parse(init.out);
  caFile_ = j.at("ca_file").get<std::string>();
  auto keys = crypto::readKeyFile(adminKeyFile_, TestPassphrase);
  if (!keys) throw std::runtime_error("cannot read the admin key");
  adminKeys_.emplace(std::move(keys).value());

  if (!options.limits.empty()) {
    const auto configFile = dir() / "focal.toml";
    std::ifstream in(configFile);
    std::stringstream text;
    text << in.rdbuf();
    std::string config = text.str();
    for (const auto& [key, value] : options.limits) {
      const std::string prefix = "\n" + key + " = ";
      const auto at = config.find(prefix);
      if (at == std::string::npos) throw std::runtime_error("focal.toml has no limit " + key);
      const auto end = config.find('\n', at + 1);
      config.replace(at, end - at, prefix + value);
    }
    std::ofstream(configFile, std::ios::trunc) << config;
  }
  runArgs_ = options.runArgs;
  if (options.testClock) {
    testClockFile_ = dir() / "test-clock";
    setClockMs(nowMs());
  }
  start();
}

void Hub::setClockMs(std::int64_t ms) {
  if (testClockFile_.empty()) throw std::logic_error("the hub was not started with HubOptions::testClock");
  const auto tmp = testClockFile_.string() + ".tmp";
  std::ofstream(tmp, std::ios::trunc) << ms << "\n";
  fs::rename(tmp, testClockFile_);
  clockMs_ = ms;
}

Hub::~Hub() { stop(); }

std::unique_ptr<Hub> Hub::copyStopped() const {
  auto copy = std::unique_ptr<Hub>(new Hub(Uninitialised{}));
  fs::copy(dir(), copy->dir(), fs::copy_options::recursive | fs::copy_options::overwrite_existing);
  copy->caFile_ = copy->dir() / fs::relative(caFile_, dir());
  copy->adminKeyFile_ = copy->adminDir_ / adminKeyFile_.filename();
  fs::copy_file(adminKeyFile_, copy->adminKeyFile_);
  fs::copy_file(adminKeyFile_.string() + ".pub", copy->adminKeyFile_.string() + ".pub");
  auto keys = crypto::readKeyFile(copy->adminKeyFile_, TestPassphrase);
  if (!keys) throw std::runtime_error("cannot read the copied admin key");
  copy->adminKeys_.emplace(std::move(keys).value());
  return copy;
}

void Hub::start() {
  Pipe out;
  const int err = ::open((dir() / "focald.err").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  const int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  std::vector<std::string> argv = launcher_;
  auto own =
      executable_ == FOCALD_PATH ? std::vector<std::string>{executable_, "run", dir().string(), "--listen", "127.0.0.1:0"}
                                 : std::vector<std::string>{executable_, dir().string()};
  if (!testClockFile_.empty() && executable_ == FOCALD_PATH) {
    own.push_back("--test-clock");
    own.push_back(testClockFile_.string());
  }
  if (executable_ == FOCALD_PATH) own.insert(own.end(), runArgs_.begin(), runArgs_.end());
  argv.insert(argv.end(), own.begin(), own.end());
  pid_ = spawn(argv, {}, devnull, out.w, err);
  ::close(devnull);
  ::close(err);
  ::close(out.w);
  stdoutFd_ = out.r;

  // Read until the line "focald listening on HOST:PORT" (or give up).
  const std::string marker = "focald listening on ";
  std::string seen;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  while (port_ == 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      stop();
      throw std::runtime_error("focald did not report listening within 20 s; output: " + seen);
    }
    pollfd p{stdoutFd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(stdoutFd_, buf, sizeof buf);
    if (n <= 0) {
      stop();
      throw std::runtime_error("focald exited before listening; output: " + seen);
    }
    seen.append(buf, static_cast<std::size_t>(n));
    const auto at = seen.find(marker);
    const auto eol = at == std::string::npos ? std::string::npos : seen.find('\n', at);
    if (eol != std::string::npos) {
      const std::string hostPort = seen.substr(at + marker.size(), eol - at - marker.size());
      const auto colon = hostPort.rfind(':');
      if (colon == std::string::npos) throw std::runtime_error("cannot parse: " + hostPort);
      port_ = static_cast<std::uint16_t>(std::stoi(hostPort.substr(colon + 1)));
    }
  }
  // "focald metrics on HOST:PORT", printed before the listener's line.
  const std::string metricsMarker = "focald metrics on ";
  if (const auto at = seen.find(metricsMarker); at != std::string::npos) {
    const auto eol = seen.find('\n', at);
    const std::string hostPort = seen.substr(at + metricsMarker.size(), eol - at - metricsMarker.size());
    metricsPort_ = static_cast<std::uint16_t>(std::stoi(hostPort.substr(hostPort.rfind(':') + 1)));
  }
  // Keep draining stdout so the hub never blocks on a full pipe.
  drain_ = test_support::drainToFile(stdoutFd_, dir() / "focald.log", seen);
}

void Hub::stop() {
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (Clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
  }
  if (drain_.joinable()) drain_.join();
  stdoutFd_ = -1;
  port_ = 0;
  metricsPort_ = 0;
}

void Hub::restart() {
  stop();
  start();
}

bool Hub::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  return ::waitpid(pid_, &status, WNOHANG) == 0;
}

std::unique_ptr<client::Connection> Hub::connectRaw(client::ConnectOptions options) const {
  auto c = std::make_unique<client::Connection>(options);
  c->connect(host(), port_, caFile_);
  return c;
}

std::unique_ptr<client::Connection> Hub::connect(const crypto::MemberKeys& keys, client::ConnectOptions options) const {
  auto c = connectRaw(options);
  c->authenticate(keys);
  return c;
}

void Hub::registerMember(client::Connection& admin, const crypto::PublicKeys& pk, const std::string& state,
                         wire::Institution institution) {
  capnp::MallocMessageBuilder event;
  auto e = event.initRoot<wire::LogEvent>();
  e.setIssuedAtMs(nowMs());
  test_support::events::fillRegistration(e, {pk.memberId, state, institution, false}, pk, "Test member " + pk.memberId);
  e.getRegister().getMember().setIsSecretariat(institution == wire::Institution::SECRETARIAT);
  (void)admin.admin(event);
}

TestMember Hub::createMember(const std::string& id, const std::string& state, wire::Institution institution,
                             bool writeKeyFile) {
  return registerKeys(crypto::MemberKeys::generate(id, nowMs()), state, institution, writeKeyFile);
}

TestMember Hub::registerKeys(crypto::MemberKeys keys, const std::string& state, wire::Institution institution,
                             bool writeKeyFile) {
  const std::string id = keys.memberId;
  TestMember member{std::move(keys), {}};
  if (writeKeyFile) {
    member.keyFile = dir() / (id + ".key");
    auto w = crypto::writeKeyFile(member.keyFile, member.keys, TestPassphrase, crypto::KdfStrength::Interactive);
    if (!w) throw std::runtime_error("cannot write key file");
  }
  auto admin = connect(adminKeys());
  registerMember(*admin, member.keys.publicKeys(), state, institution);
  return member;
}

TestMember Hub::admitByConsensus(const std::string& id, wire::Institution institution,
                                 const std::vector<const crypto::MemberKeys*>& approvers, bool writeKeyFile,
                                 const std::vector<crypto::BulletinId>& meetings) {
  TestMember member{crypto::MemberKeys::generate(id, nowMs()), {}};
  if (writeKeyFile) {
    member.keyFile = dir() / (id + ".key");
    auto w = crypto::writeKeyFile(member.keyFile, member.keys, TestPassphrase, crypto::KdfStrength::Interactive);
    if (!w) throw std::runtime_error("cannot write key file");
  }
  const protocol::AdmissionDraft draft{id, "Admitted " + id, "", institution, member.keys.publicKeys(), meetings};
  const auto proposal = protocol::makeAdmissionProposal(draft, adminKeys(), nowMs(), nowMs() + 86'400'000);
  (void)connect(adminKeys())->propose(proposal);
  for (const auto* poc : approvers) (void)connect(*poc)->decide(protocol::makeDecision(proposal.body, true, *poc, nowMs()));
  auto check = connect(adminKeys());
  if (client::HubDirectory::fetch(*check).find(id) == nullptr) {
    throw std::runtime_error("the admission of " + id + " was not adopted (missing a state's approval?)");
  }
  return member;
}

std::vector<TestMember> Hub::createMembers(const std::vector<std::string>& ids, const std::string& state) {
  auto admin = connect(adminKeys());
  std::vector<TestMember> out;
  for (const auto& id : ids) {
    out.push_back(TestMember{crypto::MemberKeys::generate(id, nowMs()), {}});
    registerMember(*admin, out.back().keys.publicKeys(), state, wire::Institution::LAW_ENFORCEMENT);
  }
  return out;
}

std::vector<std::string> Hub::cliGlobals(const fs::path& keyFile, const fs::path& profileDir) const {
  return {"--hub", address(), "--ca", caFile_.string(), "--key", keyFile.string(), "--profile-dir", profileDir.string(),
          "--timeout", "20"};
}

bool skipped(const std::string& what, const std::string& unavailableReason) {
  if (unavailableReason.empty()) return false;
  WARN("SKIPPED " << what << ": " << unavailableReason);
  return true;
}

client::HubError hubRefusal(const std::function<void()>& f, const std::string& accepted) {
  try {
    f();
  } catch (const client::HubError& e) {
    return e;
  }
  FAIL(accepted);
  throw std::logic_error("unreachable");
}

protocol::BulletinDraft draftTo(const std::vector<const crypto::MemberKeys*>& recipients, const std::string& title,
                                wire::Tlp tlp, wire::Category category) {
  protocol::BulletinDraft d;
  d.hubId = "focal-hub";  // the test hub (seal v2 binds its id)
  d.tlp = tlp;
  d.category = category;
  d.title = title;
  for (const auto* r : recipients) {
    d.addresses.push_back(r->memberId);
    d.recipients.push_back(protocol::RecipientKey{r->memberId, r->encryption.publicKey});
  }
  std::sort(d.recipients.begin(), d.recipients.end(),
            [](const auto& a, const auto& b) { return a.memberId < b.memberId; });
  return d;
}

protocol::SealedBulletin sealDraft(const protocol::BulletinDraft& draft, const crypto::MemberKeys& sender,
                                   const crypto::ContentKey& key, const std::optional<crypto::BulletinId>& id) {
  auto sealed = protocol::sealBulletin(draft, sender, key, nowMs(), id);
  INFO("seal: " << (sealed ? "ok" : protocol::describe(sealed.error())));
  REQUIRE(sealed);
  return std::move(sealed).value();
}

protocol::SealedBulletin sealTo(const crypto::MemberKeys& sender,
                                const std::vector<const crypto::MemberKeys*>& recipients, const std::string& title,
                                const std::string& body, wire::Tlp tlp) {
  auto d = draftTo(recipients, title, tlp);
  d.body = body;
  auto key = crypto::ContentKey::random();
  auto sealed = protocol::sealBulletin(d, sender, key, nowMs());
  if (!sealed) throw std::runtime_error(std::string("seal failed: ") + protocol::describe(sealed.error()));
  return std::move(sealed).value();
}

nlohmann::json runCliJson(const std::vector<std::string>& args, int expectedExit) {
  auto r = runCli(concat({"--json"}, args));
  std::string command = "focal --json";
  for (const auto& a : args) command += " " + a;
  INFO(command << " -> exit " << r.exitCode << "\nstdout: " << r.out << "\nstderr: " << r.err);
  REQUIRE(r.exitCode == expectedExit);
  nlohmann::json j;
  REQUIRE_NOTHROW(j = nlohmann::json::parse(r.out));
  return j;
}

std::vector<std::string> concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

protocol::SealedBulletin resignedHeader(protocol::SealedBulletin s, const crypto::MemberKeys& sender,
                                        const std::function<void(wire::BulletinHeader::Builder)>& mutate) {
  capnp::MallocMessageBuilder b;
  {
    auto parsed = protocol::decode<wire::BulletinHeader>(s.header);
    REQUIRE(parsed);
    b.setRoot(parsed->root());
  }
  mutate(b.getRoot<wire::BulletinHeader>());
  s.header = protocol::toBytes(b);
  s.signature = crypto::sign(protocol::context::BulletinHeader, s.header, sender.identity.secretKey);
  return s;
}

protocol::SealedBulletin withContent(protocol::SealedBulletin s, const crypto::ContentKey& key,
                                     const crypto::MemberKeys& sender,
                                     const std::function<void(wire::Content::Builder)>& mutate) {
  auto header = protocol::decode<wire::BulletinHeader>(s.header);
  REQUIRE(header);
  const auto nonce = *crypto::AeadNonce::fromBytes(protocol::view(header->root().getContentNonce()));
  // The AD of the header's suite (PROTOCOL.md §8.1 step 3).
  const auto ad = header->root().getSuite() == wire::CIPHER_SUITE_V2
                      ? protocol::contentAdV2(s.id, sender.identity.publicKey, protocol::view(header->root().getHubId()))
                      : protocol::contentAd(s.id);
  auto plain = crypto::aeadDecrypt(key, nonce, s.ciphertext, ad);
  REQUIRE(plain);
  auto content = protocol::decode<wire::Content>(*plain);
  REQUIRE(content);
  capnp::MallocMessageBuilder c;
  c.setRoot(content->root());
  mutate(c.getRoot<wire::Content>());
  s.ciphertext = crypto::aeadEncrypt(key, nonce, protocol::toBytes(c), ad);
  const auto hash = crypto::hash256(s.ciphertext);
  const auto size = s.ciphertext.size();
  return resignedHeader(std::move(s), sender, [&](wire::BulletinHeader::Builder h) {
    h.setContentHash(protocol::kjBytes(hash.view()));
    h.setContentSize(size);
  });
}

std::string titleOf(client::Connection& c, const client::RawBulletin& raw, const crypto::MemberKeys& me) {
  const auto dir = client::HubDirectory::fetch(c);
  auto opened = client::openReceived(raw, dir, me);
  REQUIRE(opened.ok());
  return opened->title;
}

AttachmentFile randomAttachment(const fs::path& workDir, const std::string& name, std::size_t size, unsigned seed) {
  std::string plain(size, '\0');
  std::mt19937 rng(seed);
  for (auto& c : plain) c = static_cast<char>(rng());
  const auto file = workDir / name;
  std::ofstream(file, std::ios::binary) << plain;
  auto key = crypto::ContentKey::random();
  auto blob = client::SpooledBlob::encrypt(file, crypto::attachmentKey(key, 0), workDir);
  return AttachmentFile{name, std::move(plain), std::move(key), std::move(blob)};
}

SavedAttachment saveOnlyAttachment(client::Connection& c, const crypto::MemberKeys& me, const fs::path& workDir,
                                   const std::string& saveAs) {
  auto page = c.fetch(0);
  REQUIRE(page.items.size() == 1);
  const auto dir = client::HubDirectory::fetch(c);
  auto opened = client::openReceived(page.items[0].bulletin, dir, me);
  REQUIRE(opened.ok());
  REQUIRE(opened->attachments.size() == 1);
  SavedAttachment saved{opened->id, opened->attachments[0], {}};
  const auto& att = saved.attachment;
  client::AttachmentSaver saver(workDir, crypto::attachmentKey(opened->contentKey, 0), att.blobHash, att.blobSize);
  c.downloadBlob(opened->id, att.blobHash, att.blobSize, [&](crypto::ByteView bytes) { saver.write(bytes); });
  saved.content = slurp(saver.finish(saveAs, false));
  return saved;
}

std::size_t countOf(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace focal::test
