// The attachment run: one bulletin carrying an N MiB attachment of random
// bytes, sent and received through the same library code the CLI uses
// (`focal send --attach`: SpooledBlob + Connection::uploadBlob; `focal read
// --save-dir`: openReceived + Connection::downloadBlob + AttachmentSaver),
// sender first, then receiver, in this process. The saved file is compared
// with the original byte for byte.
//
// Memory: each side's peak resident set is measured separately (VmHWM is
// reset between them through /proc/self/clear_refs), plus the hub's VmHWM.
// Both sides are designed to stay bounded by a few chunks whatever N is.
#pragma once

#include "bench/load/hub_process.hpp"

#include <nlohmann/json.hpp>

namespace focal::bench {

nlohmann::json runAttachmentLoad(const HubTarget& hub, std::size_t mib);

}  // namespace focal::bench
