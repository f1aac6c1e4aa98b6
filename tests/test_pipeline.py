"""End to end on a tiny model: train a few steps → export → quantize → onnxruntime."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch
from safetensors.torch import load_file

from service import model_version as mv
from service.encoding import CaseEncoder
from training import train as training_loop
from training.config import TrainConfig
from training.corpus.dataset import load_corpus
from training.corpus.schema import load_label_schema
from training.export import export_version
from training.model import MultiHeadClassifier, load_base_encoder
from training.train import train

ATOL, RTOL = 1e-4, 1e-3
TEXTS = ["快递还没到，怎么回事", "谢谢客服", "客户：我要投诉 客服：抱歉 客户：找你们经理"]


def test_training_keeps_best_checkpoint(tiny_run: Path) -> None:
    state = json.loads((tiny_run / "trainer_state.json").read_text())
    assert state["best_step"] in {entry["step"] for entry in state["history"]}
    best = max(entry["live"]["mean_macro_f1"] for entry in state["history"])
    assert state["best_dev"]["mean_macro_f1"] == pytest.approx(best)
    assert state["best_weights"] == "live"
    for name in ("multihead.safetensors", "heads.json", "tokenizer.json", "train_config.json"):
        assert (tiny_run / "best" / name).is_file()


def test_version_folder_is_complete(tiny_model_version: Path) -> None:
    version = mv.load_model_version(tiny_model_version)
    assert list(version.heads) == list(mv.HEADS)
    assert version.manifest["data_sha256"] and version.manifest["libraries"]["onnxruntime"]
    assert version.manifest["training_config"]["max_steps"] == 6
    assert set(version.thresholds) <= {"dissatisfaction", "escalation_risk"}
    assert version.routing, "export copies the routing table into the version"
    assert (
        tiny_model_version.parent / mv.DEFAULT_POINTER_FILE
    ).read_text().strip() == tiny_model_version.name


def test_onnx_fp32_matches_torch(tiny_run: Path, tiny_model_version: Path) -> None:
    model = MultiHeadClassifier.load(tiny_run / "best")
    encoder = CaseEncoder.from_file(tiny_model_version / mv.TOKENIZER_FILE, 64)
    batch = encoder.encode(TEXTS, keep_end=[False, False, True])
    with torch.no_grad():
        expected = model(torch.from_numpy(batch.input_ids), torch.from_numpy(batch.attention_mask))
    session = ort.InferenceSession(str(tiny_model_version / mv.ONNX_FP32_FILE))
    got = session.run(None, {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask})
    assert [o.name for o in session.get_outputs()] == [mv.LOGITS_PREFIX + h for h in mv.HEADS]
    for ref, out in zip(expected, got, strict=True):
        np.testing.assert_allclose(out, ref.numpy(), atol=ATOL, rtol=RTOL)


def test_int8_graph_runs_with_dynamic_axes(tiny_model_version: Path) -> None:
    session = ort.InferenceSession(str(tiny_model_version / mv.ONNX_INT8_FILE))
    encoder = CaseEncoder.from_file(tiny_model_version / mv.TOKENIZER_FILE, 64)
    for texts in (TEXTS[:1], TEXTS):
        batch = encoder.encode(texts)
        outputs = session.run(None, {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask})
        assert all(o.shape[0] == len(texts) for o in outputs)
    metrics = json.loads((tiny_model_version / mv.METRICS_FILE).read_text())
    assert min(metrics["int8_vs_fp32_dev_argmax_agreement"].values()) >= 0.5
    assert (tiny_model_version / mv.ONNX_INT8_FILE).stat().st_size < (
        tiny_model_version / mv.ONNX_FP32_FILE
    ).stat().st_size


def test_versions_are_immutable(tiny_run: Path, tiny_model_version: Path) -> None:
    with pytest.raises(FileExistsError, match="immutable"):
        export_version(tiny_run / "best", tiny_model_version.parent, tiny_model_version.name)


def test_export_failing_its_int8_check_is_a_clean_error(
    tiny_run: Path, tiny_corpus_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from service.cli import main

    argv = ["export", "--checkpoint", str(tiny_run / "best"), "--version", "strict"]
    argv += ["--models-dir", str(tmp_path), "--data", str(tiny_corpus_dir), "--min-int8-agreement", "1.01"]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("kesu: error: int8 and fp32 agree on") and "nothing was written" in err
    assert not (tmp_path / "strict").exists() and list(tmp_path.iterdir()) == []


def test_export_of_a_missing_checkpoint_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from service.cli import main

    assert main(["export", "--checkpoint", str(tmp_path / "nope"), "--version", "x"]) == 1
    assert "is not a training checkpoint" in capsys.readouterr().err


def test_training_is_reproducible(tiny_run: Path, tmp_path: Path) -> None:
    config = TrainConfig.from_file(tiny_run / "best" / "train_config.json")
    again = TrainConfig.from_dict({**config.to_dict(), "output_dir": str(tmp_path / "again")})
    train(again)
    first = load_file(str(tiny_run / "best" / "multihead.safetensors"))
    second = load_file(str(tmp_path / "again" / "best" / "multihead.safetensors"))
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_case_missing_heads_adds_no_loss(tiny_corpus_dir: Path) -> None:
    from training.corpus.dataset import load_corpus
    from training.corpus.schema import load_label_schema
    from training.train import IGNORE_INDEX, label_ids

    heads = load_label_schema()
    corpus = load_corpus(tiny_corpus_dir, list(heads))
    ids = label_ids(corpus["train"], heads)
    partial = list(corpus["train"]["id"]).index("tiny-partial")
    assert ids["emotion"][partial] == IGNORE_INDEX and ids["category"][partial] != IGNORE_INDEX


@pytest.mark.parametrize(
    # The tiny model has 2 layers: layer.1 is the top, the embeddings sit two steps below it.
    ("decay", "expected"),
    [
        (0.5, {"layer.1": 1e-3, "layer.0": 5e-4, "embeddings": 2.5e-4}),
        (1.0, {"layer.1": 1e-3, "layer.0": 1e-3, "embeddings": 1e-3}),
    ],
)
def test_layer_lr_decay_lowers_the_rate_with_depth(
    tiny_run: Path, decay: float, expected: dict[str, float]
) -> None:
    model = MultiHeadClassifier.load(tiny_run / "best")
    assert model.encoder.config.num_hidden_layers == 2
    config = TrainConfig(
        base_model="x",
        learning_rate=1e-3,
        head_learning_rate=2e-3,
        layer_lr_decay=decay,
        freeze_embeddings=True,
    )
    optimizer = training_loop.build_optimizer(model, config)
    rate = {id(p): group["lr"] for group in optimizer.param_groups for p in group["params"]}
    grouped = sum(len(group["params"]) for group in optimizer.param_groups)
    # Every trainable parameter is in exactly one group; the frozen word embeddings in none.
    assert grouped == len(rate) == sum(p.requires_grad for p in model.parameters())
    for name, param in model.encoder.named_parameters():
        if name == "embeddings.word_embeddings.weight":
            assert id(param) not in rate
            continue
        # "encoder.layer.0.attention..." -> "layer.0"
        part = "embeddings" if name.startswith("embeddings.") else ".".join(name.split(".")[1:3])
        assert rate[id(param)] == pytest.approx(expected[part]), name
    assert all(rate[id(p)] == 2e-3 for p in model.heads.parameters())


def test_distillation_loss_vanishes_when_student_matches_teacher() -> None:
    from training.train import distillation_loss

    teacher = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    assert distillation_loss(torch.log(teacher), teacher, temperature=2.0).item() == pytest.approx(
        0.0, abs=1e-6
    )
    assert distillation_loss(torch.zeros(2, 3), teacher, temperature=2.0).item() > 0.01


def test_shallow_student_distils_from_a_version(
    tiny_run: Path, tiny_model_version: Path, tmp_path: Path
) -> None:
    config = TrainConfig.from_file(tiny_run / "best" / "train_config.json")
    student = TrainConfig.from_dict(
        {
            **config.to_dict(),
            "output_dir": str(tmp_path / "student"),
            "num_layers": 1,
            "teacher": str(tiny_model_version),
            "distill_weight": 0.7,
        }
    )
    state = train(student)
    assert state["best_step"] is not None
    model = MultiHeadClassifier.load(tmp_path / "student" / "best")
    assert model.encoder.config.num_hidden_layers == 1


def test_weight_average_competes_for_the_best_checkpoint(
    tiny_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = TrainConfig.from_file(tiny_run / "best" / "train_config.json").to_dict()
    plain = train(
        TrainConfig.from_dict({**config, "output_dir": str(tmp_path / "plain"), "eval_every_steps": 6})
    )

    # Scores are computed for the live weights, then the average; the average is made to win.
    real_dev_scores = training_loop.dev_scores
    calls: list[int] = []

    def average_wins(probs: dict[str, np.ndarray], labels: dict[str, np.ndarray]) -> dict[str, float]:
        calls.append(1)
        scores = real_dev_scores(probs, labels)
        return {**scores, "mean_macro_f1": 2.0} if len(calls) % 2 == 0 else scores

    monkeypatch.setattr(training_loop, "dev_scores", average_wins)
    real_save = training_loop.save_checkpoint
    saved_buffers: dict[str, torch.Tensor] = {}

    def save_and_keep_buffers(model: MultiHeadClassifier, *args: Any) -> None:
        saved_buffers.update({k: v.clone() for k, v in model.named_buffers()})
        real_save(model, *args)

    monkeypatch.setattr(training_loop, "save_checkpoint", save_and_keep_buffers)
    ema_config = {**config, "output_dir": str(tmp_path / "ema"), "ema_decay": 0.9, "eval_every_steps": 6}
    state = train(TrainConfig.from_dict(ema_config))
    last = state["history"][-1]
    # The average does not change the live weights' path.
    assert last["live"] == plain["history"][-1]["live"] and state["best_weights"] == "ema"

    # The averaged model keeps intact buffers, and its saved weights are the ones that were scored.
    positions = next(v for k, v in saved_buffers.items() if k.endswith("position_ids"))
    assert torch.equal(positions.flatten(), torch.arange(positions.numel()))
    saved = MultiHeadClassifier.load(tmp_path / "ema" / "best")
    heads = load_label_schema()
    dev = load_corpus(config["data_dir"], list(heads), splits=("dev",))["dev"]
    encoder = CaseEncoder.from_file(tmp_path / "ema" / "best" / "tokenizer.json", config["max_length"])
    labels = training_loop.label_ids(dev, heads)
    rescored = real_dev_scores(
        training_loop.predict(saved, training_loop.Batches(dev, encoder, labels), 64), labels
    )
    assert {h: v for h, v in rescored.items() if h != "mean_macro_f1"} == pytest.approx(
        {h: v for h, v in last["ema"].items() if h != "mean_macro_f1"}
    )
    base = load_base_encoder(config["base_model"]).state_dict()
    live = MultiHeadClassifier.load(tmp_path / "plain" / "best").encoder.state_dict()
    name = next(k for k in base if k.endswith("layer.0.attention.self.query.weight"))
    moved_live = (live[name] - base[name]).norm()
    moved_kept = (saved.encoder.state_dict()[name] - base[name]).norm()
    # The average trails the live weights: it has moved off the base, but less far.
    assert 0 < moved_kept < moved_live
