"""The desktop window: a thin PySide6 shell over the one `Pipeline` object.

- `app.run_gui(args)`: what `avatar-cam` (no `--headless`) calls.
- `engine.Engine`: capture + processing threads, the virtual camera, style switching.
- `window.MainWindow`, `controls.ControlPanel`, `widgets`: the UI thread, which only paints.
"""
