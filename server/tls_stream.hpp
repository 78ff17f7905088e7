// The TLS stream of a hub session: OpenSSL reads and writes the non-blocking
// TCP socket itself (through a socket BIO that sends with MSG_NOSIGNAL), and
// the stream waits for readiness with the socket's async_wait.
//
// Why not Asio's ssl::stream: it gives every stream two record buffers of
// 17 KiB (its engine's input and output space) for the stream's whole life,
// and OpenSSL keeps its own read and write buffers besides. An idle session
// then costs about 76 KiB, nearly all buffers (issue 24: 3,000 idle sessions
// took 242 MiB). This stream owns no buffer, and with SSL_MODE_RELEASE_BUFFERS
// (server/tls.cpp) OpenSSL gives its buffers back whenever a session has
// nothing in flight.
//
// It models Asio's AsyncReadStream and AsyncWriteStream for one reader and
// one writer at a time on one thread (a session's reader and writer
// coroutines may overlap, as OpenSSL allows for non-blocking I/O on one
// thread). Completion is never inline: an operation that completes without
// waiting is posted.
//
// Errors: the peer's close_notify is net::error::eof; a TCP close without it
// is ssl::error::stream_truncated; a TLS alert or protocol failure is an
// error in Asio's SSL category; a socket error is its errno. After the
// socket is closed every operation fails with net::error::bad_descriptor
// before OpenSSL is called: the descriptor number may already belong to
// another connection.
#pragma once

#include "server/net.hpp"

#include <openssl/ssl.h>

#include <cstddef>

namespace focal::server {

class TlsStream {
 public:
  using executor_type = net::ip::tcp::socket::executor_type;
  using lowest_layer_type = net::ip::tcp::socket;

  // A server-side stream on `socket` (set non-blocking here) with a new SSL
  // object from `context`. Throws std::runtime_error when OpenSSL cannot
  // make one.
  TlsStream(net::ip::tcp::socket socket, ssl::context& context);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  executor_type get_executor() { return socket_.get_executor(); }
  lowest_layer_type& lowest_layer() { return socket_; }
  SSL* native_handle() { return ssl_; }

  // void(error_code)
  template <typename Token>
  auto async_handshake(Token&& token) {
    return net::async_compose<Token, void(boost::system::error_code)>(
        Op<Kind::Handshake>{this, nullptr, 0}, token, socket_);
  }
  // void(error_code, std::size_t): at least one byte, or an error.
  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    const net::mutable_buffer b = firstBuffer<net::mutable_buffer>(buffers);
    return net::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        Op<Kind::Read>{this, b.data(), b.size()}, token, socket_);
  }
  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    const net::const_buffer b = firstBuffer<net::const_buffer>(buffers);
    return net::async_compose<Token, void(boost::system::error_code, std::size_t)>(
        Op<Kind::Write>{this, const_cast<void*>(b.data()), b.size()}, token, socket_);
  }

 private:
  enum class Kind { Handshake, Read, Write };
  enum class Step { Done, WantRead, WantWrite };

  // One non-blocking attempt at the operation. Done: `ec` and `n` are its
  // result. Otherwise what to wait for before the next attempt.
  Step attempt(Kind kind, void* data, std::size_t size, boost::system::error_code& ec, std::size_t& n);

  template <typename Buffer, typename Buffers>
  static Buffer firstBuffer(const Buffers& buffers) {
    for (auto it = net::buffer_sequence_begin(buffers); it != net::buffer_sequence_end(buffers); ++it) {
      const Buffer b(*it);
      if (b.size() != 0) return b;
    }
    return Buffer();
  }

  template <Kind K>
  struct Op {
    TlsStream* stream;
    void* data;
    std::size_t size;
    enum class State { Start, Waiting, Posted } state = State::Start;
    boost::system::error_code result{};
    std::size_t transferred = 0;

    template <typename Self>
    void operator()(Self& self, boost::system::error_code ec = {}) {
      if (state == State::Posted) return finish(self);
      if (ec) {  // the wait failed: the socket was closed or the wait cancelled
        result = ec;
        return finish(self);
      }
      const bool first = state == State::Start;
      Step step = Step::Done;
      if (!stream->socket_.is_open()) {
        result = net::error::bad_descriptor;
      } else if (K != Kind::Handshake && size == 0) {
        result = {};  // nothing asked, nothing done (Asio's rule for empty buffers)
      } else {
        step = stream->attempt(K, data, size, result, transferred);
      }
      if (step == Step::Done) {
        if (!first) return finish(self);
        state = State::Posted;  // never complete inside the initiating call
        net::post(stream->socket_.get_executor(), std::move(self));
        return;
      }
      state = State::Waiting;
      stream->socket_.async_wait(step == Step::WantRead ? net::socket_base::wait_read : net::socket_base::wait_write,
                                 std::move(self));
    }

    template <typename Self>
    void finish(Self& self) {
      if constexpr (K == Kind::Handshake) {
        self.complete(result);
      } else {
        self.complete(result, transferred);
      }
    }
  };

  net::ip::tcp::socket socket_;
  SSL* ssl_ = nullptr;
};

}  // namespace focal::server
