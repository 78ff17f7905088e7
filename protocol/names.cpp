// One table per enum (protocol/names.hpp). A value missing from a table gets
// its fallback; tests/unit/protocol_names_test.cpp checks every schema
// enumerant has a spelling, so a new enumerant cannot silently print as one.
#include "protocol/names.hpp"

#include <algorithm>
#include <cctype>

namespace focal::protocol {

namespace {

template <class E>
struct Name {
  E value;
  const char* text;
};

template <class E, std::size_t N>
const char* nameIn(const Name<E> (&table)[N], E value, const char* fallback) {
  for (const auto& n : table) {
    if (n.value == value) return n.text;
  }
  return fallback;
}

bool sameIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Exact match; or, with `anyCase`, ASCII case-insensitive.
template <class E, std::size_t N>
bool parseIn(const Name<E> (&table)[N], std::string_view text, E& out, bool anyCase) {
  for (const auto& n : table) {
    if (anyCase ? sameIgnoringCase(text, n.text) : text == n.text) {
      out = n.value;
      return true;
    }
  }
  return false;
}

// Several entries a line, so each table reads as one list.
// clang-format off
using I = wire::Institution;
constexpr Name<I> Institutions[] = {
    {I::LAW_ENFORCEMENT, "law-enforcement"}, {I::POLICY_SECURITY, "policy-security"}, {I::SECRETARIAT, "secretariat"},
    {I::DIALOGUE_PARTNER, "dialogue-partner"}, {I::RESOURCE_PANEL, "resource-panel"}};

using T = wire::Tlp;
constexpr Name<T> Tlps[] = {
    {T::CLEAR, "CLEAR"}, {T::GREEN, "GREEN"}, {T::AMBER, "AMBER"}, {T::AMBER_STRICT, "AMBER+STRICT"}, {T::RED, "RED"}};

using C = wire::Category;
constexpr Name<C> Categories[] = {
    {C::TREND, "trend"}, {C::BEST_PRACTICE, "best-practice"}, {C::TECHNIQUE, "technique"}, {C::TOOL, "tool"},
    {C::ALERT, "alert"}, {C::SUMMARY_RECORD, "summary-record"}, {C::OTHER, "other"},
    {C::MEETING_DOCUMENT, "meeting-document"},
    {C::NEED, "need"},   {C::OFFER, "offer"},          {C::TRAINING, "training"}};

constexpr Name<wire::Priority> Priorities[] = {{wire::Priority::NORMAL, "normal"}, {wire::Priority::URGENT, "urgent"}};

using H = wire::Handling;
constexpr Name<H> Handlings[] = {{H::H0, "H0"}, {H::H1, "H1"}, {H::H2, "H2"}, {H::H3, "H3"}};

using D = wire::DeliveryState;
constexpr Name<D> DeliveryStates[] = {{D::QUEUED, "queued"}, {D::DELIVERED, "delivered"}, {D::ACKNOWLEDGED, "acknowledged"}};

using R = wire::RecordState;
constexpr Name<R> RecordStates[] = {
    {R::PENDING, "pending"}, {R::APPROVED, "approved"}, {R::OBJECTED, "objected"}, {R::WITHDRAWN, "withdrawn"},
    {R::SUPERSEDED, "superseded"}};

using P = wire::ProposalState;
constexpr Name<P> ProposalStates[] = {
    {P::OPEN, "open"}, {P::ADOPTED, "adopted"}, {P::REJECTED, "rejected"}, {P::EXPIRED, "expired"}};

constexpr Name<wire::Proposal::Which> ProposalKinds[] = {
    {wire::Proposal::ADMISSION, "admission"}, {wire::Proposal::AMENDMENT, "amendment"},
    {wire::Proposal::ADMIN_CHANGE, "admin-change"}};

using L = wire::LogEvent;
constexpr Name<L::Which> LogEvents[] = {
    {L::GENESIS, "genesis"}, {L::REGISTER, "register"}, {L::ROTATE_ENCRYPTION, "rotate-encryption"},
    {L::ROTATE_IDENTITY, "rotate-identity"}, {L::REVOKE, "revoke"}, {L::ROLE_CHANGE, "role-change"},
    {L::RECORD_APPROVED, "record-approved"}, {L::ADMISSION, "admission"}, {L::AMENDMENT, "amendment"},
    {L::LOG_VERSION, "log-version"}, {L::ADMIN_ACTION, "admin-action"}, {L::WG_ROLE, "wg-role"}};

using S = wire::ServerFrame;
constexpr Name<S::Which> ServerFrames[] = {
    {S::CHALLENGE, "challenge"}, {S::ERROR, "error"}, {S::AUTHENTICATED, "authenticated"},
    {S::ACCEPTED, "accepted"}, {S::DELIVERIES, "deliveries"}, {S::PUSH, "push"}, {S::ACKED, "acked"},
    {S::STATUS, "status"}, {S::DIRECTORY, "directory"}, {S::LOG, "log"}, {S::ADMIN, "admin"},
    {S::UPLOAD_READY, "upload-ready"}, {S::UPLOAD_PROGRESS, "upload-progress"}, {S::BLOB_CHUNK, "blob-chunk"},
    {S::SUBSCRIBED, "subscribed"}, {S::PONG, "pong"}, {S::RECORD_STATUS, "record-status"},
    {S::PROPOSALS, "proposals"}, {S::AUDIT, "audit"}, {S::RECORDED, "recorded"}, {S::MEETINGS, "meetings"},
    {S::ACTIONS, "actions"}, {S::ACTION_REMINDER, "action-reminder"}};
// clang-format on

}  // namespace

const char* institutionName(wire::Institution i) { return nameIn(Institutions, i, "unset"); }
bool parseInstitution(std::string_view text, wire::Institution& out) { return parseIn(Institutions, text, out, false); }

const char* tlpName(wire::Tlp t) { return nameIn(Tlps, t, "UNSET"); }
bool parseTlp(std::string_view text, wire::Tlp& out) {
  // TLP 2.0 spells labels "TLP:AMBER+STRICT"; the bare "amber+strict" is accepted too.
  if (sameIgnoringCase(text.substr(0, 4), "tlp:")) text.remove_prefix(4);
  return parseIn(Tlps, text, out, true);
}

const char* categoryName(wire::Category c) { return nameIn(Categories, c, "unset"); }
bool parseCategory(std::string_view text, wire::Category& out) { return parseIn(Categories, text, out, false); }

const char* priorityName(wire::Priority p) { return nameIn(Priorities, p, "normal"); }

const char* handlingName(wire::Handling h) { return nameIn(Handlings, h, ""); }
bool parseHandling(std::string_view text, wire::Handling& out) { return parseIn(Handlings, text, out, true); }

const char* deliveryStateName(wire::DeliveryState s) { return nameIn(DeliveryStates, s, "unknown"); }
const char* recordStateName(wire::RecordState s) { return nameIn(RecordStates, s, "unknown"); }
const char* proposalStateName(wire::ProposalState s) { return nameIn(ProposalStates, s, "unknown"); }
const char* proposalKindName(wire::Proposal::Which w) { return nameIn(ProposalKinds, w, "unknown"); }
const char* logEventName(wire::LogEvent::Which w) { return nameIn(LogEvents, w, "unknown"); }
const char* serverFrameName(wire::ServerFrame::Which w) { return nameIn(ServerFrames, w, "unknown"); }

}  // namespace focal::protocol
