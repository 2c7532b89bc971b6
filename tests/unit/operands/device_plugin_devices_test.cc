// What the sandbox device plugin advertises and grants, read from simulated nodes whose sysfs
// and /dev follow the kernel's rules (tests/fixtures): IDs, health, device nodes, the grant for
// a container and the preferred allocation.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "operands/device_plugin/allocation.h"
#include "operands/device_plugin/cdi_specs.h"
#include "operands/device_plugin/passthrough_devices.h"
#include "tests/fixtures/boot_for_test.h"
#include "tests/fixtures/test_files.h"
#include "tests/fixtures/topologies.h"

namespace gpuop::operands {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

// The HGX board with its eight GPUs (and only them) already on vfio-pci.
testing::SimHost HgxOnVfio(bool iommufd = false) {
  testing::SimHost host = testing::HgxH100x8();
  host.iommufd = iommufd;
  for (testing::SimPciDevice& device : host.devices) {
    if (device.device == 0x2330) device.driver = "vfio-pci";
  }
  return host;
}

std::vector<PassthroughDevice> Discover(const testing::SimulatedKernel& kernel,
                                        const DiscoveryOptions& options = {.alias = "pgpu"}) {
  return DiscoverPassthroughDevices(host::HostRoot(kernel.Root()), nullptr, options);
}

TEST(PassthroughDevices, EachGpuOnVfioIsOneHealthyDeviceNamedByItsIommuGroup) {
  const testing::SimHost host = HgxOnVfio();
  auto kernel = testing::BootOrFail(host);
  ASSERT_NE(kernel, nullptr);
  const std::vector<PassthroughDevice> devices = Discover(*kernel);
  ASSERT_EQ(devices.size(), 8u);  // The NVSwitches are not GPUs.
  const std::vector<std::string> bdfs = testing::HgxGpuBdfs();
  for (size_t i = 0; i < devices.size(); ++i) {
    const testing::SimPciDevice* gpu = nullptr;
    for (const testing::SimPciDevice& d : host.devices) {
      if (d.address == bdfs[i]) gpu = &d;
    }
    ASSERT_NE(gpu, nullptr);
    EXPECT_EQ(devices[i].address, bdfs[i]);
    EXPECT_EQ(devices[i].id, std::to_string(*gpu->iommu_group));
    EXPECT_EQ(devices[i].resource, "nvidia.com/pgpu");
    EXPECT_EQ(devices[i].numa_node, gpu->numa_node);
    EXPECT_THAT(devices[i].device_nodes,
                ElementsAre("/dev/vfio/vfio", "/dev/vfio/" + devices[i].id));
    EXPECT_TRUE(devices[i].healthy) << devices[i].problem;
    EXPECT_EQ(devices[i].upstream_port,
              std::filesystem::path(testing::SysfsTree::DeviceDir(bdfs[i])).parent_path().string());
  }
}

TEST(PassthroughDevices, WithoutAnAliasEachModelIsItsOwnResource) {
  auto kernel = testing::BootOrFail(HgxOnVfio());
  ASSERT_NE(kernel, nullptr);
  std::ifstream file(GPUOP_TEST_PCI_IDS);
  std::stringstream text;
  text << file.rdbuf();
  absl::StatusOr<host::PciIds> ids = host::PciIds::Parse(text.str());
  ASSERT_TRUE(ids.ok()) << ids.status();
  const std::vector<PassthroughDevice> devices =
      DiscoverPassthroughDevices(host::HostRoot(kernel->Root()), &*ids, {.alias = ""});
  ASSERT_FALSE(devices.empty());
  EXPECT_EQ(devices[0].resource, "nvidia.com/GH100_H100_SXM5_80GB");
}

TEST(PassthroughDevices, AGpuOnItsHostDriverIsUnhealthyAndSaysWhere) {
  testing::SimHost host = HgxOnVfio();
  const std::string left_behind = testing::HgxGpuBdfs()[3];
  for (testing::SimPciDevice& device : host.devices) {
    if (device.address == left_behind) device.driver = "nvidia";
  }
  auto kernel = testing::BootOrFail(host);
  ASSERT_NE(kernel, nullptr);
  const std::vector<PassthroughDevice> devices = Discover(*kernel);
  ASSERT_EQ(devices.size(), 8u);
  EXPECT_FALSE(devices[3].healthy);
  EXPECT_EQ(devices[3].problem, "on nvidia, not on vfio-pci");
  EXPECT_TRUE(devices[2].healthy);
}

TEST(PassthroughDevices, AMissingGroupNodeMakesItsGpuUnhealthy) {
  auto kernel = testing::BootOrFail(HgxOnVfio());
  ASSERT_NE(kernel, nullptr);
  const std::vector<PassthroughDevice> before = Discover(*kernel);
  ASSERT_EQ(before.size(), 8u);
  std::filesystem::remove(kernel->HostPath("/dev/vfio/" + before[1].id));
  const std::vector<PassthroughDevice> after = Discover(*kernel);
  EXPECT_FALSE(after[1].healthy);
  EXPECT_THAT(after[1].problem, HasSubstr("/dev/vfio/" + before[1].id + " does not exist"));
  EXPECT_TRUE(after[0].healthy);
}

TEST(PassthroughDevices, WithIommufdTheIdIsTheVfioCharacterDevice) {
  auto kernel = testing::BootOrFail(HgxOnVfio(/*iommufd=*/true));
  ASSERT_NE(kernel, nullptr);
  const std::vector<PassthroughDevice> devices = Discover(*kernel);
  ASSERT_EQ(devices.size(), 8u);
  for (const PassthroughDevice& device : devices) {
    EXPECT_THAT(device.device_nodes,
                ElementsAre("/dev/vfio/devices/vfio" + device.id, "/dev/iommu"));
    EXPECT_TRUE(device.healthy) << device.problem;
    EXPECT_NE(device.id, std::to_string(device.iommu_group));
  }
}

TEST(PassthroughDevices, NoIommuMeansNothingToPassThrough) {
  auto kernel = testing::BootOrFail(testing::IommuOff());
  ASSERT_NE(kernel, nullptr);
  EXPECT_TRUE(Discover(*kernel).empty());
}

TEST(CdiSpecsFor, OneSpecPerResourceNamedByTheKubeletDeviceIds) {
  auto kernel = testing::BootOrFail(HgxOnVfio());
  ASSERT_NE(kernel, nullptr);
  const host::HostRoot root(kernel->Root());
  const std::vector<PassthroughDevice> devices = Discover(*kernel);
  const std::map<std::string, cdi::Spec> specs = CdiSpecsFor(devices, root);
  ASSERT_EQ(specs.size(), 1u);
  const cdi::Spec& spec = specs.at("nvidia.com/pgpu");
  EXPECT_EQ(spec.kind, "nvidia.com/pgpu");
  EXPECT_EQ(spec.cdi_version, "0.5.0");
  ASSERT_EQ(spec.devices.size(), devices.size());
  for (size_t i = 0; i < devices.size(); ++i) {
    EXPECT_EQ(spec.devices[i].name, devices[i].id);
    // The simulated /dev holds plain files, so the library is left to stat the host's nodes.
    EXPECT_EQ(spec.devices[i].device_nodes,
              (std::vector<cdi::DeviceNode>{{.path = "/dev/vfio/vfio"},
                                            {.path = "/dev/vfio/" + devices[i].id}}));
  }
  EXPECT_TRUE(cdi::ValidateSpec(spec).ok()) << cdi::ValidateSpec(spec);
}

TEST(CdiSpecsFor, WithIommufdEachDeviceIsItsVfioCharacterDeviceWithoutDevIommu) {
  auto kernel = testing::BootOrFail(HgxOnVfio(/*iommufd=*/true));
  ASSERT_NE(kernel, nullptr);
  const std::vector<PassthroughDevice> devices = Discover(*kernel);
  const std::map<std::string, cdi::Spec> specs =
      CdiSpecsFor(devices, host::HostRoot(kernel->Root()));
  const cdi::Spec& spec = specs.at("nvidia.com/pgpu");
  ASSERT_EQ(spec.devices.size(), 8u);
  for (size_t i = 0; i < devices.size(); ++i) {
    EXPECT_EQ(spec.devices[i].name, devices[i].id);
    EXPECT_EQ(spec.devices[i].device_nodes,
              (std::vector<cdi::DeviceNode>{{.path = "/dev/vfio/devices/vfio" + devices[i].id}}));
  }
}

TEST(CdiSpecsFor, ARealCharacterDeviceIsWrittenFullySpecified) {
  // A root whose group node leads to /dev/null: what matters is that it is a character device.
  const std::string root = testing::ScratchDir("cdi-char-device");
  std::filesystem::create_directories(root + "/dev/vfio");
  std::filesystem::create_symlink("/dev/null", root + "/dev/vfio/38");
  const PassthroughDevice gpu{
      .id = "38", .resource = "nvidia.com/pgpu", .device_nodes = {"/dev/vfio/38", "/dev/iommu"}};
  const std::map<std::string, cdi::Spec> specs = CdiSpecsFor({gpu}, host::HostRoot(root));
  ASSERT_EQ(specs.size(), 1u);
  EXPECT_EQ(specs.at("nvidia.com/pgpu").devices[0].device_nodes,
            (std::vector<cdi::DeviceNode>{
                {.path = "/dev/vfio/38", .type = "c", .major = 1, .minor = 3}}));
}

TEST(KeepVanished, AGpuThatDisappearedStaysAsUnhealthyUntilItIsBackUnderAnyId) {
  PassthroughDevice a{
      .id = "38", .resource = "nvidia.com/pgpu", .address = "0000:65:00.0", .healthy = true};
  PassthroughDevice b{
      .id = "40", .resource = "nvidia.com/pgpu", .address = "0000:66:00.0", .healthy = true};
  std::vector<PassthroughDevice> now = KeepVanished({a}, {a, b});
  ASSERT_EQ(now.size(), 2u);
  EXPECT_EQ(now[1].id, "40");
  EXPECT_FALSE(now[1].healthy);
  EXPECT_THAT(now[1].problem, HasSubstr("no longer found"));
  PassthroughDevice b_again = b;
  b_again.id = "7";  // Same GPU, a new vfioN.
  now = KeepVanished({a, b_again}, now);
  ASSERT_EQ(now.size(), 2u);
  EXPECT_EQ(now[1].id, "7");
  EXPECT_TRUE(now[1].healthy);
}

TEST(GrantFor, TwoGpusGetTheirGroupNodesTheSharedContainerNodeOnceAndTheirCdiNames) {
  auto kernel = testing::BootOrFail(HgxOnVfio());
  ASSERT_NE(kernel, nullptr);
  const std::vector<PassthroughDevice> devices = Discover(*kernel);
  const std::string first = devices[0].id;
  const std::string second = devices[1].id;
  absl::StatusOr<ContainerGrant> grant =
      GrantFor("nvidia.com/pgpu", {first, second}, devices, GrantOptions{});
  ASSERT_TRUE(grant.ok()) << grant.status();
  EXPECT_THAT(grant->devices,
              ElementsAre(DeviceNodeGrant{"/dev/vfio/vfio", "/dev/vfio/vfio", "mrw"},
                          DeviceNodeGrant{"/dev/vfio/" + first, "/dev/vfio/" + first, "mrw"},
                          DeviceNodeGrant{"/dev/vfio/" + second, "/dev/vfio/" + second, "mrw"}));
  EXPECT_THAT(grant->cdi_devices,
              ElementsAre("nvidia.com/pgpu=" + first, "nvidia.com/pgpu=" + second));
  EXPECT_EQ(grant->annotations["cdi.k8s.io/gpuop"],
            "nvidia.com/pgpu=" + first + ",nvidia.com/pgpu=" + second);
  EXPECT_EQ(grant->envs["PCI_RESOURCE_NVIDIA_COM_PGPU"],
            devices[0].address + "," + devices[1].address);

  absl::StatusOr<ContainerGrant> plain = GrantFor("nvidia.com/pgpu", {first}, devices,
                                                  {.cdi_devices = false, .cdi_annotations = false});
  ASSERT_TRUE(plain.ok());
  EXPECT_TRUE(plain->cdi_devices.empty());
  EXPECT_TRUE(plain->annotations.empty());
}

TEST(GrantFor, ANodeWhoseRootIsElsewhereGetsHostPathsUnderItInAllocateAndTheCdiSpec) {
  auto kernel = testing::BootOrFail(HgxOnVfio());
  ASSERT_NE(kernel, nullptr);
  const std::vector<PassthroughDevice> devices = Discover(*kernel);
  const std::string id = devices[0].id;
  absl::StatusOr<ContainerGrant> grant =
      GrantFor("nvidia.com/pgpu", {id}, devices, {.dev_root = "/var/lib/sim-node/"});
  ASSERT_TRUE(grant.ok()) << grant.status();
  EXPECT_THAT(
      grant->devices,
      ElementsAre(DeviceNodeGrant{"/dev/vfio/vfio", "/var/lib/sim-node/dev/vfio/vfio", "mrw"},
                  DeviceNodeGrant{"/dev/vfio/" + id, "/var/lib/sim-node/dev/vfio/" + id, "mrw"}));
  const std::map<std::string, cdi::Spec> specs =
      CdiSpecsFor(devices, host::HostRoot(kernel->Root()), "/var/lib/sim-node");
  const cdi::DeviceNode& node = specs.at("nvidia.com/pgpu").devices[0].device_nodes[1];
  EXPECT_EQ(node.path, "/dev/vfio/" + id);
  EXPECT_EQ(node.host_path, "/var/lib/sim-node/dev/vfio/" + id);
  EXPECT_TRUE(cdi::ValidateSpec(specs.at("nvidia.com/pgpu")).ok());
  EXPECT_EQ(DeviceHostPath("/", "/dev/vfio/7"), "/dev/vfio/7");
  EXPECT_EQ(DeviceHostPath("", "/dev/vfio/7"), "/dev/vfio/7");
}

TEST(GrantFor, AnUnknownOrUnhealthyIdIsRefusedByName) {
  std::vector<PassthroughDevice> devices = {{.id = "38",
                                             .resource = "nvidia.com/pgpu",
                                             .address = "0000:65:00.0",
                                             .healthy = false,
                                             .problem = "on nvidia, not on vfio-pci"}};
  absl::StatusOr<ContainerGrant> unknown = GrantFor("nvidia.com/pgpu", {"39"}, devices, {});
  EXPECT_TRUE(absl::IsInvalidArgument(unknown.status()));
  EXPECT_THAT(unknown.status().message(), HasSubstr("nvidia.com/pgpu=39"));
  absl::StatusOr<ContainerGrant> sick = GrantFor("nvidia.com/pgpu", {"38"}, devices, {});
  EXPECT_TRUE(absl::IsFailedPrecondition(sick.status()));
  EXPECT_THAT(sick.status().message(), HasSubstr("on nvidia"));
  EXPECT_FALSE(GrantFor("nvidia.com/other", {"38"}, devices, {}).ok());
}

TEST(PciResourceEnvName, IsKubevirtsNameForTheResource) {
  EXPECT_EQ(PciResourceEnvName("nvidia.com/pgpu"), "PCI_RESOURCE_NVIDIA_COM_PGPU");
  EXPECT_EQ(PciResourceEnvName("nvidia.com/GH100_H100_SXM5_80GB"),
            "PCI_RESOURCE_NVIDIA_COM_GH100_H100_SXM5_80GB");
}

// Eight GPUs, g0-g3 on NUMA node 0 under two ports, g4-g7 on node 1.
std::vector<PassthroughDevice> EightGpus() {
  std::vector<PassthroughDevice> devices;
  for (int i = 0; i < 8; ++i) {
    devices.push_back({.id = "g" + std::to_string(i),
                       .resource = "nvidia.com/pgpu",
                       .numa_node = i < 4 ? 0 : 1,
                       .upstream_port = "/sys/devices/pci0000:0" + std::to_string(i / 2),
                       .healthy = true});
  }
  return devices;
}

TEST(PreferredDevices, KeepsARequestOnOneNumaNodeAndUnderOnePort) {
  const std::vector<PassthroughDevice> devices = EightGpus();
  // g0 and g4 are taken: node 0 has 3 left, node 1 has 3 left; 2 wanted, under one port.
  EXPECT_THAT(PreferredDevices({"g1", "g2", "g3", "g5", "g6", "g7"}, {}, 2, devices),
              ElementsAre("g2", "g3"));
  // The tightest fit: node 1 holds exactly 3 of the 3 wanted, node 0 holds 4.
  EXPECT_THAT(PreferredDevices({"g0", "g1", "g2", "g3", "g5", "g6", "g7"}, {}, 3, devices),
              UnorderedElementsAre("g5", "g6", "g7"));
  // A must-include GPU decides the node; its port-mate comes first.
  EXPECT_THAT(PreferredDevices({"g0", "g1", "g4", "g5", "g6"}, {"g5"}, 3, devices),
              ElementsAre("g5", "g4", "g6"));
  // More than one node holds: the rest spills over.
  EXPECT_EQ(PreferredDevices({"g0", "g4", "g5"}, {}, 3, devices).size(), 3u);
}

}  // namespace
}  // namespace gpuop::operands
