#include "cli/dispatcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "common/version.h"

namespace gpuop::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// A dispatcher over two subcommands that record what they were given.
class DispatcherTest : public ::testing::Test {
 protected:
  Dispatcher MakeDispatcher() {
    return Dispatcher({
        {"zeta", "The last one",
         [this](const auto& args, auto& out, auto&) {
           zeta_args_ = args;
           out << "zeta ran\n";
           return 7;
         }},
        {"alpha", "The first one",
         [this](const auto& args, auto&, auto&) {
           alpha_args_ = args;
           return 0;
         }},
    });
  }

  int Run(std::vector<std::string> argv) {
    out_.str("");
    err_.str("");
    return MakeDispatcher().Run(argv, out_, err_);
  }

  std::vector<std::string> zeta_args_{"not run"};
  std::vector<std::string> alpha_args_{"not run"};
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(DispatcherTest, RunsTheNamedSubcommandWithTheArgumentsAfterItsName) {
  EXPECT_EQ(Run({"gpuop", "zeta", "--flag", "value"}), 7);
  EXPECT_THAT(zeta_args_, ElementsAre("--flag", "value"));
  EXPECT_THAT(alpha_args_, ElementsAre("not run"));
  EXPECT_EQ(out_.str(), "zeta ran\n");
}

TEST_F(DispatcherTest, SubcommandWithoutArgumentsGetsAnEmptyList) {
  EXPECT_EQ(Run({"gpuop", "alpha"}), 0);
  EXPECT_THAT(alpha_args_, IsEmpty());
}

TEST_F(DispatcherTest, UnknownSubcommandIsAUsageErrorNamingIt) {
  EXPECT_EQ(Run({"gpuop", "frobnicate"}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("unknown command \"frobnicate\""));
  EXPECT_THAT(err_.str(), HasSubstr("gpuop --help"));
  EXPECT_EQ(out_.str(), "");
}

TEST_F(DispatcherTest, NoSubcommandPrintsUsageToStderrAndFails) {
  EXPECT_EQ(Run({"gpuop"}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("Usage: gpuop <command>"));
}

TEST_F(DispatcherTest, HelpListsEverySubcommandSortedWithItsSummary) {
  for (const char* flag : {"--help", "-h", "help"}) {
    SCOPED_TRACE(flag);
    EXPECT_EQ(Run({"gpuop", flag}), 0);
    const std::string help = out_.str();
    const size_t alpha = help.find("alpha    The first one");
    const size_t zeta = help.find("zeta     The last one");
    ASSERT_NE(alpha, std::string::npos) << help;
    ASSERT_NE(zeta, std::string::npos) << help;
    EXPECT_LT(alpha, zeta);
    EXPECT_THAT(help, HasSubstr("version  Print the version"));
  }
}

TEST_F(DispatcherTest, HelpWithACommandAsksThatCommandForItsHelp) {
  EXPECT_EQ(Run({"gpuop", "help", "zeta"}), 7);
  EXPECT_THAT(zeta_args_, ElementsAre("--help"));
}

TEST_F(DispatcherTest, HelpOfAHelpWordIsTheTopLevelHelpNotARecursion) {
  // `help help` once became `help --help`, then `--help --help`, ... until the stack overflowed.
  for (const std::vector<std::string>& argv :
       std::vector<std::vector<std::string>>{{"gpuop", "help", "help"},
                                             {"gpuop", "--help", "--help"},
                                             {"gpuop", "help", "-h"},
                                             {"gpuop", "-h", "help"},
                                             {"gpuop", "help", "--help", "zeta"}}) {
    SCOPED_TRACE(argv[1] + " " + argv[2]);
    EXPECT_EQ(Run(argv), 0);
    EXPECT_THAT(out_.str(), HasSubstr("Usage: gpuop <command>"));
    EXPECT_THAT(out_.str(), HasSubstr("zeta     The last one"));
    EXPECT_EQ(err_.str(), "");
  }
  EXPECT_THAT(zeta_args_, ElementsAre("not run"));
  EXPECT_THAT(alpha_args_, ElementsAre("not run"));
}

TEST_F(DispatcherTest, HelpOfAnUnknownCommandIsAUsageErrorNamingIt) {
  EXPECT_EQ(Run({"gpuop", "help", "frobnicate"}), kExitUsage);
  EXPECT_THAT(err_.str(), HasSubstr("no command \"frobnicate\""));
  EXPECT_THAT(err_.str(), HasSubstr("gpuop --help"));
  EXPECT_EQ(out_.str(), "");
}

TEST_F(DispatcherTest, HelpOfVersionSaysWhatItDoes) {
  EXPECT_EQ(Run({"gpuop", "help", "version"}), 0);
  EXPECT_THAT(out_.str(), HasSubstr("Usage: gpuop version"));
}

TEST_F(DispatcherTest, VersionPrintsTheBuildVersion) {
  for (const char* flag : {"--version", "version"}) {
    EXPECT_EQ(Run({"gpuop", flag}), 0);
    EXPECT_EQ(out_.str(), "gpuop " + std::string(common::Version()) + "\n");
  }
  EXPECT_FALSE(common::Version().empty());
}

}  // namespace
}  // namespace gpuop::cli
