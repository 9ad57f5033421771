"""Language codes: every dataset's file-name codes as FLORES-style tags (swh_Latn), the Tatoeba
lists XTREME and XTREME-R evaluate, and which languages each dataset has; one table shared by the
dataset entries, the task catalog and the reports."""

from __future__ import annotations

import re

from xstilts.metrics.xtreme_r import XTREME_R_LANGUAGES

TAG_RE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")

_TWO_LETTER = dict(
    af="afr_Latn", am="amh_Ethi", ar="arb_Arab", az="azj_Latn", bg="bul_Cyrl", bn="ben_Beng", br="bre_Latn",
    cy="cym_Latn", de="deu_Latn", el="ell_Grek", en="eng_Latn", es="spa_Latn", et="est_Latn", eu="eus_Latn",
    fa="pes_Arab", fi="fin_Latn", fo="fao_Latn", fr="fra_Latn", gn="grn_Latn", gu="guj_Gujr", he="heb_Hebr",
    hi="hin_Deva", ht="hat_Latn", hu="hun_Latn", id="ind_Latn", it="ita_Latn", ja="jpn_Jpan", jv="jav_Latn",
    ka="kat_Geor", kk="kaz_Cyrl", ko="kor_Hang", lt="lit_Latn", ml="mal_Mlym", mr="mar_Deva", ms="zsm_Latn",
    my="mya_Mymr", nl="nld_Latn", pa="pan_Guru", pl="pol_Latn", pt="por_Latn", qu="que_Latn", ro="ron_Latn",
    ru="rus_Cyrl", sw="swh_Latn", ta="tam_Taml", te="tel_Telu", th="tha_Thai", tl="tgl_Latn", tr="tur_Latn",
    uk="ukr_Cyrl", ur="urd_Arab", vi="vie_Latn", wo="wol_Latn", yo="yor_Latn", zh="zho_Hans",
)
_NUSAX = dict(acehnese="ace_Latn", balinese="ban_Latn", banjarese="bjn_Latn", buginese="bug_Latn",
              english="eng_Latn", indonesian="ind_Latn", javanese="jav_Latn", madurese="mad_Latn",
              minangkabau="min_Latn", ngaju="nij_Latn", sundanese="sun_Latn", toba_batak="bbc_Latn")
# Tatoeba (LASER v1) uses ISO 639-3 codes; the script is Latin unless listed here.
TATOEBA_LANGS = tuple("""
afr amh ang ara arq arz ast awa aze bel ben ber bos bre bul cat cbk ceb ces cha cmn cor csb cym dan deu dsb
dtp ell epo est eus fao fin fra fry gla gle glg gsw heb hin hrv hsb hun hye ido ile ina ind isl ita jav jpn
kab kat kaz khm kor kur kzj lat lfn lit lvs mal mar max mhr mkd mon nds nld nno nob nov oci orv pam pes pms
pol por ron rus slk slv spa sqi srp swe swg swh tam tat tel tgl tha tuk tur tzl uig ukr urd uzb vie war wuu
xho yid yue zsm""".split())
_TATOEBA_SCRIPTS = dict(
    amh="Ethi", ara="Arab", arq="Arab", arz="Arab", awa="Deva", bel="Cyrl", ben="Beng", bul="Cyrl", cmn="Hans",
    ell="Grek", heb="Hebr", hin="Deva", hye="Armn", jpn="Jpan", kat="Geor", kaz="Cyrl", khm="Khmr", kor="Hang",
    mal="Mlym", mar="Deva", mhr="Cyrl", mkd="Cyrl", mon="Cyrl", orv="Cyrl", pes="Arab", rus="Cyrl", srp="Cyrl",
    tam="Taml", tat="Cyrl", tel="Telu", tha="Thai", uig="Arab", ukr="Cyrl", urd="Arab", wuu="Hans", yid="Hebr",
    yue="Hant",
)
# The 36 Tatoeba languages of XTREME, with the ISO 639-1 codes XTREME's code uses (tatoeba/SOURCE.md).
XTREME36_ISO1 = dict(zip(
    "ara heb vie ind jav tgl eus mal tam tel afr nld deu ell ben hin mar urd pes fra ita por spa bul rus jpn "
    "kat kor tha swh cmn kaz tur est fin hun".split(),
    "ar he vi id jv tl eu ml ta te af nl de el bn hi mr ur fa fr it pt es bg ru ja ka ko th sw zh kk tr et fi hu"
    .split()))
XTREME36 = tuple(XTREME36_ISO1)
# XTREME-R's Tatoeba evaluation (41 languages: XTREME's 36 + az lt pl uk ro), from the one source of
# the XTREME-R lists (xstilts.metrics.xtreme_r), in Tatoeba's ISO 639-3 codes.
_TATOEBA_ISO3 = {**{v: k for k, v in XTREME36_ISO1.items()}, "az": "aze", "lt": "lit", "pl": "pol", "uk": "ukr",
                 "ro": "ron"}
XTREME_R_TATOEBA = tuple(_TATOEBA_ISO3[c] for c in XTREME_R_LANGUAGES["tatoeba"])
TATOEBA_ISO1 = {iso3: iso1 for iso1, iso3 in _TATOEBA_ISO3.items()}  # as XTREME-R's scores name them
# Languages of the other low-resource sets, keyed by the code in their file names.
_OTHER = dict(
    aym="aym_Latn", bzd="bzd_Latn", cni="cni_Latn", hch="hch_Latn", nah="nah_Latn", oto="oto_Latn",
    quy="quy_Latn", shp="shp_Latn", tar="tar_Latn", hau="hau_Latn", ibo="ibo_Latn", kin="kin_Latn",
    lug="lug_Latn", luo="luo_Latn", pcm="pcm_Latn", swa="swh_Latn", wol="wol_Latn", yor="yor_Latn",
    tso="tso_Latn", twi="twi_Latn", lin="lin_Latn",
)
SIB200_LANGS = tuple("""
ace_Latn amh_Ethi arb_Arab ayr_Latn bam_Latn ban_Latn bjn_Latn bug_Latn deu_Latn eng_Latn ewe_Latn fon_Latn
fra_Latn gaz_Latn grn_Latn hau_Latn hin_Deva ibo_Latn ind_Latn jav_Latn jpn_Jpan kin_Latn lin_Latn lug_Latn
luo_Latn min_Latn mos_Latn nya_Latn quy_Latn run_Latn rus_Cyrl sna_Latn som_Latn spa_Latn sun_Latn swh_Latn
tir_Ethi tsn_Latn tso_Latn tur_Latn twi_Latn vie_Latn wol_Latn xho_Latn yor_Latn zho_Hans zul_Latn""".split())

LANGUAGE_TAGS: dict[str, str] = {
    **{c: f"{c}_{_TATOEBA_SCRIPTS.get(c, 'Latn')}" for c in TATOEBA_LANGS},
    "eng": "eng_Latn",
    **_TWO_LETTER, **_NUSAX, **_OTHER,
    **{c: c for c in SIB200_LANGS},
}


# ---- the languages of each dataset, by the code in its file names -----------------------

XQUAD_LANGS = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")
LAREQA_LANGS = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")
MLQA_LANGS = ("ar", "de", "en", "es", "hi", "vi", "zh")
TYDIQA_LANGS = ("ar", "bn", "en", "fi", "id", "ko", "ru", "sw", "te")
XNLI_LANGS = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur", "vi", "zh")
XCOPA_LANGS = ("et", "ht", "id", "it", "qu", "sw", "ta", "th", "tr", "vi", "zh")
WIKIANN_LANGS = tuple("""af ar az bg bn de el en es et eu fa fi fr gu he hi hu id it ja jv ka kk ko lt ml mr
ms my nl pa pl pt qu ro ru sw ta te tl tr uk ur vi yo zh""".split())
# The 36 languages whose labelled PAN-X test split the data root has (wikiann/test/, SOURCE.md).
WIKIANN_TEST_LANGS = tuple("""af ar az bg bn de el en et eu fa gu he hi id ja jv ka kk lt ml mr ms my pa qu ro sw
ta te tl tr ur vi yo zh""".split())
AMERICAS_LANGS = ("aym", "bzd", "cni", "gn", "hch", "nah", "oto", "quy", "shp", "tar")
MASAKHANER_LANGS = ("amh", "hau", "ibo", "kin", "lug", "luo", "pcm", "swa", "wol", "yor")
AFRISENTI_LANGS = ("ibo", "kin", "swa", "tso", "twi")
NUSAX_LANGS = tuple(_NUSAX)
PAWSX_LANGS = ("de", "en", "es", "fr", "ja", "ko", "zh")
BUCC_LANGS = ("zh",)  # the pair the data root has (de, fr, ru: bucc2018/SOURCE.md)
