"""How many steps move alignment (phase 2) and converge on English dev (phase 3)?

The budgets of experiments/lowres-vs-english-pilot.yaml (and the phase-3 budget of the powered
experiments/lowres-vs-english.yaml) come from this measurement on me5-small:
- phase 2: NusaX Buginese (and English) trained for several step counts through the study
  pipeline itself (one condition per count), each encoder probed on FLORES (every layer) and
  Tatoeba, so the curve is retrieval accuracy against intermediate steps;
- phase 3: XNLI and UD-POS fine-tuned once with English-dev model selection every EVAL_EVERY
  steps; the curve is dev score against steps, read from the run's log.jsonl.

    python benchmarks/learning_curve.py --data-root ../shared/data [--out benchmarks/results/learning_curve.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

PHASE2_STEPS = (25, 50, 100)
FINETUNE_STEPS, EVAL_EVERY = 150, 25
PHASE2 = {"batch_size": 16, "max_length": 64, "lr": 3.0e-5, "freeze_embeddings": True}
PHASE3 = {"batch_size": 16, "max_length": 64, "lr": 1.0e-4, "freeze_embeddings": True, "max_dev_examples": 300}
FLORES = ["ace_Latn", "ban_Latn", "min_Latn", "sun_Latn", "jav_Latn"]
TATOEBA = ["jav", "swh", "tel"]


def phase2_spec(model: str) -> str:
    conditions = ["  - {name: none, kind: none}",
                  "  - {name: eng-100, kind: english, tasks: ['nusax:eng'], train: {max_steps: 100}}"]
    conditions += [f"  - {{name: bug-{n}, kind: low-resource, tasks: ['nusax:bug'], train: {{max_steps: {n}}}}}"
                   for n in PHASE2_STEPS]
    return "\n".join([
        "name: learning-curve", f"model: {model}", "seeds: [1]", "conditions:", *conditions,
        f"intermediate: {json.dumps(PHASE2)}", "targets:",
        f"  - {{probe: flores, langs: {json.dumps(FLORES)}, layers: all, max_sentences: 150}}",
        f"  - {{probe: tatoeba, langs: {json.dumps(TATOEBA)}, layers: middle}}", ""])


def phase2(model: str, data_root: Path, work: Path) -> dict:
    from xstilts.orchestration.study import run_study
    from xstilts.store import ResultsStore

    spec = work / "learning-curve.yaml"
    spec.write_text(phase2_spec(model))
    store = f"sqlite:///{work / 'curve.sqlite'}"
    started = time.perf_counter()
    run_study(spec, data_root=data_root, store_url=store, work_dir=work / "study", html=work / "curve.html")
    curve: dict[str, dict[str, float]] = {}
    for r in ResultsStore(store).query():
        if r.metric != "accuracy":
            continue
        key = f"{r.task}/{'all-layers' if r.task == 'flores' else 'middle'}"
        curve.setdefault(r.condition, {}).setdefault(key, []).append(r.value)
    return {"seconds": round(time.perf_counter() - started),
            "mean_accuracy": {c: {k: round(sum(v) / len(v), 2) for k, v in d.items()} for c, d in curve.items()}}


def phase3(model: str, task: str, data_root: Path, work: Path) -> dict:
    from xstilts.recipes.finetune import run_finetune
    from xstilts.training.hparams import resolve
    from xstilts.orchestration.spec import Train
    from xstilts.tasks import get_task

    hp = resolve(get_task(task).recipe, Train(max_steps=FINETUNE_STEPS, eval_every=EVAL_EVERY,
                                              max_eval_examples=50, **PHASE3))
    started = time.perf_counter()
    run_finetune(model, task, hp, seed=1, out_dir=work / task, data_root=data_root,
                 store_url=f"sqlite:///{work / 'ft.sqlite'}", eval_langs=["en"], progress=False)
    log = [json.loads(line) for line in (work / task / "train" / "log.jsonl").read_text().splitlines()]
    return {"seconds": round(time.perf_counter() - started),
            "dev": {r["step"]: round(r["score"], 2) for r in log if "score" in r}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", type=Path, required=True)
    ap.add_argument("--model", default="me5-small")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/learning_curve.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        result = {"model": args.model, "phase2_steps": list(PHASE2_STEPS), "phase2_hparams": PHASE2,
                  "phase3_hparams": PHASE3, "phase2": phase2(args.model, args.data_root, work),
                  "phase3": {t: phase3(args.model, t, args.data_root, work) for t in ("xnli", "udpos")}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
