#!/usr/bin/env bash
# VARIANT=cpu with PyPI's torch (a CUDA build: PyPI ships no other for Linux x86-64): removes the CUDA
# libraries that torch loads only when it computes on a GPU, never at `import torch` nor on the CPU
# (checked: /proc/self/maps after importing torch, torchaudio and running the services' demo flow).
# The ones torch links at import (cuBLAS/cuBLASLt, cuSPARSE(Lt), cuFFT, cuRAND, NCCL, NVRTC, cudart,
# the cuDNN loader...) stay: without them `import torch` fails. Saves ~1.7 GB of the ~6 GB.
# The image runs with CUDA_VISIBLE_DEVICES= so torch never tries the GPU these libraries would serve.
#   usage: cpu_slim.sh <site-packages>
set -euo pipefail
site=$1
cd "$site"
before=$(du -sm nvidia torch | awk '{s += $1} END {print s}')
rm -f \
  nvidia/cudnn/lib/libcudnn_adv.so.* \
  nvidia/cudnn/lib/libcudnn_cnn.so.* \
  nvidia/cudnn/lib/libcudnn_engines_precompiled.so.* \
  nvidia/cudnn/lib/libcudnn_engines_runtime_compiled.so.* \
  nvidia/cudnn/lib/libcudnn_graph.so.* \
  nvidia/cudnn/lib/libcudnn_heuristic.so.* \
  nvidia/cudnn/lib/libcudnn_ops.so.* \
  nvidia/cusolver/lib/libcusolver.so.* \
  nvidia/cusolver/lib/libcusolverMg.so.* \
  nvidia/cuda_nvrtc/lib/libnvrtc.alt.so.* \
  nvidia/cuda_nvrtc/lib/libnvrtc-builtins.alt.so.* \
  nvidia/cuda_cupti/lib/libnvperf_host.so \
  nvidia/cuda_cupti/lib/libnvperf_target.so \
  nvidia/cuda_cupti/lib/libcheckpoint.so \
  nvidia/nvshmem/lib/libnvshmem_device.* \
  nvidia/nvshmem/lib/nvshmem_transport_*.so.* \
  nvidia/cublas/lib/libnvblas.so.* \
  nvidia/cufft/lib/libcufftw.so.* \
  torch/lib/libtorch_cuda_linalg.so
# Headers are for compiling extensions, which the image never does.
rm -rf nvidia/*/include torch/include
after=$(du -sm nvidia torch | awk '{s += $1} END {print s}')
echo "cpu_slim: torch + nvidia ${before} MB -> ${after} MB"
# torch's own dependencies come in the next stage; the Dockerfile's import check (app stage) fails the
# build if torch no longer imports without these files.
