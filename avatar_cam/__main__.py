"""`python -m avatar_cam`, and the entry point of the standalone bundle (scripts/avatar-cam.spec)."""

import sys

from avatar_cam.cli import main

if __name__ == "__main__":
    sys.exit(main())
