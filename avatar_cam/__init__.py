"""avatar-cam: a live webcam turned into a cartoon avatar, sent to a virtual camera."""

__version__ = "0.1.0"
