// STIX 2.1 for a verified bulletin (issue 21, docs/cti.md): the one bundle
// `focal export --format stix` writes and the local TAXII endpoint serves.
//
// Every bulletin exports, whether or not it carried a bundle: a `report`
// (name = title, description = body, published = sent time, object_refs to
// everything), an `identity` for the sending institution, the OASIS TLP 2.0
// marking-definition of its level, `attack-pattern` objects for its ATT&CK
// ids, the carried bundle's objects (unmarked ones take the bulletin's TLP),
// and Focal's provenance in a property extension. Ids are UUIDv5 derived from
// the bulletin id, so exporting twice gives the same ids.
#pragma once

#include "client/bulletin_reader.hpp"

#include <nlohmann/json.hpp>

namespace focal::client {

// The bundle (`"type": "bundle"`, its `objects` array) for a bulletin the
// caller has opened and verified. Throws UsageError("invalid-stix", …) when
// the carried bundle no longer validates (it was validated before sealing
// and again on receipt; this is the last check before it leaves the client).
nlohmann::json stixBundleFor(const OpenedMessage& m);

// "extension-definition--…": Focal's provenance property extension (the
// same id in every export; docs/cti.md, Provenance).
std::string focalProvenanceExtensionId();

}  // namespace focal::client
