// Chat templates: renders the Jinja `chat_template` of tokenizer_config.json the way
// transformers' apply_chat_template does (jinja2 with trim_blocks and lstrip_blocks, the
// raise_exception and strftime_now globals, and transformers' tojson filter).
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "text/json_util.h"
#include "text/tokenizer.h"

namespace anec::text {

struct ChatTemplateOptions {
  bool add_generation_prompt = false;
  // More template variables: bos_token, eos_token, enable_thinking, tools, date_string...
  // `tools` and `documents` are none unless given here (as transformers passes them).
  OrderedJson extra_vars = OrderedJson::object();
  // The clock seen by strftime_now(); the current local time when unset.
  std::optional<std::time_t> now;
};

// `messages` is a JSON array of objects with at least "role" and "content" (other fields such as
// "reasoning_content" or "tool_calls" are passed through). Errors name the template line; a
// template's raise_exception(msg) becomes an InvalidArgument carrying msg.
Result<std::string> RenderChatTemplate(std::string_view chat_template, const OrderedJson& messages,
                                       const ChatTemplateOptions& options = {});

// Renders `tokenizer.chat_template()` (set by Tokenizer::ApplyConfig), adding bos_token and
// eos_token from the tokenizer unless options.extra_vars sets them, as transformers does.
// FailedPrecondition if the tokenizer has no chat template.
Result<std::string> ApplyChatTemplate(const Tokenizer& tokenizer, const OrderedJson& messages,
                                      ChatTemplateOptions options = {});

}  // namespace anec::text
