#include "doctor/kubelet_pod_resources.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "tests/fixtures/test_files.h"

namespace gpuop::doctor {
namespace {

using ::testing::HasSubstr;
using Verdict = DoctorCheck::Verdict;

// A host root with a running kubelet as /proc shows one: comm, a NUL-separated cmdline, and an
// exe that prints what `kubelet --version` prints ("Kubernetes v1.33.2"), the only part of the
// real binary the check runs.
struct FakeKubeletHost {
  explicit FakeKubeletHost(std::string_view prefix = "doctor-kubelet")
      : root(testing::ScratchDir(prefix)) {}
  std::string root;

  void Run(const std::vector<std::string>& argv, const std::string& version) {
    std::string cmdline;
    for (const std::string& arg : argv) cmdline += arg + '\0';
    testing::WriteFile(root + "/proc/4242/comm", "kubelet\n");
    testing::WriteFile(root + "/proc/4242/cmdline", cmdline);
    testing::WriteFile(root + "/proc/1/comm", "systemd\n");
    const std::string binary = root + "/usr/bin/kubelet";
    testing::WriteFile(binary, "#!/bin/sh\n[ \"$1\" = --version ] && echo 'Kubernetes " + version +
                                   "' && exit 0\nexit 2\n");
    ::chmod(binary.c_str(), 0755);
    std::filesystem::create_symlink(binary, root + "/proc/4242/exe");
  }
  void Socket(const std::string& kubelet_root = "/var/lib/kubelet") {
    testing::WriteFile(root + kubelet_root + "/pod-resources/kubelet.sock", "");
  }
  DoctorCheck Check() const { return PodResourcesGet(host::HostRoot(root)); }
};

TEST(KubeletPodResources, OnByDefaultFrom134) {
  FakeKubeletHost host;
  host.Run({"/usr/bin/kubelet", "--config=/var/lib/kubelet/config.yaml"}, "v1.35.4");
  host.Socket();
  const DoctorCheck check = host.Check();
  EXPECT_EQ(check.verdict, Verdict::kOk) << check.detail;
  EXPECT_EQ(check.detail, "kubelet v1.35.4: on by default from 1.34");
}

TEST(KubeletPodResources, BeforeOneThirtyFourTheGateMustBeOnAndTheHintSaysWhere) {
  FakeKubeletHost host;
  host.Run({"/usr/bin/kubelet", "--config", "/var/lib/kubelet/config.yaml"}, "v1.33.2");
  testing::WriteFile(host.root + "/var/lib/kubelet/config.yaml",
                     "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n");
  host.Socket();
  const DoctorCheck check = host.Check();
  EXPECT_EQ(check.verdict, Verdict::kFail);
  EXPECT_THAT(check.detail, HasSubstr("kubelet v1.33.2: KubeletPodResourcesGet is off"));
  EXPECT_THAT(check.hint, HasSubstr("set featureGates: {KubeletPodResourcesGet: true} in "
                                    "/var/lib/kubelet/config.yaml"));
}

TEST(KubeletPodResources, TheConfigFilesGateTurnsItOnBefore134) {
  FakeKubeletHost host;
  host.Run({"/usr/bin/kubelet", "--config=/etc/kubernetes/kubelet.yaml"}, "v1.30.1");
  testing::WriteFile(host.root + "/etc/kubernetes/kubelet.yaml",
                     "kind: KubeletConfiguration\nfeatureGates:\n  KubeletPodResourcesGet: true\n");
  host.Socket();
  const DoctorCheck check = host.Check();
  EXPECT_EQ(check.verdict, Verdict::kOk) << check.detail;
  EXPECT_THAT(check.detail, HasSubstr("on (/etc/kubernetes/kubelet.yaml)"));
}

TEST(KubeletPodResources, AFlagWinsOverTheConfigFile) {
  FakeKubeletHost host;
  host.Run({"/usr/bin/kubelet", "--config=/etc/kubelet.yaml",
            "--feature-gates=Other=true,KubeletPodResourcesGet=false"},
           "v1.35.0");
  testing::WriteFile(host.root + "/etc/kubelet.yaml",
                     "featureGates:\n  KubeletPodResourcesGet: true\n");
  host.Socket();
  const DoctorCheck check = host.Check();
  EXPECT_EQ(check.verdict, Verdict::kFail);
  EXPECT_THAT(check.detail, HasSubstr("turned off (--feature-gates)"));
}

TEST(KubeletPodResources, AKubeletBefore127HasNoGet) {
  FakeKubeletHost host;
  host.Run({"/usr/bin/kubelet", "--feature-gates=KubeletPodResourcesGet=true"}, "v1.26.15");
  const DoctorCheck check = host.Check();
  EXPECT_EQ(check.verdict, Verdict::kFail);
  EXPECT_THAT(check.hint, HasSubstr("upgrade the kubelet"));
}

TEST(KubeletPodResources, AMissingSocketUnderTheKubeletsRootDirWarns) {
  FakeKubeletHost host;
  host.Run({"/usr/bin/kubelet", "--root-dir=/var/lib/k0s/kubelet"}, "v1.34.1");
  host.Socket();  // Under the default root, not this kubelet's.
  DoctorCheck check = host.Check();
  EXPECT_EQ(check.verdict, Verdict::kWarn);
  EXPECT_THAT(check.detail,
              HasSubstr("/var/lib/k0s/kubelet/pod-resources/kubelet.sock is missing"));
  host.Socket("/var/lib/k0s/kubelet");
  check = host.Check();
  EXPECT_EQ(check.verdict, Verdict::kOk) << check.detail;
}

TEST(KubeletPodResources, AVersionThatCannotBeReadWarnsUnlessTheGateIsOn) {
  FakeKubeletHost host;
  host.Run({"/usr/bin/kubelet"}, "not-a-version");
  host.Socket();
  EXPECT_EQ(host.Check().verdict, Verdict::kWarn);
  FakeKubeletHost gated("doctor-kubelet-gated");
  gated.Run({"/usr/bin/kubelet", "--feature-gates", "KubeletPodResourcesGet=true"}, "garbled");
  gated.Socket();
  EXPECT_EQ(gated.Check().verdict, Verdict::kOk);
}

TEST(KubeletPodResources, NoKubeletIsASkip) {
  FakeKubeletHost host;
  testing::WriteFile(host.root + "/proc/1/comm", "systemd\n");
  EXPECT_EQ(host.Check().verdict, Verdict::kSkip);
}

TEST(KubeletPodResources, ParsesVersionsAndGateLists) {
  EXPECT_EQ(ParseKubeletVersion("Kubernetes v1.35.4\n")->minor, 35);
  EXPECT_EQ(ParseKubeletVersion("Kubernetes v1.29.3-eks-ae9a62a")->text, "v1.29.3-eks-ae9a62a");
  EXPECT_FALSE(ParseKubeletVersion("Kubernetes vX.Y").has_value());
  EXPECT_EQ(GateInFlagList("A=true, KubeletPodResourcesGet=True", "KubeletPodResourcesGet"), true);
  EXPECT_EQ(GateInFlagList("KubeletPodResourcesGet=maybe", "KubeletPodResourcesGet"), std::nullopt);
  EXPECT_EQ(GateInFlagList("KubeletPodResourcesGetX=false", "KubeletPodResourcesGet"),
            std::nullopt);
}

}  // namespace
}  // namespace gpuop::doctor
