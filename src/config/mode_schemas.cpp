// The modes' options, torch-free; their planners are in src/app/jobs/<mode>_job.cpp.
#include "vsp/config/modes.hpp"

#include "mode_options.hpp"

#include "vsp/config/defaults.hpp"
#include "vsp/config/sampler_names.hpp"
#include "vsp/config/suggest.hpp"
#include "vsp/error.hpp"

namespace vsp::app {
using detail::image_option;
using detail::kMaxGuidance;
using detail::kMaxImages;
using detail::kPromptWeightsHelp;
using detail::lora_dir_option;
using detail::lora_option;
using detail::prompt_weights_option;
using detail::strength_option;
using detail::vae_tiling_option;
using detail::with_control_options;

const ModeSchema& generate_schema() {
  static const ModeSchema schema{
      "generate", "Text to image",
      with_control_options({
          {"prompt", "-p,--prompt", ValueKind::text, "What to draw (an empty prompt is valid)"},
          {"negative", "-n,--negative", ValueKind::optional_text,
           "Negative prompt. Absent: zero embeddings on SDXL, the empty prompt on SD 1.x/2.x; \"\" is encoded as text"},
          with_default(OptionSpec{"steps", "--steps", ValueKind::integer, "Denoising steps", 1},
                       defaults::generate::steps),
          with_default(OptionSpec{"cfg",
                                  "--cfg",
                                  ValueKind::number,
                                  "Classifier-free guidance scale, 0-100; <= 1 turns it off",
                                  0,
                                  0,
                                  {},
                                  kMaxGuidance},
                       defaults::generate::cfg),
          with_default(OptionSpec{"seed", "-s,--seed", ValueKind::seed,
                                  "Seed of the initial noise (-1: a random one, recorded in the metadata); the CPU "
                                  "generator gives the same image on every device",
                                  -1},
                       0),
          {"width", "-W,--width", ValueKind::integer, "Image width in pixels (default: the model's size)", 1},
          {"height", "-H,--height", ValueKind::integer, "Image height in pixels (default: the model's size)", 1},
          with_default(OptionSpec{"sampler", "--sampler", ValueKind::text, "Sampler (A1111's and ComfyUI's names too)",
                                  0, 0, sampling::scheduler_names(), INT32_MAX, "", sampling::sampler_from_alias},
                       defaults::generate::sampler),
          {"timestep_spacing",
           "--timestep-spacing",
           ValueKind::text,
           "The steps' timesteps: leading, trailing (few-step models such as SDXL-Turbo and Lightning) or "
           "linspace, as diffusers' timestep_spacing (default: the export's scheduler config)",
           0,
           0,
           {"leading", "trailing", "linspace"}},
          with_default(OptionSpec{"num",
                                  "--num",
                                  ValueKind::integer,
                                  "Images from one seed's noise, at most 1000",
                                  1,
                                  0,
                                  {},
                                  kMaxImages},
                       defaults::generate::num),
          shown_as({"preset", "--preset", ValueKind::text,
                    "Settings for few-step models from configs/presets.json: turbo (SDXL-Turbo, SD-Turbo), lightning "
                    "(SDXL-Lightning), lcm (LCM-LoRA); the flags given win"},
                   "NAME"),
          lora_option(),
          lora_dir_option(),
          image_option("Start from this picture (PNG or JPEG), resized to the output size: image to image"),
          strength_option(),
          shown_as({"mask", "--mask", ValueKind::text,
                    "With --image: repaint only where this picture of the same size is white (a masked edit)"},
                   "FILE"),
          {"mask_blur",
           "--mask-blur",
           ValueKind::number,
           "With --mask: paste the result over the picture through the mask feathered by this many pixels, 0-100 "
           "(0: hard edges; default: no paste)",
           0,
           0,
           {},
           100},
          prompt_weights_option(kPromptWeightsHelp),
          vae_tiling_option(),
      }),
      "lower --num, --width or --height", CommandKind::named_files};
  return schema;
}

const ModeSchema& style_schema() {
  static const ModeSchema schema{
      "style", "Visual style prompting (the same as vsp --style ...)",
      with_control_options({
          shown_as(
              {"style", "--style", ValueKind::text, "Style name (configs/styles/<name>.json; vsp styles lists them)"},
              "NAME"),
          shown_as({"style_image", "--style-image", ValueKind::text,
                    "Take the style from this picture (PNG or JPEG) instead"},
                   "FILE"),
          {"style_prompt", "--style-prompt", ValueKind::text,
           "With --style-image: what the picture shows (default: its file name)"},
          {"object", "--object", ValueKind::text_list, "Target object, put into the style's template (repeatable)"},
          {"prompt", "-p,--prompt", ValueKind::text_list, "Target prompt used as given (repeatable)"},
          shown_as({"template", "--template", ValueKind::text,
                    "Prompt template by name (configs/templates.json; vsp styles --templates lists them) for the "
                    "reference and the targets, with its negative; with --style-image, for the targets"},
                   "NAME"),
          {"num",
           "--num",
           ValueKind::integer,
           "Number of targets (repeating the objects, seeds counting on; at most 999)",
           1,
           0,
           {},
           kMaxImages - 1},
          {"seeds", "--seeds", ValueKind::seed_list, "Target seeds, e.g. --seeds 1,2,3", 0, ','},
          {"layers", "--layers", ValueKind::text_list,
           "Swap layers: modules (up_blocks.1,up_blocks.0.attentions.2) or self[-6:]", 0, ','},
          {"swap_steps", "--swap-steps", ValueKind::text, "Steps that swap: all, 0-9,20-29 or 0.0-0.5"},
          {"steps", "--steps", ValueKind::integer, "Denoising steps (default: the style's)", 1},
          {"cfg", "--cfg", ValueKind::number, "Guidance scale, 0-100 (default: the style's)", 0, 0, {}, kMaxGuidance},
          {"warmup_steps", "--warmup-steps", ValueKind::integer,
           "Steps at --warmup-cfg before --cfg (default: the style's)", 0},
          {"warmup_cfg",
           "--warmup-cfg",
           ValueKind::number,
           "Guidance during the warm-up steps, 0-100",
           0,
           0,
           {},
           kMaxGuidance},
          {"sampler", "--sampler", ValueKind::text,
           "Sampler, A1111's and ComfyUI's names too (default: the style's; ddim for --style-image)", 0, 0,
           sampling::scheduler_names(), INT32_MAX, "", sampling::sampler_from_alias},
          {"reference_object", "--reference-object", ValueKind::text,
           "Object of the reference image (default: the style's)"},
          {"reference_seed", "--reference-seed", ValueKind::seed, "Seed of the reference (default: the style's)"},
          {"batch_size",
           "--batch-size",
           ValueKind::integer,
           "Targets per UNet call when memory is short (0: all)",
           0,
           0,
           {},
           kMaxImages},
          {"width", "-W,--width", ValueKind::integer, "Width in pixels (default: the model's size)", 1},
          {"height", "-H,--height", ValueKind::integer, "Height in pixels (default: the model's size)", 1},
          with_default(OptionSpec{"reference_trajectory",
                                  "--reference-trajectory",
                                  ValueKind::text,
                                  "With --style-image: how the reference follows the picture",
                                  0,
                                  0,
                                  {"noise", "inversion"}},
                       defaults::style::reference_trajectory),
          with_default(OptionSpec{"color_calibration", "--color-calibration,!--no-color-calibration", ValueKind::flag,
                                  "With --style-image: match the targets' colours to the picture"},
                       defaults::style::color_calibration),
          lora_option(),
          lora_dir_option(),
          image_option("Start the targets from this picture (PNG or JPEG): image to image; the reference is unchanged"),
          strength_option(),
          {"shared_attention", "--shared-attention,!--no-shared-attention", ValueKind::flag,
           "Shared attention (StyleAligned) instead of the swap: targets attend to their own and the reference's "
           "keys and values (default: the style's, off)"},
          with_default(OptionSpec{"shared_adain", "--shared-adain,!--no-shared-adain", ValueKind::flag,
                                  "With --shared-attention: AdaIN of the targets' queries and keys to the reference's"},
                       defaults::style::shared_adain),
          {"attention_map", "--attention-map", ValueKind::text_list,
           "Draw where target pixel X,Y attends in the reference: attention/NN_xX_yY.png and .npy (repeatable)"},
          {"attention_step", "--attention-step", ValueKind::integer,
           "Step of the attention maps, from 0 (default: the middle step); must be a swapping step", 0},
          {"attention_layers", "--attention-layers", ValueKind::text_list,
           "Swapped layers the maps average over, of one resolution (default: the finest swapped ones)", 0, ','},
          shown_as({"styles", "--styles", ValueKind::text, "Style folder (default: configs/styles, or $VSP_STYLES)"},
                   "DIR"),
          prompt_weights_option(kPromptWeightsHelp),
          vae_tiling_option(),
      }),
      "lower --num, --batch-size, --width or --height", CommandKind::style_folder};
  return schema;
}

const ModeSchema& transfer_schema() {
  static const ModeSchema schema{
      "transfer",
      "Restyle content pictures with style pictures (StyleID style injection)",
      {
          shown_as({"content", "--content", ValueKind::text, "Content picture, or a folder of them (PNG or JPEG)"},
                   "FILE|DIR"),
          shown_as({"style", "--style", ValueKind::text,
                    "Style picture, or a folder of them: every (content, style) pair runs"},
                   "FILE|DIR"),
          with_default(OptionSpec{"gamma",
                                  "--gamma",
                                  ValueKind::number,
                                  "Query preservation, 0-1: the share of the content's queries; 0.3: stronger style",
                                  0,
                                  0,
                                  {},
                                  1},
                       defaults::transfer::gamma),
          with_default(OptionSpec{"tau", "--tau", ValueKind::number, "Attention temperature, above 0", 0, 0, {}, 100},
                       defaults::transfer::tau),
          with_default(OptionSpec{"adain", "--adain,!--no-adain", ValueKind::flag,
                                  "Start from the AdaIN of the inverted content latent to the style's"},
                       defaults::transfer::adain),
          with_default(OptionSpec{"injection", "--injection,!--no-injection", ValueKind::flag,
                                  "Inject the style's keys and values (off: plain inversion and sampling, a baseline)"},
                       defaults::transfer::injection),
          {"layers", "--layers", ValueKind::text_list,
           "Injected self-attention layers: default (the last six), strong, modules or self[-6:]", 0, ','},
          with_default(OptionSpec{"steps", "--steps", ValueKind::integer, "DDIM inversion and sampling steps", 1},
                       defaults::transfer::steps),
          with_default(OptionSpec{"start_step", "--start-step", ValueKind::integer,
                                  "First sampling step run; the original skips the first", 0},
                       defaults::transfer::start_step),
          {"features",
           "--features",
           ValueKind::text,
           "recompute (default: the pictures rerun each step, little memory) or cache (kept from the inversion, "
           "faster); the same images",
           0,
           0,
           {"recompute", "cache"}},
          {"width", "-W,--width", ValueKind::integer, "Width in pixels (default: the model's size)", 1},
          {"height", "-H,--height", ValueKind::integer, "Height in pixels (default: the model's size)", 1},
          {"grid", "--grid,!--no-grid", ValueKind::flag, "Also write grid.png: the contents down, the styles across"},
          {"batch_size",
           "--batch-size",
           ValueKind::integer,
           "Stylised images per UNet call when memory is short (0: all)",
           0,
           0,
           {},
           kMaxImages},
          vae_tiling_option(),
      },
      "lower --batch-size, --width or --height, or give fewer --content or --style pictures"};
  return schema;
}

const ModeSchema& edit_schema() {
  static const ModeSchema schema{
      "edit",
      "Edit an image by editing its prompt (prompt-to-prompt)",
      {
          {"prompt", "-p,--prompt", ValueKind::text, "The source prompt (with --image: what the image shows)"},
          shown_as(
              {"image", "--image", ValueKind::text, "Edit this picture (PNG or JPEG) instead of generating the source"},
              "FILE"),
          {"inversion",
           "--inversion",
           ValueKind::text,
           "With --image: null-text (default: optimised unconditional embeddings, at most " +
               shown_default(defaults::edit::null_text_iterations) +
               " Adam steps a step), "
               "negative-prompt (the source prompt as the negative, no optimisation) or ddim (plain, a baseline)",
           0,
           0,
           {"null-text", "negative-prompt", "ddim"}},
          shown_as({"save_null_text", "--save-null-text", ValueKind::text,
                    "With --inversion null-text: also write the optimised embeddings [steps, 77, C] to this .npy "
                    "inside the output folder"},
                   "FILE"),
          {"to", "--to", ValueKind::text_list,
           "An edited prompt (repeatable; absent: the source, for --reweight alone)"},
          {"edit_mode",
           "--mode",
           ValueKind::text,
           "auto (default: replace when an edit has as many words as the source, else refine), replace or refine",
           0,
           0,
           {"auto", "replace", "refine"}},
          {"reweight", "--reweight", ValueKind::text_list,
           "WORD=WEIGHT: scale the attention to a word of the edited prompts (repeatable; negative allowed)", 0, ','},
          {"blend", "--blend", ValueKind::text_list,
           "Local blend: words per prompt, source first, e.g. --blend cat,dog (several words: \"cat hat\")", 0, ','},
          with_default(OptionSpec{"blend_threshold",
                                  "--blend-threshold",
                                  ValueKind::number,
                                  "Local blend's mask threshold, 0-1",
                                  0,
                                  0,
                                  {},
                                  1},
                       defaults::edit::blend_threshold),
          with_default(
              OptionSpec{"cross_replace", "--cross-replace", ValueKind::text,
                         "Fraction of the steps that replace cross-attention, or per word: default=1.0,dog=0.4"},
              defaults::edit::cross_replace),
          with_default(OptionSpec{"self_replace",
                                  "--self-replace",
                                  ValueKind::number,
                                  "Fraction of the steps that replace coarse self-attention, 0-1",
                                  0,
                                  0,
                                  {},
                                  1},
                       defaults::edit::self_replace),
          {"self_replace_res", "--self-replace-res", ValueKind::integer,
           "Replace self-attention at the level this many tokens on the shorter side, and coarser (default: latent / "
           "4; 32 for SD 1.x at 512x512 as the null-text notebook)",
           1},
          {"negative", "-n,--negative", ValueKind::optional_text,
           "Negative prompt. Absent: zero embeddings on SDXL, the empty prompt on SD 1.x/2.x"},
          with_default(OptionSpec{"steps", "--steps", ValueKind::integer, "Denoising steps", 1}, defaults::edit::steps),
          with_default(OptionSpec{"cfg", "--cfg", ValueKind::number, "Guidance scale, 0-100", 0, 0, {}, kMaxGuidance},
                       defaults::edit::cfg),
          with_default(OptionSpec{"seed", "-s,--seed", ValueKind::seed,
                                  "Seed of the initial noise, shared by every prompt (-1: a random one)", -1},
                       0),
          with_default(OptionSpec{"sampler", "--sampler", ValueKind::text, "Sampler (A1111's and ComfyUI's names too)",
                                  0, 0, sampling::scheduler_names(), INT32_MAX, "", sampling::sampler_from_alias},
                       defaults::edit::sampler),
          {"width", "-W,--width", ValueKind::integer, "Image width in pixels (default: the model's size)", 1},
          {"height", "-H,--height", ValueKind::integer, "Image height in pixels (default: the model's size)", 1},
          with_default(
              OptionSpec{"source_pooled", "--source-pooled,!--no-source-pooled", ValueKind::flag,
                         "SDXL: the edits take the source's pooled embedding while cross-attention is replaced"},
              defaults::edit::source_pooled),
          shown_as({"save_attention", "--save-attention", ValueKind::text,
                    "Write each prompt's cross-attention maps per token into this folder inside the output folder"},
                   "DIR"),
          {"attention_res", "--attention-res", ValueKind::integer,
           "Side of the maps' grid, in tokens, on the image's shorter side (default: latent / 4)", 1},
          prompt_weights_option("Refuse A1111's prompt syntax, which prompt-to-prompt cannot align (use --reweight for "
                                "word weights); --no-prompt-weights reads brackets, colons and BREAK as text"),
          vae_tiling_option(),
      },
      "lower --width or --height, or give fewer --to prompts"};
  return schema;
}

const std::vector<const ModeSchema*>& all_mode_schemas() {
#define VSP_SCHEMA_ENTRY(name) &name##_schema(),
  static const std::vector<const ModeSchema*> schemas = {VSP_MODES(VSP_SCHEMA_ENTRY)};
#undef VSP_SCHEMA_ENTRY
  return schemas;
}

const ModeSchema& find_mode_schema(const std::string& name, const std::string& where) {
  std::vector<std::string> names;
  for (const auto* schema : all_mode_schemas()) {
    if (schema->name == name) return *schema;
    names.push_back(schema->name);
  }
  throw Error(where + "unknown mode \"" + name + "\"" + did_you_mean(name, names) + " (modes: " + join(names) + ")");
}

}  // namespace vsp::app
