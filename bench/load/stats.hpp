// Order statistics of latency samples (nearest-rank percentiles).
#pragma once

#include <cstdint>
#include <vector>

namespace focal::bench {

struct Quantiles {
  double p50 = 0;
  double p99 = 0;
  double max = 0;
};

// Reorders `samples`; it must not be empty.
Quantiles quantiles(std::vector<std::int64_t>& samples);

}  // namespace focal::bench
