#pragma once

// Exact live C++ heap bytes of a benchmark process. Linking heap_counter.cc replaces the global
// operator new/delete with counting versions: glibc's mallinfo2 sees only the main arena,
// while informers allocate on their own threads, from other arenas.

#include <cstdint>

namespace gpuop::bench {

int64_t LiveHeapBytes();

}  // namespace gpuop::bench
