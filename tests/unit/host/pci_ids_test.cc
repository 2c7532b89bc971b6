#include "host/pci_ids.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <string>
#include <string_view>

#include "tests/fixtures/node_files.h"

namespace gpuop::host {
namespace {

// The format of Debian's /usr/share/misc/pci.ids: vendor lines, tab-indented devices, two-tab
// subsystems, comments, and the class section at the end.
constexpr char kPciIds[] =
    "#\n"
    "#\tList of PCI ID's\n"
    "# Version: 2023.04.10\n"
    "\n"
    "10de  NVIDIA Corporation\n"
    "\t1aef  GA102 High Definition Audio Controller\n"
    "\t2236  GA102GL [A10]\n"
    "\t\t10de 1482  GA102GL [A10]\n"
    "\t2330  GH100[H100 SXM5 80GB]\n"
    "\t2331  GH100 [H100 PCIe]\n"
    "\t25b6  GA107GL [A2 / A16]\n"
    "1af4  Red Hat, Inc.\n"
    "\t1041  Virtio network device\n"
    "C 03  Display controller\n"
    "\t02  3D controller\n";

TEST(PciIds, ReadsVendorsAndDevicesAndSkipsSubsystemsAndClasses) {
  absl::StatusOr<PciIds> ids = PciIds::Parse(kPciIds);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(ids->VendorName(0x10de), "NVIDIA Corporation");
  EXPECT_EQ(ids->DeviceName(0x10de, 0x2331), "GH100 [H100 PCIe]");
  EXPECT_EQ(ids->DeviceName(0x10de, 0x2236), "GA102GL [A10]");
  EXPECT_EQ(ids->DeviceName(0x1af4, 0x1041), "Virtio network device");
  EXPECT_EQ(ids->DeviceName(0x10de, 0x2342), "");
  EXPECT_EQ(ids->DeviceCount(), 6u);
}

TEST(PciIds, AMalformedLineIsAnErrorNamingItsNumber) {
  absl::StatusOr<PciIds> ids = PciIds::Parse("10de  NVIDIA Corporation\n\tzz  nonsense\n");
  EXPECT_EQ(ids.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(ids.status().message().find("line 2"), std::string::npos);
  EXPECT_FALSE(PciIds::Parse("\t2330  a device before any vendor\n").ok());
}

TEST(PciIds, LoadsTheFirstDatabaseOnUpstreamsSearchPath) {
  EXPECT_TRUE(absl::IsNotFound(PciIds::Load(HostRoot("/nonexistent-root")).status()));
  absl::StatusOr<PciIds> fixture = PciIds::Parse(kPciIds);
  ASSERT_TRUE(fixture.ok());
}

// A root whose /usr/share/misc/pci.ids has `text`, removed at the end of the test.
class RootWithPciIds {
 public:
  explicit RootWithPciIds(std::string_view text) {
    std::string pattern = (std::filesystem::temp_directory_path() / "pci-ids-XXXXXX").string();
    dir_ = ::mkdtemp(pattern.data()) != nullptr ? pattern : "";
    EXPECT_TRUE(testing::WriteText(dir_ + "/usr/share/misc/pci.ids", text).ok());
  }
  ~RootWithPciIds() { std::filesystem::remove_all(dir_); }
  RootWithPciIds(const RootWithPciIds&) = delete;
  RootWithPciIds& operator=(const RootWithPciIds&) = delete;
  HostRoot Root() const { return HostRoot(dir_); }

 private:
  std::string dir_;
};

TEST(PciIds, AHostWithoutADatabaseFallsBackToTheImagesAndTheHostsWinsWhenThere) {
  const RootWithPciIds image(kPciIds);
  const std::string image_file = image.Root().Path("/usr/share/misc/pci.ids");
  absl::StatusOr<PciIds> ids = PciIds::Load(HostRoot("/nonexistent-root"), image_file);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(ids->DeviceName(0x10de, 0x2331), "GH100 [H100 PCIe]");

  const RootWithPciIds host("10de  NVIDIA Corporation\n\t2331  H100 as the host names it\n");
  ids = PciIds::Load(host.Root(), image_file);
  ASSERT_TRUE(ids.ok()) << ids.status();
  EXPECT_EQ(ids->DeviceName(0x10de, 0x2331), "H100 as the host names it");
}

struct NameCase {
  std::string device_name;
  std::string resource_name;
};

TEST(ResourceNameFor, FormatsAsTheSandboxDevicePluginDoes) {
  // Expected values worked out by hand from the plugin's steps (upper case; '/' and '.' to
  // '_'; whitespace runs to '_'; drop the rest), as NVIDIA sandbox-device-plugin's
  // formatDeviceName (pkg/device_plugin/device_plugin.go) takes them.
  for (const NameCase& c : {
           NameCase{"GA102GL [A10]", "GA102GL_A10"},
           NameCase{"GH100 [H100 SXM5 80GB]", "GH100_H100_SXM5_80GB"},
           NameCase{"GH100[H100 SXM5 80GB]", "GH100H100_SXM5_80GB"},  // Debian 12's spelling.
           NameCase{"GH100 [H100 PCIe]", "GH100_H100_PCIE"},
           NameCase{"GA107GL [A2 / A16]", "GA107GL_A2___A16"},
           NameCase{"GV100GL [Tesla V100 PCIe 32GB]", "GV100GL_TESLA_V100_PCIE_32GB"},
           NameCase{"GH100 [H200 SXM 141GB]", "GH100_H200_SXM_141GB"},
           NameCase{"TU104GL [Tesla T4]\t(rev a1)", "TU104GL_TESLA_T4_REV_A1"},
           NameCase{"GB100 [B200] 2.0", "GB100_B200_2_0"},
       }) {
    EXPECT_EQ(ResourceNameFor(c.device_name, 0x2330), c.resource_name) << c.device_name;
  }
}

TEST(ResourceNameFor, AnUnknownDeviceIsNamedByItsId) {
  EXPECT_EQ(ResourceNameFor("", 0x2335), "2335");
  EXPECT_EQ(ResourceNameFor("", 0x0a1b), "0a1b");
  EXPECT_EQ(ResourceNameFor("[ ]", 0x0a1b), "0a1b");  // Found by pci_ids_fuzzer.
}

TEST(ResourceNameFor, IsAlwaysANameKubernetesAccepts) {
  EXPECT_EQ(ResourceNameFor("Foo Inc.", 0x1), "FOO_INC");
  EXPECT_EQ(ResourceNameFor(" [GH100] ", 0x1), "GH100");
  EXPECT_EQ(ResourceNameFor("-x-", 0x1), "X");
  const std::string long_name =
      ResourceNameFor(std::string(50, 'a') + " " + std::string(50, 'b'), 1);
  EXPECT_EQ(long_name, std::string(50, 'A') + "_" + std::string(12, 'B'));
  EXPECT_EQ(ResourceNameFor(std::string(62, 'a') + " b", 1), std::string(62, 'A'));
}

}  // namespace
}  // namespace gpuop::host
