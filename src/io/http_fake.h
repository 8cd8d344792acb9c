// FakeHttpClient: an in-memory HttpClient for unit tests. Answers are registered per exact URL;
// every request is logged so tests can check what was sent (and that nothing was).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "io/http_client.h"

namespace anec::io {

class FakeHttpClient : public HttpClient {
 public:
  struct Reply {
    int status = 200;
    std::map<std::string, std::string> headers;  // names lower-case
    std::string body;
    // When set, only this many body bytes are delivered, then Get() fails like a dropped
    // connection (kIoError).
    std::optional<size_t> drop_after;
  };
  using Handler = std::function<Reply(const HttpRequest&)>;

  // Answers GET `url` with `handler`. A URL without a handler answers 404.
  void On(const std::string& url, Handler handler);
  void OnReply(const std::string& url, Reply reply);
  // Serves `content` at `url` with the given headers, honouring "Range: bytes=N-" (206).
  void ServeContent(const std::string& url, std::string content,
                    std::map<std::string, std::string> headers = {});
  // The next `count` requests fail with kIoError before any answer (connection refused).
  void FailNext(int count);

  Result<HttpResponseHead> Get(const HttpRequest& request, HttpSink& sink) override;

  std::vector<HttpRequest> requests() const;
  size_t request_count() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, Handler> handlers_;
  std::vector<HttpRequest> log_;
  int fail_next_ = 0;
};

}  // namespace anec::io
