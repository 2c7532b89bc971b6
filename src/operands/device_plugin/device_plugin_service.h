#pragma once

// The kubelet DevicePlugin gRPC service for one resource (nvidia.com/pgpu): the devices it
// advertises are replaced with Update(), and every open ListAndWatch stream sends the new list
// at once. Allocate and GetPreferredAllocation answer from the same list (allocation.h).
//
//   DevicePluginService service("nvidia.com/pgpu", {});
//   service.Update(devices);  // from discovery, again on every change
//   builder.RegisterService(&service);
//   ...
//   service.Shutdown();       // ends the streams, before the server stops

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"

#include "deviceplugin/v1beta1/api.grpc.pb.h"
#include "operands/device_plugin/allocation.h"
#include "operands/device_plugin/passthrough_devices.h"

namespace gpuop::operands {

// Shared by every resource's service of one agent, so its metrics read them at scrape time.
struct DevicePluginCounters {
  std::atomic<int64_t> allocations{0};
  std::atomic<int64_t> allocation_errors{0};
  std::atomic<int64_t> list_and_watch_sends{0};
};

class DevicePluginService final : public v1beta1::DevicePlugin::Service {
 public:
  // `counters` must outlive the service.
  DevicePluginService(std::string resource, GrantOptions options, DevicePluginCounters& counters);

  // The devices of this resource now; streams send them when they differ from the last list.
  void Update(std::vector<PassthroughDevice> devices);
  // Ends every ListAndWatch stream (kubelet reconnects after re-registration) and refuses new
  // ones. Call before grpc::Server::Shutdown, which waits for streams to end.
  void Shutdown();
  // Accepts streams again, for a server started anew on the same service.
  void Reopen();
  const std::string& Resource() const { return resource_; }
  // Streams open now (kubelet holds one while it is connected).
  int OpenStreams() const;

  grpc::Status GetDevicePluginOptions(grpc::ServerContext* context, const v1beta1::Empty* request,
                                      v1beta1::DevicePluginOptions* response) override;
  grpc::Status ListAndWatch(grpc::ServerContext* context, const v1beta1::Empty* request,
                            grpc::ServerWriter<v1beta1::ListAndWatchResponse>* writer) override;
  grpc::Status GetPreferredAllocation(grpc::ServerContext* context,
                                      const v1beta1::PreferredAllocationRequest* request,
                                      v1beta1::PreferredAllocationResponse* response) override;
  grpc::Status Allocate(grpc::ServerContext* context, const v1beta1::AllocateRequest* request,
                        v1beta1::AllocateResponse* response) override;
  grpc::Status PreStartContainer(grpc::ServerContext* context,
                                 const v1beta1::PreStartContainerRequest* request,
                                 v1beta1::PreStartContainerResponse* response) override;

 private:
  std::vector<PassthroughDevice> Devices() const;

  const std::string resource_;
  const GrantOptions options_;
  DevicePluginCounters& counters_;
  mutable absl::Mutex mu_;
  std::vector<PassthroughDevice> devices_ ABSL_GUARDED_BY(mu_);
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // Bumped by every Update that changed them.
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  int open_streams_ ABSL_GUARDED_BY(mu_) = 0;
};

// The ListAndWatch message for `devices`: ID, "Healthy"/"Unhealthy", NUMA node when known.
v1beta1::ListAndWatchResponse DeviceList(const std::vector<PassthroughDevice>& devices);

}  // namespace gpuop::operands
