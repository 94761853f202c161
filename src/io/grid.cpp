// Pixel operations on whole images: grids of results, heatmaps and labels (OpenCV imgproc).
#include <algorithm>

#include <opencv2/imgproc.hpp>

#include "internal.hpp"
#include "vsp/error.hpp"

namespace vsp::io {
namespace {

cv::Mat view_of(const Image& image) {
  return cv::Mat(image.height, image.width, CV_8UC(image.channels), const_cast<uint8_t*>(image.pixels.data()));
}

}  // namespace

Image make_grid(const std::vector<Image>& images, int columns, int gap_px) {
  if (images.empty()) throw Error("make_grid: no images to tile");
  if (columns < 1 || gap_px < 0) throw Error("make_grid: need at least one column and a gap of zero or more pixels");
  const Image& first = images.front();
  for (const Image& image : images) {
    detail::check_layout(image, "make_grid");
    if (image.width != first.width || image.height != first.height || image.channels != first.channels)
      throw Error("make_grid: all images must share one size and channel count");
  }
  const int used_columns = std::min<int>(columns, static_cast<int>(images.size()));
  const int rows = (static_cast<int>(images.size()) + columns - 1) / columns;
  Image grid;
  grid.width = used_columns * first.width + (used_columns - 1) * gap_px;
  grid.height = rows * first.height + (rows - 1) * gap_px;
  grid.channels = first.channels;
  grid.pixels.assign(static_cast<size_t>(grid.width) * grid.height * grid.channels, 255);  // white gaps
  cv::Mat canvas = view_of(grid);
  for (size_t i = 0; i < images.size(); ++i) {
    const int column = static_cast<int>(i) % columns;
    const int row = static_cast<int>(i) / columns;
    const cv::Rect cell(column * (first.width + gap_px), row * (first.height + gap_px), first.width, first.height);
    view_of(images[i]).copyTo(canvas(cell));
  }
  return grid;
}

Image overlay_heatmap(const Image& image, const float* map, int map_width, int map_height) {
  detail::check_layout(image, "overlay_heatmap");
  if (image.channels != 3 || map_width < 1 || map_height < 1)
    throw Error("overlay_heatmap: needs an RGB image and a map");
  const cv::Mat values(map_height, map_width, CV_32F, const_cast<float*>(map));
  double low = 0, high = 0;
  cv::minMaxLoc(values, &low, &high);
  cv::Mat scaled, enlarged, colours;
  values.convertTo(scaled, CV_8U, high > low ? 255.0 / (high - low) : 0.0,
                   high > low ? -low * 255.0 / (high - low) : 0.0);
  cv::resize(scaled, enlarged, cv::Size(image.width, image.height), 0, 0, cv::INTER_LINEAR);
  cv::applyColorMap(enlarged, colours, cv::COLORMAP_JET);  // BGR
  cv::cvtColor(colours, colours, cv::COLOR_BGR2RGB);
  Image blended{image.width, image.height, 3, std::vector<uint8_t>(image.pixels.size())};
  cv::Mat target = view_of(blended);
  cv::addWeighted(view_of(image), 0.5, colours, 0.5, 0.0, target);
  return blended;
}

Image label_below(const Image& image, const std::string& label) {
  detail::check_layout(image, "label_below");
  // A white band a fifth of the height, the label centred in it, as prompt-to-prompt's grids.
  const int band = std::max(image.height / 5, 12);
  Image out{image.width, image.height + band, image.channels,
            std::vector<uint8_t>(static_cast<size_t>(image.width) * (image.height + band) * image.channels, 255)};
  cv::Mat canvas = view_of(out);
  view_of(image).copyTo(canvas(cv::Rect(0, 0, image.width, image.height)));
  const double scale = band / 40.0;
  const int thickness = std::max(1, band / 20);
  int baseline = 0;
  const auto size = cv::getTextSize(label, cv::FONT_HERSHEY_SIMPLEX, scale, thickness, &baseline);
  const cv::Point origin((image.width - size.width) / 2, image.height + (band + size.height) / 2);
  cv::putText(canvas, label, origin, cv::FONT_HERSHEY_SIMPLEX, scale, cv::Scalar::all(0), thickness, cv::LINE_AA);
  return out;
}

Image canny_edges(const Image& image, double low, double high) {
  detail::check_layout(image, "canny_edges");
  cv::Mat edges;
  cv::Canny(view_of(image), edges, low, high);
  Image out{image.width, image.height, 3, std::vector<uint8_t>(static_cast<size_t>(image.width) * image.height * 3)};
  cv::Mat target = view_of(out);
  cv::cvtColor(edges, target, cv::COLOR_GRAY2RGB);
  return out;
}

}  // namespace vsp::io
