// focal forward / permit / retract / thread / export: what a point of contact
// does with a bulletin after it arrived (DESIGN.md §8, PROTOCOL.md §12).
#include "client/address_resolver.hpp"
#include "client/bulletin_cache.hpp"
#include "client/cli_context.hpp"
#include "client/misp.hpp"
#include "client/stix_export.hpp"
#include "client/text_input.hpp"
#include "client/client_error.hpp"
#include "client/terminal.hpp"
#include "protocol/records.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>

namespace focal::client::cli {

namespace {

std::string hexOf(const crypto::Bytes& b) { return crypto::toHex(crypto::ByteView(b)); }

// ---- forward ----

struct ForwardArgs {
  std::string id;
  std::string to;
};

int runForward(CliContext& ctx, const ForwardArgs& a) {
  const auto id = bulletinIdArg(ctx, a.id);
  const auto typed = splitList(a.to);
  if (typed.empty()) throw UsageError("no-recipients", "--to names nobody");
  auto addresses = canonicalAddresses(typed);
  if (!addresses) throw UsageError("bad-address", addresses.error());
  auto found = findVerifiedBulletin(ctx, id, "bulletin", a.id);
  const auto& keys = found.keys;
  const auto& m = found.message;
  auto raw = found.cache.get(id);
  if (!raw) throw NotFoundError("bulletin " + a.id + " is not in the local cache");
  auto recipients = resolveAddresses(found.directory(), *addresses, keys.memberId, m.meetingId);
  ctx.requireFreshHead(*found.conn);
  if (!recipients) throw UsageError("bad-address", recipients.error());

  protocol::ForwardDraft draft;
  draft.originalHeader = raw->header;
  draft.contentKey = &m.contentKey;
  draft.addresses = *addresses;
  draft.recipients = *recipients;
  auto record = protocol::makeForward(draft, keys, nowMs());
  if (!record) throw UsageError("invalid-forward", protocol::describe(record.error()));
  const auto recorded = found.conn->forward(*record);

  std::vector<std::string> names;
  for (const auto& r : *recipients) names.push_back(r.memberId);
  if (ctx.out().json()) {
    ctx.out().document({{"forward_id", hexOf(recorded.id)},
                        {"bulletin_id", crypto::toHex(id)},
                        {"addresses", *addresses},
                        {"recipient_ids", names},
                        {"recorded_at", jsonTime(recorded.atMs)}});
  } else {
    ctx.out().line(hexOf(recorded.id));
    ctx.out().note(fmt::format("Forwarded TLP:{} bulletin to {} member(s): {}", tlpName(m.tlp), names.size(),
                               safeLine(fmt::format("{}", fmt::join(names, ", ")))));
  }
  return ExitOk;
}

// ---- permit ----

struct PermitArgs {
  std::string id;
  std::string to;
};

int runPermit(CliContext& ctx, const PermitArgs& a) {
  const auto id = bulletinIdArg(ctx, a.id);
  const auto grantees = splitList(a.to);
  if (grantees.empty()) throw UsageError("no-recipients", "--to names nobody");
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  ctx.requireFreshHead(*conn);
  const auto record = protocol::makePermission(id, grantees, keys, nowMs());
  const auto recorded = conn->permit(record);
  if (ctx.out().json()) {
    ctx.out().document(
        {{"bulletin_id", crypto::toHex(id)}, {"permitted_ids", grantees}, {"recorded_at", jsonTime(recorded.atMs)}});
  } else {
    ctx.out().line(fmt::format("{} may now forward {} (within its TLP rules).",
                               safeLine(fmt::format("{}", fmt::join(grantees, ", "))), safeLine(a.id)));
  }
  return ExitOk;
}

// ---- retract ----

struct RetractArgs {
  std::string id;
  std::string reason;
};

int runRetract(CliContext& ctx, const RetractArgs& a) {
  const auto id = bulletinIdArg(ctx, a.id);
  if (a.reason.empty()) throw UsageError("no-reason", "--reason must say why");
  requireSingleLineText(a.reason, "--reason");
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  const auto record = protocol::makeRetraction(id, a.reason, keys, nowMs());
  const auto recorded = conn->retract(record);
  if (ctx.out().json()) {
    ctx.out().document(
        {{"bulletin_id", crypto::toHex(id)}, {"reason", a.reason}, {"recorded_at", jsonTime(recorded.atMs)}});
  } else {
    ctx.out().line(fmt::format("Retracted {}; every recipient and forward recipient is notified.", safeLine(a.id)));
  }
  return ExitOk;
}

// ---- thread ----

struct ThreadNode {
  crypto::BulletinId id;
  std::optional<crypto::BulletinId> parent;
  std::string sender;
  std::int64_t createdAtMs = 0;
  std::string title;
  std::string tlp;
  bool retracted = false;
  std::string senderName;
  std::string senderFingerprint;
};

int runThread(CliContext& ctx, const std::string& hexId) {
  const auto id = bulletinIdArg(ctx, hexId);
  auto keys = ctx.loadKeys();
  auto conn = ctx.connect(keys);
  auto cache = ctx.cache(keys);
  std::unique_ptr<HubDirectory> dir;
  // Whatever is queued is verified into the cache first.
  for (const auto& d : fetchAll(*conn, 0)) (void)openDelivery(*conn, dir, d, keys, cache);

  std::map<crypto::BulletinId, ThreadNode> nodes;
  for (const auto& cid : cache.ids()) {
    auto raw = cache.get(cid);
    if (!raw) continue;
    auto m = openCached(*conn, dir, *raw, cid, keys, cache);
    if (!m) continue;  // only verified bulletins are shown
    nodes[cid] = ThreadNode{cid,      m->replyTo,  m->senderId, m->createdAtMs, m->title, tlpName(m->tlp),
                            m->retraction.has_value(), m->senderName, m->senderFingerprint};
  }
  if (!nodes.contains(id)) throw NotFoundError("no verified bulletin " + hexId + " in your queue or cache");
  // The root: follow replyTo while the parent is known.
  crypto::BulletinId root = id;
  for (int depth = 0; depth < 1000; ++depth) {
    const auto& n = nodes.at(root);
    if (!n.parent || !nodes.contains(*n.parent)) break;
    root = *n.parent;
  }
  std::map<crypto::BulletinId, std::vector<crypto::BulletinId>> children;
  for (const auto& [cid, n] : nodes) {
    if (n.parent) children[*n.parent].push_back(cid);
  }
  for (auto& [p, list] : children) {
    std::sort(list.begin(), list.end(),
              [&](const auto& x, const auto& y) { return nodes.at(x).createdAtMs < nodes.at(y).createdAtMs; });
  }
  nlohmann::json list = nlohmann::json::array();
  std::vector<std::pair<crypto::BulletinId, int>> stack{{root, 0}};
  std::set<crypto::BulletinId> shown;
  while (!stack.empty()) {
    auto [cid, depth] = stack.back();
    stack.pop_back();
    if (!shown.insert(cid).second) continue;
    const auto& n = nodes.at(cid);
    if (ctx.out().json()) {
      list.push_back({{"bulletin_id", crypto::toHex(cid)},
                      {"depth", depth},
                      {"reply_to_id", n.parent ? nlohmann::json(crypto::toHex(*n.parent)) : nullptr},
                      {"sender", senderJson(n.sender, n.senderName, n.senderFingerprint)},
                      {"created_at", jsonTime(n.createdAtMs)},
                      {"tlp", jsonTlp(n.tlp)},
                      {"title", n.title},
                      {"retracted", n.retracted}});
    } else {
      ctx.out().line(fmt::format("{}{} {}  {:<20} TLP:{:<12} {}{}{}", std::string(2 * depth, ' '),
                                 cid == id ? "*" : "-", crypto::toHex(cid), safeLine(n.sender), n.tlp,
                                 formatTime(n.createdAtMs), "  " + safeLine(n.title), n.retracted ? "  [RETRACTED]" : ""));
    }
    auto it = children.find(cid);
    if (it == children.end()) continue;
    for (auto c = it->second.rbegin(); c != it->second.rend(); ++c) stack.emplace_back(*c, depth + 1);
  }
  if (ctx.out().json()) ctx.out().document(list);
  return ExitOk;
}

// ---- export ----

struct ExportArgs {
  std::string id;
  std::string format = "json";
  std::string out;
  bool understood = false;
  bool force = false;
};

// SECURITY: an export is the bulletin's plaintext (AMBER or RED with
// --i-understand-tlp): created 0600, whatever the umask allows beyond that,
// and never over an existing file (O_CREAT|O_EXCL; nor through a symlink
// planted at the path). With `force` an existing file is replaced by a new
// 0600 one (written beside it, then renamed over it).
void writeExportFile(const std::string& path, std::string_view text, bool force) {
  if (force) {
    writeFileAtomic(path, text, 0600);
    return;
  }
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0 && errno == EEXIST) throw UsageError("exists", path + " exists (use --force to replace it)");
  if (fd < 0) throw std::runtime_error("cannot create " + path + ": " + std::strerror(errno));
  std::size_t done = 0;
  int err = 0;
  while (done < text.size() && err == 0) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) err = errno;
    else done += static_cast<std::size_t>(n);
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err != 0) {
    ::unlink(path.c_str());  // no half-written export is left behind
    throw std::runtime_error("cannot write " + path + ": " + std::strerror(err));
  }
}

int runExport(CliContext& ctx, const ExportArgs& a) {
  const auto id = bulletinIdArg(ctx, a.id);
  const auto found = findVerifiedBulletin(ctx, id, "bulletin", a.id);
  const auto& m = found.message;
  // SECURITY (TLP 2.0): a file is made to be passed on. RED and AMBER leave
  // the client only when the user says they understand the limits.
  const bool restricted = m.tlp == wire::Tlp::RED || m.tlp == wire::Tlp::AMBER || m.tlp == wire::Tlp::AMBER_STRICT;
  if (restricted && !a.understood) {
    throw UsageError("tlp-restricted", fmt::format("bulletin {} is TLP:{}; a {} file can be shared beyond its "
                                                   "recipients. Re-run with --i-understand-tlp to export it anyway.",
                                                   a.id, tlpName(m.tlp), a.format));
  }
  std::string text;
  if (a.format == "stix") {
    // One STIX 2.1 bundle for every bulletin (docs/cti.md): the report, its
    // sender, ATT&CK, the carried objects, the TLP 2.0 markings.
    text = jsonTerminalSafe(stixBundleFor(m).dump(2, ' ', false, nlohmann::json::error_handler_t::replace)) + "\n";
  } else if (a.format == "misp") {
    // A MISP event in MISP's core JSON format (docs/cti.md, MISP).
    text = jsonTerminalSafe(misp::eventFor(m).dump(2, ' ', false, nlohmann::json::error_handler_t::replace)) + "\n";
  } else {
    // The JSON dialect of docs/json.md (focal export).
    nlohmann::json j{{"bulletin_id", crypto::toHex(m.id)},
                     {"tlp", jsonTlp(tlpName(m.tlp))},
                     {"handling", jsonText(handlingName(m.handling))},
                     {"handling_text", jsonText(m.handlingText)},
                     {"evaluation", jsonText(evaluationName(m.sourceReliability, m.infoAccuracy))},
                     {"case", jsonText(m.caseRef)},
                     {"sender", senderJson(m.senderId, m.senderName, m.senderFingerprint)},
                     {"created_at", jsonTime(m.createdAtMs)},
                     {"category", categoryName(m.category)},
                     {"title", m.title},
                     {"body", m.body},
                     {"attack", m.attackTechniques}};
    // Exact values (see Output: a byte that is not UTF-8 becomes U+FFFD).
    text = jsonTerminalSafe(j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)) + "\n";
  }
  if (a.out.empty() || a.out == "-") {
    // Exact bytes to a pipe or a file; the sender's STIX text is rendered
    // safe when standard output is a terminal.
    std::cout << (stdoutIsTerminal() ? safeBlock(text) : text);
  } else {
    writeExportFile(a.out, text, a.force);
  }
  if (!a.out.empty() && a.out != "-") {
    // With --json the command's own document says where the file went (to
    // standard output, the export itself is the document).
    if (ctx.out().json()) {
      ctx.out().document({{"bulletin_id", crypto::toHex(m.id)},
                          {"tlp", jsonTlp(tlpName(m.tlp))},
                          {"format", a.format},
                          {"saved_to", a.out}});
    } else {
      ctx.out().note(fmt::format("Exported TLP:{} bulletin {} to {} (mode 0600)", tlpName(m.tlp), a.id, a.out));
    }
  }
  return ExitOk;
}

}  // namespace

void addRecordCommands(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto fa = std::make_shared<ForwardArgs>();
  auto* fwd = app.add_subcommand("forward", "Forward a bulletin you received, or sent, to more members (TLP rules apply)");
  fwd->add_option("id", fa->id, "Bulletin id (32 hex digits, or a unique first 6 or more)")->required();
  fwd->add_option("--to", fa->to, "Addresses, comma-separated (as for focal send)")->required();
  fwd->footer(R"(The bulletin travels unchanged (its sender's signature stays verifiable); you sign a
forward record that wraps its content key for the new recipients. Original
recipients forward; members who got it through a forward do not. The hub enforces:
  CLEAR, GREEN   anyone in the community
  AMBER          points of contact of your own member state
  AMBER+STRICT   points of contact of your own institution (same state and kind)
  RED            nobody
  handling H2    only with the originator's permission (focal permit, by the sender)
The sender may forward its own bulletin (its client kept the content key): the
rules of a first send apply instead (RED to named members only; AMBER and
AMBER+STRICT to partners and the resource panel only when named), and H2 needs no
permission.

Example:
  focal forward 0f3c9a1e5b7d2c4f6a8e0b1d3f5a7c9e --to sg-csa-cert)");
  table.add(fwd, [&ctx, fa] { return runForward(ctx, *fa); });

  auto pa = std::make_shared<PermitArgs>();
  auto* permit =
      app.add_subcommand("permit", "As the originator, permit recipients to forward a bulletin (needed for H2)");
  permit->add_option("id", pa->id, "Bulletin id you sent (32 hex digits, or a unique first 6 or more)")->required();
  permit->add_option("--to", pa->to, "Member ids (original recipients) allowed to forward it")->required();
  permit->footer(R"(Signs a Permission record; the hub then lets those members forward the bulletin
(still within its TLP rules). Only the bulletin's sender may permit.

Example:
  focal permit 0f3c9a1e5b7d2c4f6a8e0b1d3f5a7c9e --to my-pdrm-cyber)");
  table.add(permit, [&ctx, pa] { return runPermit(ctx, *pa); });

  auto ra = std::make_shared<RetractArgs>();
  auto* retract = app.add_subcommand("retract", "Retract a bulletin you sent; every recipient is notified");
  retract->add_option("id", ra->id, "Bulletin id you sent (32 hex digits, or a unique first 6 or more)")->required();
  retract->add_option("--reason", ra->reason, "Why (visible to the hub and every recipient)")->required();
  retract->footer(R"(Only the original sender may retract. The hub delivers the signed retraction to
every recipient and forward recipient, including those who already acknowledged; their
clients mark the bulletin retracted and focal read shows the reason.

Example:
  focal retract 0f3c9a1e5b7d2c4f6a8e0b1d3f5a7c9e --reason "indicators were a test artefact")");
  table.add(retract, [&ctx, ra] { return runRetract(ctx, *ra); });

  auto tid = std::make_shared<std::string>();
  auto* thread = app.add_subcommand("thread", "Show the thread of replies a bulletin belongs to");
  thread->add_option("id", *tid, "Any bulletin id in the thread")->required();
  thread->footer(R"(Built from the verified bulletins in your queue and local cache (what you received
and what you sent), linked by the signed reply reference. * marks the one you named.

Example:
  focal thread 0f3c9a1e5b7d2c4f6a8e0b1d3f5a7c9e)");
  table.add(thread, [&ctx, tid] { return runThread(ctx, *tid); });

  auto ea = std::make_shared<ExportArgs>();
  auto* exp = app.add_subcommand("export", "Write a bulletin to a file for sharing (JSON, a STIX 2.1 bundle or a MISP event)");
  exp->add_option("id", ea->id, "Bulletin id (32 hex digits, or a unique first 6 or more)")->required();
  exp->add_option("--format", ea->format, "json|stix|misp (docs/cti.md)")->check(CLI::IsMember({"json", "stix", "misp"}));
  exp->add_option("--out", ea->out, "Output file (default: standard output)");
  exp->add_flag("--i-understand-tlp", ea->understood, "Export TLP:AMBER, AMBER+STRICT or RED anyway");
  exp->add_flag("--force", ea->force, "Replace the --out file if it exists");
  exp->footer(R"(Refuses RED and AMBER unless --i-understand-tlp: an exported file is outside
Focal's control, and TLP limits who may see it. The --out file is created with mode
0600 and an existing file is never replaced without --force.
--format stix writes one STIX 2.1 bundle for every bulletin: a report, the sender's
identity, the OASIS TLP 2.0 marking definition, ATT&CK attack-patterns, the carried
bundle's objects (unmarked ones take the bulletin's TLP) and Focal's provenance;
ids are derived from the bulletin id, so exporting again gives the same ids.
--format misp writes a MISP event (tlp: and mitre-attack-pattern galaxy tags, the
carried indicators as attributes). Mappings: docs/cti.md.

Example:
  focal export 0f3c9a1e5b7d2c4f6a8e0b1d3f5a7c9e --format stix --out alert.stix.json)");
  table.add(exp, [&ctx, ea] { return runExport(ctx, *ea); });
}

}  // namespace focal::client::cli
