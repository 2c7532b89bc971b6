#include "host/pci_ids.h"

#include <cctype>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace gpuop::host {
namespace {

constexpr const char* kPciIdsPaths[] = {"/usr/share/misc/pci.ids", "/usr/local/share/pci.ids",
                                        "/usr/share/hwdata/pci.ids", "/usr/share/pci.ids"};

// "10de  NVIDIA Corporation" -> id and name. Four lower-case hex digits, then two spaces.
bool SplitIdLine(std::string_view line, uint16_t& id, std::string& name) {
  if (line.size() < 6 || line[4] != ' ') return false;
  for (size_t i = 0; i < 4; ++i) {
    if (!std::isxdigit(static_cast<unsigned char>(line[i]))) return false;
  }
  uint32_t value = 0;
  if (!absl::SimpleHexAtoi(std::string(line.substr(0, 4)), &value)) return false;
  id = static_cast<uint16_t>(value);
  size_t start = 4;
  while (start < line.size() && line[start] == ' ') ++start;
  name = std::string(line.substr(start));
  while (!name.empty() && std::isspace(static_cast<unsigned char>(name.back()))) name.pop_back();
  return true;
}

}  // namespace

absl::StatusOr<PciIds> PciIds::Load(const HostRoot& root, const std::string& fallback) {
  const HostRoot own("/");
  std::vector<std::pair<const HostRoot*, std::string>> candidates;
  for (const char* path : kPciIdsPaths) candidates.emplace_back(&root, path);
  if (!fallback.empty()) candidates.emplace_back(&own, fallback);
  // A copy that cannot be read or parsed (a dangling link, a torn file) is skipped: the next
  // one, the image's among them, may do; the first problem is reported if none does.
  absl::Status first_problem;
  for (const auto& [where, path] : candidates) {
    if (!where->Exists(path)) continue;
    absl::StatusOr<std::string> text = where->Read(path);
    absl::StatusOr<PciIds> ids = text.ok() ? Parse(*text) : text.status();
    if (ids.ok()) return ids;
    if (first_problem.ok()) {
      first_problem =
          absl::DataLossError(absl::StrCat(where->Path(path), ": ", ids.status().message()));
    }
  }
  if (!first_problem.ok()) return first_problem;
  return absl::NotFoundError(
      "no pci.ids database (install Debian's pci.ids package: /usr/share/misc/pci.ids)");
}

absl::StatusOr<PciIds> PciIds::Parse(std::string_view text) {
  PciIds ids;
  bool have_vendor = false;
  uint16_t vendor = 0;
  int line_number = 0;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    at = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty() || line.front() == '#') continue;
    // The device classes follow the vendors ("C 03  Display controller"); nothing there is
    // needed, and the file ends with them.
    if (line.front() == 'C' && line.size() > 1 && line[1] == ' ') break;
    uint16_t id = 0;
    std::string name;
    if (line.substr(0, 2) == "\t\t") continue;  // Subsystem: "\t\t1028 1234  name".
    if (line.front() == '\t') {
      if (!have_vendor || !SplitIdLine(line.substr(1), id, name)) {
        return absl::DataLossError(absl::StrCat("line ", line_number, ": not a device line"));
      }
      ids.devices_.insert_or_assign((uint32_t{vendor} << 16) | id, std::move(name));
      continue;
    }
    if (!SplitIdLine(line, id, name)) {
      return absl::DataLossError(absl::StrCat("line ", line_number, ": not a vendor line"));
    }
    vendor = id;
    have_vendor = true;
    ids.vendors_.insert_or_assign(id, std::move(name));
  }
  return ids;
}

std::string PciIds::VendorName(uint16_t vendor) const {
  const auto it = vendors_.find(vendor);
  return it == vendors_.end() ? "" : it->second;
}

std::string PciIds::DeviceName(uint16_t vendor, uint16_t device) const {
  const auto it = devices_.find((uint32_t{vendor} << 16) | device);
  return it == devices_.end() ? "" : it->second;
}

std::string ResourceNameFor(std::string_view device_name, uint16_t device_id) {
  if (device_name.empty()) return absl::StrFormat("%04x", device_id);
  std::string name;
  bool in_space = false;
  for (const char raw : device_name) {
    const auto c = static_cast<unsigned char>(raw);
    // Go's regexp \s: tab, newline, form feed, carriage return, space.
    if (c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r') {
      if (!in_space) name.push_back('_');
      in_space = true;
      continue;
    }
    in_space = false;
    if (c == '/' || c == '.') {
      name.push_back('_');
    } else if (std::isalnum(c) || c == '_' || c == '-') {
      name.push_back(static_cast<char>(std::toupper(c)));
    }
    // Anything else ('[', ']', '(', '+', ...) is dropped.
  }
  // Beyond upstream: Kubernetes rejects a resource name that does not start and end with a
  // letter or digit or is over 63 characters, so a name like "Foo Inc." ("FOO_INC_") is
  // trimmed and cut rather than advertised and refused by kubelet.
  constexpr size_t kMaxResourceName = 63;
  const auto not_edge = [](char c) { return c == '_' || c == '-'; };
  while (!name.empty() && not_edge(name.back())) name.pop_back();
  const size_t first = name.find_first_not_of("_-");
  name = first == std::string::npos ? "" : name.substr(first, kMaxResourceName);
  while (!name.empty() && not_edge(name.back())) name.pop_back();
  if (name.empty()) return absl::StrFormat("%04x", device_id);
  return name;
}

}  // namespace gpuop::host
