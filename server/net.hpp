// The one place Boost.Asio is included for the server. Boost 1.74 with g++ 12
// needs <utility> before Asio's awaitable.hpp.
#pragma once

#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>

namespace focal {
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
}  // namespace focal
