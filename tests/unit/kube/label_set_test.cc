#include "kube/label_set.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace gpuop::kube {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(LabelSet, FindsEveryLabelAndNothingElse) {
  const LabelSet labels = LabelSet::FromJson({{"nvidia.com/gpu.present", "true"},
                                              {"nvidia.com/gpu.workload.config", "vm-passthrough"},
                                              {"empty", ""},
                                              {"a", "b"}});
  EXPECT_EQ(labels.Size(), 4u);
  EXPECT_EQ(labels.Get("nvidia.com/gpu.present"), "true");
  EXPECT_EQ(labels.Get("nvidia.com/gpu.workload.config"), "vm-passthrough");
  EXPECT_EQ(labels.Get("empty"), "");  // Present, with an empty value.
  EXPECT_TRUE(labels.Contains("empty"));
  EXPECT_FALSE(labels.Get("nvidia.com/gpu").has_value());  // A prefix is not a key.
  EXPECT_FALSE(labels.Get("true").has_value());            // A value is not a key.
}

TEST(LabelSet, IteratesInKeyOrder) {
  const LabelSet labels = LabelSet::FromJson({{"z", "1"}, {"a", "2"}, {"m", ""}});
  std::vector<std::pair<std::string, std::string>> seen;
  labels.ForEach([&](std::string_view k, std::string_view v) { seen.emplace_back(k, v); });
  EXPECT_THAT(seen, ElementsAre(Pair("a", "2"), Pair("m", ""), Pair("z", "1")));
}

TEST(LabelSet, NonObjectsAndNonStringValuesGiveNothing) {
  EXPECT_TRUE(LabelSet::FromJson(nullptr).Empty());
  EXPECT_TRUE(LabelSet::FromJson(nlohmann::json::array({"a"})).Empty());
  const LabelSet labels = LabelSet::FromJson({{"n", 5}, {"s", "x"}});
  EXPECT_EQ(labels.Size(), 1u);
  EXPECT_FALSE(labels.Contains("n"));
}

TEST(LabelSet, FromPairsSortsAndEqualsTheJsonBuiltSet) {
  const LabelSet from_pairs = LabelSet::FromPairs({{"z", "1"}, {"a", "2"}});
  EXPECT_EQ(from_pairs, LabelSet::FromJson({{"a", "2"}, {"z", "1"}}));
  EXPECT_EQ(from_pairs.Get("z"), "1");
}

TEST(LabelSet, FromASimdjsonElementEqualsTheNlohmannBuiltSet) {
  // simdjson keeps the document's key order; the set must come out sorted all the same.
  simdjson::dom::parser parser;
  const JsonElement labels =
      parser.parse(std::string_view(R"({"z":"1","a":"2","n":5,"m":"","o":{"x":"y"}})"));
  const LabelSet set = LabelSet::FromElement(labels);
  EXPECT_EQ(set, LabelSet::FromJson({{"a", "2"}, {"m", ""}, {"z", "1"}}));
  EXPECT_TRUE(LabelSet::FromElement(parser.parse(std::string_view("[1]"))).Empty());
}

TEST(LabelSet, EqualSetsCompareEqual) {
  EXPECT_EQ(LabelSet::FromJson({{"a", "1"}}), LabelSet::FromJson({{"a", "1"}}));
  EXPECT_FALSE(LabelSet::FromJson({{"a", "1"}}) == LabelSet::FromJson({{"a", "2"}}));
}

}  // namespace
}  // namespace gpuop::kube
