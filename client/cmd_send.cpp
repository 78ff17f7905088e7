// focal send: seal a bulletin for the resolved recipients and hand it to the hub.
#include "client/address_resolver.hpp"
#include "client/attack_techniques.hpp"
#include "client/bulletin_cache.hpp"
#include "client/cli_context.hpp"
#include "client/client_error.hpp"
#include "client/compose.hpp"
#include "client/file_names.hpp"
#include "client/group_memory.hpp"
#include "client/meetings.hpp"
#include "client/misp.hpp"
#include "client/spooled_blob.hpp"
#include "client/stix.hpp"
#include "client/terminal.hpp"
#include "client/text_input.hpp"
#include "client/verified_log.hpp"
#include "protocol/command_line.hpp"
#include "protocol/distribution.hpp"
#include "protocol/consensus.hpp"
#include "protocol/procedure_limits.hpp"
#include "protocol/work_programme.hpp"
#include "protocol/limits.hpp"

#include <fmt/format.h>

#include <fstream>
#include <map>
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
  std::string handling;
  std::string handlingText;
  std::string evaluation;
  std::string replyTo;  // focal reply: the bulletin id answered
  bool summaryRecord = false;
  std::string commentWindow = "7d";
  std::string revises;
  std::string meeting;  // --meeting: a paper or summary record bound to it
  std::string stixFile;  // --stix: a STIX 2.1 bundle carried in the content
  std::string mispFile;  // focal send --misp: the bulletin from a MISP event
  // Needs and offers (PROTOCOL.md §12.9): which command this is.
  enum class Need { None, Surface, Offer, Met } need = Need::None;
  std::string metOffer;  // focal need-met: the offer that met the need
  std::string date;   // training: when
  std::string place;  // training: where
  bool yes = false;  // send to groups that changed since the last send without asking
};

// The body, checked to be text (never cut at a NUL: PROTOCOL.md §3, Text fields).
// On a terminal without --body or --body-file it is written in the editor.
std::string readBody(CliContext& ctx, const SendArgs& a) {
  if (a.body) {
    requireText(*a.body, "--body");
    return *a.body;
  }
  std::stringstream s;
  if (!a.bodyFile.empty()) {
    std::ifstream in(a.bodyFile, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + a.bodyFile);
    s << in.rdbuf();
    requireBodyText(s.view(), "--body-file " + a.bodyFile);
    return s.str();
  }
  if (stdinIsTerminal()) {
    const std::string about = fmt::format("#\n# Title:    {}\n# TLP:      {}\n# Category: {}\n# To:       {}\n",
                                          safeLine(a.title), safeLine(a.tlp), safeLine(a.category),
                                          safeLine(a.to));
    std::string body = composeInEditor(ctx.profile().spoolDir(), about);
    requireBodyText(body, "the body from the editor");
    return body;
  }
  s << std::cin.rdbuf();
  requireBodyText(s.view(), "the body on standard input");
  return s.str();
}

// A file's text, refused before it is read when it could not fit in a
// bulletin's content (protocol/limits.hpp).
std::string readBoundedFile(const std::string& path, std::string_view option) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) throw UsageError("bad-file", fmt::format("{} {}: cannot read it ({})", option, path, ec.message()));
  if (size > protocol::MaxContentBytes) {
    throw UsageError("too-large", fmt::format("{} {} is {} bytes; a bulletin's content holds at most {} (send larger "
                                              "material as an attachment)",
                                              option, path, size, protocol::MaxContentBytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError("bad-file", fmt::format("{} {}: cannot read it", option, path));
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// --stix: the bundle as the file holds it, validated for this bulletin's
// TLP before anything is sealed (docs/cti.md, STIX in).
std::string readStixBundle(const std::string& path, wire::Tlp tlp) {
  std::string text = readBoundedFile(path, "--stix");
  requireBodyText(text, "--stix " + path);
  const auto v = stix::validateBundle(text, tlp);
  if (v.problem) throw UsageError(v.problem->code, "--stix " + path + ": " + v.problem->message);
  return text;
}

// focal send --misp: the title (unless --title), TLP (from the event's tlp:
// tag; without one only with --tlp, and never a different one), ATT&CK
// (galaxy tags, added to --attack), category (alert unless --category) and
// body (unless --body or --body-file: the attributes listed) from a MISP
// event; returns its attributes as a STIX bundle (docs/cti.md, MISP).
std::string fromMispEvent(SendArgs& a) {
  if (!a.stixFile.empty()) throw UsageError("usage", "--misp and --stix both give the carried bundle: use one");
  const auto event = misp::importEvent(readBoundedFile(a.mispFile, "--misp"), nowMs());
  if (a.title.empty()) a.title = event.title;
  if (event.tlp) {
    wire::Tlp given{};
    if (!a.tlp.empty() && (!parseTlp(a.tlp, given) || given != *event.tlp)) {
      throw UsageError("bad-tlp", fmt::format("--misp {} is tagged TLP:{}, --tlp says {}: they must agree",
                                              a.mispFile, tlpName(*event.tlp), a.tlp));
    }
    a.tlp = tlpName(*event.tlp);
  } else if (a.tlp.empty()) {
    throw UsageError("no-tlp", "--misp " + a.mispFile + " has no tlp: tag; give the bulletin's level with --tlp");
  }
  if (a.category.empty()) a.category = "alert";
  for (const auto& id : event.attack) a.attack += (a.attack.empty() ? "" : ",") + id;
  if (!a.body && a.bodyFile.empty()) {
    a.body = "Imported from the MISP event \"" + event.title + "\"." +
             (event.summary.empty() ? std::string("\n") : "\n\nAttributes:\n" + event.summary);
  }
  for (const auto& type : event.skipped) {
    std::cerr << fmt::format("focal: warning: --misp: attributes of type {} have no STIX mapping and are not carried "
                             "(docs/cti.md)\n",
                             safeLine(type));
  }
  return event.stixBundle;
}

// The group addresses of a send as they resolve now, and those whose
// members or keys changed since this profile's last send to them.
struct GroupCheck {
  std::map<std::string, std::vector<protocol::RecipientKey>> sets;
  std::vector<GroupChange> changes;
};

GroupCheck checkGroups(const KeyDirectory& directory, const GroupMemory& memory,
                       const std::vector<std::string>& addresses, const std::string& me) {
  GroupCheck check;
  for (const auto& address : addresses) {
    const auto parsed = protocol::parseAddress(address);
    if (!parsed || !parsed->isGroup()) continue;
    auto set = resolveAddresses(directory, std::span<const std::string>(&address, 1), me);
    if (!set) continue;  // the whole list resolved; a group alone may be empty
    if (auto change = memory.compare(address, *set)) check.changes.push_back(std::move(*change));
    check.sets[address] = std::move(*set);
  }
  return check;
}

void printGroupChange(const GroupChange& c) {
  std::cerr << fmt::format("{} has changed since your last send to it ({}):\n", safeLine(c.address),
                           formatTime(c.previousSendMs));
  for (const auto& id : c.joined) std::cerr << fmt::format("  + {} (joined)\n", safeLine(id));
  for (const auto& id : c.left) std::cerr << fmt::format("  - {} (left or revoked)\n", safeLine(id));
  for (const auto& id : c.keyChanged) {
    std::cerr << fmt::format("  ~ {} (new encryption key; see focal directory and its log entry)\n", safeLine(id));
  }
}

nlohmann::json groupChangesJson(const std::vector<GroupChange>& changes) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : changes) {
    out.push_back({{"address", c.address},
                   {"previous_send_at", jsonTime(c.previousSendMs)},
                   {"joined", c.joined},
                   {"left", c.left},
                   {"key_changed", c.keyChanged}});
  }
  return out;
}

// Shows every change; then the user confirms on a terminal, or --yes did.
void confirmGroupChanges(const std::vector<GroupChange>& changes, bool yes) {
  if (changes.empty()) return;
  for (const auto& c : changes) printGroupChange(c);
  if (yes) return;
  const auto confirmed = confirmOnTerminal("Seal to these groups as they are now?");
  if (!confirmed) {
    throw UsageError("group-changed",
                     "a group address resolves to other members or keys than at your last send to it (listed "
                     "above); check them (focal directory), then send again with --yes");
  }
  if (!*confirmed) throw UsageError("not-confirmed", "not sent");
}

// The sender must be a point of contact of a member state (needs are the
// member states' own; PROTOCOL.md §12.9).
const MemberRecord& requireStatePoc(const KeyDirectory& directory, const std::string& me, const char* what) {
  const MemberRecord* self = directory.find(me);
  if (self == nullptr || !protocol::isStatePoc(protocol::StateSeat{self->state, self->institution, self->active})) {
    throw UsageError("not-allowed", std::string("only a point of contact of a member state ") + what);
  }
  return *self;
}

// focal offer / focal need-met: the verified need they answer, and what
// binds them to it (PROTOCOL.md §12.9).
void bindToNeed(CliContext& ctx, SendArgs& a, protocol::BulletinDraft& draft, FoundBulletin& found,
                const std::string& me) {
  const auto& need = found.message;
  if (need.category != wire::Category::NEED || need.replyTo) {
    throw UsageError("not-a-need", "bulletin " + safeLine(a.replyTo) + " is not a need (focal needs lists them)");
  }
  auto& directory = found.directory();
  const MemberRecord* owner = directory.find(need.senderId);
  const std::string ownerState = owner != nullptr ? owner->state : std::string();
  if (a.need == SendArgs::Need::Offer) {
    a.category = "offer";
    if (a.title.rfind("Re: ", 0) == 0) a.title = "Offer: " + need.title;
    // To the owning state's points of contact (a RED need: its sender only).
    if (a.to == need.senderId && need.tlp != wire::Tlp::RED && !ownerState.empty()) a.to = "state:" + ownerState;
    return;
  }
  const auto& self = requireStatePoc(directory, me, "marks a need met");
  if (self.state != ownerState) {
    throw UsageError("not-allowed", "only a point of contact of " + ownerState + ", the need's owner, marks it met");
  }
  const auto offerId = bulletinIdArg(ctx, a.metOffer);
  auto offer = findVerifiedBulletin(ctx, offerId, "offer", a.metOffer);
  if (offer.message.category != wire::Category::OFFER || !(offer.message.replyTo == std::optional(need.id))) {
    throw UsageError("not-an-offer", "bulletin " + safeLine(a.metOffer) + " is not an offer on this need");
  }
  a.category = "need";
  if (a.title.rfind("Re: ", 0) == 0) a.title = "Met: " + need.title;
  if (!a.body) a.body = std::string();
  // To whoever the need reached, and the one whose offer met it.
  std::vector<std::string> to = need.addresses;
  if (std::find(to.begin(), to.end(), offer.message.senderId) == to.end()) to.push_back(offer.message.senderId);
  a.to.clear();
  for (const auto& t : to) a.to += (a.to.empty() ? "" : ",") + t;
  draft.metOffer = offerId;
}

int runSend(CliContext& ctx, const SendArgs& args) {
  SendArgs a = args;
  protocol::BulletinDraft draft;
  std::optional<crypto::Keyring> loadedKeys;
  std::unique_ptr<Connection> conn;
  if (!a.replyTo.empty()) {
    // A reply: defaults from the verified original (to its sender, same TLP
    // and handling, "Re: title"); the reference is signed in the header.
    const auto original = bulletinIdArg(ctx, a.replyTo);
    auto found = findVerifiedBulletin(ctx, original, "bulletin", a.replyTo);
    loadedKeys.emplace(std::move(found.keys));
    conn = std::move(found.conn);
    const auto& m = found.message;
    if (a.to.empty()) a.to = m.senderId;
    if (a.tlp.empty()) a.tlp = tlpName(m.tlp);
    if (a.category.empty()) a.category = categoryName(m.category);
    if (a.title.empty()) a.title = m.title.rfind("Re: ", 0) == 0 ? m.title : "Re: " + m.title;
    if (a.handling.empty() && m.handling != wire::Handling::UNSET) {
      a.handling = handlingName(m.handling);
      if (a.handlingText.empty()) a.handlingText = m.handlingText;
    }
    if (a.caseRef.empty()) a.caseRef = m.caseRef;
    draft.replyTo = original;
    if (a.need == SendArgs::Need::Offer || a.need == SendArgs::Need::Met) {
      bindToNeed(ctx, a, draft, found, loadedKeys->memberId);
    }
  } else if (a.need == SendArgs::Need::Surface) {
    loadedKeys.emplace(ctx.loadKeys());
    conn = ctx.connect(*loadedKeys);
    const auto directory = HubDirectory::fetch(*conn);
    requireStatePoc(directory, loadedKeys->memberId, "surfaces a need");
    a.category = "need";
    if (a.to.empty()) {
      // To the members and, as the TLP allows, the partners and the panel.
      wire::Tlp tlp{};
      if (!parseTlp(a.tlp, tlp)) throw UsageError("bad-tlp", "unknown TLP " + a.tlp);
      if (tlp == wire::Tlp::RED) throw UsageError("usage", "a TLP:RED need goes to named members only: give --to");
      a.to = "members";
      if (tlp == wire::Tlp::CLEAR || tlp == wire::Tlp::GREEN) {
        // Only the groups that have someone in them (an empty group is
        // refused; a meeting-limited panel member is in no group).
        for (const auto& group : {std::pair{"partners", wire::Institution::DIALOGUE_PARTNER},
                                  std::pair{"resource-panel", wire::Institution::RESOURCE_PANEL}}) {
          const auto& all = directory.members();
          const wire::Institution institution = group.second;  // (clang 14: no lambda capture of a binding)
          if (std::any_of(all.begin(), all.end(),
                          [&](const MemberRecord& m) {
                            return m.active && m.institution == institution && !m.meetingLimited();
                          })) {
            a.to += std::string(",") + group.first;
          }
        }
      }
    }
  }
  std::string mispBundle;
  if (!a.mispFile.empty()) mispBundle = fromMispEvent(a);
  std::int64_t commentWindowMs = 0;
  if (a.summaryRecord) {
    if (a.category.empty()) a.category = "summary-record";
    if (a.category != "summary-record") throw UsageError("usage", "a summary record has category summary-record");
    // The hub refuses a window over a year and a day: said here, with the range.
    auto w = protocol::parseDurationMs(a.commentWindow);
    if (!w || *w > protocol::MaxCommentWindowMs) {
      throw UsageError("bad-window", "--comment-window takes a duration from 1s to 366d (e.g. 7d, 36h, 30m, 90s), got '" +
                                         a.commentWindow + "'");
    }
    commentWindowMs = *w;
    draft.kind = wire::BulletinKind::SUMMARY_RECORD;
    if (!a.revises.empty()) draft.revises = bulletinIdArg(ctx, a.revises);
  } else if (!a.revises.empty()) {
    throw UsageError("usage", "--revises goes with --summary-record");
  }
  if (!a.meeting.empty() && !a.summaryRecord) {
    if (a.category.empty()) a.category = "meeting-document";
    if (a.category != "meeting-document") {
      throw UsageError("usage", "a paper bound to a meeting has category meeting-document");
    }
  }
  if (a.meeting.empty() && a.category == "meeting-document") {
    throw UsageError("usage", "category meeting-document goes with --meeting ID");
  }
  if (a.tlp.empty() || a.category.empty() || a.title.empty() || (a.to.empty() && a.meeting.empty())) {
    throw UsageError("usage", fmt::format("--to (or --meeting), --tlp, --category and --title are required (see focal {} --help)",
                                          a.replyTo.empty() ? "send" : "reply"));
  }
  // Every text field is checked here, naming the option, before anything is
  // read from the network or sealed (the title and body are content: any
  // text; the rest is signed in the header and single-line).
  requireText(a.title, "--title");
  requireSingleLineText(a.to, "--to");
  requireSingleLineText(a.caseRef, "--case");
  requireSingleLineText(a.handlingText, "--handling-text");
  requireSingleLineText(a.attack, "--attack");
  if (!parseTlp(a.tlp, draft.tlp)) throw UsageError("bad-tlp", "unknown TLP " + a.tlp);
  if (!parseCategory(a.category, draft.category)) throw UsageError("bad-category", "unknown category " + a.category);
  draft.priority = a.priority == "urgent" ? wire::Priority::URGENT : wire::Priority::NORMAL;
  draft.title = a.title;
  // A body written in the editor is not lost to a mistyped passphrase: the
  // key file is opened first.
  if (!a.body && a.bodyFile.empty() && stdinIsTerminal() && !loadedKeys) loadedKeys.emplace(ctx.loadKeys());
  draft.body = readBody(ctx, a);
  for (const auto& raw : splitList(a.attack)) {
    // Checked against the Enterprise list compiled in (ATT&CK v18.1): a
    // typo is refused before anything is sealed.
    std::string id = normalizeAttackId(raw);
    const auto t = findAttackTechnique(id);
    if (!t) {
      throw UsageError("bad-attack", fmt::format("--attack {}: not a MITRE ATT&CK Enterprise technique id ({}), "
                                                 "e.g. T1566 or T1566.002",
                                                 raw, AttackVersion));
    }
    if (t->status != AttackStatus::Active) {
      // The data names no replacement (data/attack/README.md).
      std::cerr << fmt::format("warning: ATT&CK technique {} ({}) is {} in {}; see attack.mitre.org for what "
                               "replaces it\n",
                               t->id, t->name, attackStatusName(t->status), AttackVersion);
    }
    draft.attackTechniques.push_back(std::move(id));
  }
  if (!a.stixFile.empty()) draft.stixBundle = readStixBundle(a.stixFile, draft.tlp);
  if (!mispBundle.empty()) {
    // Built here from the event's attributes, and checked like any bundle.
    const auto v = stix::validateBundle(mispBundle, draft.tlp);
    if (v.problem) throw UsageError(v.problem->code, "--misp " + a.mispFile + ": " + v.problem->message);
    draft.stixBundle = std::move(mispBundle);
  }
  draft.caseRef = a.caseRef;
  // A training programme or conference says when and where (signed, encrypted
  // with the content); no other category carries them.
  if (draft.category == wire::Category::TRAINING) {
    if (a.date.empty() || a.place.empty()) {
      throw UsageError("usage", "a training (--category training) needs --date and --place");
    }
    if (!protocol::validEventDate(a.date)) {
      throw UsageError("bad-date", "--date takes YYYY-MM-DD or a range YYYY-MM-DD..YYYY-MM-DD, got '" +
                                       safeLine(a.date) + "'");
    }
    requireSingleLineText(a.place, "--place");
    if (a.place.size() > protocol::MaxTextFieldBytes) {
      throw UsageError("too-long", fmt::format("--place is at most {} bytes", protocol::MaxTextFieldBytes));
    }
    draft.eventDate = a.date;
    draft.eventPlace = a.place;
  } else if (!a.date.empty() || !a.place.empty()) {
    throw UsageError("usage", "--date and --place go with --category training");
  }
  // The sealer would only say "a field is invalid": the option is named here.
  for (const auto& [option, value] : {std::pair<const char*, const std::string*>{"--case", &a.caseRef},
                                      {"--handling-text", &a.handlingText}}) {
    if (value->size() > protocol::MaxTextFieldBytes) {
      throw UsageError("too-long", fmt::format("{} is at most {} bytes (this one has {})", option,
                                               protocol::MaxTextFieldBytes, value->size()));
    }
  }
  if (!a.handling.empty() && !parseHandling(a.handling, draft.handling)) {
    throw UsageError("bad-handling", "unknown handling code " + a.handling + " (H0, H1, H2 or H3)");
  }
  if (draft.handling == wire::Handling::H3 && a.handlingText.empty()) {
    throw UsageError("bad-handling", "--handling H3 needs --handling-text saying what the restrictions are");
  }
  if (draft.handling != wire::Handling::H3 && !a.handlingText.empty()) {
    throw UsageError("bad-handling", "--handling-text goes with --handling H3");
  }
  draft.handlingText = a.handlingText;
  if (!a.evaluation.empty() && !parseEvaluation(a.evaluation, draft.sourceReliability, draft.infoAccuracy)) {
    throw UsageError("bad-evaluation", "an evaluation is a source letter A/B/C/X and an accuracy 1-4, e.g. B2");
  }
  const auto typed = splitList(a.to);
  if (typed.empty() && a.meeting.empty()) throw UsageError("no-recipients", "--to names nobody");
  auto canonical = canonicalAddresses(typed);
  if (!canonical) throw UsageError("bad-address", canonical.error());
  draft.addresses = std::move(canonical).value();
  for (const auto& f : a.attach) {
    if (!std::filesystem::is_regular_file(f)) throw UsageError("bad-attachment", f + " is not a readable file");
  }

  if (!loadedKeys) loadedKeys.emplace(ctx.loadKeys());
  auto& keys = *loadedKeys;
  if (!conn) conn = ctx.connect(keys);
  const auto directory = HubDirectory::fetch(*conn);
  if (!a.meeting.empty()) {
    // Bound to a meeting the verified log says the secretariat made; by
    // default to all its participants: the delegations ("members") and
    // each invited member by name (so AMBER reaches them too), and each
    // panel member whose admission names this meeting (PROTOCOL.md §12.5).
    const auto listing = verifyMeetings(conn->listMeetings(), directory);
    const auto& meeting = findMeetingArg(listing, a.meeting);
    draft.meetingId = meeting.info.id;
    if (draft.addresses.empty()) {
      draft.addresses.push_back("members");
      for (const auto& id : meeting.info.invited) {
        if (id != keys.memberId) draft.addresses.push_back(id);
      }
      for (const auto& m : directory.members()) {
        if (m.usable() && m.admittedTo(meeting.info.id) && m.id != keys.memberId && !meeting.info.invites(m.id)) {
          draft.addresses.push_back(m.id);
        }
      }
    }
  }
  ctx.requireFreshHead(*conn);  // before anything is uploaded or sealed
  auto recipients = resolveAddresses(directory, draft.addresses, keys.memberId, draft.meetingId);
  if (!recipients) throw UsageError("bad-address", recipients.error());
  draft.recipients = std::move(recipients).value();
  auto groups = GroupMemory::load(logStateDir(ctx.profile().dir(), conn->session().hubId) / "groups.json");
  if (!groups.warning().empty()) std::cerr << "focal: warning: " << groups.warning() << "\n";
  const auto groupCheck = checkGroups(directory, groups, draft.addresses, keys.memberId);
  confirmGroupChanges(groupCheck.changes, a.yes);
  // Gossip (PROTOCOL.md §11.4): our verified head rides inside the
  // encrypted content, where the hub cannot see or filter it.
  if (const auto& head = conn->verifiedLog()->head()) {
    draft.logHead = head->head;
    draft.logHeadSignature = head->signature;
  }

  // Attachments are encrypted under keys derived from the content key, so
  // the key is chosen first and the blobs uploaded before sealing.
  auto contentKey = crypto::ContentKey::random();
  for (std::uint32_t i = 0; i < a.attach.size(); ++i) {
    const std::filesystem::path file(a.attach[i]);
    auto blob = SpooledBlob::encrypt(file, crypto::attachmentKey(contentKey, i), ctx.profile().spoolDir());
    ProgressBar bar(fmt::format("{} ", safeLine(file.filename().string())), stderrIsTerminal());
    conn->uploadBlob(blob.reader(), blob.size(), blob.hash(),
                     [&bar](std::uint64_t done, std::uint64_t total) { bar.update(done, total); });
    bar.finish();
    draft.attachments.push_back(protocol::AttachmentDraft{
        sanitizeFileName(file.filename().string(), fmt::format("attachment-{}", i + 1)), mediaTypeFor(file),
        blob.plainSize(), blob.hash(), blob.size()});
  }

  const std::int64_t sealedAt = nowMs();
  if (draft.kind == wire::BulletinKind::SUMMARY_RECORD) draft.commentDeadlineMs = sealedAt + commentWindowMs;
  draft.hubId = conn->session().hubId;  // seal v2 binds it (the verified log names this hub)
  auto sealed = protocol::sealBulletin(draft, keys, contentKey, sealedAt);
  if (!sealed) throw UsageError("invalid-bulletin", protocol::describe(sealed.error()));
  const auto accepted = conn->send(*sealed);
  for (const auto& [address, set] : groupCheck.sets) groups.remember(address, set, accepted.acceptedAtMs);
  groups.save();
  // Our own copy, openable by us (K sealed to our encryption key), so
  // `focal thread` can show what we sent.
  ctx.cache(keys).putOwn(*sealed, crypto::wrapKey(contentKey, keys.encryption.publicKey));

  std::vector<std::string> names;
  for (const auto& r : draft.recipients) names.push_back(r.memberId);
  const auto id = crypto::toHex(sealed->id);
  if (ctx.out().json()) {
    ctx.out().document({{"bulletin_id", id},
                        {"comment_deadline_at", jsonTime(draft.commentDeadlineMs)},
                        {"addresses", draft.addresses},
                        {"recipient_ids", names},
                        {"accepted_at", jsonTime(accepted.acceptedAtMs)},
                        {"already_accepted", accepted.alreadyAccepted},
                        {"group_changes", groupChangesJson(groupCheck.changes)}});
  } else {
    ctx.out().line(id);
    std::cerr << fmt::format("Accepted by the hub at {} for {} recipient(s).\n", formatTime(accepted.acceptedAtMs),
                             names.size());
    if (draft.commentDeadlineMs != 0) {
      std::cerr << fmt::format("Summary record: comments close at {}; approved then unless someone objects.\n",
                               formatTime(draft.commentDeadlineMs));
    }
  }
  return ExitOk;
}

}  // namespace

static void addMarkingOptions(CLI::App* cmd, SendArgs& a) {
  cmd->add_option("--date", a.date, "With --category training: when, YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD");
  cmd->add_option("--place", a.place, "With --category training: where (e.g. \"Singapore, INTERPOL IGCI\")");
  cmd->add_option("--priority", a.priority, "normal|urgent")->check(CLI::IsMember({"normal", "urgent"}));
  cmd->add_option("--attack", a.attack, "MITRE ATT&CK technique ids, comma-separated (T1566,T1204.002)");
  cmd->add_option("--case", a.caseRef, "Case reference (signed, visible to the hub)");
  cmd->add_option("--handling", a.handling,
                  "Handling code: H0 crime analysis only; H1 not for court without permission; H2 no further "
                  "dissemination without permission; H3 other restrictions (with --handling-text)")
      ->check(CLI::IsMember({"H0", "H1", "H2", "H3"}, CLI::ignore_case));
  cmd->add_option("--handling-text", a.handlingText, "The restrictions of handling code H3");
  cmd->add_option("--evaluation", a.evaluation, "Source reliability A/B/C/X and information accuracy 1-4, e.g. B2");
  cmd->add_option("--attach", a.attach, "Attach a file (repeatable); encrypted and streamed")->check(CLI::ExistingFile);
  cmd->add_option("--stix", a.stixFile,
                  "Carry this STIX 2.1 bundle (JSON) in the encrypted content; validated first, and no object may "
                  "be marked with a stricter TLP than the bulletin's")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--yes", a.yes,
                "Send even when a group address now resolves to other members or keys than at your last send to it "
                "(the change is still shown); without it you are asked on a terminal, and a script is refused");
}

static void addReplyCommand(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto a = std::make_shared<SendArgs>();
  auto* cmd = app.add_subcommand("reply", "Reply to a bulletin (threaded: the reference is signed in the header)");
  cmd->add_option("id", a->replyTo, "The bulletin answered (32 hex digits, or a unique first 6 or more)")->required();
  cmd->add_option("--to", a->to, "Addresses (default: the original's sender)");
  cmd->add_option("--tlp", a->tlp, "TLP (default: the original's)")
      ->check(tlpValidator());
  cmd->add_option("--category", a->category, "Category (default: the original's)")
      ->check(CLI::IsMember({"trend", "best-practice", "technique", "tool", "alert", "summary-record", "other",
                             "meeting-document", "training"}));
  cmd->add_option("--title", a->title, "Title (default: Re: the original's title)");
  auto* body = cmd->add_option("--body", a->body, "Body text");
  auto* bodyFile = cmd->add_option("--body-file", a->bodyFile, "Read the body from a file")->check(CLI::ExistingFile);
  body->excludes(bodyFile);
  addMarkingOptions(cmd, *a);
  cmd->footer(R"(The original is opened and verified first; the reply inherits its TLP, handling
code, case reference and category unless given, and goes to its sender unless --to is
given. The same TLP rules apply as for focal send. See the thread with focal thread ID.
Without --body or --body-file on a terminal, the body is written in your editor.
--stix FILE carries a STIX 2.1 bundle as with focal send (docs/cti.md).

Example:
  focal reply 0f3c9a1e5b7d2c4f6a8e0b1d3f5a7c9e --body "Seen here too; IOCs attached" --attach iocs.csv)");
  table.add(cmd, [&ctx, a] { return runSend(ctx, *a); });
}

void addNeedSendCommands(CLI::App& app, CliContext& ctx, CommandTable& table) {
  auto need = std::make_shared<SendArgs>();
  need->need = SendArgs::Need::Surface;
  auto* needCmd = app.add_subcommand("need", "A member state surfaces a need (capability, training, equipment, ...)");
  needCmd->add_option("--title", need->title, "What is needed, in a line (encrypted like the body)")->required();
  auto* body = needCmd->add_option("--body", need->body, "The need in detail");
  auto* bodyFile = needCmd->add_option("--body-file", need->bodyFile, "Read the body from a file")->check(CLI::ExistingFile);
  body->excludes(bodyFile);
  needCmd->add_option("--tlp", need->tlp, "clear|green|amber|amber+strict|red")->required()->check(tlpValidator());
  needCmd->add_option("--to", need->to,
                      "Addresses (default: members, and for CLEAR and GREEN the partners and the resource panel when it has anyone; "
                      "AMBER: members)");
  needCmd->add_flag("--yes", need->yes, "Send even when a group address changed since your last send to it");
  needCmd->footer(R"(A bulletin of category need, sealed to the members and, as its TLP allows, the
dialogue partners and the resource panel, so collaborative solutions can be found
(terms of reference §4(d)). Only a point of contact of a member state surfaces one.
Partners, panel members and member states answer with focal offer; your state marks
it met with focal need-met; focal needs lists needs with their offers.

Example:
  focal need --tlp green --title "Mobile forensics training for 20 investigators" \
      --body "Two weeks, Q2 2027, Kuala Lumpur or online")");
  table.add(needCmd, [&ctx, need] { return runSend(ctx, *need); });

  auto offer = std::make_shared<SendArgs>();
  offer->need = SendArgs::Need::Offer;
  auto* offerCmd = app.add_subcommand("offer", "Offer help with a need (a reply bound to it)");
  offerCmd->add_option("need-id", offer->replyTo, "The need (32 hex digits, or a unique first 6 or more)")->required();
  auto* obody = offerCmd->add_option("--body", offer->body, "What you offer");
  auto* obodyFile = offerCmd->add_option("--body-file", offer->bodyFile, "Read the body from a file")->check(CLI::ExistingFile);
  obody->excludes(obodyFile);
  offerCmd->add_option("--title", offer->title, "Title (default: Offer: the need's title)");
  offerCmd->footer(R"(A bulletin of category offer replying to the need (the reference is signed), sealed
with the need's TLP to the points of contact of the state that surfaced it (a RED
need: to its sender only). Dialogue partners, resource-panel members and member
states may offer.

Example:
  focal offer 0f3c9a --body "We can host the course in Q2 and fund 10 places")");
  table.add(offerCmd, [&ctx, offer] { return runSend(ctx, *offer); });

  auto met = std::make_shared<SendArgs>();
  met->need = SendArgs::Need::Met;
  auto* metCmd = app.add_subcommand("need-met", "Your state's need was met: name the offer that met it");
  metCmd->add_option("need-id", met->replyTo, "The need (32 hex digits, or a unique first 6 or more)")->required();
  metCmd->add_option("--offer", met->metOffer, "The offer that met it")->required();
  metCmd->add_option("--body", met->body, "A note (optional)");
  metCmd->footer(R"(Only a point of contact of the state that surfaced the need marks it met: a signed
notice (category need, replying to it, naming the offer) sealed to whoever the need
reached and to the offer's author. Every client checks that its author's state owns
the need before focal needs shows it met.

Example:
  focal need-met 0f3c9a --offer 7d2c4f --body "Course agreed for May")");
  table.add(metCmd, [&ctx, met] { return runSend(ctx, *met); });
}

void addSendCommand(CLI::App& app, CliContext& ctx, CommandTable& table) {
  addReplyCommand(app, ctx, table);
  auto a = std::make_shared<SendArgs>();
  auto* cmd = app.add_subcommand("send", "Encrypt, sign and send a bulletin");
  cmd->add_option("--to", a->to,
                  "Addresses, comma-separated: a member id, state:CC, members, partners, resource-panel, all "
                  "(required, except with --meeting)");
  cmd->add_option("--tlp", a->tlp,
                  "Traffic Light Protocol: clear|green|amber|amber+strict|red, or as in TLP 2.0 (TLP:AMBER+STRICT) "
                  "(required, except with --misp from an event with a tlp: tag)")
      ->check(tlpValidator());
  cmd->add_option("--category", a->category,
                  "trend|best-practice|technique|tool|alert|summary-record|meeting-document|training|other (required, "
                  "except with --summary-record, --meeting, and --misp: alert); needs and offers: focal need, focal offer")
      ->check(CLI::IsMember({"trend", "best-practice", "technique", "tool", "alert", "summary-record", "other",
                             "meeting-document", "training"}));
  cmd->add_option("--title", a->title, "Title (encrypted like the body; required, except with --misp: the event's info)");
  auto* body = cmd->add_option("--body", a->body, "Body text");
  auto* bodyFile = cmd->add_option("--body-file", a->bodyFile, "Read the body from a file")->check(CLI::ExistingFile);
  body->excludes(bodyFile);
  addMarkingOptions(cmd, *a);
  cmd->add_option("--meeting", a->meeting,
                  "Bind to a meeting (32 hex digits, or a unique first 6 or more): category meeting-document, "
                  "or its summary record with --summary-record; --to defaults to its participants");
  cmd->add_option("--misp", a->mispFile,
                  "Build the bulletin from this MISP event (JSON): title, TLP, ATT&CK and its attributes as the "
                  "carried STIX bundle")
      ->check(CLI::ExistingFile);
  cmd->add_flag("--summary-record", a->summaryRecord,
                "Secretariat: circulate a draft summary record under the silence procedure");
  cmd->add_option("--comment-window", a->commentWindow,
                  "With --summary-record: how long recipients may comment, e.g. 7d, 36h, 30m, 90s")
      ->capture_default_str();
  cmd->add_option("--revises", a->revises,
                  "With --summary-record: the record (32 hex digits, or a unique first 6 or more) this revision replaces");
  cmd->footer(R"(The body comes from --body, --body-file, or standard input when neither is given;
on a terminal, from your editor ($VISUAL or $EDITOR, as git commit does: # lines are left out,
an empty body sends nothing).
Group addresses never include you. The addresses as written and the members they
resolve to are both signed; the hub refuses the bulletin if its directory resolves
them differently, or if the TLP rules forbid a recipient:
  RED           named members only, no group address
  AMBER(+STRICT) dialogue partners and resource-panel members only when named
The markings (--handling, --evaluation, --case, --priority) are signed in the header
and shown in the recipient's banner; H2 cannot be forwarded without `focal permit`.

Groups you sent to before: when state:CC, members, partners, resource-panel or all
now resolves to other members or keys than at your last send to it, send lists who
joined, who left and whose key changed, and asks before sealing (a script passes
--yes after checking; without it the send is refused: exit 1, group-changed).

Example:
  focal send --to my-pdrm-cyber,state:TH --tlp amber --category alert \
      --title "Phishing kit targeting banks" --body-file alert.txt --attach iocs.csv \
      --attack T1566.002 --priority urgent --handling H2 --evaluation B2 --case AWGC-2026-04
Prints the bulletin id (32 hex digits).

Threat intelligence (docs/cti.md): --stix FILE carries a STIX 2.1 bundle, validated
before sealing (and again by every recipient); an object marked with a stricter TLP
than the bulletin's is refused, naming it. --misp EVENT.json takes the title, TLP
(its tlp: tag, or --tlp when it has none), ATT&CK (its galaxy tags) and attributes
(as the carried bundle) from a MISP event. --attack ids are checked against ATT&CK v18.1.
  focal send --to sg-spf-cyber --tlp green --category alert --title "C2 servers" \
      --body-file alert.txt --stix iocs.stix.json --attack T1566.002
  focal send --to state:TH --misp misp-event.json

Summary records (secretariat only): --summary-record sets the kind and a signed comment
deadline (now + --comment-window, default 7d). Recipients acknowledge it or use
focal comment ID [--objection]. At the deadline, with no objection, the hub signs its
approval into the log; with an objection it stays objected until you circulate a
revision (--revises OLD-ID) or withdraw it (focal retract ID --reason ...).
See focal record-status ID.
  focal send --summary-record --to members --tlp green --title "WG on CC 2026 summary" \
      --body-file summary.txt --comment-window 7d

Meeting papers: --meeting ID binds the bulletin to a meeting (focal meeting list); the
category is meeting-document (or summary-record with --summary-record, the meeting's
summary record) and --to defaults to its participants: members, plus each invited
panel member or partner by name. The hub refuses a recipient who does not take part.
  focal send --meeting 0f3c9a --tlp amber --title "Agenda" --body-file agenda.md
Training programmes and conferences (category training) carry a signed date and place:
  focal send --category training --to all --tlp clear --title "Digital forensics course" \
      --date 2027-03-08..2027-03-12 --place "Singapore" --body "Five days; two seats per state")");
  table.add(cmd, [&ctx, a] { return runSend(ctx, *a); });
}

}  // namespace focal::client::cli
