#include "kube/watch_event.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "kube/api_error.h"

namespace gpuop::kube {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ParseWatchEvent, ReadsEachEventTypeAndTheObjectsVersion) {
  struct Case {
    std::string type;
    WatchEvent::Type expected;
  };
  for (const Case& c :
       {Case{"ADDED", WatchEvent::Type::kAdded}, Case{"MODIFIED", WatchEvent::Type::kModified},
        Case{"DELETED", WatchEvent::Type::kDeleted},
        Case{"BOOKMARK", WatchEvent::Type::kBookmark}}) {
    simdjson::dom::parser parser;
    auto event = ParseWatchEvent(
        parser,
        R"({"type":")" + c.type +
            R"(","object":{"kind":"Node","metadata":{"name":"n","resourceVersion":"42"}}})");
    ASSERT_TRUE(event.ok()) << event.status();
    EXPECT_EQ(event->type, c.expected);
    EXPECT_EQ(event->ResourceVersion(), "42");
    EXPECT_EQ(StringAt(event->object, {"metadata", "name"}), "n");
  }
}

TEST(ParseWatchEvent, AnErrorEventWithAnExpiredVersionIsGone) {
  // What kube-apiserver sends when the watch's resourceVersion was compacted away.
  simdjson::dom::parser parser;
  auto event = ParseWatchEvent(
      parser,
      R"json({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 5 (100)","reason":"Expired","code":410}})json");
  ASSERT_FALSE(event.ok());
  EXPECT_TRUE(IsGone(event.status()));
  EXPECT_EQ(ReasonOf(event.status()), "Expired");
  EXPECT_THAT(event.status().message(), HasSubstr("too old resource version"));
}

TEST(ParseWatchEvent, MalformedLinesAreDataLossSayingWhatIsWrong) {
  for (const std::string line :
       {"not json", "[1,2]", R"({"object":{}})", R"({"type":"ADDED"})",
        R"({"type":"ADDED","object":"text"})", R"({"type":"EXPLODED","object":{}})"}) {
    SCOPED_TRACE(line);
    simdjson::dom::parser parser;
    auto event = ParseWatchEvent(parser, line);
    EXPECT_EQ(event.status().code(), absl::StatusCode::kDataLoss);
  }
}

TEST(ParseWatchEvent, TheParserIsReusedAcrossLinesOfDifferentSizes) {
  simdjson::dom::parser parser;
  const std::string big_name(10000, 'x');
  auto big = ParseWatchEvent(
      parser, R"({"type":"ADDED","object":{"metadata":{"name":")" + big_name + R"("}}})");
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_EQ(ObjectKey(big->object), big_name);
  auto small = ParseWatchEvent(
      parser, R"({"type":"DELETED","object":{"metadata":{"name":"n","namespace":"ns"}}})");
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_EQ(ObjectKey(small->object), "ns/n");
}

TEST(JsonElement, PathsThatAreMissingOrOfAnotherTypeReadAsEmpty) {
  simdjson::dom::parser parser;
  JsonElement object = parser.parse(std::string_view(
      R"({"metadata":{"name":"n","resourceVersion":"7","labels":{"a":"1"},"generation":3}})"));
  EXPECT_EQ(StringAt(object, {"metadata", "name"}), "n");
  EXPECT_EQ(ResourceVersionOf(object), "7");
  EXPECT_EQ(StringAt(object, {"metadata", "generation"}), "");  // A number, not a string.
  EXPECT_EQ(StringAt(object, {"metadata", "name", "deeper"}), "");
  EXPECT_EQ(StringAt(object, {"spec", "taints"}), "");
  JsonElement labels;
  EXPECT_TRUE(ElementAt(object, {"metadata", "labels"}, labels));
  EXPECT_FALSE(ElementAt(object, {"metadata", "annotations"}, labels));
}

TEST(LineSplitter, JoinsLinesSplitAcrossChunksAndSkipsBlankLines) {
  LineSplitter splitter;
  std::vector<std::string> lines;
  auto collect = [&](std::string_view line) {
    lines.emplace_back(line);
    return true;
  };
  EXPECT_TRUE(splitter.Feed("{\"a\":1}\n{\"b\"", collect));
  EXPECT_EQ(splitter.Pending(), 4u);
  EXPECT_TRUE(splitter.Feed(":2", collect));
  EXPECT_TRUE(splitter.Feed("}\n\n{\"c\":3}\n", collect));
  EXPECT_THAT(lines, ElementsAre("{\"a\":1}", "{\"b\":2}", "{\"c\":3}"));
  EXPECT_EQ(splitter.Pending(), 0u);
}

TEST(LineSplitter, StopsAtTheLineWhoseHandlerSaysStop) {
  LineSplitter splitter;
  int seen = 0;
  EXPECT_FALSE(splitter.Feed("1\n2\n3\n", [&](std::string_view) { return ++seen < 2; }));
  EXPECT_EQ(seen, 2);
}

}  // namespace
}  // namespace gpuop::kube
