// The one rule for an artifactsDir, shared by the operator and the Kata manager: never a
// system folder or anything in one that the system owns whole.

#include "api/host_folders.h"

#include <gtest/gtest.h>

namespace gpuop::api {
namespace {

TEST(ArtifactsDirProblem, SystemFoldersAndWhatTheyOwnAreRefused) {
  for (const char* dir : {"/",      "/etc",     "/etc/kata",  "/opt",          "/opt/",
                          "//opt",  "/usr",     "/usr/local", "/usr/lib/kata", "/usr/bin/x",
                          "/var",   "/var/lib", "/boot/x",    "/proc/1",       "/sys/x",
                          "/dev/x", "/run/x",   "/bin/x",     "/home",         "/root",
                          "/tmp",   "relative", "",           "/opt/x/../..",  "/opt/./x"}) {
    EXPECT_TRUE(ArtifactsDirProblem(dir).has_value()) << dir;
  }
}

TEST(ArtifactsDirProblem, FoldersOfGpuopsOwnAreTaken) {
  for (const char* dir :
       {"/opt/nvidia-gpu-operator/artifacts/runtimeclasses", "/opt/kata-artifacts",
        "/var/lib/gpuop/artifacts", "/usr/local/nvidia/kata", "/srv/kata", "/home/ops/kata"}) {
    EXPECT_FALSE(ArtifactsDirProblem(dir).has_value()) << dir << ": " << *ArtifactsDirProblem(dir);
  }
}

TEST(NormalizeHostFolder, TakesOutRepeatedAndTrailingSlashes) {
  EXPECT_EQ(NormalizeHostFolder("/opt//x/"), "/opt/x");
  EXPECT_EQ(NormalizeHostFolder("///"), "/");
}

}  // namespace
}  // namespace gpuop::api
