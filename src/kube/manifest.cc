#include "kube/manifest.h"

#include <cmath>
#include <cstdlib>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>

namespace gpuop::kube {
namespace {

using nlohmann::json;

// Deep enough for any manifest; bounds recursion on hostile input.
constexpr size_t kMaxDepth = 64;
// Nodes one parse may produce, counting each use of an alias anew. A DaemonSet is a few hundred;
// the bound stops an alias chain ("billion laughs") from expanding a few lines exponentially.
constexpr int64_t kMaxNodes = 100'000;
// Scalar text one parse may produce, counting each alias use anew, as nodes are. A node bound
// alone lets one long scalar, aliased on every line, grow to gigabytes (a fuzz find); the chart
// in full is under a megabyte.
constexpr int64_t kMaxTextBytes = 16 << 20;

bool IsNull(const std::string& s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// Digits from `i`; the index after them.
size_t SkipDigits(std::string_view s, size_t i) {
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  return i;
}

size_t SkipSign(std::string_view s, size_t i) {
  return i < s.size() && (s[i] == '-' || s[i] == '+') ? i + 1 : i;
}

// [-+]?[0-9]+, scanned by hand: std::regex recurses per character and overflows the stack on
// a long scalar.
bool IsCoreInteger(std::string_view s) {
  const size_t digits = SkipSign(s, 0);
  return digits < s.size() && SkipDigits(s, digits) == s.size();
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool IsCoreFloat(std::string_view s) {
  size_t i = SkipSign(s, 0);
  if (i < s.size() && s[i] == '.') {
    const size_t fraction = SkipDigits(s, i + 1);
    if (fraction == i + 1) return false;
    i = fraction;
  } else {
    const size_t whole = SkipDigits(s, i);
    if (whole == i) return false;
    i = whole;
    if (i < s.size() && s[i] == '.') i = SkipDigits(s, i + 1);
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    const size_t exponent = SkipSign(s, i + 1);
    i = SkipDigits(s, exponent);
    if (i == exponent) return false;
  }
  return i == s.size();
}

// A plain scalar's value under the YAML 1.2 core schema.
json PlainScalar(const std::string& s) {
  if (IsNull(s)) return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (IsCoreInteger(s)) {
    int64_t value = 0;
    if (absl::SimpleAtoi(s, &value)) return value;
    return s;  // Out of range for an API integer: keep the text, the API will say.
  }
  if (IsCoreFloat(s)) {
    double value = 0;
    if (absl::SimpleAtod(s, &value) && std::isfinite(value)) return value;
  }
  return s;
}

// Builds each document's JSON from the parser's events. Events rather than YAML::LoadAll,
// because yaml-cpp 0.7's LoadAll never returns on some malformed input (it yields empty
// documents at the same position forever); here a document that starts where the previous one
// did ends the parse with an error. The first error sticks and later events are ignored.
class JsonBuilder : public YAML::EventHandler {
 public:
  // `lines`, when given, gets the line of every mapping key and sequence item.
  explicit JsonBuilder(YamlLines* lines = nullptr) : lines_(lines) {}

  // The document just finished, or the error that stopped it.
  absl::StatusOr<json> TakeDocument() {
    if (!error_.ok()) return error_;
    return std::move(document_);
  }
  bool Failed() const { return !error_.ok(); }

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (documents_ > 0 && mark.pos <= last_document_pos_) {
      Fail(mark, "the parser cannot get past this point");
    }
    last_document_pos_ = mark.pos;
    ++documents_;
    document_ = nullptr;
    stack_.clear();
    anchors_.clear();  // An anchor names a node of its own document only.
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (Failed() || !Spend(mark, {1, 0})) return;
    Add(mark, nullptr, anchor, {1, 0});
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (Failed()) return;
    auto found = anchors_.find(anchor);
    if (found == anchors_.end()) return Fail(mark, "an alias names no finished anchor");
    // Each use counts in full: that is what an alias chain multiplies.
    if (!Spend(mark, found->second.cost)) return;
    Add(mark, found->second.value, YAML::NullAnchor, found->second.cost);
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    const Cost cost{1, static_cast<int64_t>(value.size())};
    if (Failed() || !Spend(mark, cost)) return;
    // A key is its text as written: `8080:` names the key "8080", not a number.
    absl::StatusOr<json> scalar = ExpectingKey() ? json(value) : ScalarValue(mark, tag, value);
    if (!scalar.ok()) return Fail(scalar.status());
    Add(mark, *std::move(scalar), anchor, cost);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value /*style*/) override {
    Open(mark, json::array(), anchor);
  }
  void OnSequenceEnd() override { Close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value /*style*/) override {
    Open(mark, json::object(), anchor);
  }
  void OnMapEnd() override { Close(); }

 private:
  // What a node costs: itself and everything in it, text counted in bytes.
  struct Cost {
    int64_t nodes = 0;
    int64_t text_bytes = 0;
  };
  struct Frame {
    json value;
    YAML::anchor_t anchor;
    Cost spent_before;  // spent_ when the container opened: its cost is the difference.
    std::optional<std::string> key;  // In a mapping: the key whose value comes next.
  };
  struct Anchored {
    json value;
    Cost cost;
  };

  bool ExpectingKey() const {
    return !stack_.empty() && stack_.back().value.is_object() && !stack_.back().key;
  }

  absl::StatusOr<json> ScalarValue(const YAML::Mark& mark, const std::string& tag,
                                   const std::string& value) {
    // "!" marks a quoted (non-plain) scalar; "?" a plain one; anything else an explicit tag.
    if (tag == "!" || tag == "tag:yaml.org,2002:str") return value;
    if (tag == "?" || tag.empty()) return PlainScalar(value);
    json typed = PlainScalar(value);
    if (tag == "tag:yaml.org,2002:int" && typed.is_number_integer()) return typed;
    if (tag == "tag:yaml.org,2002:bool" && typed.is_boolean()) return typed;
    if (tag == "tag:yaml.org,2002:null" && typed.is_null()) return typed;
    if (tag == "tag:yaml.org,2002:float" && typed.is_number()) return typed;
    return absl::InvalidArgumentError(absl::StrCat("line ", mark.line + 1, ": tag ", tag, " on \"",
                                                   value.substr(0, 40), "\" is not supported"));
  }

  // A scalar, null or alias copy, already paid for; `cost` is what a later alias pays.
  void Add(const YAML::Mark& mark, json value, YAML::anchor_t anchor, Cost cost) {
    if (anchor != YAML::NullAnchor) anchors_[anchor] = {value, cost};
    Place(mark, std::move(value));
  }

  void Open(const YAML::Mark& mark, json container, YAML::anchor_t anchor) {
    const Cost before = spent_;
    if (Failed() || !Spend(mark, {1, 0})) return;
    if (ExpectingKey()) return Fail(mark, "a mapping key is not a scalar");
    if (stack_.size() >= kMaxDepth) return Fail(mark, "nested deeper than 64 levels");
    stack_.push_back({std::move(container), anchor, before, std::nullopt});
    marks_.push_back(mark);
  }

  void Close() {
    if (Failed() || stack_.empty()) return;
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    const YAML::Mark mark = marks_.back();
    marks_.pop_back();
    if (frame.anchor != YAML::NullAnchor) {
      anchors_[frame.anchor] = {frame.value,
                                {spent_.nodes - frame.spent_before.nodes,
                                 spent_.text_bytes - frame.spent_before.text_bytes}};
    }
    Place(mark, std::move(frame.value));
  }

  // Puts a finished node where it belongs: the document, a sequence, a key or a key's value.
  void Place(const YAML::Mark& mark, json value) {
    if (stack_.empty()) {
      document_ = std::move(value);
      return;
    }
    Frame& parent = stack_.back();
    if (parent.value.is_array()) {
      if (lines_ != nullptr) {
        (*lines_)[absl::StrCat(OpenPath(), "/", parent.value.size())] = mark.line + 1;
      }
      parent.value.push_back(std::move(value));
      return;
    }
    if (!parent.key) {
      if (!value.is_string()) return Fail(mark, "a mapping key is not a scalar");
      std::string key = value.get<std::string>();
      if (parent.value.contains(key)) {
        return Fail(mark, absl::StrCat("key \"", key.substr(0, 80), "\" repeated"));
      }
      if (lines_ != nullptr)
        (*lines_)[absl::StrCat(OpenPath(), "/", PointerToken(key))] = mark.line + 1;
      parent.key = std::move(key);
      return;
    }
    parent.value[*parent.key] = std::move(value);
    parent.key.reset();
  }

  // The JSON pointer of the innermost open container.
  std::string OpenPath() const {
    std::string path;
    for (size_t i = 0; i + 1 < stack_.size(); ++i) {
      const Frame& frame = stack_[i];
      if (frame.value.is_array()) {
        absl::StrAppend(&path, "/", frame.value.size());
      } else {
        absl::StrAppend(&path, "/", PointerToken(frame.key.value_or("")));
      }
    }
    return path;
  }

  bool Spend(const YAML::Mark& mark, Cost cost) {
    spent_.nodes += cost.nodes;
    spent_.text_bytes += cost.text_bytes;
    if (spent_.nodes > kMaxNodes) {
      Fail(mark, "expands to over 100000 nodes (aliases used over and over?)");
      return false;
    }
    if (spent_.text_bytes > kMaxTextBytes) {
      Fail(mark, "expands to over 16 MiB of text (aliases used over and over?)");
      return false;
    }
    return true;
  }

  void Fail(const YAML::Mark& mark, const std::string& why) {
    Fail(absl::InvalidArgumentError(absl::StrCat("line ", mark.line + 1, ": ", why)));
  }
  void Fail(absl::Status status) {
    if (error_.ok()) error_ = std::move(status);
  }

  json document_;
  std::vector<Frame> stack_;
  std::vector<YAML::Mark> marks_;  // Where each open container started, for its errors.
  std::map<YAML::anchor_t, Anchored> anchors_;
  Cost spent_;  // Made so far, across documents.
  int documents_ = 0;
  int last_document_pos_ = -1;
  absl::Status error_;
  YamlLines* lines_;
};

}  // namespace

std::string PointerToken(std::string_view key) {
  std::string token;
  for (char c : key) {
    if (c == '~') {
      token += "~0";
    } else if (c == '/') {
      token += "~1";
    } else {
      token += c;
    }
  }
  return token;
}

absl::StatusOr<json> ParseYamlDocument(std::string_view yaml, YamlLines* lines) {
  std::istringstream stream{std::string(yaml)};
  JsonBuilder builder(lines);
  json document;
  try {
    YAML::Parser parser(stream);
    for (int i = 1;; ++i) {
      if (!parser.HandleNextDocument(builder)) break;
      absl::StatusOr<json> parsed = builder.TakeDocument();
      if (!parsed.ok()) return parsed.status();
      if (parsed->is_null()) continue;
      if (!document.is_null()) {
        return absl::InvalidArgumentError(
            absl::StrCat("holds more than one YAML document (the second is document ", i, ")"));
      }
      document = *std::move(parsed);
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ", e.msg));
  }
  return document;
}

absl::StatusOr<std::vector<json>> ParseManifests(std::string_view yaml) {
  std::istringstream stream{std::string(yaml)};
  std::vector<json> objects;
  JsonBuilder builder;
  try {
    YAML::Parser parser(stream);
    for (int i = 1;; ++i) {
      if (!parser.HandleNextDocument(builder)) break;
      absl::StatusOr<json> object = builder.TakeDocument();
      if (!object.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("YAML document ", i, ": ", object.status().message()));
      }
      if (object->is_null()) continue;  // "---" with nothing after it, or only comments.
      if (!object->is_object()) {
        return absl::InvalidArgumentError(
            absl::StrCat("YAML document ", i, " is not a mapping (a Kubernetes object)"));
      }
      objects.push_back(*std::move(object));
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("YAML: line ", e.mark.line + 1, ", column ", e.mark.column + 1, ": ", e.msg));
  }
  return objects;
}

}  // namespace gpuop::kube
