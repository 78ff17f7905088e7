// focal send: seal a bulletin for the resolved recipients and hand it to the hub.
#include "client/address_resolver.hpp"
#include "client/cli_context.hpp"
#include "client/client_error.hpp"
#include "client/file_names.hpp"
#include "client/spooled_blob.hpp"
#include "client/terminal.hpp"

#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <sstream>

namespace focal::client::cli {

namespace {

struct SendArgs {
  std::string to;
  std::string tlp;
  std::string category;
  std::string title;
  std::optional<std::string> body;
  std::string bodyFile;
  std::vector<std::string> attach;
  std::string priority = "normal";
  std::string attack;
  std::string caseRef;
};

std::string readBody(const SendArgs& a) {
  if (a.body) return *a.body;
  std::stringstream s;
  if (!a.bodyFile.empty()) {
    std::ifstream in(a.bodyFile, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + a.bodyFile);
    s << in.rdbuf();
    return s.str();
  }
  if (stdinIsTerminal()) {
    throw UsageError("no-body", "give --body TEXT, --body-file FILE, or pipe the body on standard input");
  }
  s << std::cin.rdbuf();
  return s.str();
}

int runSend(CliContext& ctx, const SendArgs& a) {
  protocol::BulletinDraft draft;
  if (!parseTlp(a.tlp, draft.tlp)) throw UsageError("bad-tlp", "unknown TLP " + a.tlp);
  if (!parseCategory(a.category, draft.category)) throw UsageError("bad-category", "unknown category " + a.category);
  draft.priority = a.priority == "urgent" ? wire::Priority::URGENT : wire::Priority::NORMAL;
  draft.title = a.title;
  draft.body = readBody(a);
  draft.attackTechniques = splitList(a.attack);
  draft.caseRef = a.caseRef;
  draft.addresses = splitList(a.to);
  if (draft.addresses.empty()) throw UsageError("no-recipients", "--to names nobody");
  for (const auto& f : a.attach) {
    if (!std::filesystem::is_regular_file(f)) throw UsageError("bad-attachment", f + " is not a readable file");
  }

  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const auto directory = HubDirectory::fetch(*conn);
  auto recipients = resolveAddresses(directory, draft.addresses, keys.memberId);
  if (!recipients) throw UsageError("bad-address", recipients.error());
  draft.recipients = std::move(recipients).value();

  // Attachments are encrypted under keys derived from the content key, so
  // the key is chosen first and the blobs uploaded before sealing.
  auto contentKey = crypto::ContentKey::random();
  for (std::uint32_t i = 0; i < a.attach.size(); ++i) {
    const std::filesystem::path file(a.attach[i]);
    auto blob = SpooledBlob::encrypt(file, crypto::attachmentKey(contentKey, i), ctx.profile().spoolDir());
    ProgressBar bar(fmt::format("{} ", file.filename().string()), stderrIsTerminal());
    conn->uploadBlob(blob.reader(), blob.size(), blob.hash(),
                     [&bar](std::uint64_t done, std::uint64_t total) { bar.update(done, total); });
    bar.finish();
    draft.attachments.push_back(protocol::AttachmentDraft{
        sanitizeFileName(file.filename().string(), fmt::format("attachment-{}", i + 1)), mediaTypeFor(file),
        blob.plainSize(), blob.hash(), blob.size()});
  }

  auto sealed = protocol::sealBulletin(draft, keys, contentKey, nowMs());
  if (!sealed) throw UsageError("invalid-bulletin", protocol::describe(sealed.error()));
  const auto accepted = conn->send(*sealed);

  std::vector<std::string> names;
  for (const auto& r : draft.recipients) names.push_back(r.memberId);
  const auto id = crypto::toHex(sealed->id);
  if (ctx.out().json()) {
    ctx.out().document({{"id", id},
                        {"recipients", names},
                        {"accepted_at", formatTime(accepted.acceptedAtMs)},
                        {"already_accepted", accepted.alreadyAccepted}});
  } else {
    ctx.out().line(id);
    std::cerr << fmt::format("Accepted by the hub at {} for {} recipient(s).\n", formatTime(accepted.acceptedAtMs),
                             names.size());
  }
  return ExitOk;
}

}  // namespace

void addSendCommand(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto a = std::make_shared<SendArgs>();
  auto* cmd = app.add_subcommand("send", "Encrypt, sign and send a bulletin");
  cmd->add_option("--to", a->to,
                  "Addresses, comma-separated: a member id, state:CC, members, partners, resource-panel, all")
      ->required();
  cmd->add_option("--tlp", a->tlp, "Traffic Light Protocol: clear|green|amber|amber+strict|red")
      ->required()
      ->check(CLI::IsMember({"clear", "green", "amber", "amber+strict", "red"}, CLI::ignore_case));
  cmd->add_option("--category", a->category,
                  "trend|best-practice|technique|tool|alert|summary-record|other")
      ->required()
      ->check(CLI::IsMember({"trend", "best-practice", "technique", "tool", "alert", "summary-record", "other"}));
  cmd->add_option("--title", a->title, "Title (encrypted like the body)")->required();
  auto* body = cmd->add_option("--body", a->body, "Body text");
  auto* bodyFile = cmd->add_option("--body-file", a->bodyFile, "Read the body from a file")->check(CLI::ExistingFile);
  body->excludes(bodyFile);
  cmd->add_option("--attach", a->attach, "Attach a file (repeatable); encrypted and streamed")
      ->check(CLI::ExistingFile);
  cmd->add_option("--priority", a->priority, "normal|urgent")->check(CLI::IsMember({"normal", "urgent"}));
  cmd->add_option("--attack", a->attack, "MITRE ATT&CK technique ids, comma-separated (T1566,T1204.002)");
  cmd->add_option("--case", a->caseRef, "Case reference");
  cmd->footer(R"(The body comes from --body, --body-file, or standard input when neither is given.
Group addresses never include you; the hub checks the TLP rules (RED: named members only).

Example:
  focal send --to my-pdrm-cyber,state:TH --tlp amber --category alert \
      --title "Phishing kit targeting banks" --body-file alert.txt --attach iocs.csv \
      --attack T1566.002 --priority urgent
Prints the bulletin id (32 hex digits).)");
  table.add(cmd, [&ctx, a] { return runSend(ctx, *a); });
}

}  // namespace focal::client::cli
