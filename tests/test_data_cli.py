"""`xstilts data list` on the real data root: statuses, counts and speed."""

from __future__ import annotations

import json
import time

from typer.testing import CliRunner

from xstilts.cli_data import data_app


def test_list_json_counts_and_status(data_root):
    t = time.perf_counter()
    result = CliRunner().invoke(data_app, ["list", "--json", "-", "--data-root", str(data_root)])
    assert result.exit_code == 0, result.output
    assert time.perf_counter() - t < 20
    rows = {r["name"]: r for r in json.loads(result.output)["datasets"]}
    assert rows["tatoeba"]["counts"] == {"test": 88_877} and rows["tatoeba"]["languages"] == 112
    assert rows["xquad"]["counts"] == {"test": 14_280} and rows["xquad"]["status"] == "present"
    assert rows["ud"]["counts"]["train"] == 12_544
    assert rows["americasnli"]["counts"] == {"dev": 6_666, "test": 7_486}
    assert rows["sib200"]["counts"] == {"train": 47 * 701, "dev": 47 * 99, "test": 47 * 204}
    assert rows["hellaswag"]["status"] == "missing"


def test_list_table_and_partial(tmp_path, data_root):
    (tmp_path / "copa").mkdir()
    (tmp_path / "copa" / "val-en.jsonl").write_bytes((data_root / "copa" / "val-en.jsonl").read_bytes())
    result = CliRunner().invoke(data_app, ["list", "--data-root", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "partial (1/2)" in result.output and "val 100" in result.output


def test_fetch_unknown_name_suggests():
    result = CliRunner().invoke(data_app, ["fetch", "xqaud"])
    assert result.exit_code == 2 and "did you mean 'xquad'" in result.output
