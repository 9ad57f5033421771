"""Alignment probes: tasks scored on the encoder itself, without fine-tuning (role "probe").

Adding a built-in probe is adding an entry here. LAReQA's entry (families/retrieval.py) is
a probe and a fine-tuning target at once.
"""

from xstilts.data import catalog, languages
from xstilts.tasks.schema import Source, TaskDef

PROBE = ("probe",)
# SIB-200 languages with large Wikipedia/CommonCrawl presence; the rest are the low-resource probe.
FLORES_HIGH = ("arb_Arab", "deu_Latn", "eng_Latn", "fra_Latn", "hin_Deva", "ind_Latn", "jpn_Jpan",
               "rus_Cyrl", "spa_Latn", "tur_Latn", "vie_Latn", "zho_Hans")
FLORES_LOW = tuple(lang for lang in languages.SIB200_LANGS if lang not in FLORES_HIGH)

TASKS = (
    TaskDef(
        name="tatoeba", type="bitext", roles=PROBE, version="1", train=(), dev=None, pivot="eng",
        eval=tuple(Source("tatoeba", "test", lang) for lang in languages.TATOEBA_LANGS),
        metrics=("tatoeba_accuracy",), main_score="tatoeba_accuracy",
        lang_groups=(("default", languages.XTREME_R_TATOEBA), ("xtreme", languages.XTREME36)),
        origin="LASER v1 Tatoeba test sets (XTREME protocol)", licence="CC BY 2.0 FR",
        notes="each sentence retrieves its translation among all sentences of the other side; both directions"),
    TaskDef(
        name="flores", type="bitext", roles=PROBE, version="1", train=(), dev=None, pivot="eng_Latn",
        eval=tuple(Source("sib200", split, lang) for lang in languages.SIB200_LANGS
                   for split in catalog.get_dataset("sib200").splits),
        metrics=("tatoeba_accuracy",), main_score="tatoeba_accuracy",
        lang_groups=(("low", FLORES_LOW), ("high", FLORES_HIGH)),
        origin="FLORES-200 sentences via SIB-200, aligned by index_id", licence="CC BY-SA 4.0",
        notes="1,004 sentences per language (train, dev and test of SIB-200), each language against English"),
    TaskDef(
        name="bucc", type="bitext", roles=PROBE, version="1", train=(), dev=None, pivot="en",
        eval=(Source("bucc2018", "dev", "zh"),),
        metrics=("bucc_f1",), main_score="bucc_f1",
        origin="BUCC 2018 shared task, sample split (XTREME's dev)", licence="BUCC 2018 terms (research)",
        notes="ratio-margin mining over every sentence of both sides (k=4, XTREME's 'max' retrieval); the "
              "threshold is chosen on the gold pairs, as XTREME's bucc_optimize; F1"),
)
