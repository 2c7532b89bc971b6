#include "operands/vfio_manager/node_reporter.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace gpuop::operands {

std::optional<NodeNotice> NoticeFor(const VfioPassReport& report) {
  std::vector<std::string> failures;
  for (const host::DeviceBinding& binding : report.bindings) {
    if (binding.outcome == host::DeviceBinding::Outcome::kFailed) {
      failures.push_back(std::string(binding.error.message()));
    }
  }
  for (const absl::Status& problem : report.scan_problems) {
    failures.push_back(std::string(problem.message()));
  }
  if (!failures.empty()) {
    return NodeNotice{"Warning", "VfioBindFailed",
                      absl::StrCat(failures.size(), " PCI function(s) not on vfio, ",
                                   "vfio-pci-ready withheld: ", absl::StrJoin(failures, "; "))};
  }
  if (report.selected == 0) {
    return NodeNotice{"Warning", "NoDevicesToBind",
                      "the VFIO manager found no GPU to bind on this node; vfio-pci-ready "
                      "withheld (is the GPU visible in lspci -d 10de:?)"};
  }
  return NodeNotice{
      "Normal", "VfioBound",
      absl::StrCat(report.selected, " GPU(s) and ", report.bindings.size() - report.selected,
                   " companion function(s) on vfio; vfio-pci-ready written")};
}

VfioNodeReporter::VfioNodeReporter(kube::RestClient& client, kube::EventRecorder& recorder,
                                   std::string node_name, common::Logger& log)
    : client_(client), recorder_(recorder), node_name_(std::move(node_name)), log_(log) {}

void VfioNodeReporter::Report(const VfioPassReport& report) {
  std::optional<NodeNotice> notice = NoticeFor(report);
  if (!notice || notice == last_sent_) return;
  if (!node_) {
    absl::StatusOr<kube::json> node = client_.Get(kube::resources::kNodes, "", node_name_);
    if (!node.ok()) {
      log_.Error("cannot read this node to report on it",
                 {{"node", node_name_}, {"error", std::string(node.status().message())}});
      return;
    }
    node_ = kube::ReferenceTo(*node);
  }
  absl::Status recorded =
      recorder_.Record(*node_, notice->type, notice->reason, "Bind", notice->note);
  if (!recorded.ok()) {
    log_.Error("cannot record an event on the node",
               {{"node", node_name_}, {"error", std::string(recorded.message())}});
    return;
  }
  last_sent_ = std::move(notice);
}

}  // namespace gpuop::operands
