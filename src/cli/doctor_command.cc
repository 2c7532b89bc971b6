// `gpuop doctor`: the node preflight (doctor/doctor_checks.h) as a table for people or JSON for
// machines. Exit status 1 when a check fails, so scripts can gate on it.

#include <algorithm>
#include <iostream>

#include "absl/strings/str_format.h"
#include <nlohmann/json.hpp>

#include "cli/agent_main.h"
#include "cli/dispatcher.h"
#include "cli/subcommands.h"
#include "doctor/doctor_checks.h"

namespace gpuop::cli {
namespace {

using doctor::DoctorCheck;
using doctor::DoctorReport;

constexpr char kSummary[] =
    "Checks this node for sandboxed GPU workloads (IOMMU, virtualization, nouveau, vfio, TEE,\n"
    "CC-capable GPUs, Kata, containerd) and says what to fix. Exit status 1 when a check fails.";

void PrintTable(const DoctorReport& report, std::ostream& out) {
  const std::vector<DoctorCheck>& checks = report.checks;
  size_t width = 0;
  for (const DoctorCheck& check : checks) width = std::max(width, check.name.size());
  for (const DoctorCheck& check : checks) {
    out << absl::StrFormat("%-4s  %-*s  %s\n", std::string(doctor::VerdictName(check.verdict)),
                           static_cast<int>(width), check.name, check.detail);
    if (!check.hint.empty() && check.verdict != DoctorCheck::Verdict::kOk) {
      out << absl::StrFormat("      %-*s  -> %s\n", static_cast<int>(width), "", check.hint);
    }
  }
  out << (report.Failed() ? "verdict: NOT READY for GPU passthrough\n"
          : report.gpus > 0
              ? "verdict: no blocking problem found\n"
              : "verdict: no NVIDIA GPU here; the warnings matter once one is added\n");
}

void PrintJson(const DoctorReport& report, std::ostream& out) {
  nlohmann::ordered_json json = {{"ready", !report.Failed()}, {"checks", nlohmann::json::array()}};
  for (const DoctorCheck& check : report.checks) {
    json["checks"].push_back({{"name", check.name},
                              {"verdict", std::string(doctor::VerdictName(check.verdict))},
                              {"detail", check.detail},
                              {"hint", check.hint}});
  }
  out << json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

int RunDoctor(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  AgentMain main("doctor", kSummary, out, err);
  bool json = false;
  main.HostRootFlag();
  main.Flags().Bool("json", &json, "print JSON instead of a table");
  if (std::optional<int> exit = main.Parse(args)) return *exit;
  // A mistyped root would otherwise be read as a host where nothing is wrong.
  if (absl::Status usable = doctor::ValidateHostRoot(main.HostRoot()); !usable.ok()) {
    err << "doctor: " << usable.message() << "\n" << main.Flags().Usage(kSummary);
    return kExitUsage;
  }
  const DoctorReport report = doctor::RunDoctorChecks(host::HostRoot(main.HostRoot()));
  if (json) {
    PrintJson(report, out);
  } else {
    PrintTable(report, out);
  }
  return report.Failed() ? 1 : 0;
}

}  // namespace

Subcommand DoctorSubcommand() {
  return {"doctor", "check this node for sandboxed GPU workloads and say what to fix", RunDoctor};
}

}  // namespace gpuop::cli
