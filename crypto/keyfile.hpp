// Member key files.
//
// A private key file holds a member's identity (Ed25519) and encryption
// (X25519) secret keys, encrypted under a passphrase (Argon2id13 +
// XChaCha20-Poly1305). A public key file (FILE.pub) is text that an admin
// registers; it carries the encryption key certified by the identity key.
// Byte layouts are normative and documented in PROTOCOL.md §"Key files".
#pragma once

#include "primitives.hpp"

#include <filesystem>

namespace focal::crypto {

// The certificate that binds an encryption key to an identity key:
// signature under context "focal/v1/enc-key-cert" over
//   u16be len(memberId) || memberId || identityPk(32) || encPk(32) || i64be createdAtMs
Bytes encKeyCertMessage(std::string_view memberId, const SigningPublicKey& identity,
                        const BoxPublicKey& enc, std::int64_t createdAtMs);
inline constexpr std::string_view EncKeyCertContext = "focal/v1/enc-key-cert";

struct PublicKeys {
  std::string memberId;
  SigningPublicKey identity;
  BoxPublicKey encryption;
  std::int64_t createdAtMs = 0;
  Signature encCert;  // identity's signature over encKeyCertMessage(...)
  [[nodiscard]] bool certValid() const;
};

struct MemberKeys {
  std::string memberId;
  SigningKeyPair identity;
  BoxKeyPair encryption;
  std::int64_t createdAtMs = 0;
  // Encryption keys this member held before a rotation, newest first, so old
  // bulletins stay readable with the same file.
  std::vector<BoxKeyPair> previousEncryption;

  static MemberKeys generate(std::string memberId, std::int64_t nowMs);
  PublicKeys publicKeys() const;  // includes a fresh certificate
};

enum class KeyFileError {
  NotFound,         // cannot open the file
  NotAKeyFile,      // magic missing
  UnsupportedVersion,
  Damaged,          // truncated or structurally invalid
  WrongPassphrase,  // AEAD did not open: wrong passphrase (or the file was altered)
  WriteFailed,
  BadPublicKey,     // .pub: syntax, lengths or certificate
  PassphraseTooShort,  // writeKeyFile: fewer than MinNewPassphraseChars
};
const char* describe(KeyFileError e);

// Serialises and encrypts. Layout (all integers big-endian):
//   "FOCALKEY" | u8 version=1 | u8 kdf=1 (argon2id13) | u64 opslimit | u64 memlimit
//   | salt(16) | nonce(24) | AEAD(ciphertext of payload, AD = all preceding bytes)
Bytes encryptKeyFile(const MemberKeys& keys, std::string_view passphrase, KdfStrength strength);
// decryptKeyFile/readKeyFile bound the file's Argon2 parameters (ops <= 4 x
// SENSITIVE, memory <= 4 GiB) before running it, and throw std::runtime_error
// only if Argon2 cannot get the memory a within-bounds file asks for.
Expected<MemberKeys, KeyFileError> decryptKeyFile(ByteView file, std::string_view passphrase);

// A new key file needs a passphrase of at least this many characters
// (Unicode code points of its UTF-8 text: the bytes that start one). The key file's Argon2 hardening slows each guess, but a short
// passphrase leaves too few guesses to make. Files written before still
// open with whatever passphrase they have.
inline constexpr std::size_t MinNewPassphraseChars = 12;
std::size_t passphraseChars(std::string_view passphrase);
bool longEnoughForNewKeyFile(std::string_view passphrase);

// File helpers: written with mode 0600 via a temp file + rename.
// writeKeyFile refuses a passphrase shorter than MinNewPassphraseChars
// (PassphraseTooShort) before writing anything.
Expected<Ok, KeyFileError> writeKeyFile(const std::filesystem::path& path, const MemberKeys& keys,
                                        std::string_view passphrase, KdfStrength strength);
Expected<MemberKeys, KeyFileError> readKeyFile(const std::filesystem::path& path,
                                               std::string_view passphrase);

// Text format of FILE.pub (lines, '\n'):
//   focal-public-key v1
//   member: <id>
//   identity: <base64 32>
//   encryption: <base64 32>
//   created-ms: <decimal>
//   certificate: <base64 64>
std::string formatPublicKeys(const PublicKeys& pk);
Expected<PublicKeys, KeyFileError> parsePublicKeys(std::string_view text);  // checks certificate
// Reads FILE.pub (at most MaxPublicKeyFileBytes) and parses it: NotFound
// when it cannot be read, BadPublicKey when it is too large or not one.
inline constexpr std::size_t MaxPublicKeyFileBytes = 64 * 1024;
Expected<PublicKeys, KeyFileError> readPublicKeyFile(const std::filesystem::path& path);

// Safety number of one member: 30 decimal digits in six groups of five,
// from BLAKE2b-256("focal/v1/fingerprint" || 0 || u16be len(id) || id || identityPk),
// iterated 5200 times like Signal's so a collision search is costly.
std::string fingerprint(std::string_view memberId, const SigningPublicKey& identity);
// Safety number of a pair: the two fingerprints in sorted order, 60 digits.
std::string safetyNumber(std::string_view idA, const SigningPublicKey& a, std::string_view idB,
                         const SigningPublicKey& b);

}  // namespace focal::crypto
