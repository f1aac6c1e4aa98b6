from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from service.encoding import EncodedBatch
from service.model_version import HeadThreshold, load_model_version
from service.predictor import HeadDecoder, Predictor, bucket_width, softmax
from tests.service_support import heads_of

TEXTS = [
    ("快递五天了还没到，客服也不回消息", False),
    ("客户：短信发不出去 客服：请换个手机试试 客户：那好吧", True),
    ("好", False),
    ("我要投诉！" * 40, False),
    ("客户：怎么回事 " * 60, True),
]


@pytest.fixture(scope="module")
def predictor(tiny_model_version: Path) -> Predictor:
    return Predictor(load_model_version(tiny_model_version), precision="int8", intra_op_threads=1)


def test_predictions_cover_every_head_and_label_of_the_version(
    predictor: Predictor, tiny_model_version: Path
) -> None:
    heads = heads_of(tiny_model_version)
    predictions = predictor.predict(TEXTS)
    assert len(predictions) == len(TEXTS)
    for prediction in predictions:
        assert list(prediction) == list(heads)
        for head, labels in heads.items():
            assert list(prediction[head].scores) == labels
            assert sum(prediction[head].scores.values()) == pytest.approx(1.0, abs=1e-9)
            assert prediction[head].score == prediction[head].scores[prediction[head].label]


def test_empty_input(predictor: Predictor) -> None:
    assert predictor.predict([]) == []


def test_bucketing_keeps_input_order_and_matches_one_by_one(tiny_model_version: Path) -> None:
    # fp32: int8 quantizes activations per batch, so only the float graph is batch-invariant.
    version = load_model_version(tiny_model_version)
    if not version.onnx_path("fp32").is_file():
        pytest.skip("version ships no fp32 graph")
    predictor = Predictor(version, precision="fp32", intra_op_threads=1, max_run_batch=2)
    together = predictor.predict(TEXTS)
    for item, batched in zip(TEXTS, together, strict=True):
        [alone] = predictor.predict([item])
        for head in alone:
            assert batched[head].label == alone[head].label
            for label, score in alone[head].scores.items():
                assert batched[head].scores[label] == pytest.approx(score, abs=1e-5)


def test_bucket_widths() -> None:
    assert [bucket_width(n) for n in (3, 16, 17, 100, 512, 700)] == [16, 16, 32, 128, 512, 700]


def test_softmax_rows_sum_to_one() -> None:
    probs = softmax(np.array([[1000.0, 0.0, -1000.0], [0.1, 0.2, 0.3]], dtype=np.float32))
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert probs[0, 0] == pytest.approx(1.0)


def test_threshold_picks_best_positive_when_their_sum_reaches_it() -> None:
    decoder = HeadDecoder(
        ["explicit", "implicit", "none"], HeadThreshold(positive=("explicit", "implicit"), threshold=0.4)
    )
    probs = np.array(
        [
            [0.25, 0.2, 0.55],  # positives sum 0.45 >= 0.4 -> best positive, although none is the argmax
            [0.1, 0.2, 0.7],  # 0.3 < 0.4 -> best non-positive
            [0.6, 0.3, 0.1],
        ]
    )
    assert [p.label for p in decoder.decode(probs)] == ["explicit", "none", "explicit"]
    assert decoder.decode(probs)[0].score == pytest.approx(0.25)


def test_without_threshold_plain_argmax() -> None:
    decoder = HeadDecoder(["yes", "no"], None)
    assert [p.label for p in decoder.decode(np.array([[0.3, 0.7], [0.9, 0.1]]))] == ["no", "yes"]


def test_missing_graph_is_reported(tiny_model_version: Path, tmp_path: Path) -> None:
    version = load_model_version(tiny_model_version)
    version.path = tmp_path  # same metadata, no graph files
    with pytest.raises(FileNotFoundError, match=r"model\.int8\.onnx"):
        Predictor(version)


def test_labels_json_disagreeing_with_the_graph_is_reported(tiny_model_version: Path) -> None:
    version = load_model_version(tiny_model_version)
    first = next(iter(version.heads))
    version.heads[first] = [*version.heads[first], "extra_label"]
    with pytest.raises(ValueError, match=r"labels\.json lists"):
        Predictor(version)


def test_short_texts_are_not_padded_to_long_ones(
    predictor: Predictor, monkeypatch: pytest.MonkeyPatch
) -> None:
    widths: list[tuple[int, int]] = []
    real_run = predictor._run

    def spy(batch: EncodedBatch) -> list[np.ndarray]:
        widths.append(batch.input_ids.shape)
        return real_run(batch)

    monkeypatch.setattr(predictor, "_run", spy)
    long_text = "快递还没到退款" * 30
    assert len(predictor.encoder.content_ids([long_text])[0]) > 16
    predictor.predict([("好", False), (long_text, False), ("快", False)])
    (long_rows, long_width), (short_rows, short_width) = sorted(widths)
    assert (long_rows, short_rows) == (1, 2)
    assert short_width <= 16 < long_width
