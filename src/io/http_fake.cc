#include "io/http_fake.h"

namespace anec::io {

void FakeHttpClient::On(const std::string& url, Handler handler) {
  std::lock_guard<std::mutex> lock(mu_);
  handlers_[url] = std::move(handler);
}

void FakeHttpClient::OnReply(const std::string& url, Reply reply) {
  On(url, [reply](const HttpRequest&) { return reply; });
}

void FakeHttpClient::ServeContent(const std::string& url, std::string content,
                                  std::map<std::string, std::string> headers) {
  On(url, [content, headers](const HttpRequest& request) {
    Reply reply;
    reply.headers = headers;
    uint64_t start = request.range_start.value_or(0);
    if (start > content.size()) {
      reply.status = 416;
      return reply;
    }
    reply.status = request.range_start ? 206 : 200;
    reply.body = content.substr(start);
    reply.headers["content-length"] = std::to_string(reply.body.size());
    if (request.range_start) {
      reply.headers["content-range"] = "bytes " + std::to_string(start) + "-" +
                                       std::to_string(content.size() - 1) + "/" +
                                       std::to_string(content.size());
    }
    return reply;
  });
}

void FakeHttpClient::FailNext(int count) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_next_ = count;
}

Result<HttpResponseHead> FakeHttpClient::Get(const HttpRequest& request, HttpSink& sink) {
  Handler handler;
  {
    std::lock_guard<std::mutex> lock(mu_);
    log_.push_back(request);
    if (fail_next_ > 0) {
      --fail_next_;
      return IoError("GET {} failed: connection refused (fake)", request.url);
    }
    auto it = handlers_.find(request.url);
    if (it != handlers_.end()) handler = it->second;
  }
  Reply reply;
  if (handler) {
    reply = handler(request);
  } else {
    reply.status = 404;
    reply.body = "no fake handler for " + request.url;
  }
  HttpResponseHead head;
  head.status = reply.status;
  head.headers = reply.headers;
  ANEC_RETURN_IF_ERROR(sink.OnHead(head));
  std::string_view body = reply.body;
  if (reply.drop_after && *reply.drop_after < body.size()) {
    if (*reply.drop_after > 0) ANEC_RETURN_IF_ERROR(sink.OnData(body.substr(0, *reply.drop_after)));
    return IoError("GET {} failed: connection dropped after {} bytes (fake)", request.url,
                   *reply.drop_after);
  }
  if (!body.empty()) ANEC_RETURN_IF_ERROR(sink.OnData(body));
  return head;
}

std::vector<HttpRequest> FakeHttpClient::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_;
}

size_t FakeHttpClient::request_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_.size();
}

}  // namespace anec::io
