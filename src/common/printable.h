#pragma once

// Quoting a remote party's bytes (a registry's header, a manifest's field, a file on the host)
// in a message that may reach a log, a Node Event or a status condition: cut to a length and
// reduced to printable ASCII, so it can neither flood the message nor carry control bytes.

#include <string>
#include <string_view>

namespace gpuop::common {

// `text`'s first `limit` bytes, each byte outside printable ASCII as '?', and "..." when cut.
std::string Printable(std::string_view text, size_t limit);

}  // namespace gpuop::common
