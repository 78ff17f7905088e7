#include "server/tls_stream.hpp"

#include "server/openssl_error.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>

#include <sys/socket.h>

#include <cerrno>
#include <climits>
#include <stdexcept>
#include <string>

namespace focal::server {

namespace {

// A socket BIO whose writes use send(MSG_NOSIGNAL): OpenSSL's own socket BIO
// writes with write(2), and a peer that has gone raises SIGPIPE, which would
// end any process that has not ignored it (focald has; a test that runs the
// hub in process has not).
int socketBioWrite(BIO* bio, const char* data, int size) {
  BIO_clear_retry_flags(bio);
  const int fd = static_cast<int>(BIO_get_fd(bio, nullptr));
  ssize_t n;
  do {
    n = ::send(fd, data, static_cast<std::size_t>(size), MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_write(bio);
  return static_cast<int>(n);
}

int socketBioRead(BIO* bio, char* data, int size) {
  BIO_clear_retry_flags(bio);
  const int fd = static_cast<int>(BIO_get_fd(bio, nullptr));
  ssize_t n;
  do {
    n = ::recv(fd, data, static_cast<std::size_t>(size), 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) BIO_set_retry_read(bio);
  return static_cast<int>(n);
}

int socketBioPuts(BIO* bio, const char* text) {
  return socketBioWrite(bio, text, static_cast<int>(std::char_traits<char>::length(text)));
}

// OpenSSL's socket BIO's methods except read and write: fd get/set, flush,
// EOF, close-on-free (never: the stream's socket owns the descriptor).
const BIO_METHOD* socketBioMethod() {
  static const BIO_METHOD* method = [] {
    const BIO_METHOD* base = BIO_s_socket();
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "focal socket");
    if (m == nullptr || BIO_meth_set_write(m, socketBioWrite) != 1 || BIO_meth_set_read(m, socketBioRead) != 1 ||
        BIO_meth_set_puts(m, socketBioPuts) != 1 || BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(base)) != 1 ||
        BIO_meth_set_create(m, BIO_meth_get_create(base)) != 1 ||
        BIO_meth_set_destroy(m, BIO_meth_get_destroy(base)) != 1) {
      throw std::runtime_error("cannot make the TLS socket BIO: " + opensslError());
    }
    return m;
  }();
  return method;
}

}  // namespace

TlsStream::TlsStream(net::ip::tcp::socket socket, ssl::context& context) : socket_(std::move(socket)) {
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  if (ec) throw std::runtime_error("cannot make the socket non-blocking: " + ec.message());
  ssl_ = SSL_new(context.native_handle());
  BIO* bio = ssl_ == nullptr ? nullptr : BIO_new(socketBioMethod());
  if (bio == nullptr) {
    SSL_free(ssl_);
    throw std::runtime_error("cannot make a TLS session: " + opensslError());
  }
  BIO_set_fd(bio, socket_.native_handle(), BIO_NOCLOSE);
  SSL_set_bio(ssl_, bio, bio);  // the SSL object owns the BIO from here
  // Partial writes: a write completes with what went out (async_write loops),
  // and a retried write may come from a buffer that moved.
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_set_accept_state(ssl_);
}

TlsStream::~TlsStream() { SSL_free(ssl_); }

TlsStream::Step TlsStream::attempt(Kind kind, void* data, std::size_t size, boost::system::error_code& ec,
                                   std::size_t& n) {
  // Each session shares the thread's OpenSSL error queue: start it empty so
  // that what SSL_get_error reads is this call's, and leave it empty.
  ERR_clear_error();
  errno = 0;
  n = 0;
  int ret = 0;
  switch (kind) {
    case Kind::Handshake:
      ret = SSL_do_handshake(ssl_);
      break;
    case Kind::Read:
      ret = SSL_read_ex(ssl_, data, size, &n);
      break;
    case Kind::Write:
      ret = SSL_write_ex(ssl_, data, size, &n);
      break;
  }
  const int savedErrno = errno;
  if (ret == 1) {
    ec = {};
    return Step::Done;
  }
  const int error = SSL_get_error(ssl_, ret);
  switch (error) {
    case SSL_ERROR_WANT_READ:
      return Step::WantRead;
    case SSL_ERROR_WANT_WRITE:
      return Step::WantWrite;
    case SSL_ERROR_ZERO_RETURN:
      ec = net::error::eof;  // the peer's close_notify
      break;
    case SSL_ERROR_SYSCALL:
      ec = savedErrno != 0 ? boost::system::error_code(savedErrno, boost::system::system_category())
                           : boost::system::error_code(ssl::error::stream_truncated);
      break;
    case SSL_ERROR_SSL: {
      const unsigned long e = ERR_peek_last_error();
      if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
        ec = ssl::error::stream_truncated;  // a TCP close without close_notify
      } else {
        ec = boost::system::error_code(static_cast<int>(e), net::error::get_ssl_category());
      }
      break;
    }
    default:
      ec = boost::system::error_code(error, net::error::get_ssl_category());
      break;
  }
  ERR_clear_error();
  n = 0;
  return Step::Done;
}

}  // namespace focal::server
