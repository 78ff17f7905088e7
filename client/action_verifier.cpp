#include "client/action_verifier.hpp"

#include "crypto/primitives.hpp"
#include "protocol/bulletin.hpp"
#include "protocol/consensus.hpp"

namespace focal::client {

namespace {

// The author's record when `key` is one it holds and has not had revoked.
const MemberRecord* authorWith(const KeyDirectory& directory, const std::string& id,
                               const crypto::SigningPublicKey& key) {
  const MemberRecord* m = directory.find(id);
  if (m == nullptr || !m->heldKey(key.view()) || m->isRevokedKey(key.view())) return nullptr;
  return m;
}

bool isPoc(const MemberRecord& m) {
  return protocol::isStatePoc(protocol::StateSeat{m.state, m.institution, m.active});
}

// Opens the sealed text or note `sealed` bound by `hash`, sealed by the
// record's author: its text, nullopt when not sealed to us; an error
// string (in `error`) when it is not the bound one or does not verify.
std::optional<std::string> openBound(const std::optional<RawBulletin>& sealed, const crypto::Hash256& hash,
                                     const crypto::SigningPublicKey& authorKey, const std::string& authorId,
                                     const crypto::Keyring& me, std::string& error, bool& sealedToUs) {
  sealedToUs = true;
  if (!sealed) {
    error = "its sealed text is missing";
    return std::nullopt;
  }
  if (!(crypto::hash256(crypto::ByteView(sealed->header)) == hash)) {
    error = "its sealed text is not the one the record names (header hash)";
    return std::nullopt;
  }
  auto sig = crypto::Signature::fromBytes(crypto::ByteView(sealed->signature));
  if (!sig) {
    error = "its sealed text's signature has the wrong length";
    return std::nullopt;
  }
  auto opened = protocol::openBulletin(sealed->header, *sig, sealed->ciphertext, authorKey, me);
  if (!opened) {
    if (opened.error() == protocol::OpenError::NotARecipient) {
      // Still check who sealed it: a verified header, by the author.
      auto header = protocol::verifyHeader(sealed->header, *sig);
      if (!header || protocol::view(header->root().getSenderId()) != authorId) {
        error = "its sealed text is not signed by the record's author";
      }
      sealedToUs = false;
      return std::nullopt;
    }
    error = std::string("its sealed text does not open: ") + protocol::describe(opened.error());
    return std::nullopt;
  }
  if (protocol::view(opened->header.root().getSenderId()) != authorId) {
    error = "its sealed text is sealed by someone else than the record's author";
    return std::nullopt;
  }
  return std::string(protocol::view(opened->content.root().getBody()));
}

}  // namespace

std::vector<VerifiedAction> verifyActions(const ActionListing& listing, const KeyDirectory& directory,
                                          const crypto::Keyring& me) {
  std::vector<VerifiedAction> out;
  for (const auto& entry : listing.items) {
    VerifiedAction v;
    auto item = protocol::readActionItem(entry.item.record.body);
    auto sig = crypto::Signature::fromBytes(crypto::ByteView(entry.item.record.signature));
    if (!item || !sig) {
      v.itemRefused = true;
      v.refusals.push_back(item ? "the item's signature has the wrong length" : item.error());
      out.push_back(std::move(v));
      continue;
    }
    v.item = *item;
    const MemberRecord* author = authorWith(directory, item->authorId, item->authorKey);
    if (author == nullptr || !protocol::verifyActionItem(entry.item.record.body, *sig, *item)) {
      v.itemRefused = true;
      v.refusals.push_back("the item's signature does not verify under a key " + item->authorId + " holds");
    } else if (!author->isSecretariat && !author->chairs()) {
      v.itemRefused = true;
      v.refusals.push_back("the item's author " + item->authorId + " is neither secretariat nor chair");
    }
    if (!v.itemRefused) {
      std::string error;
      bool toUs = true;
      v.text = openBound(entry.item.sealed, item->textHash, item->authorKey, item->authorId, me, error, toUs);
      if (!error.empty()) {
        v.itemRefused = true;
        v.refusals.push_back("the item: " + error);
      } else {
        // The text's bulletin id is the action id (a text of another item cannot stand in).
        auto header = protocol::decode<wire::BulletinHeader>(entry.item.sealed->header);
        if (!header || !(crypto::BulletinId::fromBytes(protocol::view(header->root().getBulletinId())) ==
                         std::optional(item->actionId))) {
          v.itemRefused = true;
          v.refusals.push_back("the item's sealed text has another id than the action");
        }
      }
    }
    if (v.itemRefused) {
      out.push_back(std::move(v));
      continue;
    }
    v.ownerState = protocol::owningState(item->owner, [&](std::string_view id) -> std::string {
      const MemberRecord* m = directory.find(id);
      return m ? m->state : std::string();
    });
    crypto::Hash256 previous = item->bodyHash;
    for (std::size_t i = 0; i < entry.updates.size(); ++i) {
      const auto& post = entry.updates[i];
      auto u = protocol::readActionUpdate(post.record.body);
      auto usig = crypto::Signature::fromBytes(crypto::ByteView(post.record.signature));
      std::string why;
      const MemberRecord* by = nullptr;
      if (!u || !usig) {
        why = u ? "its signature has the wrong length" : u.error();
      } else if (!(u->actionId == item->actionId)) {
        why = "it is about another action item";
      } else if (!(u->previous == previous)) {
        why = "it does not follow the record before it (previous hash): reordered, or one was left out";
      } else if ((by = authorWith(directory, u->authorId, u->authorKey)) == nullptr ||
                 !protocol::verifyActionUpdate(post.record.body, *usig, *u)) {
        why = "its signature does not verify under a key " + u->authorId + " holds";
      } else if (!isPoc(*by) || by->state != v.ownerState) {
        why = u->authorId + " is not a point of contact of " + v.ownerState + ", the owning state";
      }
      VerifiedActionUpdate vu;
      if (why.empty()) {
        vu.authorId = u->authorId;
        vu.status = u->status;
        vu.updatedAtMs = u->updatedAtMs;
        if (u->noteHash) {
          vu.hasNote = true;
          vu.note = openBound(post.sealed, *u->noteHash, u->authorKey, u->authorId, me, why, vu.noteSealedToUs);
        } else if (post.sealed) {
          why = "it carries a note it does not name";
        }
      }
      if (!why.empty()) {
        const auto left = entry.updates.size() - i;
        v.refusals.push_back("update " + std::to_string(i + 1) + " refused: " + why +
                             (left > 1 ? " (and the " + std::to_string(left - 1) + " after it)" : ""));
        break;
      }
      previous = u->bodyHash;
      v.status = vu.status;
      v.updates.push_back(std::move(vu));
    }
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace focal::client
