#include "kube/rest_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "absl/strings/escaping.h"

#include "tests/fixtures/test_files.h"

namespace gpuop::kube {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

std::string B64(const std::string& text) { return absl::Base64Escape(text); }

// A kubeconfig with two contexts; `user_body` is the YAML under the `admin` user.
std::string Kubeconfig(const std::string& user_body, const std::string& current = "main") {
  return "apiVersion: v1\nkind: Config\n"
         "clusters:\n"
         "- name: prod\n  cluster:\n    server: https://10.1.2.3:6443/\n"
         "    certificate-authority-data: " +
         B64("CA PEM") +
         "\n"
         "- name: lab\n  cluster:\n    server: http://127.0.0.1:8080\n"
         "    insecure-skip-tls-verify: true\n"
         "users:\n- name: admin\n  user:\n" +
         user_body +
         "contexts:\n"
         "- name: main\n  context: {cluster: prod, user: admin, namespace: gpu-operator}\n"
         "- name: lab\n  context: {cluster: lab, user: admin}\n"
         "current-context: " +
         current + "\n";
}

TEST(ParseKubeconfig, ReadsTheCurrentContextsClusterAndUser) {
  auto config = ParseKubeconfig(Kubeconfig("    client-certificate-data: " + B64("CERT") +
                                           "\n    client-key-data: " + B64("KEY") + "\n"),
                                "/nowhere");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://10.1.2.3:6443");  // Trailing slash dropped.
  EXPECT_EQ(config->tls.ca_pem, "CA PEM");
  EXPECT_EQ(config->tls.client_cert_pem, "CERT");
  EXPECT_EQ(config->tls.client_key_pem, "KEY");
  EXPECT_FALSE(config->tls.insecure_skip_verify);
  EXPECT_EQ(config->default_namespace, "gpu-operator");
}

TEST(ParseKubeconfig, ExplicitContextWinsAndInsecureOnlyWhenTheFileSaysSo) {
  auto config = ParseKubeconfig(Kubeconfig("    token: abc\n"), "/nowhere", "lab");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "http://127.0.0.1:8080");
  EXPECT_TRUE(config->tls.insecure_skip_verify);
  EXPECT_EQ(config->bearer_token, "abc");
  EXPECT_EQ(config->default_namespace, "default");
}

TEST(ParseKubeconfig, ReadsCertificateFilesRelativeToTheKubeconfig) {
  const std::filesystem::path dir = testing::ScratchDir("kubeconfig");
  testing::WriteFile(dir / "pki/client.crt", "CERT FROM FILE");
  testing::WriteFile(dir / "pki/client.key", "KEY FROM FILE");
  auto config =
      ParseKubeconfig(Kubeconfig("    client-certificate: pki/client.crt\n    client-key: " +
                                 (dir / "pki/client.key").string() + "\n    tokenFile: token\n"),
                      dir.string());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->tls.client_cert_pem, "CERT FROM FILE");
  EXPECT_EQ(config->tls.client_key_pem, "KEY FROM FILE");
  EXPECT_EQ(config->token_file, (dir / "token").string());
}

struct BadKubeconfig {
  std::string name;
  std::string text;
  std::string context;
  std::vector<std::string> message_parts;
  absl::StatusCode code = absl::StatusCode::kInvalidArgument;
};

// gtest would otherwise print the struct's bytes in test names.
void PrintTo(const BadKubeconfig& bad, std::ostream* os) { *os << bad.name; }

class ParseKubeconfigRejects : public ::testing::TestWithParam<BadKubeconfig> {};

TEST_P(ParseKubeconfigRejects, WithOneErrorNamingTheField) {
  const BadKubeconfig& bad = GetParam();
  auto config = ParseKubeconfig(bad.text, "/nowhere", bad.context);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), bad.code) << config.status();
  for (const std::string& part : bad.message_parts) {
    EXPECT_THAT(config.status().message(), HasSubstr(part));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Malformed, ParseKubeconfigRejects,
    ::testing::Values(
        BadKubeconfig{"NotYaml", "clusters: [unclosed", "", {"not YAML"}},
        BadKubeconfig{"NotAMap", "- a\n- b\n", "", {"must be a YAML map"}},
        BadKubeconfig{"ClustersNotAList", "clusters: {a: b}\n", "", {"clusters must be a list"}},
        BadKubeconfig{"UnknownContext",
                      Kubeconfig("    token: t\n"),
                      "nope",
                      {"context \"nope\" not found", "lab, main"}},
        BadKubeconfig{"NoCurrentContext",
                      Kubeconfig("    token: t\n", "\"\""),
                      "",
                      {"current-context is not set"}},
        BadKubeconfig{"BadBase64",
                      Kubeconfig("    client-certificate-data: '%%%'\n    client-key-data: " +
                                 B64("K") + "\n"),
                      "",
                      {"users[0] \"admin\"", "client-certificate-data is not base64"}},
        BadKubeconfig{"CertWithoutKey",
                      Kubeconfig("    client-certificate-data: " + B64("C") + "\n"),
                      "",
                      {"client-certificate is set but client-key is not"}},
        BadKubeconfig{"MissingCertFile",
                      Kubeconfig("    client-certificate: /no/such.crt\n"),
                      "",
                      {"client-certificate", "/no/such.crt"}},
        BadKubeconfig{
            "TokenNotAString", Kubeconfig("    token: [a, b]\n"), "", {"token must be a string"}},
        BadKubeconfig{"InsecureNotABool",
                      "clusters:\n- name: c\n  cluster: {server: https://x, "
                      "insecure-skip-tls-verify: maybe}\ncontexts:\n- name: x\n  context: "
                      "{cluster: c}\ncurrent-context: x\n",
                      "",
                      {"insecure-skip-tls-verify must be true or false"}},
        BadKubeconfig{"ServerMissing",
                      "clusters:\n- name: c\n  cluster: {}\ncontexts:\n- name: x\n  context: "
                      "{cluster: c}\ncurrent-context: x\n",
                      "",
                      {"clusters[0] \"c\"", "server is missing"}},
        BadKubeconfig{"ServerWithoutScheme",
                      "clusters:\n- name: c\n  cluster: {server: 'host:6443'}\ncontexts:\n- "
                      "name: x\n  context: {cluster: c}\ncurrent-context: x\n",
                      "",
                      {"must start with https://"}},
        BadKubeconfig{"UnknownCluster",
                      "contexts:\n- name: x\n  context: {cluster: gone}\ncurrent-context: x\n",
                      "",
                      {"cluster \"gone\" not found"}},
        BadKubeconfig{"EntryWithoutName",
                      "users:\n- user: {token: t}\n",
                      "",
                      {"users[0]", "name is missing"}},
        BadKubeconfig{"ExecPlugin",
                      Kubeconfig("    exec: {command: aws}\n"),
                      "",
                      {"exec credentials are not supported"},
                      absl::StatusCode::kUnimplemented}),
    [](const auto& info) { return info.param.name; });

class KubeconfigFiles : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::ScratchDir("kubeconfig"); }
  // Writes the file `name` in the test's folder; returns its path.
  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    testing::WriteFile(path, text);
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(KubeconfigFiles, ListedFilesMergeWithTheFirstDefinitionWinning) {
  const std::string first = Write("first", Kubeconfig("    token: from-first\n"));
  const std::string second =
      Write("second",
            "users:\n- name: admin\n  user: {token: from-second}\n"
            "- name: other\n  user: {token: other}\n"
            "contexts:\n- name: extra\n  context: {cluster: prod, user: other}\n"
            "current-context: extra\n");
  auto config = LoadKubeconfig(first + ":" + (dir_ / "missing").string() + ":" + second);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->bearer_token, "from-first");  // first file's user, first current-context

  auto extra = LoadKubeconfig(first + ":" + second, "extra");
  ASSERT_TRUE(extra.ok()) << extra.status();
  EXPECT_EQ(extra->bearer_token, "other");            // context and user from the second file
  EXPECT_EQ(extra->server, "https://10.1.2.3:6443");  // cluster from the first
}

TEST_F(KubeconfigFiles, NoFileAtAllIsNotFoundAndErrorsNameTheFile) {
  EXPECT_EQ(LoadKubeconfig((dir_ / "none").string()).status().code(), absl::StatusCode::kNotFound);
  const std::string broken = Write("broken", "users: [\n");
  auto config = LoadKubeconfig(broken);
  EXPECT_THAT(config.status().message(), AllOf(HasSubstr(broken), HasSubstr("not YAML")));
}

TEST_F(KubeconfigFiles, InClusterReadsTheServiceAccountFiles) {
  Write("token", "tok\n");
  Write("ca.crt", "CLUSTER CA");
  Write("namespace", "gpu-operator\n");
  auto config = LoadInCluster(
      {.service_host = "10.96.0.1", .service_port = "443", .secrets_dir = dir_.string()});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->tls.ca_pem, "CLUSTER CA");
  EXPECT_EQ(config->token_file, (dir_ / "token").string());  // The file: it rotates.
  EXPECT_TRUE(config->bearer_token.empty());
  EXPECT_EQ(config->default_namespace, "gpu-operator");

  auto v6 = LoadInCluster(
      {.service_host = "fd00::1", .service_port = "443", .secrets_dir = dir_.string()});
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->server, "https://[fd00::1]:443");
}

TEST_F(KubeconfigFiles, InClusterOutsideAPodIsNotFoundAndWithoutATokenSaysWhy) {
  EXPECT_EQ(LoadInCluster({}).status().code(), absl::StatusCode::kNotFound);
  auto config = LoadInCluster(
      {.service_host = "10.96.0.1", .service_port = "443", .secrets_dir = dir_.string()});
  EXPECT_EQ(config.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(config.status().message(), HasSubstr("automountServiceAccountToken"));
}

}  // namespace
}  // namespace gpuop::kube
