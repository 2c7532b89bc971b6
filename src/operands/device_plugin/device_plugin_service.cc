#include "operands/device_plugin/device_plugin_service.h"

#include <chrono>
#include <utility>

#include "absl/time/time.h"

namespace gpuop::operands {
namespace {

// How often a stream that has nothing to send checks whether kubelet went away.
constexpr absl::Duration kCancelCheck = absl::Milliseconds(500);

grpc::Status ToGrpc(const absl::Status& status) {
  const grpc::StatusCode code = absl::IsInvalidArgument(status)      ? grpc::INVALID_ARGUMENT
                                : absl::IsFailedPrecondition(status) ? grpc::FAILED_PRECONDITION
                                                                     : grpc::INTERNAL;
  return grpc::Status(code, std::string(status.message()));
}

}  // namespace

v1beta1::ListAndWatchResponse DeviceList(const std::vector<PassthroughDevice>& devices) {
  v1beta1::ListAndWatchResponse response;
  for (const PassthroughDevice& device : devices) {
    v1beta1::Device* out = response.add_devices();
    out->set_id(device.id);
    out->set_health(device.healthy ? kHealthy : kUnhealthy);
    if (device.numa_node >= 0) out->mutable_topology()->add_nodes()->set_id(device.numa_node);
  }
  return response;
}

DevicePluginService::DevicePluginService(std::string resource, GrantOptions options,
                                         DevicePluginCounters& counters)
    : resource_(std::move(resource)), options_(std::move(options)), counters_(counters) {}

void DevicePluginService::Update(std::vector<PassthroughDevice> devices) {
  absl::MutexLock lock(&mu_);
  if (devices == devices_) return;
  devices_ = std::move(devices);
  ++generation_;
}

void DevicePluginService::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
}

void DevicePluginService::Reopen() {
  absl::MutexLock lock(&mu_);
  shut_down_ = false;
}

int DevicePluginService::OpenStreams() const {
  absl::MutexLock lock(&mu_);
  return open_streams_;
}

std::vector<PassthroughDevice> DevicePluginService::Devices() const {
  absl::MutexLock lock(&mu_);
  return devices_;
}

grpc::Status DevicePluginService::GetDevicePluginOptions(grpc::ServerContext* /*context*/,
                                                         const v1beta1::Empty* /*request*/,
                                                         v1beta1::DevicePluginOptions* response) {
  response->set_pre_start_required(false);
  response->set_get_preferred_allocation_available(true);
  return grpc::Status::OK;
}

grpc::Status DevicePluginService::ListAndWatch(
    grpc::ServerContext* context, const v1beta1::Empty* /*request*/,
    grpc::ServerWriter<v1beta1::ListAndWatchResponse>* writer) {
  uint64_t sent = 0;
  bool first = true;
  {
    absl::MutexLock lock(&mu_);
    if (shut_down_) return grpc::Status(grpc::UNAVAILABLE, "the device plugin is stopping");
    ++open_streams_;
  }
  while (true) {
    v1beta1::ListAndWatchResponse response;
    {
      absl::MutexLock lock(&mu_);
      // Wake on a new list or a shutdown; look at the context now and then, since a cancelled
      // call (kubelet gone) does not signal this mutex.
      const auto changed = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return shut_down_ || first || generation_ != sent;
      };
      while (!mu_.AwaitWithTimeout(absl::Condition(&changed), kCancelCheck)) {
        if (context->IsCancelled()) break;
      }
      if (shut_down_ || context->IsCancelled()) {
        --open_streams_;
        return grpc::Status::OK;
      }
      response = DeviceList(devices_);
      sent = generation_;
      first = false;
    }
    if (!writer->Write(response)) {
      absl::MutexLock lock(&mu_);
      --open_streams_;
      return grpc::Status::OK;  // Kubelet closed the stream.
    }
    ++counters_.list_and_watch_sends;
  }
}

grpc::Status DevicePluginService::GetPreferredAllocation(
    grpc::ServerContext* /*context*/, const v1beta1::PreferredAllocationRequest* request,
    v1beta1::PreferredAllocationResponse* response) {
  const std::vector<PassthroughDevice> devices = Devices();
  for (const v1beta1::ContainerPreferredAllocationRequest& container :
       request->container_requests()) {
    const std::vector<std::string> chosen = PreferredDevices(
        {container.available_deviceids().begin(), container.available_deviceids().end()},
        {container.must_include_deviceids().begin(), container.must_include_deviceids().end()},
        container.allocation_size(), devices);
    v1beta1::ContainerPreferredAllocationResponse* out = response->add_container_responses();
    for (const std::string& id : chosen) out->add_deviceids(id);
  }
  return grpc::Status::OK;
}

grpc::Status DevicePluginService::Allocate(grpc::ServerContext* /*context*/,
                                           const v1beta1::AllocateRequest* request,
                                           v1beta1::AllocateResponse* response) {
  const std::vector<PassthroughDevice> devices = Devices();
  for (const v1beta1::ContainerAllocateRequest& container : request->container_requests()) {
    absl::StatusOr<ContainerGrant> grant =
        GrantFor(resource_, {container.devices_ids().begin(), container.devices_ids().end()},
                 devices, options_);
    if (!grant.ok()) {
      ++counters_.allocation_errors;
      return ToGrpc(grant.status());
    }
    v1beta1::ContainerAllocateResponse* out = response->add_container_responses();
    for (const DeviceNodeGrant& node : grant->devices) {
      v1beta1::DeviceSpec* spec = out->add_devices();
      spec->set_container_path(node.container_path);
      spec->set_host_path(node.host_path);
      spec->set_permissions(node.permissions);
    }
    for (const auto& [key, value] : grant->envs) (*out->mutable_envs())[key] = value;
    for (const auto& [key, value] : grant->annotations) (*out->mutable_annotations())[key] = value;
    for (const std::string& name : grant->cdi_devices) out->add_cdi_devices()->set_name(name);
  }
  ++counters_.allocations;
  return grpc::Status::OK;
}

grpc::Status DevicePluginService::PreStartContainer(
    grpc::ServerContext* /*context*/, const v1beta1::PreStartContainerRequest* /*request*/,
    v1beta1::PreStartContainerResponse* /*response*/) {
  return grpc::Status::OK;  // Not asked for (pre_start_required is false).
}

}  // namespace gpuop::operands
