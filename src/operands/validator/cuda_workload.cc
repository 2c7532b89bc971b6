#include "operands/validator/cuda_workload.h"

#include <dlfcn.h>

#include <cstdint>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"

#include "common/printable.h"

namespace gpuop::operands {
namespace {

// The CUDA driver API's types and the one error code told apart here (cuda.h, CUDA 12): results
// are an enum, devices ints, contexts opaque pointers, device memory 64-bit addresses.
using CUresult = int;
using CUdevice = int;
using CUcontext = struct CUctx_st*;
using CUdeviceptr = unsigned long long;  // NOLINT(google-runtime-int): cuda.h's type.
constexpr CUresult kCudaSuccess = 0;
constexpr CUresult kCudaErrorNoDevice = 100;

// The functions used, by the names libcuda exports (the _v2 ones are what cuda.h maps the plain
// names to since CUDA 4.0).
struct CudaApi {
  CUresult (*init)(unsigned int flags) = nullptr;
  CUresult (*device_get_count)(int* count) = nullptr;
  CUresult (*device_get)(CUdevice* device, int ordinal) = nullptr;
  CUresult (*ctx_create)(CUcontext* context, unsigned int flags, CUdevice device) = nullptr;
  CUresult (*mem_alloc)(CUdeviceptr* pointer, size_t bytes) = nullptr;
  CUresult (*memcpy_htod)(CUdeviceptr to, const void* from, size_t bytes) = nullptr;
  CUresult (*memcpy_dtoh)(void* to, CUdeviceptr from, size_t bytes) = nullptr;
  CUresult (*mem_free)(CUdeviceptr pointer) = nullptr;
  CUresult (*ctx_destroy)(CUcontext context) = nullptr;
  CUresult (*get_error_string)(CUresult error, const char** text) = nullptr;
};

class Library {
 public:
  explicit Library(void* handle) : handle_(handle) {}
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
  ~Library() {
    if (handle_ != nullptr) ::dlclose(handle_);
  }
  void* Get() const { return handle_; }

 private:
  void* handle_;
};

template <typename Function>
absl::Status Resolve(void* library, const char* name, const std::string& path, Function& into) {
  void* symbol = ::dlsym(library, name);
  if (symbol == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " has no ", name, " (a driver older than CUDA 4.0's API?)"));
  }
  into = reinterpret_cast<Function>(symbol);
  return absl::OkStatus();
}

absl::Status ResolveAll(void* library, const std::string& path, CudaApi& api) {
  for (absl::Status status : {Resolve(library, "cuInit", path, api.init),
                              Resolve(library, "cuDeviceGetCount", path, api.device_get_count),
                              Resolve(library, "cuDeviceGet", path, api.device_get),
                              Resolve(library, "cuCtxCreate_v2", path, api.ctx_create),
                              Resolve(library, "cuMemAlloc_v2", path, api.mem_alloc),
                              Resolve(library, "cuMemcpyHtoD_v2", path, api.memcpy_htod),
                              Resolve(library, "cuMemcpyDtoH_v2", path, api.memcpy_dtoh),
                              Resolve(library, "cuMemFree_v2", path, api.mem_free),
                              Resolve(library, "cuCtxDestroy_v2", path, api.ctx_destroy),
                              Resolve(library, "cuGetErrorString", path, api.get_error_string)}) {
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

// "cuMemAlloc_v2 on GPU 1: CUDA error 2 (out of memory)".
std::string Describe(const CudaApi& api, std::string_view call, CUresult result) {
  const char* text = nullptr;
  std::string words;
  if (api.get_error_string(result, &text) == kCudaSuccess && text != nullptr) {
    words = absl::StrCat(" (", common::Printable(text, 200), ")");
  }
  return absl::StrCat(absl::string_view(call.data(), call.size()), ": CUDA error ", result, words);
}

// Byte k of GPU `gpu`'s pattern: every byte value occurs, and no two neighbouring GPUs share a
// pattern, so a copy that lands on the wrong GPU or at the wrong offset shows.
uint8_t PatternByte(size_t k, int gpu) {
  return static_cast<uint8_t>(k * 131 + static_cast<size_t>(gpu) * 7 + 1);
}

absl::Status RoundTrip(const CudaApi& api, int gpu, size_t bytes) {
  const std::string on = absl::StrCat(" on GPU ", gpu);
  CUdevice device = 0;
  if (CUresult r = api.device_get(&device, gpu); r != kCudaSuccess) {
    return absl::InternalError(Describe(api, absl::StrCat("cuDeviceGet", on), r));
  }
  CUcontext context = nullptr;
  if (CUresult r = api.ctx_create(&context, 0, device); r != kCudaSuccess) {
    return absl::InternalError(Describe(api, absl::StrCat("cuCtxCreate_v2", on), r));
  }
  absl::Cleanup destroy = [&] { api.ctx_destroy(context); };
  CUdeviceptr memory = 0;
  if (CUresult r = api.mem_alloc(&memory, bytes); r != kCudaSuccess) {
    return absl::InternalError(Describe(api, absl::StrCat("cuMemAlloc_v2", on), r));
  }
  // Declared after `destroy`, so it runs first: the memory goes before its context.
  absl::Cleanup release = [&] { api.mem_free(memory); };
  std::vector<uint8_t> written(bytes);
  for (size_t k = 0; k < bytes; ++k) written[k] = PatternByte(k, gpu);
  if (CUresult r = api.memcpy_htod(memory, written.data(), bytes); r != kCudaSuccess) {
    return absl::InternalError(Describe(api, absl::StrCat("cuMemcpyHtoD_v2", on), r));
  }
  // Not the pattern of any GPU: a copy back that did nothing shows too.
  std::vector<uint8_t> read(bytes, 0);
  if (CUresult r = api.memcpy_dtoh(read.data(), memory, bytes); r != kCudaSuccess) {
    return absl::InternalError(Describe(api, absl::StrCat("cuMemcpyDtoH_v2", on), r));
  }
  for (size_t k = 0; k < bytes; ++k) {
    if (read[k] != written[k]) {
      return absl::DataLossError(absl::StrCat("GPU ", gpu, ": byte ", k, " of ", bytes,
                                              " read back as ", int{read[k]}, ", written as ",
                                              int{written[k]}));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<int> RunCudaWorkload(const CudaWorkloadOptions& options) {
  Library library(::dlopen(options.library.c_str(), RTLD_NOW | RTLD_LOCAL));
  if (library.Get() == nullptr) {
    const char* why = ::dlerror();  // NOLINT(concurrency-mt-unsafe): per thread in glibc.
    return absl::NotFoundError(absl::StrCat(
        "cannot load ", options.library, ": ", why != nullptr ? why : "unknown error",
        " (the NVIDIA runtime puts the driver's libcuda.so.1 into a container that runs under "
        "the nvidia RuntimeClass and asks for GPUs)"));
  }
  CudaApi api;
  if (absl::Status resolved = ResolveAll(library.Get(), options.library, api); !resolved.ok()) {
    return resolved;
  }
  if (CUresult r = api.init(0); r == kCudaErrorNoDevice) {
    return absl::FailedPreconditionError(
        absl::StrCat("no CUDA device: ", Describe(api, "cuInit", r)));
  } else if (r != kCudaSuccess) {
    return absl::InternalError(Describe(api, "cuInit", r));
  }
  int count = 0;
  if (CUresult r = api.device_get_count(&count); r != kCudaSuccess) {
    return absl::InternalError(Describe(api, "cuDeviceGetCount", r));
  }
  if (count <= 0) return absl::FailedPreconditionError("no CUDA device: cuDeviceGetCount says 0");
  for (int gpu = 0; gpu < count; ++gpu) {
    if (absl::Status passed = RoundTrip(api, gpu, options.bytes); !passed.ok()) return passed;
  }
  return count;
}

}  // namespace gpuop::operands
