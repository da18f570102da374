"""Print the motion-check tables of several `avatar-eval --motion` runs as one markdown block.

    python scripts/motion_tables.py runs/motion/sunny runs/motion/flat-mesh ...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from training.motion_check import table


def main(dirs: list[str]) -> int:
    for d in dirs:
        data = json.loads((Path(d) / "motion.json").read_text())
        clips = {"demo (generated)" if name.startswith("demo-face") else name: s
                 for name, s in data["clips"].items()}
        sizes = data.get("sizes") or [f"{data['size'][0]}x{data['size'][1]}"]
        at = sizes[0] if len(sizes) == 1 else f"the mean of {', '.join(sizes)}"
        print(f"`{data['style']}` at {at}:\n")
        print(table(clips))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
