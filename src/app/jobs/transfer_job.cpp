// The transfer mode: style injection (StyleID). A job writes <content>_stylized_<style>.png per
// (content, style) pair, and with "grid" grid.png.
#include <torch/torch.h>

#include <set>

#include "vsp/app/job_result.hpp"
#include "vsp/app/jobs.hpp"
#include "vsp/config/manifest.hpp"
#include "vsp/config/paths.hpp"
#include "vsp/config/selection.hpp"
#include "vsp/error.hpp"
#include "vsp/pipeline/transfer.hpp"
#include "vsp/sampling/scheduler.hpp"

namespace vsp::app {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// A file or a folder's pictures, each with its name (the file name without extension) and its
// path as the job gives it (for the metadata). Listed only: the pipeline reads them when it runs.
struct Picture {
  std::string name;
  std::string given;
  fs::path file;
};

std::vector<Picture> list_pictures(const json& job, const char* key, const PlanContext& context) {
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
    io::check_image_file(file);
    pictures.push_back({name, relative.generic_string(), file});
  }
  return pictures;
}

class TransferJob : public PlannedJob {
 public:
  pipeline::TransferPlan plan;
  bool grid = false;

  JobResult run(const models::Model& model, const pipeline::ProgressFn& progress) const override {
    const auto& request = plan.request;
    const auto made = pipeline::style_injection(model, plan, progress);
    JobResult result{{}, made.latents};
    for (int64_t row = 0; row < made.images.size(0); ++row) result.images.push_back(to_image(made.images[row]));
    if (grid) {
      // The styles across the top, each content down the left followed by its results.
      const io::Image blank{request.width, request.height, 3,
                            std::vector<uint8_t>(static_cast<size_t>(request.width) * request.height * 3, 255)};
      std::vector<io::Image> cells{blank};
      const size_t contents = request.contents.size();
      cells.insert(cells.end(), made.pictures.begin() + static_cast<std::ptrdiff_t>(contents), made.pictures.end());
      for (size_t c = 0; c < contents; ++c) {
        cells.push_back(made.pictures[c]);
        for (size_t s = 0; s < request.styles.size(); ++s)
          cells.push_back(result.images[c * request.styles.size() + s]);
      }
      result.images.push_back(io::make_grid(cells, static_cast<int>(request.styles.size()) + 1, 4));
    }
    return result;
  }
};

// The job's request: its knobs as given (prepare_transfer checks them) and every (content,
// style) pair of the listed pictures.
pipeline::TransferRequest read_request(const json& job, const PlanContext& context,
                                       const std::vector<Picture>& contents, const std::vector<Picture>& styles) {
  pipeline::TransferRequest r;
  r.width = job.value("width", context.manifest.default_size);
  r.height = job.value("height", context.manifest.default_size);
  r.steps = job.value("steps", r.steps);
  r.start_step = job.value("start_step", r.start_step);
  r.gamma = job.value("gamma", r.gamma);
  r.tau = job.value("tau", r.tau);
  r.adain = job.value("adain", r.adain);
  r.injection = job.value("injection", r.injection);
  r.layers = job.value("layers", r.layers);
  r.cache_features = job.value("features", "recompute") == "cache";
  r.batch_size = context.deterministic ? 1 : job.value("batch_size", int64_t{0});
  r.vae_tiling = pipeline::parse_vae_tiling(job.value("vae_tiling", "auto"));
  for (const auto& picture : contents) r.contents.push_back(picture.file);
  for (const auto& picture : styles) r.styles.push_back(picture.file);
  for (size_t c = 0; c < contents.size(); ++c)
    for (size_t s = 0; s < styles.size(); ++s) r.pairs.emplace_back(c, s);
  return r;
}

}  // namespace

std::unique_ptr<PlannedJob> plan_transfer(const json& job, const PlanContext& context) {
  auto planned = std::make_unique<TransferJob>();
  planned->job = job;
  planned->grid = job.value("grid", false);
  const auto contents = list_pictures(job, "content", context);
  const auto styles = list_pictures(job, "style", context);
  planned->plan = pipeline::prepare_transfer(context.manifest, read_request(job, context, contents, styles));
  const auto& r = planned->plan.request;

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
      auto metadata = shared;
      metadata["content"] = contents[c].given;
      metadata["style"] = styles[s].given;
      planned->outputs.push_back({folder / (contents[c].name + "_stylized_" + styles[s].name + ".png"), metadata});
    }
  }
  if (planned->grid) planned->outputs.push_back({folder / "grid.png", shared});
  const auto pictures = static_cast<int64_t>(contents.size() + styles.size());
  const auto pairs = static_cast<int64_t>(r.pairs.size());
  planned->rows = pairs + pictures;
  planned->image_pixels = static_cast<int64_t>(r.width) * r.height;
  planned->work = static_cast<int64_t>(r.steps - r.start_step) * pairs;
  return planned;
}

}  // namespace vsp::app
