// OpenSSL's reason for the last failure (crypto/openssl_error.hpp), under
// the name the hub's code uses.
#pragma once

#include "crypto/openssl_error.hpp"

namespace focal::server {

using crypto::opensslError;

}  // namespace focal::server
