#include "crypto/certificate.hpp"

#include "crypto/openssl_error.hpp"
#include "crypto/secure_file.hpp"
#include "crypto/types.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <fmt/format.h>

#include <ctime>
#include <memory>
#include <set>
#include <stdexcept>

namespace focal::crypto {

namespace {

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what + ": " + opensslError()); }

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PKey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Ext = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;
void bioFree(BIO* b) { BIO_free_all(b); }
using Bio = std::unique_ptr<BIO, Deleter<BIO, bioFree>>;

bool isIpAddress(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

void addExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  Ext ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext) fail("cannot build certificate extension " + value);
  if (X509_add_ext(cert, ext.get(), -1) != 1) fail("cannot add certificate extension");
}

Bytes bioBytes(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  if (n < 0 || data == nullptr) fail("cannot read a memory BIO");
  return Bytes(reinterpret_cast<std::uint8_t*>(data), reinterpret_cast<std::uint8_t*>(data) + n);
}

Cert readCertificate(const std::filesystem::path& certFile) {
  const auto pem = readFileLimited(certFile, 1024 * 1024);
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) fail("cannot read " + certFile.string());
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) fail("cannot parse the certificate " + certFile.string());
  return cert;
}

std::chrono::system_clock::time_point timeOf(const ASN1_TIME* t, const std::filesystem::path& certFile) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) fail("cannot read the validity period of " + certFile.string());
  return std::chrono::system_clock::from_time_t(::timegm(&tm));
}

}  // namespace

CertificateValidity certificateValidity(const std::filesystem::path& certFile) {
  Cert cert = readCertificate(certFile);
  return CertificateValidity{timeOf(X509_get0_notBefore(cert.get()), certFile),
                             timeOf(X509_get0_notAfter(cert.get()), certFile)};
}

std::string formatUtc(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

void generateSelfSignedCertificate(const std::filesystem::path& certFile, const std::filesystem::path& keyFile,
                                   const std::string& commonName, const std::vector<std::string>& hosts,
                                   int validDays, const std::string& organization) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  // An hour of slack before now, for clients whose clock is a little behind.
  generateSelfSignedCertificate(certFile, keyFile, commonName, hosts,
                                CertificateValidity{now - hours(1), now + hours(24) * validDays}, organization);
}

void generateSelfSignedCertificate(const std::filesystem::path& certFile, const std::filesystem::path& keyFile,
                                   const std::string& commonName, const std::vector<std::string>& hosts,
                                   const CertificateValidity& validity, const std::string& organization) {
  PKey key(EVP_EC_gen("P-256"));
  if (!key) fail("cannot generate the TLS key");

  Cert cert(X509_new());
  if (!cert) fail("cannot allocate a certificate");
  if (X509_set_version(cert.get(), 2) != 1) fail("cannot set the certificate version");
  // 159-bit random serial, positive.
  Bytes serial(20);
  randomFill(serial);
  serial[0] &= 0x7f;
  serial[0] |= 0x01;
  BIGNUM* bn = BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr);
  if (bn == nullptr || BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get())) == nullptr) {
    BN_free(bn);
    fail("cannot set the serial number");
  }
  BN_free(bn);
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()), std::chrono::system_clock::to_time_t(validity.notBefore)) ==
          nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), std::chrono::system_clock::to_time_t(validity.notAfter)) ==
          nullptr) {
    fail("cannot set the validity period");
  }
  if (X509_set_pubkey(cert.get(), key.get()) != 1) fail("cannot set the public key");
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(commonName.c_str()),
                                 -1, -1, 0) != 1 ||
      X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(organization.c_str()),
                                 -1, -1, 0) != 1) {
    fail("cannot set the subject name");
  }
  if (X509_set_issuer_name(cert.get(), name) != 1) fail("cannot set the issuer name");

  std::set<std::string> unique(hosts.begin(), hosts.end());
  std::string san;
  for (const auto& h : unique) {
    if (h.empty() || h.find_first_of(",\n\r") != std::string::npos) continue;
    if (!san.empty()) san += ",";
    san += (isIpAddress(h) ? "IP:" : "DNS:") + h;
  }
  // The certificate is the clients' pinned trust anchor, so it is marked
  // as a CA that may sign only itself (pathlen 0); clients also set
  // X509_V_FLAG_PARTIAL_CHAIN, which accepts it either way.
  addExtension(cert.get(), NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
  addExtension(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign");
  addExtension(cert.get(), NID_ext_key_usage, "serverAuth");
  addExtension(cert.get(), NID_subject_key_identifier, "hash");
  if (!san.empty()) addExtension(cert.get(), NID_subject_alt_name, san);

  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) fail("cannot sign the certificate");

  Bio keyBio(BIO_new(BIO_s_mem()));
  if (!keyBio || PEM_write_bio_PrivateKey(keyBio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    fail("cannot encode the TLS key");
  }
  Bio certBio(BIO_new(BIO_s_mem()));
  if (!certBio || PEM_write_bio_X509(certBio.get(), cert.get()) != 1) fail("cannot encode the certificate");

  Bytes keyPem = bioBytes(keyBio.get());
  writeFileAtomic(keyFile, keyPem, 0600);
  sodium_memzero(keyPem.data(), keyPem.size());
  writeFileAtomic(certFile, bioBytes(certBio.get()), 0644);
}

std::string certificateFingerprint(const std::filesystem::path& certFile) {
  Cert cert = readCertificate(certFile);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (X509_digest(cert.get(), EVP_sha256(), md, &len) != 1) fail("cannot hash the certificate");
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    if (i > 0) out += ':';
    out += fmt::format("{:02X}", md[i]);
  }
  return out;
}

}  // namespace focal::crypto
