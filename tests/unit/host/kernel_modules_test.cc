#include "host/kernel_modules.h"

#include <gtest/gtest.h>

namespace gpuop::host {
namespace {

// Lines as modules.alias has them: Debian 12's generic vfio_pci line, nouveau's claim on every
// NVIDIA display device, and the variant drivers' override-only ("vfio_pci:") entries.
constexpr char kModulesAlias[] =
    "alias pci:v000010DEd*sv*sd*bc03sc*i* nouveau\n"
    "alias vfio_pci:v*d*sv*sd*bc*sc*i* vfio_pci\n"
    "alias vfio_pci:v000015B3d0000101Esv*sd*bc*sc*i* mlx5_vfio_pci\n"
    "alias vfio_pci:v000010DEd00002342sv*sd*bc*sc*i* nvgrace_gpu_vfio_pci\n"
    "alias vfio_pci:v000010DEd00002345sv*sd*bc*sc*i* nvgrace_gpu_vfio_pci\n";

TEST(VfioModuleFor, TakesTheMostSpecificMatchingVfioAlias) {
  EXPECT_EQ(VfioModuleFor("pci:v000010DEd00002342sv000010DEsd00001809bc03sc02i00", kModulesAlias),
            "nvgrace_gpu_vfio_pci");
  EXPECT_EQ(VfioModuleFor("pci:v000010DEd00002330sv000010DEsd000016C1bc03sc02i00", kModulesAlias),
            "vfio_pci");
  EXPECT_EQ(VfioModuleFor("pci:v000015B3d0000101Esv000015B3sd00000001bc02sc00i00", kModulesAlias),
            "mlx5_vfio_pci");
}

TEST(VfioModuleFor, WithoutAnyAliasFileItIsVfioPci) {
  EXPECT_EQ(VfioModuleFor("pci:v000010DEd00002342sv*", ""), "vfio_pci");
  EXPECT_EQ(VfioModuleFor("", "alias vfio_pci:broken\n"), "vfio_pci");
}

TEST(DriverNamesOfModule, VfioPciRegistersWithADashVariantsWithTheirModuleName) {
  EXPECT_EQ(DriverNamesOfModule("vfio_pci").front(), "vfio-pci");
  EXPECT_EQ(DriverNamesOfModule("nvgrace_gpu_vfio_pci").front(), "nvgrace_gpu_vfio_pci");
}

TEST(IsVfioDriver, KnowsVfioPciAndItsVariants) {
  EXPECT_TRUE(IsVfioDriver("vfio-pci"));
  EXPECT_TRUE(IsVfioDriver("nvgrace_gpu_vfio_pci"));
  EXPECT_FALSE(IsVfioDriver("nvidia"));
  EXPECT_FALSE(IsVfioDriver(""));
}

}  // namespace
}  // namespace gpuop::host
