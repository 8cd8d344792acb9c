// Parity with jinja2 as transformers configures it: templates written for anec's tests in the
// styles of Llama 3, Qwen 2.5/3, Mistral and SmolLM2 (tests/fixtures/text/templates/), rendered
// by tools/make_text_fixtures.py into chat_expected.json.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "base/file_system.h"
#include "text/chat_template.h"
#include "text/json_util.h"

namespace anec::text {
namespace {

std::string FixtureDir() {
  const char* src = std::getenv("ANEC_SOURCE_DIR");
  return std::string(src ? src : ".") + "/tests/fixtures/text";
}

TEST(ChatTemplateParityTest, RendersLikeJinja2) {
  Result<std::string> text = RealFileSystem()->ReadFile(FixtureDir() + "/chat_expected.json");
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  Result<OrderedJson> expected = ParseOrderedJson(*text, "chat_expected.json");
  ASSERT_TRUE(expected.ok());
  const OrderedJson& cases = (*expected)["cases"];
  ASSERT_GE(cases.size(), 15u);
  for (const OrderedJson& c : cases) {
    std::string name = c["template"].get<std::string>() + "/" + c["name"].get<std::string>();
    SCOPED_TRACE(name);
    Result<std::string> tmpl = RealFileSystem()->ReadFile(
        FixtureDir() + "/templates/" + c["template"].get<std::string>() + ".jinja");
    ASSERT_TRUE(tmpl.ok()) << tmpl.status().ToString();
    ChatTemplateOptions options;
    options.add_generation_prompt = c["add_generation_prompt"].get<bool>();
    options.extra_vars = c["extra_vars"];
    options.now = (*expected)["now"].get<int64_t>();
    Result<std::string> got = RenderChatTemplate(*tmpl, c["messages"], options);
    if (c.contains("error")) {
      ASSERT_FALSE(got.ok()) << "rendered instead of failing: " << *got;
      EXPECT_NE(got.status().message().find(c["error"].get<std::string>()), std::string::npos)
          << got.status().ToString();
    } else {
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      EXPECT_EQ(*got, c["expected"].get<std::string>());
    }
  }
}

}  // namespace
}  // namespace anec::text
