#include "client/stix_export.hpp"

#include "client/attack_techniques.hpp"
#include "client/cli_context.hpp"
#include "client/stix.hpp"
#include "crypto/types.hpp"

#include <set>

namespace focal::client {

namespace {

// Focal's own definitions: the same in every export (not per bulletin), so
// a platform stores them once.
constexpr std::string_view FocalDefinitionsCreated = "2026-12-07T00:00:00.000Z";

std::string focalIdentityId() { return "identity--" + stix::uuid5(stix::FocalNamespace, "focal/identity"); }

}  // namespace

std::string focalProvenanceExtensionId() {
  return "extension-definition--" + stix::uuid5(stix::FocalNamespace, "focal/provenance/v1");
}

namespace {

nlohmann::json focalIdentity() {
  return {{"type", "identity"},
          {"spec_version", "2.1"},
          {"id", focalIdentityId()},
          {"created", FocalDefinitionsCreated},
          {"modified", FocalDefinitionsCreated},
          {"name", "Focal"},
          {"description", "Focal, the secure message hub that carried this bulletin (it defines the provenance "
                          "extension)."},
          {"identity_class", "system"}};
}

nlohmann::json provenanceDefinition() {
  return {{"type", "extension-definition"},
          {"spec_version", "2.1"},
          {"id", focalProvenanceExtensionId()},
          {"created_by_ref", focalIdentityId()},
          {"created", FocalDefinitionsCreated},
          {"modified", FocalDefinitionsCreated},
          {"name", "Focal provenance"},
          {"description", "Where a report exported by Focal came from: the bulletin, its sender's member id and "
                          "identity-key fingerprint as verified by the exporting client, the seal version, and "
                          "the sender's handling code and evaluation."},
          {"schema", "Plain text (Focal docs/cti.md, Provenance): bulletin_id (32 hex digits), sender_id, "
                     "sender_fingerprint, signature_verified (true: the exporting client verified the sender's "
                     "signature), seal_version (1 or 2), handling (H0-H3) and handling_text, evaluation (4x4 "
                     "source/accuracy, e.g. B2), case_ref, forwarded_by (member id, when received through a "
                     "forward)."},
          {"version", "1.0"},
          {"extension_types", {"property-extension"}}};
}

// STIX 2.1 Appendix A, Admiralty Credibility: 1 Confirmed by other sources
// 90, 2 Probably True 70, 3 Possibly True 50, 6 Truth cannot be judged: no
// confidence. The 4x4 accuracy maps onto it: 1 known to be true without
// reservation = confirmed; 2 known personally to the source = probably
// true; 3 not known personally but corroborated = possibly true; 4 cannot
// be judged.
std::optional<int> confidenceOf(std::uint8_t accuracy) {
  switch (accuracy) {
    case 1: return 90;
    case 2: return 70;
    case 3: return 50;
    default: return std::nullopt;
  }
}

std::vector<std::string> reportTypes(wire::Category c, bool indicators) {
  std::vector<std::string> out;
  switch (c) {
    case wire::Category::TECHNIQUE: out = {"attack-pattern"}; break;
    case wire::Category::TOOL: out = {"tool"}; break;
    case wire::Category::SUMMARY_RECORD: out = {"summary-record"}; break;  // open vocabulary: none fits
    default: out = {"threat-report"}; break;
  }
  if (indicators) out.emplace_back("indicator");
  return out;
}

// The TLP marking ids an object carries (object-level and granular).
void collectMarkings(const nlohmann::json& o, std::set<std::string>& out) {
  if (const auto m = o.find("object_marking_refs"); m != o.end() && m->is_array()) {
    for (const auto& r : *m) {
      if (r.is_string()) out.insert(r.get<std::string>());
    }
  }
  if (const auto g = o.find("granular_markings"); g != o.end() && g->is_array()) {
    for (const auto& gm : *g) {
      if (gm.is_object() && gm.contains("marking_ref") && gm["marking_ref"].is_string()) {
        out.insert(gm["marking_ref"].get<std::string>());
      }
    }
  }
}

}  // namespace

nlohmann::json stixBundleFor(const OpenedMessage& m) {
  const std::string bulletin = crypto::toHex(m.id);
  auto idFor = [&](std::string_view type, std::string_view role) {
    return std::string(type) + "--" + stix::uuid5(stix::FocalNamespace, "focal/bulletin/" + bulletin + "/" + std::string(role));
  };
  const std::string when = stix::timestamp(m.createdAtMs);
  const std::string tlpId(stix::tlpMarkingId(m.tlp));
  const nlohmann::json marking = tlpId.empty() ? nlohmann::json::array() : nlohmann::json::array({tlpId});

  nlohmann::json carried = nlohmann::json::array();
  if (!m.stixBundle.empty()) {
    // The last check before the bundle leaves the client (it passed the
    // same check before sealing and on receipt).
    auto v = stix::validateBundle(m.stixBundle, m.tlp);
    if (v.problem) throw cli::UsageError(v.problem->code, "the bulletin's STIX bundle: " + v.problem->message);
    if (v.bundle->contains("objects")) carried = (*v.bundle)["objects"];
  }

  nlohmann::json objects = nlohmann::json::array();
  nlohmann::json refs = nlohmann::json::array();
  std::set<std::string> carriedIds;
  bool indicators = false;
  for (auto& o : carried) {
    const std::string type = o["type"].get<std::string>();
    carriedIds.insert(o["id"].get<std::string>());
    indicators = indicators || type == "indicator";
    // TLP 2.0: an unmarked object takes the bulletin's level.
    if (type != "marking-definition" && type != "extension-definition" && !o.contains("object_marking_refs") &&
        !marking.empty()) {
      o["object_marking_refs"] = marking;
    }
    if (type != "marking-definition" && type != "extension-definition") refs.push_back(o["id"]);
  }

  // The sending institution, as its member record names it.
  const std::string sender = idFor("identity", "sender");
  objects.push_back({{"type", "identity"},
                     {"spec_version", "2.1"},
                     {"id", sender},
                     {"created", when},
                     {"modified", when},
                     {"name", m.senderName.empty() ? m.senderId : m.senderName},
                     {"identity_class", "organization"},
                     {"external_references",
                      {{{"source_name", "focal-member"}, {"external_id", m.senderId}}}},
                     {"object_marking_refs", marking}});
  refs.insert(refs.begin(), sender);

  // ATT&CK: MITRE's own attack-pattern ids where the shipped list knows the
  // technique, so platforms merge them with their ATT&CK data.
  for (const auto& technique : m.attackTechniques) {
    const auto known = findAttackTechnique(technique);
    const std::string id = known ? std::string(known->stixId) : idFor("attack-pattern", technique);
    if (carriedIds.count(id) != 0) continue;
    std::string path = technique;
    if (const auto dot = path.find('.'); dot != std::string::npos) path[dot] = '/';
    objects.push_back({{"type", "attack-pattern"},
                       {"spec_version", "2.1"},
                       {"id", id},
                       {"created", when},
                       {"modified", when},
                       {"name", known ? std::string(known->name) : technique},
                       {"external_references",
                        {{{"source_name", "mitre-attack"},
                          {"external_id", technique},
                          {"url", "https://attack.mitre.org/techniques/" + path + "/"}}}},
                       {"object_marking_refs", marking}});
    refs.push_back(id);
  }

  nlohmann::json provenance{{"extension_type", "property-extension"},
                            {"bulletin_id", bulletin},
                            {"sender_id", m.senderId},
                            {"sender_fingerprint", m.senderFingerprint},
                            {"signature_verified", true},
                            {"seal_version", m.seal}};
  if (m.handling != wire::Handling::UNSET) provenance["handling"] = handlingName(m.handling);
  if (!m.handlingText.empty()) provenance["handling_text"] = m.handlingText;
  if (const auto e = evaluationName(m.sourceReliability, m.infoAccuracy); !e.empty()) provenance["evaluation"] = e;
  if (!m.caseRef.empty()) provenance["case_ref"] = m.caseRef;
  if (m.forwardedBy) provenance["forwarded_by"] = m.forwardedBy->forwarderId;

  nlohmann::json report{{"type", "report"},
                        {"spec_version", "2.1"},
                        {"id", idFor("report", "report")},
                        {"created_by_ref", sender},
                        {"created", when},
                        {"modified", when},
                        {"name", m.title},
                        {"published", when},
                        {"report_types", reportTypes(m.category, indicators)},
                        {"object_refs", refs},
                        {"object_marking_refs", marking},
                        {"extensions", {{focalProvenanceExtensionId(), provenance}}}};
  if (!m.body.empty()) report["description"] = m.body;
  if (const auto c = confidenceOf(m.infoAccuracy); c && m.sourceReliability != wire::SourceReliability::UNSET) {
    report["confidence"] = *c;
  }
  if (marking.empty()) {
    report.erase("object_marking_refs");
    for (auto& o : objects) o.erase("object_marking_refs");
  }

  nlohmann::json out = nlohmann::json::array();
  out.push_back(std::move(report));
  for (auto& o : objects) out.push_back(std::move(o));
  for (auto& o : carried) out.push_back(std::move(o));
  // Every TLP 2.0 marking definition referenced, exactly as OASIS publishes
  // it, unless the carried bundle brought it (validated to be identical).
  std::set<std::string> used;
  for (const auto& o : out) collectMarkings(o, used);
  for (const auto& id : used) {
    if (const auto level = stix::tlpOfMarkingId(id); level && carriedIds.count(id) == 0) {
      out.push_back(stix::tlpMarkingDefinition(*level));
    }
  }
  out.push_back(focalIdentity());
  out.push_back(provenanceDefinition());
  return {{"type", "bundle"}, {"id", idFor("bundle", "bundle")}, {"objects", std::move(out)}};
}

}  // namespace focal::client
