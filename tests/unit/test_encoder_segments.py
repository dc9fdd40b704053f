import numpy as np

from services.embedding.encoders.base import SpeakerEncoder


class LengthEncoder(SpeakerEncoder):
    """Records the segment lengths it is given; its 'embedding' is a fixed unit vector."""

    name, dim, segment_seconds = "lengths", 2, 1.0

    def __init__(self):
        self.seen = []

    def _embed_segment(self, samples):
        self.seen.append(len(samples))
        return np.array([1.0, 1.0])


def test_long_audio_is_cut_into_segments_and_a_short_tail_folded_in():
    encoder = LengthEncoder()
    vector = encoder.embed(np.zeros(16000 * 2 + 3000, np.float32))
    assert encoder.seen == [16000, 16000 + 3000]
    assert abs(np.linalg.norm(vector) - 1) < 1e-6


def test_a_long_tail_keeps_its_own_segment():
    encoder = LengthEncoder()
    encoder.embed(np.zeros(16000 + 9000, np.float32))
    assert encoder.seen == [16000, 9000]
