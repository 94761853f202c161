// The paper's presets (../shared/docs/official-styles.md, copied here as data): each shipped style
// file plans exactly the official configuration's prompts, negatives, seeds, layers, steps,
// guidance and warm-up, at the model's native size.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "vsp/app/jobs.hpp"
#include "vsp/config/manifest.hpp"
#include "vsp/config/selection.hpp"

namespace vsp::app {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct OfficialPreset {
  std::string config;         // vsp_script.py --style <config>
  std::string template_name;  // the style file's name: the config's, or the template's for "default"
  std::string template_text;
  std::string negative;
  std::string reference_object;
  uint64_t reference_seed;
  std::string target_object;
  uint64_t first_seed, last_seed;
  std::vector<std::string> layers;  // SDXL modules
};

const std::vector<OfficialPreset> kPresets = {
    {"chinese-ink-paint",
     "chinese-ink-paint",
     R"({object} in colorful chinese ink paintings style)",
     R"()",
     R"(A horse)",
     1,
     R"(A tiger)",
     0,
     9,
     {"up_blocks.1"}},
    {"cloud",
     "cloud",
     R"(Photography of {object}, realistic)",
     R"()",
     R"(a Cloud in the sky)",
     3,
     R"(A photo of a dog)",
     0,
     5,
     {"up_blocks.1"}},
    {"default",
     "anime",
     R"(anime artwork of {object} . anime style, key visual, vibrant, studio anime, highly detailed)",
     R"(photo, deformed, black and white, realism, disfigured, low contrast)",
     R"(cat)",
     42,
     R"(A photo of a dog)",
     0,
     9,
     {"up_blocks.1"}},
    {"default",
     "Artstyle_Pop_Art",
     R"(pop Art style of {object} . bright colors, bold outlines, popular culture themes, ironic or kitsch)",
     R"(ugly, deformed, noisy, blurry, low contrast, realism, photorealistic, minimalist)",
     R"(cat)",
     42,
     R"(A photo of a dog)",
     0,
     9,
     {"up_blocks.1"}},
    {"default",
     "low_poly",
     R"(low-poly style of {object} . low-poly game art, polygon mesh, jagged, blocky, wireframe edges, centered composition)",
     R"(noisy, sloppy, messy, grainy, highly detailed, ultra textured, photo)",
     R"(cat)",
     42,
     R"(A photo of a dog)",
     0,
     9,
     {"up_blocks.1"}},
    {"default",
     "line_art",
     R"(line art drawing of {object} . professional, sleek, modern, minimalist, graphic, line art, vector graphics)",
     R"(anime, photorealistic, 35mm film, deformed, glitch, blurry, noisy, off-center, deformed, cross-eyed, closed eyes, bad anatomy, ugly, disfigured, mutated, realism, realistic, impressionism, expressionism, oil, acrylic)",
     R"(cat)",
     42,
     R"(A photo of a dog)",
     0,
     9,
     {"up_blocks.1"}},
    {"digital-art",
     "digital-art",
     R"({object} in digital glitch arts style)",
     R"()",
     R"(A robot)",
     42,
     R"(A woman playing basketball)",
     0,
     9,
     {"up_blocks.1"}},
    {"fire",
     "fire",
     R"({object} photography, realistic, black background')",
     R"()",
     R"(fire)",
     3,
     R"(A dragon)",
     0,
     9,
     {"up_blocks.1"}},
    {"klimt",
     "klimt",
     R"({object} in style of Gustav Klimt)",
     R"()",
     R"(the kiss)",
     1,
     R"(Frog)",
     0,
     9,
     {"up_blocks.1"}},
    {"line-art",
     "line-art",
     R"(line art drawing of {object} . professional, sleek, modern, minimalist, graphic, line art, vector graphics)",
     R"()",
     R"(an owl)",
     42,
     R"(A dragon)",
     0,
     9,
     {"up_blocks.1"}},
    {"low-poly",
     "low-poly",
     R"(low-poly style of {object} . low-poly game art, polygon mesh, jagged, blocky, wireframe edges, centered composition)",
     R"(noisy, sloppy, messy, grainy, highly detailed, ultra textured, photo)",
     R"(A cat)",
     42,
     R"(A rhino)",
     0,
     9,
     {"up_blocks.1"}},
    {"munch",
     "munch",
     R"({object} in Edvard Munch style)",
     R"()",
     R"(The scream)",
     1,
     R"(A dragon)",
     0,
     9,
     {"up_blocks.1"}},
    {"totoro",
     "totoro",
     R"({object}, art by studio ghibli, cinematic, masterpiece,key visual, studio anime, highly detailed)",
     R"(photo, deformed, black and white, realism, disfigured, low contrast)",
     R"(totoro holding a tiny umbrella in the rain)",
     42,
     R"(1 cute bird holding a tiny umbrella, forward facing)",
     0,
     9,
     {"up_blocks.0.attentions.2", "up_blocks.1"}},
    {"van-gogh",
     "van-gogh",
     R"({object}, Van Gogh)",
     R"()",
     R"(The Starry Night)",
     1,
     R"(A dragon)",
     0,
     9,
     {"up_blocks.1"}},
};

std::string fill(const std::string& text, const std::string& object) {
  return text.substr(0, text.find("{object}")) + object + text.substr(text.find("{object}") + 8);
}

TEST(OfficialStyles, EachPresetPlansTheOfficialConfiguration) {
  const auto manifest = models::Manifest::load(VSP_TEST_DATA "/tiny");
  for (const auto& preset : kPresets) {
    const std::string style = preset.config == "default" ? preset.template_name : preset.config;
    SCOPED_TRACE(style);
    const json job = {{"mode", "style"}, {"style", style}, {"styles", VSP_SOURCE_DIR "/configs/styles"}};
    const auto planned = find_mode("style", "").plan(job, PlanContext{manifest, style, fs::path("/tmp"), 0});
    const size_t targets = preset.last_seed - preset.first_seed + 1;
    ASSERT_EQ(planned->outputs.size(), targets + 2);  // reference, targets, grid
    const json& reference = planned->outputs[0].metadata;
    EXPECT_EQ(reference["prompt"], fill(preset.template_text, preset.reference_object));
    EXPECT_EQ(reference["seed"], preset.reference_seed);
    EXPECT_EQ(reference["negative"], preset.negative);  // encoded for every row, even ""
    EXPECT_EQ(reference["zero_target_negatives"], false);
    EXPECT_EQ(reference["steps"], 50);
    EXPECT_EQ(reference["cfg"], 7.0);
    EXPECT_EQ(reference["warmup"], (json{{"steps", 3}, {"cfg", 20.0}}));
    EXPECT_EQ(reference["sampler"], "euler");
    EXPECT_EQ(reference["swap_steps"], "all");
    EXPECT_EQ(reference["width"], manifest.default_size);
    EXPECT_EQ(reference["height"], manifest.default_size);
    const std::vector<std::string> layers = reference["layers"];
    EXPECT_EQ(attention::select_self_layers(manifest.attention_layers, layers),
              attention::select_self_layers(manifest.attention_layers, preset.layers));
    for (size_t i = 0; i < targets; ++i) {
      const json& target = planned->outputs[1 + i].metadata;
      EXPECT_EQ(target["prompt"], fill(preset.template_text, preset.target_object));
      EXPECT_EQ(target["seed"], preset.first_seed + i);
    }
  }
}

}  // namespace
}  // namespace vsp::app
