#include "operands/device_plugin/plugin_endpoint.h"

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"

namespace gpuop::operands {

PluginEndpoint::PluginEndpoint(std::string plugin_dir, std::string socket_name,
                               DevicePluginService& service)
    : plugin_dir_(std::move(plugin_dir)), socket_name_(std::move(socket_name)), service_(service) {}

PluginEndpoint::~PluginEndpoint() { Stop(); }

absl::Status PluginEndpoint::Start() {
  Stop();
  const std::string path = SocketPath();
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return absl::ErrnoToStatus(errno, absl::StrCat("remove the stale socket ", path));
  }
  service_.Reopen();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("unix:", path), grpc::InsecureServerCredentials());
  builder.RegisterService(&service_);
  server_ = builder.BuildAndStart();
  if (server_ == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot serve on ", path,
                                               " (is the device-plugins directory mounted and "
                                               "writable?)"));
  }
  return absl::OkStatus();
}

void PluginEndpoint::Stop() {
  if (server_ == nullptr) return;
  service_.Shutdown();
  // wall-clock: gRPC takes deadlines as system_clock time points only.
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server_->Wait();
  server_.reset();
  (void)::unlink(SocketPath().c_str());
}

bool PluginEndpoint::SocketExists() const {
  struct stat info {};
  return ::stat(SocketPath().c_str(), &info) == 0 && S_ISSOCK(info.st_mode);
}

absl::Status RegisterWithKubelet(const std::string& kubelet_socket, const PluginEndpoint& endpoint,
                                 const std::string& resource, std::chrono::milliseconds timeout) {
  const std::shared_ptr<grpc::Channel> channel = grpc::CreateChannel(
      absl::StrCat("unix://", kubelet_socket), grpc::InsecureChannelCredentials());
  std::unique_ptr<v1beta1::Registration::Stub> stub = v1beta1::Registration::NewStub(channel);
  v1beta1::RegisterRequest request;
  request.set_version(kDevicePluginApiVersion);
  request.set_endpoint(endpoint.SocketName());
  request.set_resource_name(resource);
  request.mutable_options()->set_get_preferred_allocation_available(true);
  grpc::ClientContext context;
  // wall-clock: gRPC takes deadlines as system_clock time points only.
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  v1beta1::Empty reply;
  const grpc::Status status = stub->Register(&context, request, &reply);
  if (status.ok()) return absl::OkStatus();
  if (status.error_code() == grpc::UNAVAILABLE || status.error_code() == grpc::DEADLINE_EXCEEDED) {
    return absl::UnavailableError(absl::StrCat("register ", resource, " with kubelet at ",
                                               kubelet_socket, ": ", status.error_message()));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("kubelet refused ", resource, ": ", status.error_message()));
}

}  // namespace gpuop::operands
