#include "operator/first_picked.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <string>

namespace gpuop::op {
namespace {

using Entries = std::map<std::string, int>;

bool Odd(const int& value) { return value % 2 != 0; }

std::optional<std::string> FirstOddByScan(const Entries& entries) {
  for (const auto& [key, value] : entries) {
    if (Odd(value)) return key;
  }
  return std::nullopt;
}

TEST(FirstPicked, FollowsTheLeastPickedKeyAsEntriesComeChangeAndGo) {
  Entries entries;
  FirstPicked<Entries> first(Odd);
  const auto set = [&](const std::string& key, std::optional<int> value) {
    if (value) {
      entries[key] = *value;
    } else {
      entries.erase(key);
    }
    first.Update(entries, key);
  };
  set("node-b", 1);
  EXPECT_EQ(first.First(), "node-b");
  set("node-c", 3);
  EXPECT_EQ(first.First(), "node-b");
  set("node-a", 2);  // Before it, but not picked.
  EXPECT_EQ(first.First(), "node-b");
  set("node-a", 5);  // Now picked.
  EXPECT_EQ(first.First(), "node-a");
  set("node-a", std::nullopt);  // Gone: the next picked one after it.
  EXPECT_EQ(first.First(), "node-b");
  set("node-b", 4);  // No longer picked.
  EXPECT_EQ(first.First(), "node-c");
  set("node-c", std::nullopt);
  EXPECT_EQ(first.First(), std::nullopt);
  set("node-z", 2);
  EXPECT_EQ(first.First(), std::nullopt);
}

// Against a full scan after each of many random changes over a few keys, so that each key is
// first, not first, picked and gone many times over.
TEST(FirstPicked, AgreesWithAFullScanAfterEveryChange) {
  Entries entries;
  FirstPicked<Entries> first(Odd);
  std::mt19937 random(12345);
  for (int step = 0; step < 20000; ++step) {
    const std::string key = "node-" + std::to_string(random() % 12);
    if (random() % 4 == 0) {
      entries.erase(key);
    } else {
      entries[key] = static_cast<int>(random() % 5);
    }
    first.Update(entries, key);
    ASSERT_EQ(first.First(), FirstOddByScan(entries)) << "after step " << step;
  }
}

}  // namespace
}  // namespace gpuop::op
