"""`xstilts recommend`: rank a finished study's intermediate tasks for its targets from signals
that need no fine-tuning (`signals`), check the ranking against the study's gains (`check`), and
save it for the report (`run`; the saved form is `report.recommendation`)."""
