"""The task catalog: one frozen TaskDef per task, discovered from `tasks/families/`, plus a
user's own tasks loaded from YAML (`tasks/user.py`)."""

from xstilts.tasks.registry import all_tasks, get_task
from xstilts.tasks.schema import Recipe, Source, TaskDef

__all__ = ["Recipe", "Source", "TaskDef", "all_tasks", "get_task"]
