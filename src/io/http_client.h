// HttpClient: the one door to the network, so the Hub downloader can be unit-tested on a fake
// (FakeHttpClient, http_fake.h) and integration-tested against a loopback server.
//
// A client performs one GET per call and never follows redirects itself: the caller sees every
// hop (the Hub puts X-Repo-Commit / X-Linked-Etag on its 302, not on the CDN's answer) and decides
// which headers to forward to the next host (credentials never leave the Hub's host).
//
// Errors: Get() fails (kIoError) only when no complete HTTP answer arrived: DNS, connect, TLS,
// timeout, or a connection dropped mid-body. Any HTTP status, including 4xx/5xx, is a success of
// the transport and is reported in HttpResponseHead::status.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace anec::io {

struct HttpRequest {
  std::string url;
  // Extra request headers as (name, value); e.g. {"Authorization", "Bearer ..."}.
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, asks for bytes [range_start, end) with "Range: bytes=N-".
  std::optional<uint64_t> range_start;
};

struct HttpResponseHead {
  int status = 0;
  // Header names lower-cased; a repeated header keeps its last value.
  std::map<std::string, std::string> headers;

  // The header's value, or "" when absent. `name` must be lower-case.
  std::string Header(std::string_view name) const;
};

// Receives one response: OnHead() exactly once, before any OnData(). A non-OK Status returned
// from either aborts the transfer and is returned by Get().
class HttpSink {
 public:
  virtual ~HttpSink() = default;
  virtual Status OnHead(const HttpResponseHead& head) = 0;
  virtual Status OnData(std::string_view bytes) = 0;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Performs a GET and streams the answer into `sink`. Returns the response head.
  virtual Result<HttpResponseHead> Get(const HttpRequest& request, HttpSink& sink) = 0;
};

// Convenience: a whole (small) response body in memory.
struct HttpResponse {
  HttpResponseHead head;
  std::string body;
};
// REQUIRES: the body is small (it is buffered); at most `max_body` bytes are kept, more fails.
Result<HttpResponse> HttpGetToString(HttpClient& client, const HttpRequest& request,
                                     size_t max_body = size_t{64} << 20);

struct CurlHttpOptions {
  long connect_timeout_ms = 15000;
  // A transfer slower than 1 byte/s for this long is abandoned (so a stalled server never hangs).
  long stall_timeout_s = 60;
  std::string user_agent = "anec/0.1";
};

// The libcurl implementation (http/https). Thread-compatible: one Get() at a time per client.
std::unique_ptr<HttpClient> NewCurlHttpClient(const CurlHttpOptions& options = {});

}  // namespace anec::io
