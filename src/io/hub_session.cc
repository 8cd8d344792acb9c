#include "io/hub_session.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <thread>

namespace anec::io::hub_internal {

std::string PercentEncode(std::string_view s, bool keep_slash) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
        (keep_slash && c == '/')) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string UrlOrigin(std::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "";
  size_t path = url.find('/', scheme + 3);
  std::string origin(url.substr(0, path));
  std::transform(origin.begin(), origin.end(), origin.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return origin;
}

std::string ResolveLocation(std::string_view base_url, std::string_view location) {
  if (location.find("://") != std::string_view::npos) return std::string(location);
  if (location.rfind("//", 0) == 0) {
    return std::string(base_url.substr(0, base_url.find("://") + 1)) + std::string(location);
  }
  if (!location.empty() && location.front() == '/') {
    return UrlOrigin(base_url) + std::string(location);
  }
  // Relative to the base's directory.
  std::string_view dir = base_url.substr(0, base_url.rfind('/') + 1);
  return std::string(dir) + std::string(location);
}

std::vector<std::pair<std::string, std::string>> RequestHeaders(const HubSession& session,
                                                                std::string_view url) {
  std::vector<std::pair<std::string, std::string>> headers;
  if (session.options->token && !session.options->token->empty() &&
      UrlOrigin(url) == UrlOrigin(session.options->endpoint)) {
    headers.emplace_back("Authorization", "Bearer " + *session.options->token);
  }
  return headers;
}

bool IsRetryableStatus(int status) { return status == 408 || status == 429 || status >= 500; }

Status HttpStatusError(const HubSession& session, const HttpResponseHead& head,
                       std::string_view body, std::string_view what) {
  const HubOptions& o = *session.options;
  std::string detail = head.Header("x-error-message");
  if (detail.empty() && !body.empty()) {
    // The Hub answers errors with a short JSON or text body; show its start, printable only.
    for (char c : body.substr(0, 200)) {
      detail += (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) ? c : ' ';
    }
  }
  std::string server = detail.empty() ? "" : fmt::format(" (the server says: {})", detail);
  std::string subject =
      what.empty()
          ? fmt::format("{} at revision '{}'", session.repo_id, session.revision)
          : fmt::format("{} of {} at revision '{}'", what, session.repo_id, session.revision);
  int status = head.status;
  if (status == 401 || status == 403) {
    std::string token_state =
        o.token ? "the token that was sent (from HF_TOKEN or the token file) does not grant access"
                : "no token was sent (HF_TOKEN is unset and no token file was found)";
    return PermissionDenied(
        "access to {} was refused by {} (HTTP {}){}: the repository is gated or private and {}. "
        "Open {}/{} while logged in and accept its terms if asked, create a read token at "
        "{}/settings/tokens, then export HF_TOKEN=<token> (or save it in $HF_HOME/token) and run "
        "again",
        subject, o.endpoint, status, server, token_state, o.endpoint, session.repo_id, o.endpoint);
  }
  if (status == 404) {
    if (!what.empty() && head.Header("x-error-code") == "EntryNotFound") {
      return NotFound(
          "{} is listed by the Hub but its download answered HTTP 404{}; try again "
          "later or pin another --revision",
          subject, server);
    }
    return NotFound(
        "{} was not found on {} (HTTP 404){}: check the model id (org/name, as on the model page) "
        "and --revision; private repositories also need HF_TOKEN",
        subject, o.endpoint, server);
  }
  return IoError("downloading {} from {} failed with HTTP {}{}", subject, o.endpoint, status,
                 server);
}

void BackoffBeforeRetry(const HubSession& session, int next_attempt, const Status& why) {
  const HubOptions& o = *session.options;
  auto delay = o.first_backoff;
  for (int i = 2; i < next_attempt && delay < std::chrono::seconds(30); ++i) delay *= 2;
  delay = std::min<std::chrono::milliseconds>(delay, std::chrono::seconds(30));
  session.progress->Note(fmt::format("{}; retrying in {:.1f} s (attempt {} of {})", why.message(),
                                     static_cast<double>(delay.count()) / 1000.0, next_attempt,
                                     o.max_attempts));
  std::this_thread::sleep_for(delay);
}

}  // namespace anec::io::hub_internal
