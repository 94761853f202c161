// Inputs the fuzzers (tests/fuzz, docs/fuzzing.md) and their probes found: each once crashed vsp
// (stack overflow) or let an exception other than vsp::Error escape. Each must now be one
// vsp::Error, or a valid result.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "../app/app_test_support.hpp"
#include "vsp/config/batch.hpp"
#include "vsp/config/manifest.hpp"
#include "vsp/config/selection.hpp"
#include "vsp/config/style_config.hpp"
#include "vsp/error.hpp"

namespace vsp {
namespace {

namespace fs = std::filesystem;
using app::testing::contains;
using app::testing::error_of;

// 10^5 levels of arrays: nlohmann's copy and dump recurse once per level.
const std::string kDeep = std::string(100000, '[') + std::string(100000, ']');

class HostileFileTest : public app::testing::ScratchTest {
 protected:
  fs::path write(const std::string& name, const std::string& text) {
    std::ofstream(root / name) << text;
    return root / name;
  }
};

TEST_F(HostileFileTest, DeeplyNestedJobsFile) {
  const auto path = write("jobs.json", R"({"jobs": [{"mode": "generate", "prompt": )" + kDeep + "}]}");
  const std::string message = error_of([&] { app::load_batch_file(path, "m"); });
  EXPECT_TRUE(contains(message, "jobs.json: invalid JSON: nested more than 64 levels deep")) << message;
}

TEST_F(HostileFileTest, DeeplyNestedStyle) {
  const auto path = write("deep.json", R"({"name": "x", "targets": )" + kDeep + "}");
  const std::string message = error_of([&] { app::StyleConfig::load(path); });
  EXPECT_TRUE(contains(message, "deep.json: invalid JSON: nested more than 64 levels deep")) << message;
}

TEST_F(HostileFileTest, DeeplyNestedManifest) {
  write("manifest.json", R"({"format": "vsp-model", "scheduler": )" + kDeep + "}");
  const std::string message = error_of([&] { models::Manifest::load(root); });
  EXPECT_TRUE(contains(message, "manifest.json: invalid JSON: nested more than 64 levels deep")) << message;
  EXPECT_TRUE(contains(message, "re-export")) << message;
}

std::vector<models::AttentionLayer> layers() {
  std::vector<models::AttentionLayer> table;
  for (const char* kind : {"attn1", "attn2", "attn1", "attn2"}) {
    models::AttentionLayer layer;
    layer.id = static_cast<int>(table.size());
    layer.attention = "up_blocks.0.attentions." + std::to_string(table.size() / 2);
    layer.name = layer.attention + ".transformer_blocks.0." + kind;
    layer.self = std::string(kind) == "attn1";
    layer.block = "up_blocks.0";
    table.push_back(layer);
  }
  return table;
}

// std::regex recursed once per character: ~50,000 characters overflowed the stack.
TEST(HostileSelection, VeryLongSpecs) {
  const std::string digits(200000, '1');
  EXPECT_THROW(attention::select_steps(digits, 30), Error);
  EXPECT_THROW(attention::select_steps("0-3," + digits, 30), Error);
  EXPECT_THROW(attention::select_self_layers(layers(), {"self[" + digits + ":]"}), Error);
  EXPECT_THROW(attention::select_self_layers(layers(), {digits}), Error);
}

// std::stod threw std::out_of_range on hundreds of digits (past 1e308, or below 1e-308).
TEST(HostileSelection, FractionsWithHundredsOfDigits) {
  const auto mask = attention::select_steps("0." + std::string(200, '0') + "1-0.5", 4);  // 1e-201
  EXPECT_EQ(mask, (std::vector<bool>{false, true, false, false}));
  EXPECT_THROW(attention::select_steps("0." + std::string(400, '0') + "1-0.5", 4), Error);
  EXPECT_THROW(attention::select_steps("1" + std::string(400, '0') + ".-2.", 4), Error);
}

// std::stoi threw std::out_of_range on bounds past int.
TEST(HostileSelection, HugeIntegersGiveAnswersOrVspErrors) {
  for (const auto& spec : {"self[-99999999999:]", "self[:99999999999999999999999]", "self[99999999999:]"}) {
    try {
      attention::select_self_layers(layers(), {spec});
    } catch (const Error&) {
    }
  }
  for (const auto& spec : {"0-99999999999", "99999999999", "0-99999999999999999999999999"}) {
    try {
      attention::select_steps(spec, 30);
    } catch (const Error&) {
    }
  }
}

}  // namespace
}  // namespace vsp
