"""`xstilts report SPEC --publish DIR`: everything a reader needs to check or redo a finished study,
in one folder small enough to commit: its result rows, the spec as written and as resolved, every
node's effective settings, state and time, the environment, the HTML report and any saved
recommendations. `xstilts report --from DIR` reports it again (recommendations included),
`recommend --from DIR` ranks from its rows, `export --from DIR` writes them as CSV and JSON.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import yaml

from xstilts.orchestration.plan import Plan
from xstilts.provenance import code_hash, git_hash, package_version
from xstilts.store import ResultRow, ResultsStore
from xstilts.store.store import write_json

PACKAGES = ("torch", "transformers", "tokenizers", "accelerate", "safetensors", "datasets", "numpy", "scipy",
            "faiss-cpu", "seqeval", "sqlalchemy", "pydantic")


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(rows: list[ResultRow], nodes: list[dict], units: tuple[int, ...] | None = None) -> dict:
    """This machine and package set, the code and model versions the rows were produced with (the
    package hash each node recorded as it ran) and, for a part of a study, its units."""
    def installed(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    import torch

    return {
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "xstilts": package_version(), "git": git_hash(), "code": code_hash(),
        **({"part": {"seeds": list(units)}} if units else {}),
        "python": platform.python_version(), "platform": platform.platform(),
        "cpu": _cpu(), "cores": os.cpu_count(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "packages": {p: v for p in PACKAGES if (v := installed(p)) is not None},
        "rows_from": {"git": sorted({r.git_hash for r in rows}),
                      "xstilts": sorted({r.package_version for r in rows}),
                      "model_hash": sorted({r.model_hash for r in rows}),
                      "code": sorted({c for n in nodes if (c := (n.get("outputs") or {}).get("code"))})},
    }


def node_records(plan: Plan, store: ResultsStore) -> list[dict]:
    """Every node of the plan with its settings, state, seconds and outputs (nodes.json's entries)."""
    stored = {n.key: n for n in store.nodes()}
    out = []
    for key, node in plan.nodes.items():
        s = stored.get(key)
        seconds = ((s.finished_at - s.started_at).total_seconds()
                   if s is not None and s.finished_at and s.started_at else None)
        out.append({"key": key, "kind": node.kind, "label": node.label, "meta": node.meta, "config": node.config,
                    "deps": list(node.deps), "status": s.status if s else "pending",
                    "attempt": s.attempt if s else 0, "seconds": seconds,
                    "outputs": {k: v for k, v in (s.outputs or {}).items() if k != "rows"} if s else None})
    return out


def publish(plan: Plan, store: ResultsStore, rows: list[ResultRow], html: Path, folder: Path, out: Path) -> list[Path]:
    """Write the study's published record to OUT; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    spec = plan.study
    nodes = node_records(plan, store)
    files = {
        "spec.effective.yaml": yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False, allow_unicode=True),
        "nodes.json": json.dumps(nodes, indent=1, default=str),
        "environment.json": json.dumps(environment(rows, nodes, plan.units), indent=1),
    }
    write_json(out / "rows.json.gz", [{"key": r.key(), **r.model_dump(mode="json")} for r in rows])
    written = [out / "rows.json.gz"]
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
        written.append(out / name)
    copies = [(spec._path, out / "spec.yaml"), (html, out / "report.html"),
              *((p, out / p.name) for p in sorted(Path(folder).glob("recommend-*.json")))]
    for src, dst in copies:
        if src is not None and Path(src).is_file():
            shutil.copyfile(src, dst)
            written.append(dst)
    return written


def record_spec(spec: Path | None, record: Path | None) -> Path:
    """The spec a command reads: SPEC as given, else the published record's own spec.yaml (its
    first part's, for a record published in parts)."""
    from xstilts.errors import XstiltsError
    from xstilts.orchestration.record import spec_file

    if spec is not None:
        return spec
    if record is None:
        raise XstiltsError("give a study spec (SPEC) or a published record (--from DIR)")
    if not (path := spec_file(record)).is_file():
        raise XstiltsError(f"{record}: not a published study record (no spec.yaml, no parts/); "
                           "`xstilts report SPEC --publish DIR` writes one")
    return path


def record_rows(record, plan: Plan) -> list[ResultRow]:
    """RECORD's rows (orchestration.record.Record) for PLAN: all of them when PLAN is the record's own
    spec (a node's key changes when its kind's code version is bumped, so a record published by
    older code would otherwise lose those nodes' rows), else those of PLAN's nodes."""
    own = record.spec.model_dump(mode="json") == plan.study.model_dump(mode="json")
    return [r for r in record.rows if own or r.protocol.get("node") in plan.nodes]

