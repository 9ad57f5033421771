"""One module per task family; each defines `TASKS`, a tuple of TaskDef. The registry
discovers every module here, so a new family is a new file."""
