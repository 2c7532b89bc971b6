# Generates version.cc at build time (not configure time) from `git describe`, so the version
# follows every commit without re-running CMake. The file is rewritten only when the text
# changes, so an unchanged version relinks nothing.
set(GPUOP_VERSION_CC ${CMAKE_BINARY_DIR}/generated/version.cc)
add_custom_target(gpuop_version_gen
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${CMAKE_SOURCE_DIR} -DOUTPUT=${GPUOP_VERSION_CC}
          -P ${CMAKE_SOURCE_DIR}/cmake/WriteVersion.cmake
  BYPRODUCTS ${GPUOP_VERSION_CC}
  COMMENT "Reading the version from git describe")
