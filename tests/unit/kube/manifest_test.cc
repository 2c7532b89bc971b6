#include "kube/manifest.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace gpuop::kube {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

TEST(ParseManifests, PlainScalarsTakeCoreSchemaTypesAndQuotedOnesStayStrings) {
  absl::StatusOr<std::vector<json>> objects = ParseManifests(R"(
kind: Thing
labels:
  quoted: "true"
  single: '8080'
spec:
  enabled: true
  off: false
  port: 8080
  negative: -3
  ratio: 0.5
  none: null
  tilde: ~
  empty:
  word: IfNotPresent
  version: v1.2.3
  octal_looking: 0755
  block: |
    line one
    line two
)");
  ASSERT_TRUE(objects.ok()) << objects.status();
  ASSERT_EQ(objects->size(), 1u);
  const json& o = (*objects)[0];
  EXPECT_EQ(o["labels"]["quoted"], json("true"));
  EXPECT_EQ(o["labels"]["single"], json("8080"));
  EXPECT_EQ(o["spec"]["enabled"], json(true));
  EXPECT_EQ(o["spec"]["off"], json(false));
  EXPECT_EQ(o["spec"]["port"], json(8080));
  EXPECT_EQ(o["spec"]["negative"], json(-3));
  EXPECT_EQ(o["spec"]["ratio"], json(0.5));
  EXPECT_TRUE(o["spec"]["none"].is_null());
  EXPECT_TRUE(o["spec"]["tilde"].is_null());
  EXPECT_TRUE(o["spec"]["empty"].is_null());
  EXPECT_EQ(o["spec"]["word"], json("IfNotPresent"));
  EXPECT_EQ(o["spec"]["version"], json("v1.2.3"));
  EXPECT_EQ(o["spec"]["octal_looking"], json(755));  // YAML 1.2: decimal.
  EXPECT_EQ(o["spec"]["block"], json("line one\nline two\n"));
}

TEST(ParseManifests, ReadsEveryDocumentAndSkipsEmptyOnes) {
  absl::StatusOr<std::vector<json>> objects = ParseManifests(R"(---
# only a comment
---
kind: A
list: [1, "two", {three: 3}]
---
---
kind: B
)");
  ASSERT_TRUE(objects.ok()) << objects.status();
  ASSERT_EQ(objects->size(), 2u);
  EXPECT_EQ((*objects)[0]["kind"], "A");
  EXPECT_EQ((*objects)[0]["list"], json::parse(R"([1, "two", {"three": 3}])"));
  EXPECT_EQ((*objects)[1]["kind"], "B");
}

TEST(ParseManifests, ResolvesAnchorsAndAliases) {
  absl::StatusOr<std::vector<json>> objects = ParseManifests(R"(
base: &tolerations
  - key: nvidia.com/gpu
    operator: Exists
copy: *tolerations
)");
  ASSERT_TRUE(objects.ok()) << objects.status();
  EXPECT_EQ((*objects)[0]["copy"], (*objects)[0]["base"]);
}

TEST(ParseManifests, RejectsBrokenYamlWithTheLine) {
  absl::StatusOr<std::vector<json>> objects = ParseManifests("kind: A\nspec:\n  - a\n  b: [\n");
  ASSERT_FALSE(objects.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(objects.status()));
  EXPECT_THAT(objects.status().message(), HasSubstr("line"));
}

TEST(ParseManifests, RejectsADocumentThatIsNotAMapping) {
  absl::StatusOr<std::vector<json>> objects = ParseManifests("kind: A\n---\n- just\n- a list\n");
  ASSERT_FALSE(objects.ok());
  EXPECT_THAT(objects.status().message(), HasSubstr("document 2 is not a mapping"));
}

TEST(ParseManifests, RejectsRepeatedKeysAndUnknownTags) {
  EXPECT_THAT(ParseManifests("a: 1\na: 2\n").status().message(), HasSubstr("\"a\" repeated"));
  EXPECT_THAT(ParseManifests("a: !secret value\n").status().message(), HasSubstr("tag"));
  absl::StatusOr<std::vector<json>> tagged = ParseManifests("a: !!str 123\nb: !!int 7\n");
  ASSERT_TRUE(tagged.ok()) << tagged.status();
  EXPECT_EQ((*tagged)[0]["a"], json("123"));
  EXPECT_EQ((*tagged)[0]["b"], json(7));
}

TEST(ParseManifests, RefusesNestingDeeperThanAnyManifest) {
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "[";
  for (int i = 0; i < 100; ++i) deep += "]";
  EXPECT_THAT(ParseManifests("a: " + deep + "\n").status().message(), HasSubstr("nested deeper"));
}

TEST(ParseManifests, ReadsNumbersByTheCoreSchemaWhateverTheirLength) {
  absl::StatusOr<std::vector<json>> objects = ParseManifests(
      "a: +12\nb: .5\nc: 1.\nd: 2e3\ne: 1.5E-2\nf: 1e\ng: .\nh: 1.2.3\ni: +\n"
      "long_int: " +
      std::string(5000, '7') + "\nlong_float: " + std::string(5000, '1') + "." +
      std::string(5000, '2') + "\n");
  ASSERT_TRUE(objects.ok()) << objects.status();
  const json& o = (*objects)[0];
  EXPECT_EQ(o["a"], json(12));
  EXPECT_EQ(o["b"], json(0.5));
  EXPECT_EQ(o["c"], json(1.0));
  EXPECT_EQ(o["d"], json(2000.0));
  EXPECT_EQ(o["e"], json(0.015));
  for (const char* text : {"f", "g", "h", "i"}) EXPECT_TRUE(o[text].is_string()) << text;
  EXPECT_EQ(o["long_int"], json(std::string(5000, '7')));  // Out of range: kept as text.
  EXPECT_TRUE(o["long_float"].is_number() || o["long_float"].is_string());
}

TEST(ParseManifests, RefusesAnAliasChainThatExpandsExponentially) {
  std::string yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    yaml += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 9; ++j) yaml += (j ? ", *a" : "*a") + std::to_string(i - 1);
    yaml += "]\n";
  }
  absl::StatusOr<std::vector<json>> objects = ParseManifests(yaml);
  ASSERT_FALSE(objects.ok());
  EXPECT_THAT(objects.status().message(), HasSubstr("aliases"));
}

TEST(ParseManifests, RefusesALongScalarAliasedOverAndOver) {
  // Few nodes, but each alias copies 60 KB: 400 of them would be 24 MB (a fuzz find, at 64 KB
  // of input, grew past 2 GB this way).
  std::string yaml = "long: &long " + std::string(60'000, 'x') + "\ncopies: [";
  for (int i = 0; i < 400; ++i) yaml += i ? ", *long" : "*long";
  yaml += "]\n";
  absl::StatusOr<std::vector<json>> objects = ParseManifests(yaml);
  ASSERT_FALSE(objects.ok());
  EXPECT_THAT(objects.status().message(), HasSubstr("16 MiB of text"));
}

TEST(ParseManifests, MalformedInputThatStallsTheParserEndsWithAnError) {
  // yaml-cpp 0.7's LoadAll returned empty documents at position 0 forever on this (a fuzz find).
  absl::StatusOr<std::vector<json>> objects = ParseManifests(", !str 5\ne: |\n  te");
  ASSERT_FALSE(objects.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(objects.status()));
}

TEST(ParseManifests, KeysAreTheirTextAndAnchorsStayInTheirDocument) {
  absl::StatusOr<std::vector<json>> objects =
      ParseManifests("8080: port\ntrue: yes\n\"q\": 1\nk: &v value\nk2: *v\n");
  ASSERT_TRUE(objects.ok()) << objects.status();
  EXPECT_EQ((*objects)[0]["8080"], json("port"));
  EXPECT_EQ((*objects)[0]["true"], json("yes"));
  EXPECT_EQ((*objects)[0]["q"], json(1));
  EXPECT_EQ((*objects)[0]["k2"], json("value"));
  EXPECT_FALSE(ParseManifests("a: &x 1\n---\nb: *x\n").ok());
  EXPECT_THAT(ParseManifests("? [a, b]\n: c\n").status().message(), HasSubstr("not a scalar"));
}

TEST(ParseYamlDocument, GivesTheLineOfEveryKeyAndItem) {
  YamlLines lines;
  absl::StatusOr<json> doc = ParseYamlDocument(
      "version: v1\n"
      "sharing:\n"
      "  timeSlicing:\n"
      "    resources:\n"
      "    - name: nvidia.com/gpu\n"
      "      replicas: 4\n"
      "    - {name: a/b, replicas: 2}\n",
      &lines);
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ((*doc)["sharing"]["timeSlicing"]["resources"][0]["replicas"], 4);
  EXPECT_EQ(lines.at("/version"), 1);
  EXPECT_EQ(lines.at("/sharing"), 2);
  EXPECT_EQ(lines.at("/sharing/timeSlicing/resources"), 4);
  EXPECT_EQ(lines.at("/sharing/timeSlicing/resources/0"), 5);
  EXPECT_EQ(lines.at("/sharing/timeSlicing/resources/0/replicas"), 6);
  EXPECT_EQ(lines.at("/sharing/timeSlicing/resources/1/name"), 7);
  EXPECT_EQ(PointerToken("a/b~c"), "a~1b~0c");
}

TEST(ParseYamlDocument, TakesAnyShapeButOneDocumentOnly) {
  EXPECT_EQ(*ParseYamlDocument("- 1\n- two\n"), json::array({1, "two"}));
  EXPECT_TRUE(ParseYamlDocument("").value().is_null());
  absl::StatusOr<json> two = ParseYamlDocument("a: 1\n---\nb: 2\n");
  ASSERT_FALSE(two.ok());
  EXPECT_THAT(two.status().message(), HasSubstr("more than one YAML document"));
  absl::StatusOr<json> broken = ParseYamlDocument("a: [1,\n");
  ASSERT_FALSE(broken.ok());
  EXPECT_THAT(broken.status().message(), HasSubstr("line "));
}

}  // namespace
}  // namespace gpuop::kube
