"""ONNX Runtime sessions on the CPU, one thread by default (a worker gets one core; more threads
stall a small machine)."""

from __future__ import annotations

from pathlib import Path

import onnxruntime


def cpu_session(model: Path, threads: int = 1) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
