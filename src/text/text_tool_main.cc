// anec_text_tool: a JSON-in / JSON-out driver of src/text for cross-checks from Python
// (tests/python/test_text_parity.py). Reads one request object from stdin:
//   {"tokenizer": "path/tokenizer.json",            (needed for encode/decode)
//    "encode": ["text", ...], "add_special_tokens": false,
//    "decode": [[ids], ...], "skip_special": false,  (also reports streamed decodes)
//    "render": [{"template": "...", "messages": [...], "add_generation_prompt": true,
//                "extra_vars": {...}, "now": 1768478400}, ...]}
// and writes {"encode": [[ids]...], "decode": [...], "stream_decode": [...],
// "render": [{"text": ...} | {"error": ...}]} to stdout. Exit code 1 on a bad request.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <string>

#include "base/file_system.h"
#include "text/chat_template.h"
#include "text/json_util.h"
#include "text/stream_decoder.h"
#include "text/tokenizer.h"

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "anec_text_tool: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main() {
  using anec::text::OrderedJson;
  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  anec::Result<OrderedJson> request = anec::text::ParseOrderedJson(input, "request on stdin");
  if (!request.ok()) return Fail(request.status().ToString());
  OrderedJson reply = OrderedJson::object();
  const OrderedJson& req = *request;
  if (req.contains("encode") || req.contains("decode")) {
    if (!req.contains("tokenizer") || !req["tokenizer"].is_string()) {
      return Fail("request needs \"tokenizer\": path to tokenizer.json");
    }
    auto tok = anec::text::Tokenizer::FromJsonFile(anec::RealFileSystem(),
                                                   req["tokenizer"].get<std::string>());
    if (!tok.ok()) return Fail(tok.status().ToString());
    bool add_special = req.value("add_special_tokens", false);
    bool skip_special = req.value("skip_special", false);
    if (req.contains("encode")) {
      reply["encode"] = OrderedJson::array();
      for (const auto& text : req["encode"]) {
        if (!text.is_string()) return Fail("\"encode\" must be a list of strings");
        reply["encode"].push_back(tok->Encode(text.get<std::string>(), add_special));
      }
    }
    if (req.contains("decode")) {
      reply["decode"] = OrderedJson::array();
      reply["stream_decode"] = OrderedJson::array();
      for (const auto& ids_json : req["decode"]) {
        if (!ids_json.is_array()) return Fail("\"decode\" must be a list of id lists");
        std::vector<int32_t> ids;
        for (const auto& id : ids_json) {
          if (!id.is_number_integer()) return Fail("ids must be integers");
          ids.push_back(id.get<int32_t>());
        }
        reply["decode"].push_back(tok->Decode(ids, skip_special));
        anec::text::StreamDecoder stream(&*tok, skip_special);
        std::string streamed;
        for (int32_t id : ids) streamed += stream.Put(id);
        streamed += stream.Flush();
        reply["stream_decode"].push_back(streamed);
      }
    }
  }
  if (req.contains("render")) {
    reply["render"] = OrderedJson::array();
    for (const auto& r : req["render"]) {
      if (!r.is_object() || !r.contains("template") || !r["template"].is_string()) {
        return Fail("each \"render\" entry needs a \"template\" string");
      }
      anec::text::ChatTemplateOptions options;
      options.add_generation_prompt = r.value("add_generation_prompt", false);
      if (r.contains("extra_vars")) options.extra_vars = r["extra_vars"];
      if (r.contains("now") && r["now"].is_number_integer()) options.now = r["now"].get<int64_t>();
      auto text = anec::text::RenderChatTemplate(
          r["template"].get<std::string>(), r.value("messages", OrderedJson::array()), options);
      OrderedJson out = OrderedJson::object();
      if (text.ok()) {
        out["text"] = *text;
      } else {
        out["error"] = text.status().ToString();
      }
      reply["render"].push_back(out);
    }
  }
  std::cout << reply.dump(-1, ' ', false, OrderedJson::error_handler_t::replace) << "\n";
  return 0;
}
