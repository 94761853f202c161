// write_npy: the NumPy 1.0 header byte for byte, the float data, and numpy itself loading it.
#include <cstdlib>
#include <cstring>

#include "io_test_support.hpp"

namespace vsp::io::testing {
namespace {

using Npy = ScratchFolder;

std::string header_of(const std::string& bytes) {
  const size_t length = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9]) << 8;
  return bytes.substr(10, length);
}

TEST_F(Npy, HeaderAndData) {
  const std::vector<float> values = {0.5f, -1.25f, 3.0f, 1e-8f, -0.0f, 65504.0f};
  write_npy(folder / "a.npy", {1, 2, 3}, values.data());
  const std::string bytes = read_bytes(folder / "a.npy");
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  const std::string header = header_of(bytes);
  EXPECT_EQ((10 + header.size()) % 64, 0u);
  EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }", 0), 0u) << header;
  EXPECT_EQ(header.back(), '\n');
  ASSERT_EQ(bytes.size(), 10 + header.size() + values.size() * 4);
  std::vector<float> data(values.size());
  std::memcpy(data.data(), bytes.data() + 10 + header.size(), values.size() * 4);
  EXPECT_EQ(std::memcmp(data.data(), values.data(), values.size() * 4), 0);
  EXPECT_EQ(file_names(), std::vector<std::string>{"a.npy"});
}

TEST_F(Npy, OneAndZeroDimensionalShapes) {
  const float values[] = {1, 2, 3, 4};
  write_npy(folder / "vector.npy", {4}, values);
  EXPECT_NE(header_of(read_bytes(folder / "vector.npy")).find("'shape': (4,), }"), std::string::npos);
  write_npy(folder / "scalar.npy", {}, values);
  const std::string scalar = read_bytes(folder / "scalar.npy");
  EXPECT_NE(header_of(scalar).find("'shape': (), }"), std::string::npos);
  EXPECT_EQ(scalar.size(), 10 + header_of(scalar).size() + 4);
}

TEST_F(Npy, NegativeDimensionIsAnError) {
  const float value = 0;
  expect_error([&] { write_npy(folder / "bad.npy", {2, -1}, &value); }, {"(2, -1)", "negative"});
}

// numpy is the reader that matters; the project venv has it (scripts/setup.sh).
TEST_F(Npy, NumpyLoadsIt) {
  const fs::path python = fs::path(VSP_SOURCE_DIR) / ".venv" / "bin" / "python";
  if (!fs::exists(python)) GTEST_SKIP() << "no " << python << "; run scripts/setup.sh to check against numpy";
  std::vector<float> values(2 * 3 * 4);
  for (size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i) * 0.5f - 3.0f;
  write_npy(folder / "latents.npy", {2, 3, 4}, values.data());
  const std::string check = "import numpy; a = numpy.load('" + (folder / "latents.npy").string() +
                            "'); assert a.dtype == numpy.float32 and a.shape == (2, 3, 4), a; "
                            "assert (a == (numpy.arange(24, dtype=numpy.float32) * 0.5 - 3).reshape(2, 3, 4)).all(), a";
  const std::string command = "'" + python.string() + "' -c \"" + check + "\"";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
}

}  // namespace
}  // namespace vsp::io::testing
