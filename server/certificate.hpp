// The hub's self-signed TLS certificate, made by `focald init` when the
// operator brings none. Clients pin it (it is its own CA file), so its
// fingerprint is printed for out-of-band comparison. The code is shared
// with the client's TAXII endpoint: crypto/certificate.hpp.
#pragma once

#include "crypto/certificate.hpp"

namespace focal::server {

using crypto::certificateFingerprint;
using crypto::certificateValidity;
using crypto::CertificateValidity;
using crypto::formatUtc;
using crypto::generateSelfSignedCertificate;

}  // namespace focal::server
