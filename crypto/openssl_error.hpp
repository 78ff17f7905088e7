// OpenSSL's reason for the last failure, as text for an error message: the
// one place Focal reads (and clears) OpenSSL's error queue, for the hub's
// TLS context, the client's, the local TAXII endpoint's and the
// certificate code alike.
#pragma once

#include <openssl/err.h>

#include <string>

namespace focal::crypto {

// The oldest queued error (the cause, not a follow-on), and clears the queue
// so that it does not reach the next caller's message.
inline std::string opensslError() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

}  // namespace focal::crypto
