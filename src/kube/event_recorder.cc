#include "kube/event_recorder.h"

#include <random>

#include "absl/strings/str_cat.h"

#include "kube/json_fields.h"
#include "kube/micro_time.h"

namespace gpuop::kube {
namespace {

// Distinct events remembered for aggregation; the least recently seen is forgotten first.
constexpr size_t kMaxRemembered = 4096;
// events.k8s.io/v1 rejects longer notes.
constexpr size_t kMaxNoteBytes = 1024;

// Events about cluster-scoped objects (Nodes) live in "default", as kubelet's do.
std::string EventNamespace(const ObjectReference& regarding) {
  return regarding.ns.empty() ? "default" : regarding.ns;
}

std::string UniqueSuffix() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return absl::StrCat(absl::Hex(rng(), absl::kZeroPad16));
}

}  // namespace

ObjectReference ReferenceTo(const json& object) {
  ObjectReference ref;
  ref.api_version = StringField(object, "apiVersion");
  ref.kind = StringField(object, "kind");
  const json& metadata = ObjectField(object, "metadata");
  ref.name = StringField(metadata, "name");
  ref.ns = StringField(metadata, "namespace");
  ref.uid = StringField(metadata, "uid");
  return ref;
}

EventRecorder::EventRecorder(RestClient& client, std::string controller, std::string instance)
    : client_(client), controller_(std::move(controller)), instance_(std::move(instance)) {}

absl::Status EventRecorder::Record(const ObjectReference& regarding, const std::string& type,
                                   const std::string& reason, const std::string& action,
                                   const std::string& note) {
  std::string text = note;
  if (text.size() > kMaxNoteBytes) {
    // Cut at a character's start, not inside a UTF-8 sequence.
    size_t cut = kMaxNoteBytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text.resize(cut);
  }
  const std::string key =
      absl::StrCat(regarding.kind, "/", regarding.ns, "/", regarding.name, "/", regarding.uid, "\n",
                   type, "\n", reason, "\n", action, "\n", text);
  const std::string now = MicroTimeNow();
  {
    absl::MutexLock lock(&mu_);
    if (auto it = series_.find(key); it != series_.end()) {
      Series& series = it->second;
      lru_.splice(lru_.begin(), lru_, series.lru);
      const int64_t count = ++series.count;
      const json patch = {{"series", {{"count", count}, {"lastObservedTime", now}}}};
      absl::StatusOr<json> patched =
          client_.MergePatch(resources::kEvents, series.ns, series.name, patch);
      // The API server expires Events (one hour by default): then start a new one.
      if (!absl::IsNotFound(patched.status())) return patched.status();
      lru_.erase(series.lru);
      series_.erase(it);
    }
  }

  const std::string ns = EventNamespace(regarding);
  const std::string name = absl::StrCat(regarding.name, ".", UniqueSuffix());
  json regarding_json = {
      {"apiVersion", regarding.api_version}, {"kind", regarding.kind}, {"name", regarding.name}};
  if (!regarding.ns.empty()) regarding_json["namespace"] = regarding.ns;
  if (!regarding.uid.empty()) regarding_json["uid"] = regarding.uid;
  const json event = {{"apiVersion", "events.k8s.io/v1"},
                      {"kind", "Event"},
                      {"metadata", {{"name", name}, {"namespace", ns}}},
                      {"eventTime", now},
                      {"reportingController", controller_},
                      {"reportingInstance", instance_},
                      {"type", type},
                      {"reason", reason},
                      {"action", action},
                      {"note", text},
                      {"regarding", regarding_json}};
  absl::StatusOr<json> created = client_.Create(resources::kEvents, ns, event);
  if (!created.ok()) return created.status();

  absl::MutexLock lock(&mu_);
  lru_.push_front(key);
  series_[key] = Series{ns, name, 1, lru_.begin()};
  if (series_.size() > kMaxRemembered) {
    series_.erase(lru_.back());
    lru_.pop_back();
  }
  return absl::OkStatus();
}

}  // namespace gpuop::kube
