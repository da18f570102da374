"""The rig: a cartoon character drawn by the app from ~15 face parameters (no camera pixel).

`character` reads the declarative style file, `params` turns Face Mesh landmarks into smoothed
parameters, `draw` paints the character with anti-aliased vector shapes."""
