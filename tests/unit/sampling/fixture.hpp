#pragma once
// Reads the reference runs written by tests/python/fixtures_sampling.py (index.json + raw
// little-endian float32 tensors) and compares within a relative tolerance.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vsp::sampling::testing {

inline std::filesystem::path fixture_dir() { return std::filesystem::path(VSP_TEST_DATA) / "sampling"; }

inline const char* regenerate_hint() {
  return "; generate it with: .venv/bin/python tests/python/fixtures_sampling.py " VSP_TEST_DATA;
}

// Loads a JSON fixture; fails the test (and returns null) when it is missing.
inline nlohmann::json load_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    ADD_FAILURE() << "missing fixture " << path << regenerate_hint();
    return nullptr;
  }
  return nlohmann::json::parse(in);
}

inline at::Tensor load_tensor(const std::filesystem::path& folder, const nlohmann::json& entry) {
  const auto shape = entry.at("shape").get<std::vector<int64_t>>();
  auto tensor = torch::empty(shape, torch::kFloat);
  std::ifstream in(folder / entry.at("file").get<std::string>(), std::ios::binary);
  in.read(reinterpret_cast<char*>(tensor.data_ptr<float>()), tensor.numel() * sizeof(float));
  EXPECT_TRUE(in) << "short fixture file " << entry.at("file") << regenerate_hint();
  return tensor;
}

// max |actual - expected| / max |expected|.
inline double relative_error(const at::Tensor& actual, const at::Tensor& expected) {
  const double scale = std::max(expected.abs().max().item<double>(), 1e-30);
  return (actual.to(torch::kFloat) - expected).abs().max().item<double>() / scale;
}

inline double relative_error(const std::vector<double>& actual, const std::vector<double>& expected) {
  if (actual.size() != expected.size()) return INFINITY;
  if (actual.empty()) return 0.0;
  return relative_error(torch::tensor(actual, torch::kDouble), torch::tensor(expected, torch::kDouble));
}

constexpr double kTolerance = 1e-6;

}  // namespace vsp::sampling::testing
