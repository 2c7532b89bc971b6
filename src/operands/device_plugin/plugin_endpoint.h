#pragma once

// One resource's device plugin as kubelet reaches it: a gRPC server on a unix socket in the
// device-plugins directory serving a DevicePluginService, and the Register call that tells kubelet
// about it (kubelet device plugin API v1beta1, k8s.io/kubelet; kubelet's
// pkg/kubelet/cm/devicemanager: serving before registering, since kubelet dials back and calls
// GetDevicePluginOptions inside Register; the endpoint named relative to the directory).
//
//   PluginEndpoint endpoint(dir, "sandbox-pgpu.sock", service);
//   GPUOP_RETURN_IF_ERROR(endpoint.Start());
//   GPUOP_RETURN_IF_ERROR(RegisterWithKubelet(dir + "/kubelet.sock", endpoint, 5s));

#include <grpcpp/server.h>

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"

#include "operands/device_plugin/device_plugin_service.h"

namespace gpuop::operands {

inline constexpr char kKubeletSocketName[] = "kubelet.sock";
inline constexpr char kDevicePluginApiVersion[] = "v1beta1";

class PluginEndpoint {
 public:
  PluginEndpoint(std::string plugin_dir, std::string socket_name, DevicePluginService& service);
  ~PluginEndpoint();
  PluginEndpoint(const PluginEndpoint&) = delete;
  PluginEndpoint& operator=(const PluginEndpoint&) = delete;

  // Removes a stale socket file and serves on a new one. Stops first if running.
  absl::Status Start();
  // Ends the ListAndWatch streams, stops the server and removes the socket file.
  void Stop();
  bool Running() const { return server_ != nullptr; }
  // False when the socket file is gone (kubelet cleaned its directory on restart).
  bool SocketExists() const;

  const std::string& SocketName() const { return socket_name_; }
  std::string SocketPath() const { return plugin_dir_ + "/" + socket_name_; }
  DevicePluginService& Service() { return service_; }

 private:
  const std::string plugin_dir_;
  const std::string socket_name_;
  DevicePluginService& service_;
  std::unique_ptr<grpc::Server> server_;
};

// Registration.Register on `kubelet_socket` for the endpoint's resource; UNAVAILABLE-like
// errors (kubelet not up yet) come back as Unavailable, kubelet's refusal as FailedPrecondition
// with its words.
absl::Status RegisterWithKubelet(const std::string& kubelet_socket, const PluginEndpoint& endpoint,
                                 const std::string& resource, std::chrono::milliseconds timeout);

}  // namespace gpuop::operands
