// NumPy .npy writer (format 1.0, little-endian float32, C order), for latents and debug tensors.
#include <cstring>

#include "internal.hpp"
#include "vsp/error.hpp"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "write_npy writes host floats as '<f4'");

namespace vsp::io {
namespace {

std::string shape_tuple(const std::vector<int64_t>& shape) {
  std::string tuple = "(";
  for (size_t i = 0; i < shape.size(); ++i) tuple += (i ? ", " : "") + std::to_string(shape[i]);
  return tuple + (shape.size() == 1 ? ",)" : ")");
}

// Magic, version 1.0, header length, then the dict padded with spaces and ended by '\n' so the
// data starts at a multiple of 64 bytes, as numpy itself writes it.
std::string npy_header(const std::vector<int64_t>& shape) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape_tuple(shape) + ", }";
  const size_t preamble = 10;
  const size_t unpadded = preamble + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  if (dict.size() > 0xFFFF) throw Error("write_npy: shape " + shape_tuple(shape) + " has too many dimensions");
  std::string header = "\x93NUMPY";
  header += '\x01';
  header += '\x00';
  header += static_cast<char>(dict.size() & 0xFF);
  header += static_cast<char>(dict.size() >> 8);
  return header + dict;
}

}  // namespace

void write_npy(const std::filesystem::path& path, const std::vector<int64_t>& shape, const float* data) {
  size_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0) throw Error("write_npy: shape " + shape_tuple(shape) + " has a negative dimension");
    count *= static_cast<size_t>(dim);
  }
  std::string bytes = npy_header(shape);
  const size_t header_size = bytes.size();
  bytes.resize(header_size + count * sizeof(float));
  if (count > 0) std::memcpy(bytes.data() + header_size, data, count * sizeof(float));
  detail::write_file_atomically(path, bytes);
}

}  // namespace vsp::io
