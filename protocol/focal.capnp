# Focal wire protocol, version 1. The single source of truth for every frame,
# signed structure and error code. Normative prose: PROTOCOL.md.
#
# Rules: ordinals only ever append; enums start with a value that is
# rejected where a choice is required ("unset"), so a missing field never
# silently means CLEAR or "no restriction".

@0x821a4b26002b313f;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("focal::wire");

const protocolVersion :UInt16 = 1;
const cipherSuite :UInt16 = 1;  # Ed25519 / X25519 sealed box / XChaCha20-Poly1305 / BLAKE2b-256 (seal v1)
# Seal v2 (PROTOCOL.md §8.1): the same primitives, plus a key commitment in
# the header and the sender's key and the hub id in the content's AD.
const cipherSuiteV2 :UInt16 = 2;

# ---------------------------------------------------------------- errors ----

enum ErrorCode {
  internal @0;            # our bug; retry may help; reported, never detailed
  malformedFrame @1;      # not a valid frame or message; connection closed
  frameTooLarge @2;       # length prefix over the limit; connection closed
  unauthenticated @3;     # request before authentication, or authentication failed
  badSignature @4;        # a signature did not verify
  unknownRecipient @5;    # a recipient or member id the directory does not know
  revokedKey @6;          # the key used (or addressed) is revoked
  policyDenied @7;        # TLP / distribution / role rule refused it; message names the rule
  rateLimited @8;         # slow down; retryAfterMs says how long
  duplicate @9;           # same bulletin id with different bytes
  unavailable @10;        # the hub cannot accept writes now (disk full, shutting down)
  notFound @11;           # no such bulletin / upload / proposal visible to you
  forbidden @12;          # your role may not do this
  invalidRequest @13;     # well-formed frame, impossible content (bad length, bad field)
  staleTimestamp @14;     # createdAt outside the accepted clock window
  unsupportedVersion @15; # protocol version or cipher suite not supported
  tooManyConnections @16; # per-member or global connection cap reached
  slowConsumer @17;       # your receive queue overflowed; connection closed, nothing lost
  timeout @18;            # you did not finish a step within its deadline
  tooLarge @19;           # bulletin, recipient list or attachment over its limit
  stalePosition @20;      # a log event signed for another place in the log: re-sync and sign again
  expired @21;            # the bulletin was purged under the hub's retention policy (PROTOCOL.md §10.1)
}

struct Error {
  code @0 :ErrorCode;
  message @1 :Text;        # human-readable, never contains bulletin content
  retryAfterMs @2 :UInt32; # for rateLimited / unavailable; 0 = not applicable
}

# ------------------------------------------------------------ vocabulary ----

enum Tlp { unset @0; clear @1; green @2; amber @3; amberStrict @4; red @5; }
enum Handling { unset @0; h0 @1; h1 @2; h2 @3; h3 @4; }   # H3 carries handlingText
enum SourceReliability { unset @0; a @1; b @2; c @3; x @4; }
enum Priority { normal @0; urgent @1; }
enum BulletinKind { bulletin @0; summaryRecord @1; }
enum Category { unset @0; trend @1; bestPractice @2; technique @3; tool @4; alert @5; summaryRecord @6; other @7;
  meetingDocument @8;   # a meeting paper: header.meetingId names its meeting (PROTOCOL.md §12.8)
  need @9; offer @10; training @11;   # needs, offers and trainings (PROTOCOL.md §12.9)
}
enum Institution { unset @0; lawEnforcement @1; policySecurity @2; secretariat @3; dialoguePartner @4; resourcePanel @5; }
enum WorkingGroupRole { unset @0; chair @1; coChair @2; somtcFocalPoint @3; }
enum MemberStatus { active @0; revoked @1; }
enum DeliveryState { queued @0; delivered @1; acknowledged @2; }

# --------------------------------------------------------- signed bytes ----
# Each of these structs is serialised once by its author into a standalone
# Cap'n Proto message (standard framing, unpacked) and carried as Data; the
# signature covers   context || 0x00 || those exact bytes.  Receivers verify
# the bytes, then parse them; nobody ever re-serialises to check a signature.

struct Recipient {
  memberId @0 :Text;
  encryptionKey @1 :Data;   # recipient's X25519 public key (32) = its key id
  wrappedKey @2 :Data;      # crypto_box_seal(content key, encryptionKey), 80 bytes
}

struct AttachmentRef {
  blobHash @0 :Data;        # BLAKE2b-256 of the whole encrypted blob (32)
  size @1 :UInt64;          # encrypted blob size in bytes
}

# context "focal/v1/bulletin-header"
struct BulletinHeader {
  version @0 :UInt16;          # = protocolVersion
  suite @1 :UInt16;            # = cipherSuite
  bulletinId @2 :Data;         # 16 random bytes
  senderId @3 :Text;
  senderKey @4 :Data;          # sender's Ed25519 identity key (32) = its key id
  createdAtMs @5 :Int64;       # Unix time, milliseconds
  tlp @6 :Tlp;
  handling @7 :Handling;
  handlingText @8 :Text;       # required for H3
  sourceReliability @9 :SourceReliability;
  infoAccuracy @10 :UInt8;     # 0 = not evaluated, else 1..4
  priority @11 :Priority;
  caseRef @12 :Text;
  kind @13 :BulletinKind;
  commentDeadlineMs @14 :Int64;  # summaryRecord: end of the comment window; else 0
  replyTo @15 :Data;           # bulletin id this replies to, or empty
  addresses @16 :List(Text);   # as written: member id, "state:CC", "members", "partners", "resource-panel", "all"
  recipients @17 :List(Recipient);  # resolved; sorted by memberId; no duplicates
  contentNonce @18 :Data;      # 24
  contentHash @19 :Data;       # BLAKE2b-256 of the content ciphertext (32)
  contentSize @20 :UInt64;     # content ciphertext length
  attachments @21 :List(AttachmentRef);
  revises @22 :Data;           # summaryRecord revision: id of the record it replaces, or empty
  # Seal v2 (suite 2) only; empty in suite 1:
  keyCommit @23 :Data;         # BLAKE2b-256(key = K, "focal/v2/key-commit" || 0x00 || bulletinId || senderKey)
  hubId @24 :Text;             # the hub it is sealed for; bound into the content AD
  meetingId @25 :Data;         # empty, or the meeting (16) this paper or summary record belongs to (PROTOCOL.md §12.8)
}

struct Bulletin {
  header @0 :Data;             # BulletinHeader bytes
  signature @1 :Data;          # Ed25519 (64) by header.senderKey
  ciphertext @2 :Data;         # XChaCha20-Poly1305(content key, contentNonce, Content bytes, AD)
                               #   suite 1: AD = "focal/v1/content" || 0x00 || bulletinId
                               #   suite 2: AD = "focal/v2/content" || 0x00 || bulletinId || senderKey
                               #            || u16be len(hubId) || hubId
}

# The plaintext inside Bulletin.ciphertext. The hub never sees it.
struct Content {
  category @0 :Category;
  title @1 :Text;
  body @2 :Text;
  attackTechniques @3 :List(Text);   # MITRE ATT&CK ids, e.g. "T1566.001"
  stixBundle @4 :Text;               # optional STIX 2.1 JSON
  attachments @5 :List(AttachmentInfo);  # same order as header.attachments
  logHead @6 :SignedLogHead;         # the sender's latest verified head (gossip, PROTOCOL.md §11.4); may be null
  # Working-group fields (PROTOCOL.md §12.9), empty unless the category uses them:
  eventDate @7 :Text;                # training: YYYY-MM-DD, or YYYY-MM-DD..YYYY-MM-DD
  eventPlace @8 :Text;               # training: where (single line)
  metOffer @9 :Data;                 # need with replyTo set: the owner's "met" notice, naming the offer (16)
}

struct AttachmentInfo {
  name @0 :Text;               # file name only, no directories
  mediaType @1 :Text;
  plainSize @2 :UInt64;
  blobHash @3 :Data;           # = header.attachments[i].blobHash
}

# context "focal/v1/ack"
struct AckBody {
  memberId @0 :Text;
  bulletinIds @1 :List(Data);
  ackedAtMs @2 :Int64;
  sealedHeads @3 :List(Data);  # empty, or one per bulletin id: the acker's head sealed to that bulletin's
                               # sender (a sealed CarriedHead record, PROTOCOL.md §11.4)
}

# context "focal/v1/ack-head" (beside an ack: subjectId = the bulletin id) or
# "focal/v1/decision-head" (beside a decision: subjectId = the proposal id).
# Signed by memberId, then the SignedRecord bytes are sealed
# (crypto_box_seal) to the one member who checks the head: the bulletin's
# sender, or the proposer. Gossip the hub relays but cannot read or forge.
struct CarriedHead {
  subjectId @0 :Data;
  memberId @1 :Text;
  logHead @2 :SignedLogHead;   # the author's latest verified head; no cosignatures
}

# ------------------------------------------------------ directory log ----

struct MemberInfo {
  id @0 :Text;                 # [a-z0-9][a-z0-9.-]{1,62}
  name @1 :Text;
  state @2 :Text;              # ISO 3166 alpha-2, upper case; "" for partners and panel
  institution @3 :Institution;
  isAdmin @4 :Bool;
  isSecretariat @5 :Bool;
}

struct KeySet {
  identityKey @0 :Data;        # Ed25519 (32)
  encryptionKey @1 :Data;      # X25519 (32)
  encKeyCreatedAtMs @2 :Int64;
  encKeyCert @3 :Data;         # identity signature, context "focal/v1/enc-key-cert"
}

# context "focal/v1/log-event"; signed by the author named in LogEntry.
# The signature covers these exact bytes, so in a v2 log (PROTOCOL.md
# §11.1) it covers `position` too: the entry's place in the log.
struct LogEvent {
  issuedAtMs @0 :Int64;
  position @10 :Position;      # v2: where the author meant this entry to go
  union {
    genesis @1 :Genesis;               # entry 0, signed by the hub key
    register @2 :Register;             # by an admin
    rotateEncryption @3 :RotateKey;    # by the member itself or an admin
    rotateIdentity @4 :RotateKey;      # by the member's old identity key or an admin
    revoke @5 :Revoke;                 # by an admin
    roleChange @6 :RoleChange;         # by an admin
    recordApproved @7 :RecordApproved; # by the hub: silence procedure ended without objection
    admission @8 :Admission;           # by the hub: a proposal every member state approved
    amendment @9 :Admission;           # by the hub: an amendment proposal every member state approved
                                       # (same structure: the proposal and one approval per state)
    logVersion @11 :LogVersion;        # by the hub: the log's rules change from this entry on
    adminAction @12 :Admission;        # by the hub: an admin change (Proposal.adminChange) with the
                                       # approvals of other admins that make its quorum (PROTOCOL.md §11.7)
    wgRole @13 :WgRole;                # by the secretariat: a working-group role, naming the decision (PROTOCOL.md §12.7)
  }
  # The place an entry is signed for: the log's hub, the entry's index and
  # entryHash(index - 1) (32 zero bytes for entry 0).
  struct Position { hubId @0 :Text; index @1 :UInt64; prevEntryHash @2 :Data; }
  # logVersion 0 or 1: the v1 rules; 2: v2 from this genesis on.
  struct Genesis {
    hubId @0 :Text; hubKey @1 :Data; logVersion @2 :UInt32;
    witnesses @3 :WitnessPolicy;   # unset or threshold 0: no witnesses (PROTOCOL.md §11.4)
    admins @4 :AdminPolicy;        # unset: one admin's signature suffices, no delay (logs made before issue 27)
  }
  struct LogVersion { version @0 :UInt32; }  # 2: the checkpoint that starts v2 in a v1 log
  struct Register { member @0 :MemberInfo; keys @1 :KeySet; }
  struct RotateKey { memberId @0 :Text; previousKey @1 :Data; keys @2 :KeySet; }
  struct Revoke { memberId @0 :Text; key @1 :Data; reason @2 :Text; }  # key empty = the member
  struct RoleChange { memberId @0 :Text; isAdmin @1 :Bool; isSecretariat @2 :Bool; }
  # A working-group role given (assign) or ended (not assign). term: a year
  # "YYYY" or a meeting id in 32 lower-case hex digits for chair and
  # co-chair, "" for a SOMTC focal point. decisionId: the adopted amendment
  # (proposal id) or the approved summary record (bulletin id) that decided
  # it, recorded earlier in this log.
  struct WgRole {
    memberId @0 :Text;
    role @1 :WorkingGroupRole;
    term @2 :Text;
    assign @3 :Bool;
    decisionId @4 :Data;
  }
  struct RecordApproved {
    recordId @0 :Data;           # bulletin id of the summary record
    headerHash @1 :Data;         # BLAKE2b-256 of its signed header bytes
    deadlineMs @2 :Int64;
    acknowledgedBy @3 :List(Text);
    commentedBy @4 :List(Text);
  }
  struct Admission {
    proposal @0 :SignedRecord;          # Proposal bytes, signed by the proposing admin
    approvals @1 :List(SignedRecord);   # Decision bytes, one approving POC per member state
  }
}

struct LogEntry {
  index @0 :UInt64;
  recordedAtMs @1 :Int64;      # hub time of append
  authorId @2 :Text;           # member id, or the hub id for genesis
  authorKey @3 :Data;          # Ed25519 key that signed `event`
  event @4 :Data;              # LogEvent bytes
  signature @5 :Data;
  # entryHash(i) = BLAKE2b-256("focal/v1/log-entry" || 0x00 || u64be index || entryHash(i-1)
  #   || i64be recordedAtMs || BLAKE2b-256(event) || authorKey || signature); entryHash(-1) = 32 zero bytes
}

# context "focal/v1/log-head"; signed by the hub key.
struct LogHead {
  hubId @0 :Text;
  size @1 :UInt64;             # number of entries
  rootHash @2 :Data;           # entryHash(size-1)
  timeMs @3 :Int64;
}

struct SignedLogHead {
  head @0 :Data;               # LogHead bytes
  signature @1 :Data;
  cosignatures @2 :List(Cosignature);  # witnesses' cosignatures of a head of this size (PROTOCOL.md §11.4)
}

# How many admins must sign a change of the directory (PROTOCOL.md §11.7).
struct AdminPolicy {
  quorum @0 :UInt32;              # k: admin signatures a register, revoke, role change or another
                                  # member's rotation needs; 1 only for a single-admin test hub
  firstAdmins @1 :UInt32;         # entries 1..firstAdmins register the first admins, signed by the hub key
  forcedRotationDelayMs @2 :Int64;  # an admin's rotation of another member's keys takes effect no
                                    # sooner than this after its proposal was made (default 72 h)
}

# Who witnesses the log, and how many cosignatures a client requires.
struct WitnessPolicy {
  witnesses @0 :List(Witness);
  threshold @1 :UInt32;        # k: 0 = no witnessing; 1 <= k <= len(witnesses) otherwise
}
struct Witness {
  memberId @0 :Text;           # the member that submits the cosignatures
  key @1 :Data;                # Ed25519 key (32) that signs them; fixed by the policy
}

# context "focal/v1/cosign" over head || i64be cosignedAtMs; signed by a
# witness key the log's policy names. `head` + `headSignature` are the
# hub-signed LogHead bytes the witness checked (any head of the same size
# and root as the one served: a later head of an unchanged log qualifies).
struct Cosignature {
  witnessId @0 :Text;
  head @1 :Data;               # LogHead bytes, as the hub signed them
  headSignature @2 :Data;      # the hub's signature over them
  cosignedAtMs @3 :Int64;
  signature @4 :Data;
}

# ------------------------------------------------- working-group records ----

struct SignedRecord {
  body @0 :Data;               # the bytes of one of the structs below
  signature @1 :Data;          # Ed25519 by the author's identity key, under the struct's context
}

# context "focal/v1/forward"; signed by the forwarder (a recipient of the bulletin).
struct ForwardRecord {
  forwardId @0 :Data;          # 16 random bytes
  bulletinId @1 :Data;
  headerHash @2 :Data;         # BLAKE2b-256 of the original signed header bytes
  forwarderId @3 :Text;
  forwarderKey @4 :Data;
  forwardedAtMs @5 :Int64;
  addresses @6 :List(Text);    # as written
  recipients @7 :List(Recipient);  # the same content key, wrapped for each new recipient
}

# context "focal/v1/permission"; signed by the originator of an H2 bulletin.
struct Permission {
  bulletinId @0 :Data;
  grantedTo @1 :List(Text);    # member ids allowed to forward it further
  grantedAtMs @2 :Int64;
}

# context "focal/v1/retraction"; signed by the original sender only.
struct Retraction {
  bulletinId @0 :Data;
  senderId @1 :Text;
  reason @2 :Text;             # visible to the hub (metadata)
  retractedAtMs @3 :Int64;
}

# context "focal/v1/comment"; a recipient's comment on a summary record.
struct Comment {
  recordId @0 :Data;
  memberId @1 :Text;
  objection @2 :Bool;
  sealedText @3 :Data;         # crypto_box_seal(text, record sender's encryption key); may be empty
  commentedAtMs @4 :Int64;
}

# The plaintext sealed in Comment.sealedText from payload version 1 on
# (PROTOCOL.md §12.4): 0x00 0x01 || CommentPayload bytes, sealed in every
# comment, with or without text. Before: bare UTF-8 text, sealed only when
# there was text; still opened.
struct CommentPayload {
  text @0 :Text;
  logHead @1 :SignedLogHead;   # the commenter's latest verified head (gossip, PROTOCOL.md §11.4); no cosignatures
}

# context "focal/v1/proposal"; by an admin. Takes effect only when a point of
# contact of every member state approved it and nobody rejected it.
struct Proposal {
  proposalId @0 :Data;         # 16 random bytes
  proposerId @1 :Text;
  createdAtMs @2 :Int64;
  expiresAtMs @3 :Int64;
  union {
    admission @4 :LogEvent.Register;  # admit a resource-panel (or other) member
    amendment @5 :Text;               # any other change that needs consensus: its text, 1..16384 bytes
    adminChange @6 :AdminChange;      # a directory change that needs the admin quorum (PROTOCOL.md §11.7)
  }
  # admission of a resource-panel member only: the meetings (ids, 16 bytes
  # each, strictly ascending, at most 16) it is admitted to; it takes part
  # in those and is reached by nothing else (PROTOCOL.md §12.5). Empty (and
  # always in proposals made before this field): not limited. An unset
  # trailing pointer, so the bytes of earlier proposals read as empty.
  meetings @7 :List(Data);
}

# What an admin proposes to change in the directory: the event it would
# otherwise sign alone. Decided by other admins (approve) or, for a
# rotation of its keys, by the member itself (reject = objection).
struct AdminChange {
  union {
    register @0 :LogEvent.Register;
    revoke @1 :LogEvent.Revoke;
    rotateEncryption @2 :LogEvent.RotateKey;
    rotateIdentity @3 :LogEvent.RotateKey;
    roleChange @4 :LogEvent.RoleChange;
  }
}

# context "focal/v1/decision"; by a point of contact of a member state.
struct Decision {
  proposalId @0 :Data;
  proposalHash @1 :Data;       # BLAKE2b-256 of the Proposal bytes
  memberId @2 :Text;
  approve @3 :Bool;            # false = reject (ends the proposal)
  decidedAtMs @4 :Int64;
}

# context "focal/v1/meeting"; by a member of the secretariat (PROTOCOL.md §12.8).
# The participants are every member with a member state (the delegations)
# plus the invited resource-panel members and dialogue partners.
struct Meeting {
  meetingId @0 :Data;          # 16 random bytes
  secretariatId @1 :Text;      # the author
  createdAtMs @2 :Int64;
  title @3 :Text;              # one line, 1..200 bytes; the hub sees it (SECURITY.md)
  hostState @4 :Text;          # ISO 3166 alpha-2 of one of the hub's member states
  date @5 :Text;               # "YYYY-MM-DD", the first day of the meeting
  invited @6 :List(Text);      # member ids (resource panel, dialogue partners); sorted, no duplicates
}
struct MeetingList { meetings @0 :List(SignedRecord); }   # Meeting records, oldest first

# ------------------------------------------------------ work programme ----
# PROTOCOL.md §12.10. The hub stores and checks these records and never reads
# an action's text or an update's note: each is a sealed Bulletin (seal v2,
# addressed to "members") bound to its record by the hash of its header.

enum ActionStatus { open @0; inProgress @1; done @2; dropped @3; }

# context "focal/v1/action-item"; by a member of the secretariat.
struct ActionItem {
  actionId @0 :Data;           # 16 = the bulletinId of its sealed text
  authorId @1 :Text;
  authorKey @2 :Data;          # the author's Ed25519 identity key (32)
  meetingId @3 :Data;          # the meeting it comes from (16), or empty
  recordId @4 :Data;           # the summary record it follows up (16), or empty; exactly one of the two is set
  owner @5 :Text;              # "state:CC", or the member id of a point of contact of a member state
  dueDay @6 :Text;             # YYYY-MM-DD: due by the end of that day, UTC
  createdAtMs @7 :Int64;
  textHash @8 :Data;           # BLAKE2b-256 of the sealed text's BulletinHeader bytes (32)
}

# context "focal/v1/action-update"; by a point of contact of the owning state.
struct ActionUpdate {
  actionId @0 :Data;
  authorId @1 :Text;
  authorKey @2 :Data;
  status @3 :ActionStatus;     # inProgress, done or dropped (never open)
  updatedAtMs @4 :Int64;
  previous @5 :Data;           # BLAKE2b-256 of the ActionItem bytes (first update) or of the previous ActionUpdate bytes
  noteHash @6 :Data;           # BLAKE2b-256 of the sealed note's BulletinHeader bytes, or empty (no note)
}

# An ActionItem or ActionUpdate with the Bulletin that carries its text
# (an item's text is required; an update's note is optional: null).
struct ActionPost { record @0 :SignedRecord; sealed @1 :Bulletin; }
struct ActionEntry {
  item @0 :ActionPost;
  updates @1 :List(ActionPost);   # in the order the hub accepted them (a hash chain: ActionUpdate.previous)
}
struct Actions {
  items @0 :List(ActionEntry);  # by due day, then id
  truncated @1 :Bool;           # more items exist than fit one frame (PROTOCOL.md §12.10)
}
# Pushed (id 0) to the sessions of the owner's points of contact that sent
# subscribeActions: an item due within 7 days or overdue, at most once a day.
struct ActionReminder {
  actionId @0 :Data;
  owner @1 :Text;
  dueDay @2 :Text;
  status @3 :ActionStatus;
  overdue @4 :Bool;
}

enum RecordState { pending @0; approved @1; objected @2; withdrawn @3; superseded @4; }
enum ProposalState { open @0; adopted @1; rejected @2; expired @3; }

# -------------------------------------------------------------- frames ----

struct Challenge {              # server -> client, first frame, id 0
  version @0 :UInt16;
  hubId @1 :Text;
  hubKey @2 :Data;              # hub Ed25519 key (32)
  nonce @3 :Data;               # 32 random bytes
  serverTimeMs @4 :Int64;
}

struct Authenticate {
  version @0 :UInt16;
  memberId @1 :Text;
  identityKey @2 :Data;
  # context "focal/v1/auth" over nonce(32) || tlsExporter(32) || hubKey(32)
  #   || u16be len(memberId) || memberId
  # tlsExporter = TLS exporter, label "EXPORTER-Channel-Binding", empty context, 32 bytes
  signature @3 :Data;
}

struct Authenticated {
  memberId @0 :Text;
  serverTimeMs @1 :Int64;
  logHead @2 :SignedLogHead;
}

struct SendBulletin { bulletin @0 :Bulletin; }
struct Accepted {
  bulletinId @0 :Data;
  acceptedAtMs @1 :Int64;
  alreadyAccepted @2 :Bool;     # identical resend: idempotent success
}

struct Fetch { afterSeq @0 :UInt64; limit @1 :UInt32; }
struct Delivery {
  seq @0 :UInt64;               # position in the recipient's queue, increasing
  queuedAtMs @1 :Int64;
  bulletin @2 :Bulletin;
  forward @3 :SignedRecord;     # set when this reached you through a forward (ForwardRecord)
  retraction @4 :SignedRecord;  # set when this delivery announces a retraction (Retraction)
}
struct Deliveries { items @0 :List(Delivery); more @1 :Bool; }

struct Ack { body @0 :Data; signature @1 :Data; }   # AckBody bytes
struct Acked { removed @0 :UInt32; }

struct StatusQuery { bulletinId @0 :Data; }
struct RecipientStatus {
  memberId @0 :Text;
  state @1 :DeliveryState;
  queuedAtMs @2 :Int64;
  deliveredAtMs @3 :Int64;      # 0 = never
  ackedAtMs @4 :Int64;          # 0 = never
  ackHead @5 :Data;             # the sealed CarriedHead the recipient's ack carried for this bulletin; empty = none
}
struct DeliveryStatus {
  bulletinId @0 :Data;
  recipients @1 :List(RecipientStatus);
  purgedAtMs @2 :Int64;         # non-zero: purged under the hub's retention policy at this time; recipients empty
}

struct DirectoryQuery {}
struct DirectoryMember {
  info @0 :MemberInfo;
  keys @1 :KeySet;
  status @2 :MemberStatus;
  logIndex @3 :UInt64;          # entry that last changed this member
}
struct Directory { members @0 :List(DirectoryMember); head @1 :SignedLogHead; }

struct LogQuery { from @0 :UInt64; limit @1 :UInt32; }
struct LogPage { entries @0 :List(LogEntry); head @1 :SignedLogHead; }

struct AdminRequest { event @0 :Data; signature @1 :Data; }  # LogEvent bytes, signed by the session's identity key
struct AdminResult { index @0 :UInt64; head @1 :SignedLogHead; }

struct RecordStatusQuery { recordId @0 :Data; }
struct RecordStatus {
  recordId @0 :Data;
  state @1 :RecordState;
  deadlineMs @2 :Int64;
  comments @3 :List(SignedRecord);     # Comment records
  acknowledgedBy @4 :List(Text);
  outcomeIndex @5 :UInt64;             # log index of recordApproved, 0 = none
}

struct ProposalInfo {
  proposal @0 :SignedRecord;
  decisions @1 :List(SignedRecord);
  state @2 :ProposalState;
  outcomeIndex @3 :UInt64;             # log index of the admission, 0 = none
  decisionHeads @4 :List(Data);        # to the proposer only: per decision, the sealed CarriedHead that came
                                       # with it (empty Data = none); otherwise an empty list
}
# `decide` with the decider's latest verified head (gossip, PROTOCOL.md
# §11.4): a sealed CarriedHead (context "focal/v1/decision-head", subjectId =
# the proposal id) kept beside the decision, never in the log.
struct DecideWithHead {
  decision @0 :SignedRecord;           # Decision bytes, as for `decide`
  sealedHead @1 :Data;                 # 1..1024 bytes
}
struct Proposals { items @0 :List(ProposalInfo); }

struct AuditQuery { from @0 :UInt64; limit @1 :UInt32; }
struct AuditEntry {
  index @0 :UInt64;
  timeMs @1 :Int64;
  event @2 :Text;              # e.g. "admin.register", "auth.failure"
  actor @3 :Text;              # member id or "-"
  remote @4 :Text;             # peer address
  detail @5 :Text;
  hash @6 :Data;
  # hash(i) = BLAKE2b-256("focal/v1/audit" || 0x00 || u64be index || hash(i-1) || i64be timeMs
  #   || for each of event, actor, remote, detail: u32be len || bytes); hash(-1) = 32 zero bytes
}
struct AuditPage { entries @0 :List(AuditEntry); }

struct Recorded { id @0 :Data; atMs @1 :Int64; }  # success of forward/retract/comment/propose/decide/permit

struct BeginUpload { size @0 :UInt64; blobHash @1 :Data; }
struct UploadReady { uploadId @0 :UInt64; offset @1 :UInt64; }   # offset > 0 resumes
struct UploadChunk { uploadId @0 :UInt64; offset @1 :UInt64; data @2 :Data; }
struct UploadProgress { uploadId @0 :UInt64; received @1 :UInt64; complete @2 :Bool; }

struct Download { bulletinId @0 :Data; blobHash @1 :Data; offset @2 :UInt64; length @3 :UInt32; }
struct BlobChunk { blobHash @0 :Data; offset @1 :UInt64; data @2 :Data; total @3 :UInt64; }

struct ClientFrame {
  id @0 :UInt64;                # correlation id, echoed by the response; never 0
  union {
    authenticate @1 :Authenticate;
    send @2 :SendBulletin;
    fetch @3 :Fetch;
    ack @4 :Ack;
    status @5 :StatusQuery;
    directory @6 :DirectoryQuery;
    log @7 :LogQuery;
    admin @8 :AdminRequest;
    beginUpload @9 :BeginUpload;
    uploadChunk @10 :UploadChunk;
    download @11 :Download;
    subscribe @12 :Void;        # turn on live pushes for this connection
    ping @13 :Void;
    forward @14 :SignedRecord;       # ForwardRecord
    retract @15 :SignedRecord;       # Retraction
    comment @16 :SignedRecord;       # Comment
    recordStatus @17 :RecordStatusQuery;
    propose @18 :SignedRecord;       # Proposal (admin)
    listProposals @19 :Void;
    decide @20 :SignedRecord;        # Decision
    permit @21 :SignedRecord;        # Permission (originator of an H2 bulletin)
    audit @22 :AuditQuery;           # admin
    cosign @23 :Cosignature;         # a witness the policy names; reply `recorded`
    decideWithHead @24 :DecideWithHead;  # a Decision with the decider's head sealed to the proposer
    createMeeting @25 :SignedRecord;     # Meeting, by the secretariat; reply `recorded`
    listMeetings @26 :Void;              # reply `meetings`: those you take part in
    addAction @27 :ActionPost;   # ActionItem (secretariat); reply `recorded`
    updateAction @28 :ActionPost;  # ActionUpdate (a point of contact of the owning state); reply `recorded`
    listActions @29 :Void;       # reply `actions` (member states and the secretariat)
    subscribeActions @30 :Void;  # reminders for the items this member owns; reply `subscribed`
  }
}

struct ServerFrame {
  id @0 :UInt64;                # the request's id; 0 for challenge and push
  union {
    challenge @1 :Challenge;
    error @2 :Error;
    authenticated @3 :Authenticated;
    accepted @4 :Accepted;
    deliveries @5 :Deliveries;
    push @6 :Delivery;
    acked @7 :Acked;
    status @8 :DeliveryStatus;
    directory @9 :Directory;
    log @10 :LogPage;
    admin @11 :AdminResult;
    uploadReady @12 :UploadReady;
    uploadProgress @13 :UploadProgress;
    blobChunk @14 :BlobChunk;
    subscribed @15 :Void;
    pong @16 :Void;
    recordStatus @17 :RecordStatus;
    proposals @18 :Proposals;
    audit @19 :AuditPage;
    recorded @20 :Recorded;
    meetings @21 :MeetingList;
    actions @22 :Actions;
    actionReminder @23 :ActionReminder;  # push (id 0)
  }
}
