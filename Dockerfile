# gpuop's container image for those who build with Docker (or Buildah, Kaniko): the same file
# tree scripts/build-image packs without a daemon. Build stage: Debian 12 with the C++
# dependencies (the same packages scripts/setup installs), gpuop built, its runtime tree
# assembled; final stage: that tree alone, no shell, no package manager.
#   docker build -t <registry>/gpuop:<version> .
FROM debian:12 AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config git ca-certificates \
      libabsl-dev nlohmann-json3-dev libtomlplusplus-dev libcurl4-openssl-dev libssl-dev \
      libyaml-cpp-dev libsimdjson-dev prometheus-cpp-dev libcivetweb-dev libsystemd-dev \
      libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc \
      python3 python3-pip pci.ids jq binutils \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake --preset default -DGPUOP_BUILD_TESTS=OFF -DGPUOP_BUILD_BENCH=OFF >/dev/null \
    && cmake --build --preset default --target gpuop gpuop-operator \
    && scripts/build-image --binary build/src/cli/gpuop --rootfs /rootfs

FROM scratch
COPY --from=build /rootfs /
ARG VERSION=dev
LABEL org.opencontainers.image.title="gpuop" \
      org.opencontainers.image.description="Kubernetes GPU operator for sandboxed GPU workloads" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/gpuop/gpuop" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PATH=/usr/bin \
    GPU_ADMIN_TOOLS="python3 /opt/gpu-admin-tools/nvidia_gpu_tools.py" \
    GPUOP_PCI_IDS=/usr/share/misc/pci.ids
# The node agents run as root (privileged DaemonSets); the chart runs the operator as 65532.
USER 0:0
ENTRYPOINT ["/usr/bin/gpuop"]
CMD ["--help"]
