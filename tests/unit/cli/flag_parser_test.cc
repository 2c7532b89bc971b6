#include "cli/flag_parser.h"

#include <gtest/gtest.h>

namespace gpuop::cli {
namespace {

TEST(FlagParser, ReadsBothValueFormsAndBareBooleans) {
  std::string root = "/";
  std::string vendor = "10de";
  bool once = false;
  bool json = true;
  FlagParser flags("vfio-manager");
  flags.String("host-root", &root, "");
  flags.String("vendor", &vendor, "");
  flags.Bool("once", &once, "");
  flags.Bool("json", &json, "");
  ASSERT_TRUE(
      flags.Parse({"--host-root=/host", "--vendor", "1234", "--once", "--json=false"}).ok());
  EXPECT_EQ(root, "/host");
  EXPECT_EQ(vendor, "1234");
  EXPECT_TRUE(once);
  EXPECT_FALSE(json);
  EXPECT_FALSE(flags.HelpRequested());
}

TEST(FlagParser, UnknownFlagsMissingValuesAndStrayWordsAreNamed) {
  std::string root;
  bool once = false;
  FlagParser flags("doctor");
  flags.String("host-root", &root, "");
  flags.Bool("once", &once, "");
  EXPECT_NE(flags.Parse({"--hostroot=/"}).message().find("--hostroot"), std::string::npos);
  EXPECT_NE(flags.Parse({"--host-root"}).message().find("needs a value"), std::string::npos);
  EXPECT_NE(flags.Parse({"extra"}).message().find("extra"), std::string::npos);
  EXPECT_NE(flags.Parse({"--once=yes"}).message().find("true or false"), std::string::npos);
}

TEST(FlagParser, AShortLetterIsAnotherSpellingOfItsLongFlag) {
  std::string ns;
  FlagParser flags("status");
  flags.String("namespace", &ns, "the namespace");
  flags.Short('n', "namespace");
  ASSERT_TRUE(flags.Parse({"-n", "gpu-ops"}).ok());
  EXPECT_EQ(ns, "gpu-ops");
  ASSERT_TRUE(flags.Parse({"-n=other"}).ok());
  EXPECT_EQ(ns, "other");
  ASSERT_TRUE(flags.Parse({"-nthird"}).ok());
  EXPECT_EQ(ns, "third");
  EXPECT_NE(flags.Parse({"-n"}).message().find("--namespace needs a value"), std::string::npos);
  EXPECT_NE(flags.Parse({"-x"}).message().find("-x"), std::string::npos);
  EXPECT_NE(flags.Usage("").find("--namespace, -n"), std::string::npos);
}

TEST(FlagParser, PositionalArgumentsAreKeptInOrderWhenAskedFor) {
  std::string timeout = "0";
  std::vector<std::string> files;
  FlagParser flags("validator hold");
  flags.String("timeout", &timeout, "seconds");
  flags.Positional(&files, "FILE...  the files");
  ASSERT_TRUE(flags.Parse({"/run/a", "--timeout=5", "/run/b"}).ok());
  EXPECT_EQ(files, (std::vector<std::string>{"/run/a", "/run/b"}));
  EXPECT_EQ(timeout, "5");
  EXPECT_NE(flags.Usage("summary").find("FILE...  the files"), std::string::npos);
}

TEST(FlagParser, UsageListsEveryFlagWithItsDefault) {
  std::string root = "/";
  FlagParser flags("doctor");
  flags.String("host-root", &root, "where the host is");
  ASSERT_TRUE(flags.Parse({"--help"}).ok());
  EXPECT_TRUE(flags.HelpRequested());
  const std::string usage = flags.Usage("Checks the node.");
  EXPECT_NE(usage.find("--host-root"), std::string::npos);
  EXPECT_NE(usage.find("(default: /)"), std::string::npos);
}

}  // namespace
}  // namespace gpuop::cli
