#pragma once

// The start-up every gpuop subcommand shares, written once: the flags several of them take
// (each with its environment default and one help text), parsing them and refusing a bad value
// in one line, the logger, SIGTERM, the metrics server, and the API server with the Event
// recorder and the labels of this node. A <name>_command.cc declares its flags here in the order
// its --help lists them, calls Parse(), and hands its agent (operands/, operator/) what this set
// up; the agent's logic lives there, not in cli/.
//
//   AgentMain main("vfio-manager", kSummary, out, err);
//   main.HostRootFlag();
//   main.Flags().Bool("once", &once, "...");
//   main.LogFormatFlag("text or json");
//   if (std::optional<int> exit = main.Parse(args)) return *exit;
//   main.CatchSignals();
//   return operands::VfioManager(..., main.Log()).Run(main.Stop());

#include <deque>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#include "api/agent_endpoints.h"
#include "cli/flag_parser.h"
#include "cli/signals.h"
#include "common/logger.h"
#include "common/metrics_server.h"
#include "common/stop_signal.h"
#include "kube/event_recorder.h"
#include "kube/rest_client.h"

namespace gpuop::cli {

class AgentMain {
 public:
  // `command` as the usage line and the messages name it: "kata-manager", "validator wait".
  AgentMain(std::string command, std::string summary, std::ostream& out, std::ostream& err);
  AgentMain(const AgentMain&) = delete;
  AgentMain& operator=(const AgentMain&) = delete;

  // For the command's own flags.
  FlagParser& Flags() { return flags_; }

  // The shared flags, each declared where the command's --help lists it and read back below.
  void HostRootFlag();                  // --host-root, $HOST_ROOT, default "/".
  void NodeNameFlag(std::string help);  // --node-name, $NODE_NAME.
  // --kubeconfig; `what` says what it is for ("kubeconfig for the events").
  void KubeconfigFlag(absl::string_view what = "kubeconfig");
  // --metrics-address, default `fallback`.
  void MetricsAddressFlag(std::string help, std::string fallback = api::kAgentMetricsAddress);
  // --log-format, text or json: from $`env` (none: nullptr) else `fallback`. Parse refuses any
  // other value with `refusal`.
  void LogFormatFlag(std::string help, std::string fallback = "text",
                     const char* env = "LOG_FORMAT",
                     std::string refusal = "--log-format is text or json");
  // --<name>, whole seconds, at least `minimum`. Parse refuses anything else with `refusal`.
  const int& SecondsFlag(std::string name, int fallback, std::string help, std::string refusal,
                         int minimum = 0);

  // Parses the flags and checks the shared ones. nullopt to go on; otherwise the exit status,
  // after --help (0), or a bad flag said on err (kExitUsage).
  std::optional<int> Parse(const std::vector<std::string>& args);

  const std::string& HostRoot() const { return host_root_; }
  const std::string& NodeName() const { return node_name_; }
  const std::string& MetricsAddress() const { return metrics_address_; }

  // "<command>: <problem>" on err, then the exit status: kExitUsage for a command line that
  // cannot work, 1 for a start that failed.
  int UsageError(absl::string_view problem);
  int Failure(absl::string_view problem);

  // After Parse: the logger, on err in the --log-format asked for.
  common::Logger& Log();
  common::StopSignal& Stop() { return stop_; }
  // SIGTERM and SIGINT stop Stop() from now on. Before the command starts threads of its own, so
  // that none of them takes the signal with the default action.
  void CatchSignals();

  // The metrics server on --metrics-address, or nullptr where the address is empty or `serve`
  // is false (a one-shot run). The caller owns it, so that it stops before the collectables it
  // was given go. The error says why the address cannot be bound.
  absl::StatusOr<std::unique_ptr<common::MetricsServer>> ServeMetrics(
      std::shared_ptr<prometheus::Registry> registry, bool serve = true);

  // The API server of --kubeconfig, connected on the first call and kept.
  absl::StatusOr<kube::RestClient*> Api();
  // The API and an Event recorder in the name of `reporter`, as this pod ($POD_NAME, else the
  // node's name).
  struct NodeApi {
    kube::RestClient* client = nullptr;
    kube::EventRecorder* events = nullptr;
  };
  absl::StatusOr<NodeApi> ReportAs(std::string_view reporter);
  // The label `key` of the --node-name node, "" when it has none; an error when the API cannot
  // say (the caller must not guess).
  absl::StatusOr<std::string> NodeLabel(const std::string& key);
  // Whether the node still wants `operand`: its deploy label keeps it (true, or paused).
  absl::StatusOr<bool> StillDeployedHere(std::string_view operand);

 private:
  struct Seconds {
    std::string text;
    int value = 0;
    int minimum = 0;
    std::string refusal;
  };

  const std::string command_;
  const std::string summary_;
  std::ostream& out_;
  std::ostream& err_;
  FlagParser flags_;
  std::string host_root_;
  std::string node_name_;
  std::string kubeconfig_;
  std::string context_;  // --context, declared with --kubeconfig.
  std::string metrics_address_;
  std::string log_format_ = "text";
  std::optional<std::string> log_format_refusal_;  // Set once --log-format is declared.
  std::deque<Seconds> seconds_;  // A deque: SecondsFlag hands out references to the values.
  std::optional<common::Logger> log_;
  std::unique_ptr<kube::RestClient> client_;
  std::unique_ptr<kube::EventRecorder> recorder_;
  common::StopSignal stop_;
  std::optional<StopOnSignals> signals_;  // After stop_, so that it goes first.
};

}  // namespace gpuop::cli
