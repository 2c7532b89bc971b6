#pragma once

// A plain-HTTP server on loopback that answers each request with the next of a list of scripted
// responses and records what it was sent. For client behaviour the real API server cannot be
// made to show on demand (429 with Retry-After, 503s); everything else is tested against the
// real kube-apiserver.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <deque>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"

namespace gpuop::testing {

struct ScriptedResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct RecordedRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // Names in lower case.

  std::string Header(const std::string& lower_case_name) const {
    for (const auto& [name, value] : headers) {
      if (name == lower_case_name) return value;
    }
    return "";
  }
};

class ScriptedHttpServer {
 public:
  ScriptedHttpServer() {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof(address));
    socklen_t length = sizeof(address);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    listen(listener_, 16);
    thread_ = std::thread([this] { Serve(); });
  }
  ~ScriptedHttpServer() {
    shutdown(listener_, SHUT_RDWR);
    close(listener_);
    thread_.join();
  }

  std::string Url() const { return absl::StrCat("http://127.0.0.1:", port_); }

  // Answers to come, in order. With none left, the server answers 500 "script exhausted".
  void Script(std::vector<ScriptedResponse> responses) {
    absl::MutexLock lock(&mu_);
    for (auto& response : responses) script_.push_back(std::move(response));
  }
  std::vector<RecordedRequest> Requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

 private:
  void Serve() {
    for (;;) {
      const int connection = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (connection < 0) return;  // The listener was shut down.
      Answer(connection);
      close(connection);
    }
  }

  void Answer(int connection) {
    std::string head;
    char buffer[4096];
    while (head.find("\r\n\r\n") == std::string::npos) {
      const ssize_t n = read(connection, buffer, sizeof(buffer));
      if (n <= 0) return;
      head.append(buffer, static_cast<size_t>(n));
    }
    RecordedRequest request;
    const std::vector<std::string> lines =
        absl::StrSplit(head.substr(0, head.find("\r\n\r\n")), "\r\n");
    const std::vector<std::string> request_line = absl::StrSplit(lines[0], ' ');
    request.method = request_line[0];
    request.target = request_line.size() > 1 ? request_line[1] : "";
    size_t content_length = 0;
    for (size_t i = 1; i < lines.size(); ++i) {
      const size_t colon = lines[i].find(':');
      if (colon == std::string::npos) continue;
      std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
      std::string value(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
      if (name == "content-length") (void)absl::SimpleAtoi(value, &content_length);
      request.headers.emplace_back(std::move(name), std::move(value));
    }
    // Drain the body so the client never sees a reset while still sending.
    size_t body_read = head.size() - head.find("\r\n\r\n") - 4;
    while (body_read < content_length) {
      const ssize_t n = read(connection, buffer, sizeof(buffer));
      if (n <= 0) break;
      body_read += static_cast<size_t>(n);
    }

    ScriptedResponse response{.status = 500, .headers = {}, .body = "script exhausted"};
    {
      absl::MutexLock lock(&mu_);
      requests_.push_back(std::move(request));
      if (!script_.empty()) {
        response = std::move(script_.front());
        script_.pop_front();
      }
    }
    std::string wire = absl::StrCat("HTTP/1.1 ", response.status, " Scripted\r\n");
    for (const auto& [name, value] : response.headers)
      absl::StrAppend(&wire, name, ": ", value, "\r\n");
    absl::StrAppend(&wire, "Content-Length: ", response.body.size(),
                    "\r\nConnection: close\r\n\r\n", response.body);
    size_t sent = 0;
    while (sent < wire.size()) {
      const ssize_t n = write(connection, wire.data() + sent, wire.size() - sent);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  }

  int listener_ = -1;
  int port_ = 0;
  std::thread thread_;
  mutable absl::Mutex mu_;
  std::deque<ScriptedResponse> script_ ABSL_GUARDED_BY(mu_);
  std::vector<RecordedRequest> requests_ ABSL_GUARDED_BY(mu_);
};

}  // namespace gpuop::testing
