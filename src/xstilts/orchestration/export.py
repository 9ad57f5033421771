"""Machine-readable output: `xstilts export` (a study's or a published record's rows as CSV and as
per-task JSON files laid out like MTEB's results), and what `run`, `plan`, `tasks` and `data list`
print with `--json FILE` ('-': standard output).

CSV: one line per result row. Its columns are the row's fields in the store's order (`key` first;
`intermediate` as a JSON list; an empty cell is null, an empty text is written `""`, as a prefix
of none is), then one `protocol.<name>` column per protocol key any row has,
each cell the value as JSON (empty: the row has no such key), so `json.loads` of every non-empty
cell rebuilds the protocol exactly.

Per-task JSON (MTEB: results/<model>/<revision>/<task>.json with scores per split and subset):
`<out>/<model>/<task>.json` holds the task's name, version, main score and the protocol keys
every one of its rows shares; under `scores`, per split, one entry per language, condition, seed
and setting (layer, direction, pooling, scorer, prefix, intermediate tasks, encoder hash, data
hash and the protocol keys that differ from the shared ones) with every metric measured there.
A model's revision is not a folder: each condition's encoder has weights of its own
(`model_hash` per entry).
"""

from __future__ import annotations

import csv
import json
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeGuard

from xstilts.store import ResultRow

ROW_FIELDS = ["key", *ResultRow.model_fields]  # the CSV's leading columns, in the store's order
# what makes one per-task JSON entry (with the protocol keys not shared by all the task's rows)
ENTRY_FIELDS = ("language", "condition", "seed", "layer", "direction", "pooling", "scorer", "prefix",
                "intermediate", "model_hash", "dataset", "data_hash")
STDOUT = "-"


def jsonable(obj: Any) -> Any:
    """Plain JSON values for pydantic models, dataclasses, paths, tuples and sets (str for the rest)."""
    import dataclasses

    if hasattr(obj, "model_dump"):
        return jsonable(obj.model_dump(mode="json"))
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return jsonable(dataclasses.asdict(obj))
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [jsonable(v) for v in obj]
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    return str(obj)


def emit(obj: Any, target: str | Path, stdout=None) -> None:
    """Write OBJ as JSON to the file TARGET, or when TARGET is '-' to STDOUT (default: sys.stdout)."""
    text = json.dumps(jsonable(obj), indent=1, ensure_ascii=False)
    if str(target) == STDOUT:
        stream = stdout or sys.stdout
        stream.write(text + "\n")
        stream.flush()
        return
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")


def to_stdout(target: str | Path | None) -> TypeGuard[str | Path]:
    return target is not None and str(target) == STDOUT


# --- rows: CSV and per-task JSON ----------------------------------------------------------------

def _row_dict(row: ResultRow) -> dict[str, Any]:
    return {"key": row.key(), **row.model_dump(mode="json")}


def protocol_keys(rows: Iterable[ResultRow]) -> list[str]:
    return sorted({k for r in rows for k in r.protocol})


def write_csv(rows: Sequence[ResultRow], path: Path) -> Path:
    """One line per row: its fields, then `protocol.<name>` columns (JSON cells; see the module)."""
    keys = protocol_keys(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*(c for c in ROW_FIELDS if c != "protocol"), *(f"protocol.{k}" for k in keys)])
        for row in rows:
            d = _row_dict(row)
            cells = []
            for c in ROW_FIELDS:
                if c == "protocol":
                    continue
                v = d[c]
                cells.append(json.dumps(v) if isinstance(v, list) or v == "" else "" if v is None else v)
            cells += [json.dumps(row.protocol[k], sort_keys=True) if k in row.protocol else "" for k in keys]
            writer.writerow(cells)
    return path


def model_folder(model: str) -> str:
    """MTEB's folder name for a model id ('/' -> '__'); a local directory keeps its path's parts."""
    name = model.strip("/").replace("/", "__")
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name) or "model"


def _main_metric(task: str) -> str | None:
    from xstilts.metrics import get_metric
    from xstilts.tasks.registry import known_tasks

    t = known_tasks().get(task)
    if t is None:
        return None
    try:
        return get_metric(t.main_score).main
    except (KeyError, AttributeError):
        return t.main_score


def task_result(task: str, rows: Sequence[ResultRow]) -> dict[str, Any]:
    """The per-task JSON of ROWS (all of one task and model)."""
    keys = protocol_keys(rows)
    shared = {k: rows[0].protocol[k] for k in keys
              if all(k in r.protocol and r.protocol[k] == rows[0].protocol[k] for r in rows)}
    main = _main_metric(task)
    entries: dict[str, dict[tuple, dict[str, Any]]] = defaultdict(dict)
    for r in rows:
        d = r.model_dump(mode="json")
        own = {k: v for k, v in r.protocol.items() if k not in shared}
        ident = tuple(json.dumps(d[f], sort_keys=True) for f in ENTRY_FIELDS) + (json.dumps(own, sort_keys=True),
                                                                                  d["task_version"])
        entry = entries[r.split].get(ident)
        if entry is None:
            entry = {"hf_subset": r.language, "languages": [r.language],
                     **{f: d[f] for f in ENTRY_FIELDS}, "task_version": r.task_version, "protocol": own,
                     "scores": {}, "main_score": None}
            entries[r.split][ident] = entry
        entry["scores"][r.metric] = r.value
        if r.metric == main:
            entry["main_score"] = r.value
    return {
        "task_name": task,
        "task_version": sorted({r.task_version for r in rows}),
        "model_name": rows[0].model,
        "main_score": main,
        "xstilts_version": sorted({r.package_version for r in rows}),
        "git_hash": sorted({r.git_hash for r in rows}),
        "protocol": shared,
        "scores": {split: list(by.values()) for split, by in sorted(entries.items())},
    }


def write_task_files(rows: Sequence[ResultRow], folder: Path) -> list[Path]:
    """`<folder>/<model>/<task>.json` for every model and task of ROWS."""
    groups: dict[tuple[str, str], list[ResultRow]] = defaultdict(list)
    for r in rows:
        groups[(r.model, r.task)].append(r)
    written = []
    for (model, task), group in sorted(groups.items()):
        path = folder / model_folder(model) / f"{task}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(task_result(task, group), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


def export_rows(rows: Sequence[ResultRow], out: Path, *, source: str) -> list[Path]:
    """rows.csv, the per-task JSON files and export.json (what was exported, from where) in OUT."""
    from xstilts.errors import XstiltsError
    from xstilts.provenance import package_version

    if not rows:
        raise XstiltsError(f"{source}: no result rows to export")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    csv_path = write_csv(rows, out / "rows.csv")
    task_files = write_task_files(rows, out)
    index = out / "export.json"
    index.write_text(json.dumps({
        "source": source, "rows": len(rows), "xstilts": package_version(),
        "csv": csv_path.name, "tasks": [str(p.relative_to(out)) for p in task_files],
    }, indent=1) + "\n", encoding="utf-8")
    return [csv_path, *task_files, index]


# --- --json of run, plan and tasks ---------------------------------------------------------------

def _node(node, status: str | None) -> dict[str, Any]:
    meta = {k: v for k, v in node.meta.items() if k != "hparams"}
    hp = node.meta.get("hparams")
    return {"key": node.key, "kind": node.kind, "label": node.label, "status": status or "pending",
            "deps": list(node.deps), "hparams": jsonable(hp) if hp is not None else None, "meta": jsonable(meta),
            "config": jsonable(node.config)}


def plan_record(plan, store, power: Sequence[str] = ()) -> dict[str, Any]:
    """`plan --json`: every node with its state in STORE, its estimated cost (calibrated as the
    printed plan is) and settings; totals; the power lines and the plan's warnings."""
    from xstilts.orchestration.plan_view import calibration

    status = {n.key: n.status for n in store.nodes()} if store is not None else {}
    cal = calibration(plan, store)
    nodes = []
    for n in plan.nodes.values():
        factor = cal.get(n.kind, (1.0,))[0]
        nodes.append({**_node(n, status.get(n.key)),
                      "minutes": None if n.cost.minutes is None else round(n.cost.minutes * factor, 2),
                      "tokens": n.cost.tokens, "encodings": n.cost.encodings})
    pending = [n for n in nodes if n["status"] != "done"]
    return {
        "study": plan.spec.name if plan.spec else None, "model": plan.spec.model if plan.spec else None,
        "store": getattr(store, "url", None), "nodes": nodes,
        "totals": {"nodes": len(nodes), "done": len(nodes) - len(pending), "to_run": len(pending),
                   "minutes_left": round(sum(n["minutes"] or 0.0 for n in pending), 2),
                   "unknown_minutes": sum(n["minutes"] is None for n in pending)},
        "calibration": {k: {"factor": f, "nodes": c, "from": w} for k, (f, c, w) in cal.items()},
        "power": list(power), "warnings": list(plan.warnings),
    }


def run_record(plan, summary, *, store_url: str | None, html: Path | None) -> dict[str, Any]:
    """`run --json`: what this run did to each node (done, skipped: already done, elsewhere: done by
    another runner, failed with its error's last line, blocked by a failed dependency)."""
    outcome: dict[str, tuple[str, str | None]] = {}
    for k in summary.done:
        outcome[k] = ("done", None)
    for k in summary.skipped:
        outcome[k] = ("skipped", None)
    for k in summary.elsewhere:
        outcome[k] = ("elsewhere", None)
    for k, failure in summary.failed.items():
        outcome[k] = ("failed", failure.line)
    for k in summary.blocked:
        outcome[k] = ("blocked", None)
    nodes = [{"key": k, "kind": n.kind, "label": n.label, "outcome": outcome.get(k, ("not run", None))[0],
              "error": outcome.get(k, (None, None))[1]} for k, n in plan.nodes.items()]
    counts = {what: sum(n["outcome"] == what for n in nodes)
              for what in ("done", "skipped", "elsewhere", "failed", "blocked", "not run")}
    return {"study": plan.spec.name, "model": plan.spec.model, "store": store_url,
            "html": str(html) if html else None, "ok": not summary.failed and not summary.blocked,
            "counts": counts, "nodes": nodes}


def task_record(t, *, builtin: bool) -> dict[str, Any]:
    """`tasks --json`: one catalog entry."""
    def source(s) -> str:
        return f"{s.dataset}/{s.split}"

    return {"name": t.name, "roles": list(t.roles), "type": t.type, "version": t.version,
            "trains_on": [source(s) for s in t.train], "train_first": [source(s) for s in t.train_first],
            "dev": source(t.dev) if t.dev is not None else None, "languages": list(t.languages),
            "metrics": list(t.metrics), "main_score": t.main_score, "labels": list(t.labels),
            "pivot": t.pivot, "translation_of": t.translation_of, "recipe": jsonable(t.recipe),
            "origin": t.origin, "licence": t.licence, "builtin": builtin}
