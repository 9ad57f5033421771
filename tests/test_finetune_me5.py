"""The bundled me5-small learns English UD-POS in 60 steps and transfers it zero-shot."""

from collections import Counter

import pytest

from xstilts.data import catalog
from tests.tiny import hparams
from xstilts.recipes.finetune import run_finetune

LANGS = ("en", "af", "ru")
N_EVAL = 100


@pytest.mark.slow
@pytest.mark.integration
def test_me5_udpos_transfers_above_majority_baseline(data_root, tmp_path):
    hp = hparams("udpos", max_steps=60, lr=1e-4, batch_size=16, max_length=64, max_train_examples=500,
                 freeze_embeddings=True, max_dev_examples=100, eval_every=60, max_eval_examples=N_EVAL)
    rows = run_finetune("me5-small", "udpos", hp, seed=0, out_dir=tmp_path / "run", data_root=data_root,
                        store_url=f"sqlite:///{tmp_path}/r.db", eval_langs=LANGS, progress=False)
    accuracy = {r.language: r.value for r in rows if r.metric == "accuracy"}
    assert set(accuracy) == set(LANGS)
    train_tags = Counter(t for ex in catalog.read("ud", "train", "en", data_root)[:500] for t in ex.tags)
    majority = train_tags.most_common(1)[0][0]
    for lang in ("af", "ru"):
        tags = [t for ex in catalog.read("ud", "test", lang, data_root)[:N_EVAL] for t in ex.tags]
        baseline = 100 * tags.count(majority) / len(tags)
        assert accuracy[lang] > baseline + 15, (lang, accuracy[lang], baseline)
