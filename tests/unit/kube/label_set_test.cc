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

// The same labels read the same with common keys as without, in key order, and the common keys
// cost a byte each.
TEST(LabelSet, CommonKeysReadBackAsTheirTextAndCostAByte) {
  static const CommonLabelKeys common({"nvidia.com/gpu.deploy.driver", "nvidia.com/gpu.present"});
  const std::vector<std::pair<std::string_view, std::string_view>> pairs = {
      {"nvidia.com/gpu.present", "true"},
      {"zeta", "last"},
      {"nvidia.com/gpu.deploy.driver", "paused-for-cc-mode-change"},
      {"alpha", ""}};
  const LabelSet plain = LabelSet::FromPairs(pairs);
  const LabelSet coded = LabelSet::FromPairs(pairs, &common);
  std::vector<std::pair<std::string, std::string>> plain_seen, coded_seen;
  plain.ForEach([&](std::string_view k, std::string_view v) { plain_seen.emplace_back(k, v); });
  coded.ForEach([&](std::string_view k, std::string_view v) { coded_seen.emplace_back(k, v); });
  EXPECT_THAT(coded_seen,
              ElementsAre(Pair("alpha", ""),
                          Pair("nvidia.com/gpu.deploy.driver", "paused-for-cc-mode-change"),
                          Pair("nvidia.com/gpu.present", "true"), Pair("zeta", "last")));
  EXPECT_EQ(coded_seen, plain_seen);
  EXPECT_EQ(coded.Size(), 4u);
  EXPECT_EQ(coded.Get("nvidia.com/gpu.present"), "true");
  EXPECT_EQ(coded.Get("nvidia.com/gpu.deploy.driver"), "paused-for-cc-mode-change");
  EXPECT_FALSE(coded.Get("nvidia.com/gpu").has_value());
  // Two keys of 22 and 28 bytes stored as one byte each.
  EXPECT_EQ(plain.HeapBytes() - coded.HeapBytes(), 22u + 28u - 2u);
}

// A lone byte from 0x80 up would read back as a common key; the API never accepts one as a key,
// and a set with common keys leaves it out rather than misread it.
TEST(LabelSet, CommonKeysLeaveOutWhatWouldReadAsACode) {
  static const CommonLabelKeys common({"nvidia.com/gpu.present"});
  const std::string lone("\x80");
  const LabelSet coded = LabelSet::FromPairs({{lone, "x"}, {"a", "1"}}, &common);
  EXPECT_EQ(coded.Size(), 1u);
  EXPECT_EQ(coded.Get("a"), "1");
  EXPECT_FALSE(coded.Get("nvidia.com/gpu.present").has_value());
  EXPECT_FALSE(coded.Get(lone).has_value());
  // Without common keys the same byte is an ordinary (if invalid) key.
  EXPECT_EQ(LabelSet::FromPairs({{lone, "x"}}).Get(lone), "x");
}

}  // namespace
}  // namespace gpuop::kube
