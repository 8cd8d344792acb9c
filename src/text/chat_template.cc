#include "text/chat_template.h"

#include "text/jinja_eval.h"
#include "text/jinja_parser.h"

namespace anec::text {

using jinja::CallArgs;
using jinja::Dict;
using jinja::Value;

Result<std::string> RenderChatTemplate(std::string_view chat_template, const OrderedJson& messages,
                                       const ChatTemplateOptions& options) {
  if (!messages.is_array()) {
    return InvalidArgument("chat messages must be a JSON array of {{role, content}} objects");
  }
  // Value::FromJson recurses once per level.
  if (NestsDeeperThan(messages, kMaxJsonDepth) ||
      NestsDeeperThan(options.extra_vars, kMaxJsonDepth)) {
    return InvalidArgument("chat messages or template variables nest more than {} levels deep",
                           kMaxJsonDepth);
  }
  ANEC_ASSIGN_OR_RETURN(jinja::Template tmpl, jinja::Parse(chat_template));
  Dict vars;
  vars.Set("messages", Value::FromJson(messages));
  vars.Set("add_generation_prompt", Value(options.add_generation_prompt));
  vars.Set("tools", Value::None());
  vars.Set("documents", Value::None());
  vars.Set("raise_exception",
           Value::MakeFunction("raise_exception", [](const CallArgs& a) -> Result<Value> {
             std::string msg = a.args.empty() ? "" : a.args[0].Str();
             return InvalidArgument("chat template raised an exception: {}", msg);
           }));
  std::time_t now = options.now ? *options.now : std::time(nullptr);
  vars.Set("strftime_now",
           Value::MakeFunction("strftime_now", [now](const CallArgs& a) -> Result<Value> {
             if (a.args.empty() || !a.args[0].is_string()) {
               return InvalidArgument("strftime_now() needs a format string");
             }
             std::tm tm{};
             localtime_r(&now, &tm);
             char buf[256];
             size_t n = std::strftime(buf, sizeof(buf), a.args[0].as_string().c_str(), &tm);
             return Value(std::string(buf, n));
           }));
  if (options.extra_vars.is_object()) {
    for (auto it = options.extra_vars.begin(); it != options.extra_vars.end(); ++it) {
      vars.Set(it.key(), Value::FromJson(*it));
    }
  }
  return jinja::Render(tmpl, vars);
}

Result<std::string> ApplyChatTemplate(const Tokenizer& tokenizer, const OrderedJson& messages,
                                      ChatTemplateOptions options) {
  if (tokenizer.chat_template().empty()) {
    return FailedPrecondition(
        "the tokenizer has no chat template; load tokenizer_config.json (chat_template) first or "
        "render the prompt without one");
  }
  if (!options.extra_vars.is_object()) options.extra_vars = OrderedJson::object();
  if (!options.extra_vars.contains("bos_token"))
    options.extra_vars["bos_token"] = tokenizer.bos_token();
  if (!options.extra_vars.contains("eos_token"))
    options.extra_vars["eos_token"] = tokenizer.eos_token();
  return RenderChatTemplate(tokenizer.chat_template(), messages, options);
}

}  // namespace anec::text
