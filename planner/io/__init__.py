"""I/O at the edges: TOML read and write, configuration paths, the one store for saved laws and task profiles, run tables."""

from __future__ import annotations

from planner._lazy import lazy_exports

_WHERE = {
    "load_toml_file": "toml",
    "load_packaged_toml": "toml",
    "unknown_name": "toml",
    "check_keys": "toml",
    "user_config_dir": "config",
    "user_hardware_file": "config",
    "measured_data_dir": "config",
    "user_law_dir": "store",
    "user_task_dir": "store",
    "saved_law_files": "store",
    "saved_task_files": "store",
    "save_law_table": "store",
    "save_task_table": "store",
    "save_table": "store",
    "to_toml": "store",
    "write_text": "store",
    "RunTable": "runs",
    "read_runs": "runs",
}
__all__ = [
    "RunTable",
    "check_keys",
    "load_packaged_toml",
    "load_toml_file",
    "measured_data_dir",
    "read_runs",
    "save_law_table",
    "save_table",
    "save_task_table",
    "saved_law_files",
    "saved_task_files",
    "to_toml",
    "unknown_name",
    "user_config_dir",
    "user_hardware_file",
    "user_law_dir",
    "user_task_dir",
    "write_text",
]
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
