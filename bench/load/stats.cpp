#include "bench/load/stats.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace focal::bench {

namespace {
// Nearest rank: the smallest sample with at least q of all samples <= it.
double rank(std::vector<std::int64_t>& v, double q) {
  const auto n = v.size();
  auto i = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
  i = std::clamp<std::size_t>(i, 1, n) - 1;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i), v.end());
  return static_cast<double>(v[i]);
}
}  // namespace

Quantiles quantiles(std::vector<std::int64_t>& samples) {
  if (samples.empty()) throw std::invalid_argument("quantiles of no samples");
  Quantiles q;
  q.p50 = rank(samples, 0.50);
  q.p99 = rank(samples, 0.99);
  q.max = static_cast<double>(*std::max_element(samples.begin(), samples.end()));
  return q;
}

}  // namespace focal::bench
