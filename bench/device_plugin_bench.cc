// The sandbox device plugin seen from kubelet (docs/benchmarks.md), on a simulated node with
// two H100s on vfio-pci and kubelet played by tools/testenv/kubelet-harness (upstream Go
// package, grpc-go):
//   - Allocate latency p50/p99 over N calls for both GPUs, against an empty call
//     (GetDevicePluginOptions) on the same connection in the same run;
//   - health change -> kubelet: ms from the kernel's unbind of a GPU until the harness holds a
//     ListAndWatch list with it Unhealthy, and from the bind back until it is Healthy again.
// Usage: device_plugin_bench GPUOP_BINARY KUBELET_HARNESS [N]

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/fixtures/http_get.h"
#include "tests/fixtures/simulated_kernel.h"
#include "tests/fixtures/topologies.h"

namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

pid_t Spawn(const std::vector<std::string>& argv, const std::string& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (!freopen(log.c_str(), "w", stdout) || !freopen(log.c_str(), "a", stderr)) _exit(126);
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  return pid;
}

void Stop(pid_t pid) {
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
}

std::string Read(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

json Get(int port, const std::string& path) {
  const std::string reply = gpuop::testing::HttpGet(port, path);
  const size_t body = reply.find("\r\n\r\n");
  return body == std::string::npos ? json() : json::parse(reply.substr(body + 4), nullptr, false);
}

std::string HealthOf(int port, size_t index) {
  const json state = Get(port, "/state");
  if (!state.is_object() || !state.contains("nvidia.com/pgpu")) return "";
  const json& devices = state["nvidia.com/pgpu"]["devices"];
  return devices.size() > index ? devices[index].value("health", "") : "";
}

// Milliseconds until the harness reports `want` for device `index`; -1 after 5 s.
double MillisUntil(int port, size_t index, const std::string& want, Clock::time_point since) {
  while (Clock::now() - since < std::chrono::seconds(5)) {
    if (HealthOf(port, index) == want) {
      return std::chrono::duration<double, std::milli>(Clock::now() - since).count();
    }
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: device_plugin_bench GPUOP_BINARY KUBELET_HARNESS [N]\n");
    return 2;
  }
  const int calls = argc > 3 ? std::atoi(argv[3]) : 10000;
  gpuop::testing::SimHost board = gpuop::testing::HgxH100x8();
  gpuop::testing::SimHost host = board;
  host.devices.clear();
  for (gpuop::testing::SimPciDevice device : board.devices) {
    if (device.device == 0x2330 && host.devices.size() < 2) {
      device.driver = "vfio-pci";
      host.devices.push_back(device);
    }
  }
  auto kernel = gpuop::testing::SimulatedKernel::Create(host);
  if (!kernel.ok()) {
    std::fprintf(stderr, "simulated node: %s\n", std::string(kernel.status().message()).c_str());
    return 1;
  }
  const std::string dir = std::filesystem::temp_directory_path() / "gpuop-device-plugin-bench";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir + "/device-plugins");
  const pid_t harness = Spawn({argv[2], "--dir", dir + "/device-plugins"}, dir + "/kubelet.log");
  while (!Read(dir + "/kubelet.log").starts_with("listening ")) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const int port = std::stoi(Read(dir + "/kubelet.log").substr(10));
  const pid_t plugin =
      Spawn({argv[1], "device-plugin", "--host-root", (*kernel)->Root(), "--plugin-dir",
             dir + "/device-plugins", "--wait-for-vfio-ready=false", "--metrics-address", ""},
            dir + "/plugin.log");
  const auto started = Clock::now();
  while (HealthOf(port, 1) != "Healthy" && Clock::now() - started < std::chrono::seconds(10)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const json state = Get(port, "/state")["nvidia.com/pgpu"];
  const std::string ids = state["devices"][0]["id"].get<std::string>() + "," +
                          state["devices"][1]["id"].get<std::string>();

  const json figures =
      Get(port, "/bench?resource=nvidia.com/pgpu&ids=" + ids + "&n=" + std::to_string(calls));
  std::printf(
      "device-plugin  Allocate (2 GPUs) over %d calls from the kubelet harness: p50 %.0f us, "
      "p99 %.0f us (goal p99 <= 1000 us); an empty call on the same socket: p50 %.0f us, p99 %.0f "
      "us\n",
      calls, figures.value("allocate_p50_us", -1.0), figures.value("allocate_p99_us", -1.0),
      figures.value("empty_p50_us", -1.0), figures.value("empty_p99_us", -1.0));

  // Health: unbind the second GPU and bind it back, ten times.
  const std::string bdf = host.devices[1].address;
  std::vector<double> down;
  std::vector<double> up;
  for (int i = 0; i < 10; ++i) {
    auto at = Clock::now();
    (void)(*kernel)->WriteAttribute("/sys/bus/pci/drivers/vfio-pci/unbind", bdf,
                                    std::chrono::seconds(5));
    down.push_back(MillisUntil(port, 1, "Unhealthy", at));
    (void)(*kernel)->WriteAttribute("/sys/bus/pci/devices/" + bdf + "/driver_override", "vfio-pci",
                                    std::chrono::seconds(5));
    at = Clock::now();
    (void)(*kernel)->WriteAttribute("/sys/bus/pci/drivers/vfio-pci/bind", bdf,
                                    std::chrono::seconds(5));
    up.push_back(MillisUntil(port, 1, "Healthy", at));
  }
  std::sort(down.begin(), down.end());
  std::sort(up.begin(), up.end());
  std::printf(
      "device-plugin  health change -> kubelet (10 times each): unbind -> Unhealthy median %.1f "
      "ms, "
      "max %.1f ms; bind -> Healthy median %.1f ms, max %.1f ms (goal <= 1000 ms, aim 10 ms)\n",
      down[down.size() / 2], down.back(), up[up.size() / 2], up.back());

  Stop(plugin);
  Stop(harness);
  std::filesystem::remove_all(dir);
  return 0;
}
