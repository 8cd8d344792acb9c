// libcurl implementation of HttpClient (see http_client.h).
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "io/http_client.h"

namespace anec::io {
namespace {

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

// State shared with the C callbacks of one transfer.
struct Transfer {
  CURL* curl = nullptr;
  HttpSink* sink = nullptr;
  HttpResponseHead head;
  bool head_sent = false;
  Status sink_status;

  bool SendHead() {
    if (head_sent) return true;
    head_sent = true;
    long code = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
    head.status = static_cast<int>(code);
    sink_status = sink->OnHead(head);
    return sink_status.ok();
  }
};

size_t OnHeaderLine(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) {
    t->head.headers.clear();  // a new response (e.g. after "100 Continue")
  } else if (size_t colon = line.find(':'); colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    t->head.headers[Trim(name)] = Trim(line.substr(colon + 1));
  }
  return size * count;
}

size_t OnBody(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  if (!t->SendHead()) return 0;  // returning less than given makes curl abort
  t->sink_status = t->sink->OnData(std::string_view(data, size * count));
  return t->sink_status.ok() ? size * count : 0;
}

class CurlHttpClient : public HttpClient {
 public:
  explicit CurlHttpClient(const CurlHttpOptions& options) : options_(options) {
    static std::once_flag once;
    std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  }

  Result<HttpResponseHead> Get(const HttpRequest& request, HttpSink& sink) override {
    CURL* curl = curl_easy_init();
    if (curl == nullptr) return Internal("curl_easy_init failed");
    curl_slist* headers = nullptr;
    for (const auto& [name, value] : request.headers) {
      headers = curl_slist_append(headers, (name + ": " + value).c_str());
    }
    Transfer t;
    t.curl = curl;
    t.sink = &sink;
    char error_buffer[CURL_ERROR_SIZE] = {0};
    std::string range;
    curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, options_.stall_timeout_s);
    curl_easy_setopt(curl, CURLOPT_USERAGENT, options_.user_agent.c_str());
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_buffer);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, &OnHeaderLine);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &OnBody);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
    if (headers != nullptr) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    if (request.range_start) {
      range = std::to_string(*request.range_start) + "-";
      curl_easy_setopt(curl, CURLOPT_RANGE, range.c_str());
    }
    CURLcode code = curl_easy_perform(curl);
    if (code == CURLE_OK) t.SendHead();  // an empty body never reached OnBody
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    if (!t.sink_status.ok()) return t.sink_status;
    if (code != CURLE_OK) {
      // The URL never carries credentials, so it is safe to show.
      return IoError("GET {} failed: {}{}{}", request.url, curl_easy_strerror(code),
                     error_buffer[0] != '\0' ? ": " : "", Trim(error_buffer));
    }
    return t.head;
  }

 private:
  CurlHttpOptions options_;
};

}  // namespace

std::unique_ptr<HttpClient> NewCurlHttpClient(const CurlHttpOptions& options) {
  return std::make_unique<CurlHttpClient>(options);
}

}  // namespace anec::io
