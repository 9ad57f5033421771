"""A spec that validates, runs: its model must load here and have the layers its probes read,
checked by `validate` and by `run` before any node; a hub id neither cached nor reachable fails
once, in about a second, with the hints that fix it."""

from __future__ import annotations

import time

import pytest
from typer.testing import CliRunner

from tests.test_study import SPEC
from xstilts.cli import app
from xstilts.errors import ModelLoadError
from xstilts.orchestration.validate import validate
from xstilts.orchestration.spec import SpecError
from xstilts.models.available import model_layers


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No Hugging Face cache and a hub that cannot be reached (a name no resolver knows)."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    monkeypatch.setenv("HF_ENDPOINT", "https://hub.invalid")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("XSTILTS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XSTILTS_CACHE", str(tmp_path / "cache"))


def _spec(tmp_path, model, layers="last"):
    path = tmp_path / "study.yaml"
    path.write_text(SPEC.format(model=model, task="udpos").replace("layers: last", f"layers: {layers}"))
    return path


def test_layers_come_from_each_kind_of_model(tiny_model_dir):
    from transformers import AutoConfig

    assert model_layers("me5-small") == 12  # from the shipped file's header, converting nothing
    assert model_layers(str(tiny_model_dir)) == AutoConfig.from_pretrained(tiny_model_dir).num_hidden_layers


def test_hub_id_offline_fails_once_and_fast(offline):
    started = time.monotonic()
    with pytest.raises(ModelLoadError) as e:
        model_layers("xlm-roberta-base")
    assert time.monotonic() - started < 5
    assert str(e.value).startswith("model 'xlm-roberta-base' is not in the Hugging Face cache and hub.invalid cannot "
                                   "be reached from this machine: ")
    assert "local model folder" in str(e.value) and "HF_HUB_OFFLINE=1" in str(e.value)


def test_hf_hub_offline_is_named(offline, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelLoadError, match="not in the Hugging Face cache and HF_HUB_OFFLINE is set"):
        model_layers("xlm-roberta-base")


def test_missing_local_folder_is_named(tmp_path):
    with pytest.raises(ModelLoadError, match="no such folder"):
        model_layers(str(tmp_path / "nope"))


def test_validate_refuses_a_model_that_cannot_load_at_its_line(offline, tmp_path, data_root):
    path = _spec(tmp_path, "xlm-roberta-base")
    with pytest.raises(SpecError) as e:
        validate(path, data_root=data_root)
    assert e.value.problems[0][:2] == (2, "model") and "cannot be reached" in e.value.problems[0][2]


def test_validate_refuses_layers_the_model_lacks(tiny_model_dir, tmp_path, data_root):
    from transformers import AutoConfig

    n = AutoConfig.from_pretrained(tiny_model_dir).num_hidden_layers
    path = _spec(tmp_path, tiny_model_dir, layers="[1, 99]")
    with pytest.raises(SpecError) as e:
        validate(path, data_root=data_root, overlap=False)
    assert e.value.problems == [(10, "targets.0.layers", f"layer 99 is outside 0..{n} (0 = embedding output) for "
                                                         f"{tiny_model_dir}, which has {n} layers")]
    validate(_spec(tmp_path, tiny_model_dir, layers=f"[1, {n}, -1]"), data_root=data_root, overlap=False)


def test_run_offline_fails_in_seconds_with_one_line_and_runs_nothing(offline, tmp_path, data_root):
    """What `xstilts run experiments/full.yaml` did without network: 30 nodes failed after minutes of retries."""
    path = _spec(tmp_path, "xlm-roberta-base")
    started = time.monotonic()
    result = CliRunner().invoke(app, ["run", str(path), "--data-root", str(data_root), "--store",
                                      f"sqlite:///{tmp_path / 'r.sqlite'}", "--work-dir", str(tmp_path / "work")])
    assert time.monotonic() - started < 15
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {path}:2: model: model 'xlm-roberta-base' is not in the Hugging Face cache")
    assert len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "r.sqlite").exists() and not (tmp_path / "work").exists()


def test_validate_command_warns_where_run_refuses(offline, tmp_path, data_root):
    """`xstilts validate` checks the spec: a hub model this machine cannot reach is a warning (the
    layers checked against its known config), not an error of the spec; `run` refuses it (above)."""
    path = _spec(tmp_path, "xlm-roberta-base", layers="[1, 30]")
    bad = CliRunner().invoke(app, ["validate", str(path), "--data-root", str(data_root)])
    assert bad.exit_code == 2 and "layer 30 is outside 0..12" in bad.output
    result = CliRunner().invoke(app, ["validate", str(_spec(tmp_path, "xlm-roberta-base")), "--data-root",
                                      str(data_root)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("warning: model 'xlm-roberta-base' is not in the Hugging Face cache")
    assert "`run` needs it. Probe layers checked against its known config (12 layers)" in " ".join(result.output.split())
