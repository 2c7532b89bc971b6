#include "operands/cc_manager/cc_mode_switcher.h"

#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

#include "common/clock.h"
#include "common/subprocess.h"
#include "host/gpu_cc_mode.h"

namespace gpuop::operands {
namespace {

using ReadState = absl::StatusOr<host::GpuCcState>;

// One step for one device: the tool's arguments and the mode our read must find after.
struct Step {
  size_t index;  // Into the report's devices.
  host::PciDevice device;
  std::vector<std::string> arguments;
  api::CcMode want;
};

// A read as DeviceSwitch words it.
std::string WordOf(const ReadState& state) {
  return state.ok() ? std::string(host::CcModeWord(state->Mode())) : kUnknownMode;
}

// Whether the read found the device in `mode`.
bool ReadsAs(const ReadState& state, api::CcMode mode) {
  return state.ok() && state->Mode() == mode;
}

// The tool's own words for what went wrong: the message of its last ERROR line (after the
// "<date>,<time> ERROR    " prefix), else the last line it wrote.
std::string ToolError(const common::ProcessResult& result) {
  std::string last_error, last_line;
  for (const std::string* stream : {&result.out, &result.err}) {
    for (absl::string_view line : absl::StrSplit(*stream, '\n', absl::SkipWhitespace())) {
      last_line = std::string(absl::StripAsciiWhitespace(line));
      if (const size_t at = line.find(" ERROR "); at != absl::string_view::npos) {
        last_error = std::string(absl::StripAsciiWhitespace(line.substr(at + 7)));
      }
    }
  }
  const std::string message = !last_error.empty() ? last_error : last_line;
  return absl::StrCat("gpu-admin-tools exited ", result.exit_code, message.empty() ? "" : ": ",
                      message);
}

// Runs one step and checks it twice: the tool must say it set and reset the device, and our
// own read must then find the device in the mode. `now` is left holding that read.
void RunStep(const host::HostRoot& root, const GpuAdminTools& tools, const Step& step,
             DeviceSwitch& result, ReadState& now) {
  std::vector<std::string> argv = tools.command;
  argv.push_back("--gpu-bdf=" + step.device.address);
  argv.insert(argv.end(), step.arguments.begin(), step.arguments.end());
  absl::StatusOr<common::ProcessResult> run = common::RunProcess(argv, {.timeout = tools.timeout});
  result.switched = true;
  if (!run.ok()) {
    result.error =
        absl::IsDeadlineExceeded(run.status())
            ? absl::StrCat("gpu-admin-tools did not finish within ",
                           std::chrono::duration_cast<std::chrono::seconds>(tools.timeout).count(),
                           " s and was killed")
            : absl::StrCat("cannot run gpu-admin-tools: ", run.status().message());
  } else {
    const std::string said = run->out + run->err;
    const bool set = absl::StrContains(said, " mode set to ");
    const bool reset = absl::StrContains(said, " was reset to apply the new ");
    if (run->exit_code != 0 || !set || !reset) {
      result.error = run->exit_code != 0
                         ? ToolError(*run)
                         : "gpu-admin-tools exited 0 without saying it set and reset the device";
    }
  }
  now = host::ReadGpuCcState(root, step.device, tools.boot_timeout);
  result.after = WordOf(now);
  if (!result.error.empty()) return;
  if (!now.ok()) {
    result.error = absl::StrCat("after the reset: ", now.status().message());
  } else if (now->Mode() != step.want) {
    result.error =
        absl::StrCat("gpu-admin-tools reported success but the device reads ", result.after,
                     ", not ", std::string(api::CcModeName(step.want)), " (our own BAR0 read)");
  }
}

// Runs the steps all at once, each on its own thread; a failed device drops out of later
// phases.
void RunPhase(const host::HostRoot& root, const GpuAdminTools& tools,
              const std::vector<Step>& steps, SwitchReport& report, std::vector<ReadState>& now) {
  std::vector<std::thread> threads;
  threads.reserve(steps.size());
  for (const Step& step : steps) {
    threads.emplace_back([&root, &tools, &step, &report, &now] {
      RunStep(root, tools, step, report.devices[step.index], now[step.index]);
    });
  }
  for (std::thread& thread : threads) thread.join();
}

}  // namespace

std::vector<host::PciDevice> DevicesFor(const std::vector<host::PciDevice>& devices,
                                        api::CcMode mode) {
  std::vector<host::PciDevice> chosen;
  for (const host::PciDevice& device : devices) {
    const bool applies = mode == api::CcMode::kPpcie ? device.IsNvidiaGpu() || device.IsNvSwitch()
                                                     : host::SupportsCcMode(device);
    if (applies) chosen.push_back(device);
  }
  return chosen;
}

std::vector<std::string> UnsupportedFor(const std::vector<host::PciDevice>& devices,
                                        api::CcMode mode) {
  std::vector<std::string> unsupported;
  for (const host::PciDevice& device : devices) {
    if (mode == api::CcMode::kPpcie) {
      if ((device.IsNvidiaGpu() || device.IsNvSwitch()) && !host::SupportsPpcie(device)) {
        unsupported.push_back(
            absl::StrCat(device.address, " (PPCIe needs Hopper GPUs and gen3 NVSwitches)"));
      }
    } else if (mode != api::CcMode::kOff && device.IsNvidiaGpu() && !host::SupportsCcMode(device)) {
      unsupported.push_back(
          absl::StrCat(device.address, " (not a Hopper or Blackwell GPU: no CC mode)"));
    }
  }
  return unsupported;
}

bool SwitchReport::Ok() const {
  for (const DeviceSwitch& device : devices) {
    if (!device.error.empty()) return false;
  }
  return true;
}

bool SwitchReport::Switched() const {
  for (const DeviceSwitch& device : devices) {
    if (device.switched) return true;
  }
  return false;
}

std::string SwitchReport::FirstError() const {
  for (const DeviceSwitch& device : devices) {
    if (!device.error.empty()) return absl::StrCat(device.address, ": ", device.error);
  }
  return "";
}

absl::StatusOr<std::string> ReadModeWord(const host::HostRoot& root, const host::PciDevice& device,
                                         std::chrono::milliseconds boot_timeout) {
  absl::StatusOr<host::GpuCcState> state = host::ReadGpuCcState(root, device, boot_timeout);
  if (!state.ok()) return state.status();
  return std::string(host::CcModeWord(state->Mode()));
}

SwitchReport SwitchMode(const host::HostRoot& root, const std::vector<host::PciDevice>& devices,
                        api::CcMode mode, const GpuAdminTools& tools) {
  const auto started = common::SteadyClock::Instance().Now();
  SwitchReport report;
  const bool ppcie = mode == api::CcMode::kPpcie;
  // A CC mode also has to clear PPCIe from the switches, which have no CC mode.
  std::vector<host::PciDevice> involved = DevicesFor(devices, api::CcMode::kPpcie);
  if (!ppcie) {
    std::erase_if(involved, [&](const host::PciDevice& device) {
      if (host::SupportsCcMode(device)) return false;
      if (!host::SupportsPpcie(device)) return true;
      // A switch too old for PPCIe cannot have it on: nothing to clear there.
      return absl::IsFailedPrecondition(
          host::ReadGpuCcState(root, device, tools.boot_timeout).status());
    });
  }
  // Each device's state as our last read found it; the report has the same in words.
  std::vector<ReadState> now;
  for (const host::PciDevice& device : involved) {
    now.push_back(host::ReadGpuCcState(root, device, tools.boot_timeout));
    report.devices.push_back(
        {.address = device.address, .before = WordOf(now.back()), .after = WordOf(now.back())});
  }
  const auto pending = [&](size_t i) { return report.devices[i].error.empty(); };
  // What device i reads once the mode is applied (a switch keeps off for a CC mode).
  const auto want_of = [&](size_t i) {
    return !ppcie && !host::SupportsCcMode(involved[i]) ? api::CcMode::kOff : mode;
  };

  // Phase 1 clears what stands in the way: PPCIe for a CC mode, a CC mode for PPCIe.
  std::vector<Step> clear;
  for (size_t i = 0; i < involved.size(); ++i) {
    if (!ppcie && (ReadsAs(now[i], api::CcMode::kPpcie) ||
                   (!now[i].ok() && host::SupportsPpcie(involved[i]) &&
                    !host::SupportsCcMode(involved[i])))) {
      clear.push_back({i,
                       involved[i],
                       {"--set-ppcie-mode=off", "--reset-after-ppcie-mode-switch"},
                       api::CcMode::kOff});
    } else if (ppcie && host::SupportsCcMode(involved[i]) && !ReadsAs(now[i], api::CcMode::kOff) &&
               !ReadsAs(now[i], api::CcMode::kPpcie)) {
      clear.push_back({i,
                       involved[i],
                       {"--set-cc-mode=off", "--reset-after-cc-mode-switch"},
                       api::CcMode::kOff});
    }
  }
  RunPhase(root, tools, clear, report, now);
  if (!report.Ok()) {
    // The order is the rule: with PPCIe (or CC) still on somewhere, nothing goes further.
    for (size_t i = 0; i < involved.size(); ++i) {
      if (report.devices[i].error.empty() && !ReadsAs(now[i], want_of(i))) {
        report.devices[i].error = "not switched: clearing the other mode failed on another device";
      }
    }
    report.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
        common::SteadyClock::Instance().Now() - started);
    return report;
  }

  // Phase 2 sets the mode on every device not yet in it.
  std::vector<Step> set;
  for (size_t i = 0; i < involved.size(); ++i) {
    if (!pending(i) || ReadsAs(now[i], mode)) continue;
    if (ppcie) {
      set.push_back(
          {i, involved[i], {"--set-ppcie-mode=on", "--reset-after-ppcie-mode-switch"}, mode});
    } else if (host::SupportsCcMode(involved[i])) {
      set.push_back({i,
                     involved[i],
                     {absl::StrCat("--set-cc-mode=", std::string(api::CcModeName(mode))),
                      "--reset-after-cc-mode-switch"},
                     mode});
    }
  }
  RunPhase(root, tools, set, report, now);
  report.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
      common::SteadyClock::Instance().Now() - started);
  return report;
}

}  // namespace gpuop::operands
