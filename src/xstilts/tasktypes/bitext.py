"""Bitext (Tatoeba, FLORES, BUCC, a user's parallel text): sentences of each language paired with
a pivot language's, only probed: retrieval of the translation by embedding similarity
(evaluation/alignment.py), never trained with a head."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xstilts.tasktypes.base import TaskType


class Bitext(TaskType):
    name, probe, pivoted = "bitext", True, True
    field_kinds = ("bitext", "text")
    file_formats = ("parallel-text",)

    def mapping_problem(self, fields: Mapping[str, Any], kind: str) -> str | None:
        if kind == "text" and "id" not in fields:
            return "bitext from one text column per language aligns rows by 'id': map it"
        return None


BITEXT = Bitext()
