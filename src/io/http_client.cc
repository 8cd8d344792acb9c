#include "io/http_client.h"

namespace anec::io {

std::string HttpResponseHead::Header(std::string_view name) const {
  auto it = headers.find(std::string(name));
  return it == headers.end() ? std::string() : it->second;
}

namespace {

class StringSink : public HttpSink {
 public:
  StringSink(std::string* out, size_t max_body) : out_(out), max_body_(max_body) {}
  Status OnHead(const HttpResponseHead&) override { return Status::Ok(); }
  Status OnData(std::string_view bytes) override {
    if (out_->size() + bytes.size() > max_body_) {
      return IoError("response body larger than the {} bytes expected", max_body_);
    }
    out_->append(bytes);
    return Status::Ok();
  }

 private:
  std::string* out_;
  size_t max_body_;
};

}  // namespace

Result<HttpResponse> HttpGetToString(HttpClient& client, const HttpRequest& request,
                                     size_t max_body) {
  HttpResponse response;
  StringSink sink(&response.body, max_body);
  ANEC_ASSIGN_OR_RETURN(response.head, client.Get(request, sink));
  return response;
}

}  // namespace anec::io
