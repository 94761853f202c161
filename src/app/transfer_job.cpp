// The transfer mode: style injection (StyleID). A job writes <content>_stylized_<style>.png per
// (content, style) pair, and with "grid" grid.png.
#include <torch/torch.h>

#include <set>

#include "vsp/app/jobs.hpp"
#include "vsp/attention/selection.hpp"
#include "vsp/config/paths.hpp"
#include "vsp/error.hpp"
#include "vsp/models/manifest.hpp"
#include "vsp/pipeline/transfer.hpp"
#include "vsp/sampling/scheduler.hpp"

namespace vsp::app {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A file or a folder's pictures, each with its name (the file name without extension) and its
// path as the job gives it (for the metadata).
struct Picture {
  std::string name;
  std::string given;
  io::Image image;
};

std::vector<Picture> read_pictures(const json& job, const char* key, const PlanContext& context, int width,
                                   int height) {
  if (!job.contains(key)) throw UsageError(std::string("transfer needs --") + key + " FILE|DIR");
  const fs::path given = job[key].get<std::string>();
  const auto path = given.is_absolute() ? given : context.base_folder / given;
  std::vector<fs::path> files{path};
  if (is_folder(path)) files = io::list_images(path);
  std::vector<Picture> pictures;
  std::set<std::string> names;
  for (const auto& file : files) {
    const auto name = file.stem().string();
    if (!names.insert(name).second)
      throw Error("--" + std::string(key) + " folder " + path.string() + " has two pictures named " + name +
                  " (outputs are named after them); rename one");
    const auto relative = is_folder(path) ? given / file.filename() : given;
    // As the original's load_img: a centre crop (torchvision's rounding; to the output's aspect
    // ratio, where the original's output is square), then Pillow's Lanczos.
    pictures.push_back(
        {name, relative.generic_string(),
         io::crop_to_fill(io::read_image(file), width, height, io::Filter::lanczos, io::CropRounding::half_to_even)});
  }
  return pictures;
}

class TransferJob : public PlannedJob {
 public:
  pipeline::TransferRequest request;
  bool grid = false;

  JobResult run(const models::Model& model, const pipeline::ProgressFn& progress) const override {
    const auto made = pipeline::style_injection(model, request, progress);
    JobResult result{{}, made.latents};
    for (int64_t row = 0; row < made.images.size(0); ++row) result.images.push_back(to_image(made.images[row]));
    if (grid) {
      // The styles across the top, each content down the left followed by its results.
      const io::Image blank{request.width, request.height, 3,
                            std::vector<uint8_t>(static_cast<size_t>(request.width) * request.height * 3, 255)};
      std::vector<io::Image> cells{blank};
      for (const auto& style : request.styles) cells.push_back(style);
      for (size_t c = 0; c < request.contents.size(); ++c) {
        cells.push_back(request.contents[c]);
        for (size_t s = 0; s < request.styles.size(); ++s)
          cells.push_back(result.images[c * request.styles.size() + s]);
      }
      result.images.push_back(io::make_grid(cells, static_cast<int>(request.styles.size()) + 1, 4));
    }
    return result;
  }
};

}  // namespace

std::unique_ptr<PlannedJob> plan_transfer(const json& job, const PlanContext& context) {
  const auto& manifest = context.manifest;
  auto planned = std::make_unique<TransferJob>();
  planned->job = job;
  auto& r = planned->request;
  r.width = job.value("width", manifest.default_size);
  r.height = job.value("height", manifest.default_size);
  manifest.check_size(r.width, r.height);
  r.steps = job.value("steps", r.steps);
  manifest.check_steps(r.steps);
  r.start_step = job.value("start_step", r.start_step);
  r.gamma = job.value("gamma", r.gamma);
  r.tau = job.value("tau", r.tau);
  r.adain = job.value("adain", r.adain);
  r.injection = job.value("injection", r.injection);
  r.layers = job.value("layers", r.layers);
  r.cache_features = job.value("features", "recompute") == "cache";
  r.batch_size = context.deterministic ? 1 : job.value("batch_size", int64_t{0});
  r.vae_tiling = pipeline::parse_vae_tiling(job.value("vae_tiling", "auto"));
  planned->grid = job.value("grid", false);
  if (!(r.tau > 0)) throw UsageError("--tau must be above 0, got " + job["tau"].dump());
  if (r.start_step >= r.steps)
    throw UsageError("--start-step " + std::to_string(r.start_step) + " must be below --steps " +
                     std::to_string(r.steps));
  attention::select_self_layers(manifest.attention_layers, pipeline::transfer_layer_specs(r.layers));
  sampling::ScheduleConfig::from_json(manifest.scheduler);  // a bad scheduler config, before compute

  const auto contents = read_pictures(job, "content", context, r.width, r.height);
  const auto styles = read_pictures(job, "style", context, r.width, r.height);
  for (const auto& picture : contents) r.contents.push_back(picture.image);
  for (const auto& picture : styles) r.styles.push_back(picture.image);

  // The images do not depend on how features are kept: --resume keeps them across that choice.
  json shown_job = job;
  shown_job.erase("features");
  const json shared = {{"mode", "transfer"}, {"gamma", r.gamma},           {"tau", r.tau},
                       {"adain", r.adain},   {"injection", r.injection},   {"layers", r.layers},
                       {"steps", r.steps},   {"start_step", r.start_step}, {"width", r.width},
                       {"height", r.height}, {"sampler", "ddim"},          {"job", shown_job}};
  const fs::path folder = context.name;
  for (size_t c = 0; c < contents.size(); ++c) {
    for (size_t s = 0; s < styles.size(); ++s) {
      r.pairs.emplace_back(c, s);
      auto metadata = shared;
      metadata["content"] = contents[c].given;
      metadata["style"] = styles[s].given;
      planned->outputs.push_back({folder / (contents[c].name + "_stylized_" + styles[s].name + ".png"), metadata});
    }
  }
  pipeline::check_transfer_request(r);
  if (planned->grid) planned->outputs.push_back({folder / "grid.png", shared});
  const auto pictures = static_cast<int64_t>(contents.size() + styles.size());
  const auto pairs = static_cast<int64_t>(r.pairs.size());
  planned->rows = pairs + pictures;
  planned->image_pixels = static_cast<int64_t>(r.width) * r.height;
  planned->work = static_cast<int64_t>(r.steps - r.start_step) * pairs;
  return planned;
}

}  // namespace vsp::app
