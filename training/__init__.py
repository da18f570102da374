"""Training for avatar-cam: photo->cartoon generators (CycleGAN, content-invariant) in torch.

Entry points: `avatar-train` (`training.cli:main`) and `avatar-eval` (`training.evaluate:main`).
The export room builds on `training.checkpoint.load_for_export`. Nothing in `avatar_cam/`
imports this package.
"""
