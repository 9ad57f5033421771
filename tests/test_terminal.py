"""The terminal: --version, one width policy, alignment tables that fit, the study clock, the
final node folder printed, plan costs for every node kind and their calibration."""

import io
import os
from datetime import datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from xstilts.cli import app
from xstilts.console import FILE_WIDTH, make_console
from xstilts.orchestration.clock import StudyClock
from xstilts.orchestration.execute import _final_paths
from xstilts.orchestration.plan import Cost, Node, Plan, Throughput, _train_cost, scaled_throughput
from xstilts.orchestration.plan_view import calibration
from xstilts.provenance import package_version
from xstilts.report.alignment import per_language_table
from xstilts.store import ResultRow

from tests.tiny import hparams


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"xstilts {package_version()}"


def test_one_width_policy_for_files(monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    console = make_console(file=io.StringIO(), width=160)  # an asked-for width gives way to the policy
    assert console.width == FILE_WIDTH
    monkeypatch.setenv("COLUMNS", "80")
    assert console.width == 80  # read at print time: a redirect or $COLUMNS set later counts


def _rows(layers: int, langs=("deu", "fra", "jav", "swh")) -> list[ResultRow]:
    return [ResultRow(model="m", model_hash="h", seed=None, condition="none", task="tatoeba", task_version="1",
                      dataset="tatoeba", data_hash="d", language=lang, split="test", metric="accuracy", value=10.0 + layer + i, layer=layer,
                      direction=direction, protocol={})
            for layer in range(layers + 1) for i, lang in enumerate(langs) for direction in ("eng-xx", "xx-eng")]


def _render(renderable, width: int) -> str:
    out = io.StringIO()
    console = make_console(file=out, force_terminal=False)

    os.environ["COLUMNS"] = str(width)
    try:
        console.print(renderable)
    finally:
        del os.environ["COLUMNS"]
    return out.getvalue()


def test_all_layers_of_a_24_layer_model_read_at_100_columns():
    text = _render(per_language_table(_rows(24), "tatoeba: xlm-roberta-large", {"all": ["deu", "fra", "jav", "swh"]}),
                   100)
    assert max(map(len, text.splitlines())) <= 100 and "…" not in text
    words = " ".join(text.split())  # titles wrap to their table's width
    assert "mean per layer" in words and "per language at layer 24 (best mean)" in words
    assert "deu" in text and "34.0" in text  # deu (the first language) at layer 24: 10 + 24
    wide = _render(per_language_table(_rows(1), "tatoeba: me5-small", {"all": ["deu"]}), 100)
    assert "L1 xx→eng" in wide and "mean per layer" not in wide  # one layer: the grid fits


def test_study_clock_scales_the_estimate_by_what_finished_nodes_took():
    now = [0.0]
    nodes = [Node(f"k{i}", "finetune", f"n{i}", {}, (), Cost(minutes=1.0)) for i in range(3)]
    clock = StudyClock(nodes, now=lambda: now[0])
    assert clock.begin(nodes[0]) == "[node 1/3] elapsed 0:00:00, ETA ~0:03:00"
    now[0] = 120.0  # took twice its estimate
    clock.end(nodes[0], "done")
    assert clock.begin(nodes[1]) == "[node 2/3] elapsed 0:02:00, ETA ~0:04:00"


def test_runner_output_names_the_final_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "40")  # the console folds the path across lines, anywhere
    attempt, final = tmp_path / "finetune" / ".0123456789abcdef.attempt2", tmp_path / "finetune" / "0123456789abcdef"
    out = io.StringIO()
    import sys

    real, sys.stdout = sys.stdout, out
    try:
        with _final_paths(attempt, final):
            make_console().print(f"predictions in {attempt / 'predictions'}")
    finally:
        sys.stdout = real
    text = out.getvalue().replace("\n", "")  # a path longer than the console folds
    assert str(final / "predictions") in text and ".attempt" not in text


def test_epoch_lengths_get_a_cost_and_bigger_models_cost_more():
    hp = hparams("xnli", max_steps=None, epochs=2.0, batch_size=32, max_length=128)
    cost = _train_cost(hp, Throughput(), examples=3200)
    assert cost.minutes is not None and cost.tokens == 2 * 100 * 32 * 128
    assert _train_cost(hp, Throughput()).minutes is None  # no size known: no guess
    base, note = scaled_throughput("xlm-roberta-base")
    assert base.train_tokens_per_s < Throughput().train_tokens_per_s and "xlm-roberta-base" in note
    assert scaled_throughput("me5-small")[0] == Throughput()


def test_calibration_from_the_study_s_own_finished_nodes(tmp_path):
    node = Node("k1", "probe", "tatoeba on none", {}, (), Cost(minutes=2.0))
    plan = Plan({"k1": node, "k2": Node("k2", "probe", "x", {}, (), Cost(minutes=1.0))})
    start = datetime(2026, 1, 1)

    class Row:
        key, status, started_at, finished_at = "k1", "done", start, start + timedelta(minutes=6)

    class Store:
        def nodes(self):
            return [Row()]

    assert calibration(plan, Store(), timings=tmp_path / "none.jsonl") == {"probe": (3.0, 1, "this study")}
    assert calibration(plan, None, timings=tmp_path / "none.jsonl") == {}


def test_study_prints_the_node_count_line(tmp_path):
    from xstilts.orchestration.execute import LocalExecutor
    from xstilts.orchestration.runners import Runner
    from xstilts.store import ResultsStore

    runners = {"toy-clock": Runner(lambda node, deps, ctx: {"ok": 1})}
    nodes = {k: Node(k, "toy-clock", f"node {k}", {"i": k}, (), Cost(minutes=0.5)) for k in ("a", "b")}
    out = io.StringIO()
    store = ResultsStore(f"sqlite:///{tmp_path / 'r.sqlite'}")
    LocalExecutor(tmp_path / "work", console=make_console(file=out), runners=runners).run(Plan(nodes), store)
    lines = [line for line in out.getvalue().splitlines() if line.startswith("[node ")]
    assert [line.split("]")[0] for line in lines] == ["[node 1/2", "[node 2/2"]
    assert "ETA ~0:01:00" in lines[0]


def test_help_follows_the_width_policy():
    """--help in a pipe is as wide as every other output (was 80 columns, cutting option names)."""
    import subprocess
    import sys

    out = subprocess.run([str(Path(sys.executable).with_name("xstilts")), "align", "--help"], capture_output=True, text=True,
                         env={**os.environ, "COLUMNS": "120"}, timeout=120).stdout
    assert "--max-sentences,--flores-sentences" in out
    assert max(len(line) for line in out.splitlines()) == 120
