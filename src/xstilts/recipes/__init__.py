"""The recipes: one flat, top-to-bottom function per phase (phase 2 `intermediate`, phase 3
`finetune`, the alignment probes `align`). Only the runners (`orchestration.runners`) and the
command line import them; what two recipes share lives in the library below."""
