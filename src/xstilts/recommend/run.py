"""`xstilts recommend`: load a finished study (or a published record), rank its conditions for
target tasks from signals that need no phase-3 training (`signals`), check the ranking against the
study's gains (`check`), print it and save it where `xstilts report` shows it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from xstilts.errors import XstiltsError
from xstilts.recommend.signals import record_times, recommend, store_times
from xstilts.report.learning import assess
from xstilts.report.recommendation import (Recommendation, cost_line, recommendation_grids, saved_path, signals_of,
                                           skipped_line, verdict)
from xstilts.store import ResultsStore
def _left_out(nodes: Sequence[dict], rows: Sequence, smoke: bool) -> tuple[dict[str, str], list[str]]:
    """What the report leaves out: node key -> why, for each run that did not learn and every node
    built on a phase-2 encoder that did not; and the runs themselves, said in words. Nothing in a
    smoke run, where nothing learns."""
    if smoke:
        return {}, []
    learning = assess(nodes, rows)
    return dict(learning.left_out), sorted({learning.left_out[r.node] for r in learning.records if not r.learned})


def run_recommend(spec_path: Path | None, tasks: Sequence[str], langs: Sequence[str] | None, *,
                  data_root: Path | None = None, store_url: str | None = None, smoke: bool = False,
                  model: str | None = None, work_dir: Path | None = None, json_out: Path | None = None,
                  record: Path | None = None, console=None) -> Recommendation:
    """Load a finished study, rank its conditions for TASKS, validate, print, and save as JSON in the
    study's folder (where `xstilts report` picks it up) and at JSON_OUT (not '-', standard output:
    the caller prints the returned result there).
    RECORD (a published study's folder) replaces the store: its rows give the signals they
    support, and the result is saved only at JSON_OUT (the record itself is left as published)."""
    from xstilts.console import make_console
    from xstilts.orchestration.export import emit, to_stdout
    from xstilts.orchestration.validate import resolved
    from xstilts.orchestration.record import load_record
    from xstilts.orchestration.publish import node_records, record_rows, record_spec
    from xstilts.orchestration.storage import study_dir, study_rows, study_store_url
    from xstilts.report.grid import to_rich

    console = console or make_console()
    spec_path = record_spec(spec_path, record)
    rec_ = load_record(record) if record is not None else None
    # a record was run already: its overlaps and model were checked then (nothing runs here)
    with resolved(spec_path, data_root=data_root, smoke=smoke, model=model, check_model=rec_ is None,
                  overlap=rec_ is None) as plan:
        spec = plan.study
        targets = {n.typed.task for n in plan.nodes.values() if n.kind == "finetune"}
        for task in tasks:
            if task not in targets:
                raise XstiltsError(f"{spec_path}: '{task}' is not a fine-tuned target of study '{spec.name}' "
                                   f"(its targets: {', '.join(sorted(targets))})")
        encoders: dict[str, str] | None  # each condition's phase-2 encoder; a record has none
        if rec_ is not None:
            rows, times, encoders = record_rows(rec_, plan), record_times(rec_), None
            left_out, runs = _left_out(rec_.nodes, rows, smoke)
        else:
            store = ResultsStore(study_store_url(spec, store_url, smoke), read_only=True)
            # a done node always records its outputs (only a running one has none)
            done = {n.key: n.outputs for n in store.nodes("done") if n.outputs is not None}
            rows, times = study_rows(plan, store)[0], store_times(plan, store)
            left_out, runs = _left_out(node_records(plan, store), rows, smoke)
            trained = [(node.meta["condition"], key) for key, node in plan.nodes.items()
                       if node.kind == "intermediate" and key in done]
            missing = [c.name for c in spec.conditions if c.kind != "none" and c.name not in dict(trained)]
            if missing:
                raise XstiltsError(f"{spec_path}: the phase-2 encoders of {missing} are not done yet: run "
                                   f"`xstilts run {spec_path}` first")
            encoders = {}
            for condition, key in trained:
                if key not in left_out:
                    encoders.setdefault(condition, done[key]["encoder"])
        if left_out:
            console.print(f"[yellow]left out, as in the report: {len(left_out)} nodes of {len(runs)} run(s) that did not "
                          f"learn ({'; '.join(runs)}) and the nodes built on them[/]", soft_wrap=True)
            rows = [r for r in rows if r.protocol.get("node") not in left_out]
        rec = recommend(plan, rows, tasks, langs, encoders=encoders, node_times=times,
                        data_root=data_root or spec.data_root, console=console)
        if rec.skipped:
            console.print(f"[yellow]from the record's rows alone: {', '.join(signals_of(rec))} measured; skipped "
                          f"{skipped_line(rec)}[/]", soft_wrap=True)
        for grid in recommendation_grids(rec):
            console.print(to_rich(grid))
        if rec.validation:
            console.print(f"[bold]Is this check informative?[/] {verdict(rec.ceiling)}")
        console.print(cost_line(rec))
        saved = []
        if rec_ is None:
            saved.append(saved_path(study_dir(spec, work_dir, smoke), tasks))
            emit(asdict(rec), saved[0])
        if json_out is not None and not to_stdout(json_out):  # '-': the caller prints it, after this output
            emit(asdict(rec), json_out)
            saved.append(Path(json_out))
        if saved:
            console.print(f"saved to {' and '.join(map(str, saved))}"
                          + (f"; `xstilts report {spec_path}` adds it to the HTML report" if rec_ is None else ""))
        elif rec_ is not None and not to_stdout(json_out):
            console.print("not saved (the record is left as published): --json FILE saves it")
        return rec
