// focal listen: wait for bulletins and print each as it arrives, and with
// --exec run a command for each verified one (a desktop notification, a
// ticket): its metadata in FOCAL_* environment variables, the body on its
// standard input only with --with-body.
#include "client/bulletin_cache.hpp"
#include "client/cli_context.hpp"
#include "client/cmd_admin_quorum.hpp"
#include "protocol/work_programme.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <set>

extern char** environ;

namespace focal::client::cli {

namespace {

// How often listen verifies what the directory log gained (self-monitoring).
constexpr std::chrono::seconds LogCheckEvery{5};

volatile std::sig_atomic_t stopRequested = 0;
extern "C" void onStopSignal(int) { stopRequested = 1; }

struct ListenArgs {
  bool all = false;
  std::string exec;
  bool urgentOnly = false;
  bool withBody = false;
};

// The environment a --exec command gets: ours without any FOCAL_* variable
// (FOCAL_PASSPHRASE above all: the command is not trusted with the key),
// plus the bulletin's metadata. Sender-chosen text goes through safeLine,
// so no control character reaches a terminal or a notification.
std::vector<std::string> execEnvironment(const OpenedMessage& m, bool retracted) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "FOCAL_", 6) != 0) env.emplace_back(*e);
  }
  const auto put = [&](const char* name, const std::string& value) { env.push_back(std::string(name) + "=" + value); };
  put("FOCAL_BULLETIN_ID", crypto::toHex(m.id));
  put("FOCAL_SENDER", safeLine(m.senderId));
  put("FOCAL_SENDER_NAME", safeLine(m.senderName));
  put("FOCAL_TLP", tlpName(m.tlp));
  put("FOCAL_PRIORITY", priorityName(m.priority));
  put("FOCAL_CATEGORY", categoryName(m.category));
  put("FOCAL_TITLE", safeLine(m.title));
  const auto created = jsonTime(m.createdAtMs);
  put("FOCAL_CREATED_AT", created.is_string() ? created.get<std::string>() : std::string());
  put("FOCAL_RETRACTED", retracted ? "1" : "0");
  return env;
}

// Runs `command` with /bin/sh for one verified bulletin and waits for it
// (one at a time: a command that should not hold listen up ends in `&`).
// Its standard output goes to our standard error, so listen's own output
// stays one line per bulletin; its standard input is the body (an
// in-memory file, never on disk) with `withBody`, else /dev/null. A
// command that fails or cannot start is reported and listen goes on.
void runExec(CliContext& ctx, const std::string& command, const OpenedMessage& m, bool retracted, bool withBody) {
  int input = -1;
  if (withBody) {
    input = ::memfd_create("focal-body", MFD_CLOEXEC);
    std::size_t done = 0;
    while (input >= 0 && done < m.body.size()) {
      const ssize_t n = ::write(input, m.body.data() + done, m.body.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    if (input >= 0 && (done != m.body.size() || ::lseek(input, 0, SEEK_SET) != 0)) {
      ::close(input);
      input = -1;
    }
    if (input < 0) {
      ctx.out().warning(fmt::format("--exec: cannot pass the body of {}: {}", crypto::toHex(m.id), std::strerror(errno)));
      return;
    }
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (input >= 0) posix_spawn_file_actions_adddup2(&actions, input, 0);
  else posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, 2, 1);
  const auto env = execEnvironment(m, retracted);
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  std::string shell = "/bin/sh", dashC = "-c", cmd = command;
  char* argv[] = {shell.data(), dashC.data(), cmd.data(), nullptr};
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, "/bin/sh", &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  if (input >= 0) ::close(input);
  if (rc != 0) {
    ctx.out().warning(fmt::format("--exec: cannot start /bin/sh: {}", std::strerror(rc)));
    return;
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    ctx.out().warning(fmt::format("--exec: the command for {} {}", crypto::toHex(m.id),
                                  WIFEXITED(status) ? "exited with " + std::to_string(WEXITSTATUS(status))
                                                    : "was killed by signal " + std::to_string(WTERMSIG(status))));
  }
}

int runListen(CliContext& ctx, const ListenArgs& a) {
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  warnPendingRotations(ctx, *conn, keys.memberId);
  auto cache = ctx.cache(keys);
  const auto contacts = ctx.contacts(keys);
  std::unique_ptr<HubDirectory> directory;
  std::set<std::pair<crypto::BulletinId, bool>> seen;  // pushes and the backlog may overlap; (id, retraction)
  std::uint64_t lastSeq = a.all ? 0 : ctx.lastSeq(keys);

  auto show = [&](const Delivery& d) {
    auto opened = openDelivery(*conn, directory, d, keys, cache);
    if (opened && !seen.insert({opened->id, d.retraction.has_value()}).second) return;
    // Before the line is printed: whoever waits for the line knows the command ran.
    if (opened && !a.exec.empty() && (!a.urgentOnly || opened->priority == wire::Priority::URGENT)) {
      runExec(ctx, a.exec, *opened, d.retraction.has_value(), a.withBody);
    }
    if (ctx.out().json()) {
      ctx.out().jsonLine(summaryJson(d, opened, false, &contacts));
    } else {
      ctx.out().line(summaryLine(d, opened, &contacts));
      std::cout.flush();
    }
    if (d.seq > lastSeq) {
      lastSeq = d.seq;
      ctx.setLastSeq(keys, lastSeq);
    }
  };

  struct sigaction sa {};
  sa.sa_handler = onStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  // Subscribe first, then drain the backlog: nothing falls between the two.
  conn->subscribe();
  // Work programme reminders for items this member's state owns (PROTOCOL.md
  // §12.10). A hub without the work programme refuses the request: listen
  // goes on without them.
  try {
    conn->subscribeActions();
  } catch (const HubError&) {
  }
  auto remind = [&] {
    while (auto r = conn->nextReminder()) {
      const auto id = crypto::toHex(r->actionId);
      if (ctx.out().json()) {
        ctx.out().jsonLine({{"action_reminder",
                             {{"action_id", id},
                              {"owner", jsonText(r->owner)},
                              {"due_day", jsonText(r->dueDay)},
                              {"status", protocol::actionStatusName(r->status)},
                              {"overdue", r->overdue}}}});
      } else {
        ctx.out().line(fmt::format("REMINDER action {} owned by {} {} {} (status {}): focal actions; focal action update {}",
                                   id, safeLine(r->owner), r->overdue ? "was due" : "is due", safeLine(r->dueDay),
                                   protocol::actionStatusName(r->status), id));
        std::cout.flush();
      }
    }
  };
  for (const auto& d : fetchAll(*conn, lastSeq)) show(d);
  ctx.saveArchive();  // listen runs until stopped: the archive is saved as it goes
  if (!ctx.out().json()) std::cerr << "Listening for bulletins (Ctrl-C to stop)...\n";
  // Self-monitoring while listening: the log is checked every few seconds,
  // so an entry about this member that it did not sign shows at once.
  auto nextLogCheck = std::chrono::steady_clock::now() + LogCheckEvery;
  while (stopRequested == 0) {
    auto d = conn->nextPush(std::chrono::milliseconds(250));
    if (d) {
      show(*d);
      ctx.saveArchive();
    }
    remind();
    if (std::chrono::steady_clock::now() >= nextLogCheck) {
      ctx.recheckSelf(*conn, keys);
      nextLogCheck = std::chrono::steady_clock::now() + LogCheckEvery;
    }
  }
  return ExitOk;
}

}  // namespace

void addListenCommand(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto a = std::make_shared<ListenArgs>();
  auto* cmd = app.add_subcommand("listen", "Wait for bulletins and print each as it arrives (until Ctrl-C)");
  cmd->add_flag("--all", a->all, "Start with every bulletin still queued, not only those not fetched before");
  auto* exec =
      cmd->add_option("--exec", a->exec, "Run this shell command for each verified bulletin (metadata in FOCAL_* variables)");
  cmd->add_flag("--urgent-only", a->urgentOnly, "With --exec: only for bulletins of priority urgent")->needs(exec);
  cmd->add_flag("--with-body", a->withBody, "With --exec: the body on the command's standard input")->needs(exec);
  cmd->footer(R"(Prints the backlog first (bulletins this profile has not fetched yet), then each
new bulletin as the hub pushes it. With --json: one JSON object per line.
Work programme reminders (an action item your state owns, due within 7 days or
overdue; at most one a day per item) are printed as REMINDER lines, or with --json
as objects with the one key action_reminder.

--exec CMD runs `/bin/sh -c CMD` for each bulletin that verifies, before its line is
printed, one at a time (end CMD with & not to wait for it). Its environment is
listen's without any FOCAL_* variable (so never FOCAL_PASSPHRASE), plus
FOCAL_BULLETIN_ID, FOCAL_SENDER, FOCAL_SENDER_NAME, FOCAL_TLP, FOCAL_PRIORITY,
FOCAL_CATEGORY, FOCAL_TITLE, FOCAL_CREATED_AT and FOCAL_RETRACTED (1 for a retraction
notice); sender text is made terminal-safe. The body is not passed unless --with-body,
then on standard input, as the sender wrote it (it may hold control characters).
CMD's standard output goes to listen's standard error; a CMD that fails is reported.
Mind the TLP: a notification shows the title outside Focal.

Examples:
  focal --json listen | while read -r line; do notify "$line"; done
  focal listen --urgent-only --exec 'notify-send "Focal $FOCAL_TLP: $FOCAL_TITLE" "from $FOCAL_SENDER"')");
  table.add(cmd, [&ctx, a] { return runListen(ctx, *a); });
}

}  // namespace focal::client::cli
