// A jobs file (vsp batch): the input is jobs.json.
#include "fuzz_support.hpp"
#include "vsp/config/batch.hpp"
#include "vsp/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = vsp::fuzz::write_input("jobs.json", data, size);
  try {
    const auto batch = vsp::app::load_batch_file(path, "/models/default");
    for (const auto& job : batch.jobs) (void)job.job.dump();  // what the image metadata will carry
  } catch (const vsp::Error&) {
  }
  return 0;
}
