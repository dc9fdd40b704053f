"""Build the int8 HiFi-GAN for CPUs: export the generator to ONNX, then quantise weights and
activations to 8 bits (static, per-channel QDQ) calibrated on base-voice speech. Run once by
`timbre models fetch` after the float weights arrive; the result sits beside them in the store."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from services.synthesis.engine.vocoder import INT8_MODEL, load_generator

CALIBRATION_FRAMES = 200


def export_int8(folder: Path, calibration_mels: list[np.ndarray]) -> Path:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(
                [
                    {"mel": np.ascontiguousarray(m[:CALIBRATION_FRAMES].T[None], dtype=np.float32)}
                    for m in calibration_mels
                ]
            )

        def get_next(self):
            return next(self.items, None)

    net = load_generator(folder / "generator_universal.pth.tar")
    target = folder / INT8_MODEL
    with tempfile.TemporaryDirectory() as tmp:
        plain, prepared = Path(tmp, "plain.onnx"), Path(tmp, "prepared.onnx")
        example = torch.zeros(1, 80, 64)
        torch.onnx.export(
            net,
            (example,),
            str(plain),
            input_names=["mel"],
            output_names=["wav"],
            dynamic_axes={"mel": {2: "frames"}, "wav": {2: "samples"}},
            opset_version=17,
            dynamo=False,
        )
        quant_pre_process(str(plain), str(prepared))
        staging = Path(tmp, INT8_MODEL)
        quantize_static(
            str(prepared),
            str(staging),
            Reader(),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
        )
        shutil.move(staging, target)
    return target


def calibration_mels() -> list[np.ndarray]:
    """Base-voice speech (Piper joe, the base that most output passes through) as log-mel."""
    from kit.audio.codec import resample
    from kit.models import ModelStore
    from services.synthesis.engine.base_corpus import PASSAGES
    from services.synthesis.engine.mel import RATE, log_mel
    from services.synthesis.engine.piper import PiperVoice

    joe = PiperVoice(ModelStore().require("piper/joe"))
    return [log_mel(resample(joe.speak(text), joe.sample_rate, RATE)) for text in PASSAGES[:3]]
