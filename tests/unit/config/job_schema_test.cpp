// The job schema shared by flags and jobs files: field checks, normalised lists, messages that
// name the field the way the user wrote it, and flags filling a job object.
#include <gtest/gtest.h>

#include <fstream>

#include "../app/app_test_support.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <vector>

#include "vsp/config/job_schema.hpp"
#include "vsp/config/lora_spec.hpp"
#include "vsp/config/modes.hpp"
#include "vsp/config/suggest.hpp"
#include "vsp/error.hpp"

namespace vsp::app {
namespace {

using nlohmann::json;

const std::vector<std::string> kIgnored = {"mode", "name", "model"};

json check_generate(const json& job, FieldNaming naming = FieldNaming::json) {
  return check_job_fields(job, generate_schema().options, kIgnored, naming, "jobs[0]: ");
}
json check_style(const json& job, FieldNaming naming = FieldNaming::json) {
  return check_job_fields(job, style_schema().options, kIgnored, naming, "jobs[0]: ");
}

using testing::contains;
using testing::error_of;

TEST(CheckJobFields, ValidJobComesBackUnchanged) {
  const json job = {{"mode", "generate"}, {"prompt", "a cat"}, {"negative", "blurry"}, {"steps", 4},
                    {"cfg", 5.5},         {"seed", 7},         {"width", 64},          {"height", 32},
                    {"sampler", "ddim"},  {"num", 2}};
  EXPECT_EQ(check_generate(job), job);
}

TEST(CheckJobFields, SingleStringBecomesListOfOne) {
  const json checked = check_style({{"style", "fire"}, {"object", "a cat"}, {"prompt", "a dog"}});
  EXPECT_EQ(checked["object"], json::array({"a cat"}));
  EXPECT_EQ(checked["prompt"], json::array({"a dog"}));
  EXPECT_EQ(checked["style"], "fire");  // a text field stays a string
  // A list stays as it is.
  EXPECT_EQ(check_style({{"object", {"a", "b"}}})["object"], json::array({"a", "b"}));
}

TEST(CheckJobFields, SingleSeedBecomesListOfOne) {
  EXPECT_EQ(check_style({{"seeds", 3}})["seeds"], json::array({3}));
  EXPECT_EQ(check_style({{"seeds", {1, 2, 0}}})["seeds"], json::array({1, 2, 0}));
}

TEST(CheckJobFields, WrongTypeNamesFieldAsJson) {
  const std::string message = error_of([] { check_generate({{"steps", "ten"}}); });
  EXPECT_EQ(message, "jobs[0]: \"steps\" must be an integer >= 1, got \"ten\"");
}

TEST(CheckJobFields, WrongTypeNamesFieldAsFlag) {
  const std::string message = error_of([] { check_generate({{"steps", "ten"}}, FieldNaming::flag); });
  EXPECT_EQ(message, "jobs[0]: --steps must be an integer >= 1, got \"ten\"");
  // Underscores become dashes in a flag.
  const std::string swap = error_of([] { check_style({{"swap_steps", 3}}, FieldNaming::flag); });
  EXPECT_TRUE(contains(swap, "--swap-steps must be a string, got 3")) << swap;
  const OptionSpec& option = *std::find_if(style_schema().options.begin(), style_schema().options.end(),
                                           [](const OptionSpec& o) { return o.key == "swap_steps"; });
  EXPECT_EQ(field_name(option, FieldNaming::json), "\"swap_steps\"");
  EXPECT_EQ(field_name(option, FieldNaming::flag), "--swap-steps");
}

TEST(CheckJobFields, WrongTypesSayWhatTheFieldMustBe) {
  EXPECT_TRUE(contains(error_of([] { check_generate({{"prompt", 5}}); }), "\"prompt\" must be a string, got 5"));
  EXPECT_TRUE(contains(error_of([] { check_generate({{"cfg", "high"}}); }), "\"cfg\" must be a number"));
  EXPECT_TRUE(contains(error_of([] {
                         check_style({{"color_calibration", 1}});
                       }),
                       "\"color_calibration\" must be true or false, got 1"));
  EXPECT_TRUE(contains(error_of([] {
                         check_style({{"object", {"a", 2}}});
                       }),
                       "\"object\" must be a string or a list of strings, got [\"a\",2]"));
  EXPECT_TRUE(contains(error_of([] {
                         check_style({{"seeds", "1,2"}});
                       }),
                       "\"seeds\" must be a seed (0 to 4294967295) or a list of them"));
  EXPECT_TRUE(contains(error_of([] { check_generate({{"steps", true}}); }), "\"steps\" must be an integer"));
}

TEST(CheckJobFields, UnknownFieldSuggestsClosest) {
  const std::string message = error_of([] { check_generate({{"sed", 1}}); });
  EXPECT_TRUE(contains(message, "jobs[0]: unknown field \"sed\"; did you mean \"seed\"?")) << message;
  // A style-only field in a generate job is unknown too.
  const std::string other = error_of([] { check_generate({{"seeds", {1}}}); });
  EXPECT_TRUE(contains(other, "unknown field \"seeds\"")) << other;
  // Nothing close: no suggestion.
  const std::string far = error_of([] { check_generate({{"zzzzzzzzzz", 1}}); });
  EXPECT_TRUE(contains(far, "unknown field \"zzzzzzzzzz\"")) << far;
  EXPECT_FALSE(contains(far, "did you mean")) << far;
}

TEST(CheckJobFields, IntegerBelowMinimumRejected) {
  const std::string message = error_of([] { check_generate({{"steps", 0}}); });
  EXPECT_TRUE(contains(message, "\"steps\" must be an integer >= 1, got 0")) << message;
  EXPECT_THROW(check_generate({{"width", -64}}), Error);
  // batch_size may be 0, warmup_steps too; not below.
  EXPECT_EQ(check_style({{"batch_size", 0}, {"warmup_steps", 0}})["batch_size"], 0);
  EXPECT_THROW(check_style({{"batch_size", -1}}), Error);
  EXPECT_EQ(check_generate({{"steps", 1}})["steps"], 1);
}

TEST(CheckJobFields, IntegerAboveInt32Rejected) {
  // Integers become C++ ints: a larger value must not wrap round to a different job.
  const std::string message = error_of([] { check_generate({{"steps", 4294967296LL}}); });
  EXPECT_EQ(message, "jobs[0]: \"steps\" must be an integer >= 1, got 4294967296");
  EXPECT_THROW(check_generate({{"num", 2147483648LL}}), Error);
  EXPECT_EQ(check_generate({{"width", 2147483647}})["width"], 2147483647);
}

TEST(CheckJobFields, FloatWhereIntegerExpectedRejected) {
  const std::string message = error_of([] { check_generate({{"steps", 7.0}}); });
  EXPECT_TRUE(contains(message, "\"steps\" must be an integer >= 1")) << message;
  EXPECT_THROW(check_generate({{"num", 2.5}}), Error);
  EXPECT_THROW(check_generate({{"seed", 1.5}}), Error);
  EXPECT_THROW(check_style({{"seeds", {1, 2.5}}}), Error);
  // A number field takes integers as well as floats.
  EXPECT_EQ(check_generate({{"cfg", 7}})["cfg"], 7);
}

TEST(CheckJobFields, SeedMinusOneDrawsARecordedSeed) {
  // A1111's convention: the job holds the drawn seed, so the image's metadata reproduces it.
  const json first = check_generate({{"seed", -1}})["seed"], second = check_generate({{"seed", -1}})["seed"];
  ASSERT_TRUE(first.is_number_unsigned() && second.is_number_unsigned());
  EXPECT_NE(first, second);                             // two draws of 2^32 agree once in four billion runs
  EXPECT_THROW(check_style({{"seeds", {-1}}}), Error);  // a list's seeds are given, never drawn
}

TEST(CheckJobFields, NegativeSeedsRejected) {
  const std::string message = error_of([] { check_generate({{"seed", -2}}); });
  EXPECT_TRUE(contains(message, "\"seed\" must be an integer from 0 to 4294967295 (-1: a random one), got -2"))
      << message;
  EXPECT_THROW(check_style({{"seeds", -3}}), Error);
  EXPECT_THROW(check_style({{"seeds", {1, -3}}}), Error);
  EXPECT_THROW(check_style({{"reference_seed", -1}}), Error);
  // The largest seed is torch's CPU generator's: 32 bits (a larger one would repeat a smaller one's noise).
  const json big = check_generate({{"seed", 4294967295ull}});
  EXPECT_EQ(big["seed"].get<uint64_t>(), 4294967295ull);
  EXPECT_THROW(check_generate({{"seed", 4294967296ull}}), Error);
  EXPECT_THROW(check_generate({{"seed", UINT64_MAX}}), Error);
  EXPECT_EQ(check_generate({{"seed", 0}})["seed"], 0);
}

TEST(CheckJobFields, NullOnlyForOptionalText) {
  const json checked = check_generate({{"negative", nullptr}});
  ASSERT_TRUE(checked.contains("negative"));
  EXPECT_TRUE(checked["negative"].is_null());
  EXPECT_EQ(check_generate({{"negative", ""}})["negative"], "");
  const std::string message = error_of([] { check_generate({{"prompt", nullptr}}); });
  EXPECT_TRUE(contains(message, "\"prompt\" must be a string, got null")) << message;
  EXPECT_THROW(check_generate({{"negative", 3}}), Error);
}

TEST(CheckJobFields, ChoicesRejectUnknownValues) {
  const std::string heun = error_of([] { check_generate({{"sampler", "heun"}}); });
  EXPECT_TRUE(contains(heun, "jobs[0]: \"sampler\": unknown value \"heun\"")) << heun;
  EXPECT_TRUE(contains(heun, "euler")) << heun;  // the choices are listed
  EXPECT_TRUE(contains(heun, "ddim")) << heun;
  const std::string eulr = error_of([] { check_generate({{"sampler", "eulr"}}, FieldNaming::flag); });
  EXPECT_TRUE(contains(eulr, "--sampler: unknown value \"eulr\"; did you mean \"euler\"?")) << eulr;
  const std::string trajectory = error_of([] { check_style({{"reference_trajectory", "inversoin"}}); });
  EXPECT_TRUE(contains(trajectory, "did you mean \"inversion\"?")) << trajectory;
  // A known choice passes; a non-string for a choice field is a type error.
  EXPECT_EQ(check_generate({{"sampler", "dpmpp2m"}})["sampler"], "dpmpp2m");
  EXPECT_TRUE(contains(error_of([] { check_generate({{"sampler", 1}}); }), "\"sampler\" must be one of"));
}

TEST(CheckJobFields, IgnoredKeysPassThrough) {
  const json checked = check_generate({{"mode", "generate"}, {"name", 3}, {"model", {{"any", "thing"}}}});
  EXPECT_EQ(checked["mode"], "generate");
  EXPECT_EQ(checked["name"], 3);  // checked elsewhere
  EXPECT_EQ(checked["model"]["any"], "thing");
  // Without the ignore list, "mode" is unknown.
  EXPECT_THROW(check_job_fields({{"mode", "generate"}}, generate_schema().options, {}, FieldNaming::json, ""), Error);
}

TEST(CheckJobFields, JobMustBeAnObject) {
  const std::string message = error_of([] { check_generate(json::array({1})); });
  EXPECT_TRUE(contains(message, "jobs[0]: a job must be a JSON object, got [1]")) << message;
}

// Parses argv with the flags of `options`; returns the job object the flags filled in.
json parse_flags(const std::vector<OptionSpec>& options, std::vector<std::string> args) {
  CLI::App app;
  json job = json::object();
  add_job_options(app, options, job);
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  app.parse(static_cast<int>(argv.size()), argv.data());
  return job;
}

TEST(AddJobOptions, StyleFlagsFillTheJob) {
  const json job = parse_flags(style_schema().options, {"x", "--steps", "7", "--seeds", "1,2", "--object", "a, b",
                                                        "--object", "c", "--no-color-calibration"});
  const json want = {{"steps", 7}, {"seeds", {1, 2}}, {"object", {"a, b", "c"}}, {"color_calibration", false}};
  EXPECT_EQ(job, want) << job.dump();
  // Flags not given are absent.
  EXPECT_FALSE(job.contains("cfg"));
  EXPECT_FALSE(job.contains("style"));
  EXPECT_FALSE(job.contains("layers"));
  // The flags' job passes the same checks as a file's.
  EXPECT_EQ(check_style(job, FieldNaming::flag), want);
}

TEST(AddJobOptions, PositiveFlagAndListDelimiter) {
  const json job = parse_flags(style_schema().options, {"x", "--color-calibration", "--layers",
                                                        "up_blocks.1,up_blocks.0", "--swap-steps", "0-9"});
  EXPECT_EQ(job["color_calibration"], true);
  EXPECT_EQ(job["layers"], json::array({"up_blocks.1", "up_blocks.0"}));
  EXPECT_EQ(job["swap_steps"], "0-9");
  EXPECT_EQ(job.size(), 3u) << job.dump();
}

TEST(AddJobOptions, GenerateFlags) {
  const json job = parse_flags(generate_schema().options, {"x", "-p", "a cat", "-n", "", "-s", "42", "--cfg", "6.5",
                                                           "-W", "96", "--sampler", "ddim"});
  EXPECT_EQ(job["prompt"], "a cat");
  EXPECT_EQ(job["negative"], "");
  EXPECT_EQ(job["seed"], 42);
  EXPECT_DOUBLE_EQ(job["cfg"].get<double>(), 6.5);
  EXPECT_EQ(job["width"], 96);
  EXPECT_EQ(job["sampler"], "ddim");
  EXPECT_FALSE(job.contains("steps"));
  EXPECT_FALSE(job.contains("height"));
  EXPECT_EQ(job.size(), 6u) << job.dump();
}

TEST(AddJobOptions, NoFlagsGiveAnEmptyJob) {
  EXPECT_EQ(parse_flags(generate_schema().options, {"x"}), json::object());
  EXPECT_EQ(parse_flags(style_schema().options, {"x"}), json::object());
}

TEST(AddJobOptions, BadFlagValuesAreUsageErrors) {
  const auto checked = [](const ModeSchema& schema, std::vector<std::string> args) {
    return check_job_fields(parse_flags(schema.options, std::move(args)), schema.options, {}, FieldNaming::flag, "");
  };
  EXPECT_THROW(checked(generate_schema(), {"x", "--steps", "ten"}), UsageError);
  EXPECT_THROW(checked(style_schema(), {"x", "--seeds", "1,x"}), UsageError);
  // A negative seed must not wrap round to a huge unsigned one.
  EXPECT_THROW(checked(generate_schema(), {"x", "--seed", "-2"}), UsageError);
  EXPECT_THROW(checked(style_schema(), {"x", "--seeds", "1,-2"}), UsageError);
  EXPECT_THROW(checked(generate_schema(), {"x", "--cfg", "nan"}), UsageError);
  EXPECT_THROW(checked(generate_schema(), {"x", "--steps", "0x10"}), UsageError);
  const std::string message = error_of([&] { checked(generate_schema(), {"x", "--steps", "1e3"}); });
  EXPECT_EQ(message, "--steps must be an integer >= 1, got \"1e3\"");
}

TEST(AddJobOptions, NumbersAreDecimalAndTheLastFlagWins) {
  const json job = parse_flags(generate_schema().options, {"x", "--seed", "00042", "--steps", "010", "--steps", "12"});
  EXPECT_EQ(job["seed"], 42);
  EXPECT_EQ(job["steps"], 12);
  EXPECT_EQ(parse_flags(style_schema().options, {"x", "--seeds", "007,08"})["seeds"], json::array({7, 8}));
}

// A constant default is spelled once, in vsp/config/defaults.hpp: no help text writes its own
// "(default 50)"; with_default adds it, and the request structs start from the same constants.
TEST(JobSchema, HelpShowsDefaultsFromTheOneTable) {
  for (const auto* mode : all_mode_schemas()) {
    for (const auto& option : mode->options) {
      const auto at = option.help.find("(default ");
      const bool written = at != std::string::npos && at + 9 < option.help.size() &&
                           (std::isdigit(static_cast<unsigned char>(option.help[at + 9])) ||
                            option.help.compare(at + 9, 2, "on") == 0 || option.help.compare(at + 9, 3, "off") == 0);
      EXPECT_FALSE(written) << mode->name << " " << option.key << ": " << option.help;
    }
  }
  const auto& transfer = transfer_schema().options;
  const auto tau = std::find_if(transfer.begin(), transfer.end(), [](const auto& o) { return o.key == "tau"; });
  ASSERT_NE(tau, transfer.end());
  EXPECT_EQ(help_text(*tau), "Attention temperature, above 0 (default 1.5)");
  EXPECT_EQ(shown_default(true), "on");
  EXPECT_EQ(shown_default(0.75), "0.75");
  EXPECT_EQ(shown_default(50), "50");
}

TEST(CheckJobFields, SamplersTakeOtherToolsNames) {
  EXPECT_EQ(check_generate({{"sampler", "DPM++ 2M"}})["sampler"], "dpmpp2m");
  EXPECT_EQ(check_generate({{"sampler", "Euler"}})["sampler"], "euler");
  EXPECT_EQ(check_generate({{"sampler", "DDIMScheduler"}})["sampler"], "ddim");
  EXPECT_EQ(check_generate({{"sampler", "Euler a"}})["sampler"], "euler-a");
  EXPECT_EQ(check_generate({{"sampler", "DPM++ 2M Karras"}})["sampler"], "dpmpp2m-karras");
  // A sampler vsp does not have is no alias of one it has.
  EXPECT_TRUE(contains(error_of([] { check_generate({{"sampler", "DPM++ SDE"}}); }), "unknown value \"DPM++ SDE\""));
}

TEST(CheckJobFields, LoraTagsNeedALoraFolderAndThePrompt) {
  const std::string message = error_of([] { check_generate({{"prompt", "a cat <lora:ink:0.8>"}}); });
  EXPECT_TRUE(contains(message, "\"prompt\" holds an A1111 LoRA tag")) << message;
  EXPECT_TRUE(contains(message, "--lora-dir")) << message;
  EXPECT_EQ(check_generate({{"prompt", "a cat <lora:ink:0.8>"}, {"lora_dir", "loras"}})["prompt"],
            "a cat <lora:ink:0.8>");
  const std::string negative = error_of([] {
    check_generate({{"negative", "<lora:ink:0.8>"}, {"lora_dir", "loras"}});
  });
  EXPECT_TRUE(contains(negative, "\"negative\" holds an A1111 LoRA tag")) << negative;
}

TEST(LoraTags, AreTakenOutOfThePromptAndResolvedInTheFolder) {
  const auto folder = std::filesystem::temp_directory_path() / "vsp-lora-tags";
  std::filesystem::create_directories(folder);
  std::ofstream(folder / "ink.safetensors") << "x";
  std::string prompt = "a cat <lora:ink:0.8>, at night<lora:ink>";
  const auto loras = vsp::models::take_lora_tags(prompt, folder);
  EXPECT_EQ(prompt, "a cat , at night");
  ASSERT_EQ(loras.size(), 2u);
  EXPECT_EQ(loras[0].file, folder / "ink.safetensors");
  EXPECT_EQ(loras[0].weight, 0.8);
  EXPECT_EQ(loras[1].weight, 1.0);
  std::string unknown = "<lora:inc:1>";
  EXPECT_TRUE(contains(error_of([&] { vsp::models::take_lora_tags(unknown, folder); }), "did you mean 'ink'?"));
  std::string open = "<lora:ink:1";
  EXPECT_TRUE(contains(error_of([&] { vsp::models::take_lora_tags(open, folder); }), "not closed"));
  std::string heavy = "<lora:ink:11>";
  EXPECT_TRUE(contains(error_of([&] { vsp::models::take_lora_tags(heavy, folder); }), "-10 to 10"));
  std::filesystem::remove_all(folder);
}

TEST(CheckJobFields, OtherToolsFieldNamesSuggestTheirMeaning) {
  // By meaning, not spelling: "cfg_scale" is closer to "control_scale" by edit distance.
  EXPECT_TRUE(contains(error_of([] { check_generate({{"cfg_scale", 7}}); }), "did you mean \"cfg\"?"));
  EXPECT_TRUE(contains(error_of([] { check_generate({{"sampler_name", "Euler"}}); }), "did you mean \"sampler\"?"));
  EXPECT_TRUE(contains(error_of([] { check_generate({{"negative_prompt", "x"}}); }), "did you mean \"negative\"?"));
  EXPECT_EQ(did_you_mean("--cfg-scale", {"--control-scale", "--cfg"}, ""), "; did you mean --cfg?");
}

TEST(AddJobOptions, HelpNamesEachValuesKind) {
  CLI::App app;
  json job;
  add_job_options(app, generate_schema().options, job);
  const std::string help = app.help();
  EXPECT_TRUE(contains(help, "--steps INT")) << help;
  EXPECT_TRUE(contains(help, "--cfg FLOAT")) << help;
  EXPECT_TRUE(contains(help, "--sampler euler|ddim|dpmpp2m")) << help;
  EXPECT_TRUE(contains(help, "--control-image FILE|DIR")) << help;
}

}  // namespace
}  // namespace vsp::app
