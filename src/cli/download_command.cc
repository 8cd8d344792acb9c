// `anec download --model-id org/name [--revision R]`: fetches what conversion needs from the
// Hugging Face Hub into the standard Hub cache and prints the snapshot directory (docs/HUB.md).
#include <fmt/format.h>

#include <cstdio>

#include "cli/commands.h"
#include "io/hub_download.h"

namespace anec::cli {
namespace {

struct DownloadOptions {
  std::string model_id;
  std::string revision = "main";
  std::string cache_dir;
  bool refresh = false;
  bool offline = false;
  bool quiet = false;
};

Status RunDownload(const DownloadOptions& o) {
  io::HubOptions hub = io::HubOptionsFromEnvironment();
  if (!o.cache_dir.empty()) hub.cache_dir = o.cache_dir;
  hub.refresh = o.refresh;
  hub.offline = hub.offline || o.offline;
  if (o.quiet) hub.progress = io::ProgressMode::kQuiet;
  ANEC_ASSIGN_OR_RETURN(std::string snapshot, io::DownloadSnapshot(hub, o.model_id, o.revision));
  fmt::print("{}\n", snapshot);  // stdout holds only the path, for $(anec download ...)
  return Status::Ok();
}

const Registrar kDownload({
    "download",
    "Download a Hugging Face model's config, tokenizer and safetensors weights into the Hub "
    "cache (resumable, verified) and print the snapshot directory",
    [](CLI::App* sub) -> std::function<Status()> {
      auto o = std::make_shared<DownloadOptions>();
      sub->add_option("--model-id", o->model_id, "Hub repository, e.g. meta-llama/Llama-3.2-1B")
          ->required();
      sub->add_option("--revision", o->revision, "Branch, tag or commit hash")
          ->capture_default_str();
      sub->add_option("--cache-dir", o->cache_dir,
                      "Hub cache directory (default: $HF_HUB_CACHE, else $HF_HOME/hub, else "
                      "~/.cache/huggingface/hub)");
      sub->add_flag("--refresh", o->refresh,
                    "Ask the Hub what the revision points to even when the cache is complete");
      sub->add_flag("--offline", o->offline, "Use the cache only (like HF_HUB_OFFLINE=1)");
      sub->add_flag("--quiet", o->quiet, "No progress on stderr");
      sub->footer(
          "Environment: HF_ENDPOINT (default https://huggingface.co), HF_TOKEN (else the token "
          "file $HF_HOME/token) for gated or private models, HF_HUB_OFFLINE=1, HF_HUB_CACHE, "
          "HF_HOME.");
      return [o] { return RunDownload(*o); };
    },
});

}  // namespace
}  // namespace anec::cli
