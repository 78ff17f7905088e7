#include "bench/load/hub_process.hpp"

#include "bench/load/process.hpp"
#include "crypto/secure_file.hpp"
#include "tests/support/files.hpp"

#include <nlohmann/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <regex>
#include <stdexcept>
#include <vector>

namespace focal::bench {

namespace {

using Clock = std::chrono::steady_clock;

struct Pipe {
  int r = -1;
  int w = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    r = fds[0];
    w = fds[1];
  }
};

std::string readAll(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  return out;
}

}  // namespace

HubProcess::HubProcess(Options options) : options_(std::move(options)) {
  std::string tmpl = (fs::temp_directory_path() / "focal-bench-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  const fs::path base = tmpl;
  dir_ = base / "hub";  // `focald init` creates it
  // The first admin's keys are made here, as on the admin's own machine;
  // init takes only the public file.
  admin_.emplace(crypto::MemberKeys::generate("admin", std::chrono::duration_cast<std::chrono::milliseconds>(
                                                          std::chrono::system_clock::now().time_since_epoch())
                                                          .count()));
  const fs::path adminPub = base / "admin.key.pub";
  crypto::writeFileAtomic(adminPub, crypto::formatPublicKeys(admin_->publicKeys()), 0644);

  // init: JSON on stdout.
  {
    Pipe out;
    const int errFd = ::open((base / "init.err").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const pid_t pid = spawnProcess({options_.focald.string(), "init", dir_.string(), "--admin-pub", adminPub.string(),
                                    "--listen", "127.0.0.1:0", "--json"},
                                   {}, out.w, errFd);
    ::close(out.w);
    ::close(errFd);
    const std::string text = readAll(out.r);
    ::close(out.r);
    const int rc = waitExit(pid);
    if (rc != 0) {
      std::ifstream err(base / "init.err");
      std::string errText((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
      throw std::runtime_error("focald init exited with " + std::to_string(rc) + ": " + text + errText);
    }
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text);
      caFile_ = j.at("ca_file").get<std::string>();
    } catch (const nlohmann::json::exception& e) {
      throw std::runtime_error("cannot understand `focald init --json` output (" + std::string(e.what()) + "): " + text);
    }
    if (!options_.limits.empty()) {
      const fs::path file = dir_ / "focal.toml";
      std::ifstream in(file);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      in.close();
      for (const auto& [key, value] : options_.limits) {
        const std::regex line("(^|\\n)" + key + " = [^\\n]*");
        if (!std::regex_search(text, line)) throw std::runtime_error("focal.toml has no limit " + key);
        text = std::regex_replace(text, line, "$1" + key + " = " + value);
      }
      std::ofstream(file, std::ios::trunc) << text;
    }
    auto config = server::loadConfig(dir_ / "focal.toml");
    if (!config) throw std::runtime_error("focal.toml: " + config.error());
    limits_ = config->limits;
  }

  // run: wait for "focald listening on HOST:PORT".
  Pipe out;
  const int errFd = ::open((dir_ / "focald.err").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  std::vector<std::string> argv = options_.wrapper;
  for (const auto& a : {options_.focald.string(), std::string("run"), dir_.string(), std::string("--listen"),
                        std::string("127.0.0.1:0"), std::string("--log-level"), options_.logLevel}) {
    argv.push_back(a);
  }
  pid_ = spawnProcess(argv, {}, out.w, errFd);
  ::close(out.w);
  ::close(errFd);
  const std::regex listening("focald listening on (\\S+):(\\d+)\\r?\\n");
  std::string seen;
  const auto deadline = Clock::now() + options_.startTimeout;
  while (port_ == 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    bool failed = left <= 0;
    if (!failed) {
      pollfd p{out.r, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) > 0) {
        char buf[4096];
        const ssize_t n = ::read(out.r, buf, sizeof buf);
        if (n > 0) seen.append(buf, static_cast<std::size_t>(n));
        else failed = true;  // focald exited
      }
    }
    if (failed) {
      ::close(out.r);
      stop();
      std::ifstream err(dir_ / "focald.err");
      std::string errText((std::istreambuf_iterator<char>(err)), std::istreambuf_iterator<char>());
      throw std::runtime_error("focald run did not report listening: " + seen + errText);
    }
    std::smatch m;
    if (std::regex_search(seen, m, listening)) {
      host_ = m[1].str();
      if (host_.size() > 2 && host_.front() == '[') host_ = host_.substr(1, host_.size() - 2);
      port_ = static_cast<std::uint16_t>(std::stoi(m[2].str()));
    }
  }
  // Keep draining stdout so the hub never blocks on a full pipe.
  drain_ = test_support::drainToFile(out.r, dir_ / "focald.out", seen);
}

HubProcess::~HubProcess() {
  stop();
  if (!options_.keepDir) {
    std::error_code ec;
    fs::remove_all(dir_.parent_path(), ec);
  }
}

int HubProcess::stop() {
  int rc = -1;
  if (pid_ > 0) {
    ::kill(pid_, SIGTERM);
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    int status = 0;
    for (;;) {
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (r < 0 && errno != EINTR) break;
      if (Clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        rc = waitExit(pid_);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
  }
  if (drain_.joinable()) drain_.join();
  return rc;
}

HubTarget HubProcess::target() const {
  HubTarget t;
  t.host = host_;
  t.port = port_;
  t.caFile = caFile_;
  t.admin = &*admin_;
  if (pid_ > 0) t.pid = pid_;
  t.limits = limits_;
  t.limitsKnown = true;
  return t;
}

crypto::MemberKeys readAdminKey(const fs::path& path) {
  const char* passphrase = std::getenv("FOCAL_PASSPHRASE");
  if (passphrase == nullptr) throw std::runtime_error("--admin-key needs FOCAL_PASSPHRASE set to the key file's passphrase");
  auto keys = crypto::readKeyFile(path, passphrase);
  if (!keys) throw std::runtime_error(path.string() + ": " + crypto::describe(keys.error()));
  return std::move(keys).value();
}

}  // namespace focal::bench
