// Internals shared by hub_download.cc and hub_fetch.cc: one DownloadSnapshot call's context, and
// the request helpers (auth headers, URL encoding, HTTP error messages, retry backoff).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "io/http_client.h"
#include "io/hub_cache.h"
#include "io/hub_download.h"
#include "io/hub_progress.h"

namespace anec::io::hub_internal {

struct HubSession {
  const HubOptions* options = nullptr;
  HttpClient* http = nullptr;
  HubProgress* progress = nullptr;
  const HubRepoCache* cache = nullptr;
  std::string repo_id;
  std::string revision;  // as the user asked, for messages
};

// Percent-encodes everything but unreserved characters (and '/' when keep_slash).
std::string PercentEncode(std::string_view s, bool keep_slash);
// "scheme://host[:port]" of an absolute URL ("" when not absolute).
std::string UrlOrigin(std::string_view url);
// Resolves a Location header against the URL that answered with it.
std::string ResolveLocation(std::string_view base_url, std::string_view location);

// Request headers for `url`: the bearer token only when `url` is on the endpoint's origin, so a
// redirect to a CDN never carries credentials.
std::vector<std::pair<std::string, std::string>> RequestHeaders(const HubSession& session,
                                                                std::string_view url);

// True for statuses worth retrying: 408, 429 and 5xx.
bool IsRetryableStatus(int status);

// The error for an unexpected HTTP status while fetching `what` (a file name, or "" for the
// repository listing). `body` is the start of the answer's body (for the Hub's error text).
Status HttpStatusError(const HubSession& session, const HttpResponseHead& head,
                       std::string_view body, std::string_view what);

// Sleeps before attempt `next_attempt` (2..max), telling the user why.
void BackoffBeforeRetry(const HubSession& session, int next_attempt, const Status& why);

// Downloads one repository file at `commit` into blobs/ (resuming, verifying) and links it into
// snapshots/<commit>/. Retries network failures up to options.max_attempts.
Status FetchRepoFile(const HubSession& session, std::string_view commit, std::string_view filename);

}  // namespace anec::io::hub_internal
