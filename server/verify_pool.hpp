// VerifyPool: worker threads for the CPU-heavy, state-free checks of a
// request — the Ed25519 verification of a bulletin header and the BLAKE2b of
// its ciphertext — so that the one io thread (ARCHITECTURE.md) spends its
// time on TLS, framing and policy instead, and the checks of many bulletins
// run on every core at once.
//
// Contract: `fn` runs on a worker thread and must only read what it was
// given (bytes that stay alive and unchanged until the completion runs) and
// touch no hub state; its result is posted to the completion handler's
// associated executor (the io thread for a coroutine), never run on the
// worker. Nothing is decided on a worker: the handler acts on the result on
// the io thread, in the same order of checks as without the pool.
//
// With zero threads (a one-core machine) there is no pool and the caller
// runs the checks inline (inlineOnly()).
#pragma once

#include "server/net.hpp"

#include <cstddef>
#include <memory>
#include <optional>

namespace focal::server {

class VerifyPool {
 public:
  // `threads` = 0: one per hardware thread, or none (inline) on one core.
  explicit VerifyPool(std::size_t threads);
  ~VerifyPool();  // stop()
  VerifyPool(const VerifyPool&) = delete;
  VerifyPool& operator=(const VerifyPool&) = delete;

  // Finishes what was posted and joins the workers. Idempotent.
  void stop();

  std::size_t threads() const { return threads_; }
  bool inlineOnly() const { return threads_ == 0; }

  // Runs `fn() -> R` on a worker and completes `token` with void(R).
  template <class R, class Fn, class Token>
  auto run(Fn fn, Token&& token);

 private:
  std::size_t threads_;
  std::optional<net::thread_pool> pool_;
};

template <class R, class Fn, class Token>
auto VerifyPool::run(Fn fn, Token&& token) {
  return net::async_initiate<Token, void(R)>(
      [this](auto handler, Fn f) {
        // Keeps the requester's io_context running while a worker holds its
        // completion.
        auto work = net::prefer(net::get_associated_executor(handler), net::execution::outstanding_work.tracked);
        net::post(pool_->get_executor(), [f = std::move(f), h = std::move(handler), work = std::move(work)]() mutable {
          R result = f();
          net::post(work, [h = std::move(h), r = std::move(result)]() mutable { std::move(h)(std::move(r)); });
        });
      },
      token, std::move(fn));
}

}  // namespace focal::server
