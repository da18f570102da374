"""`avatar-export`'s entry point: `export.cli` imports torch when it is loaded, so a wheel
installed without the `train` extra is told what to install here, in one line."""

from __future__ import annotations

from training.cli_errors import missing_extra


def main() -> int:
    try:
        from export.cli import main as export_main
    except ModuleNotFoundError as e:
        return missing_extra("avatar-export", e)
    return export_main()
