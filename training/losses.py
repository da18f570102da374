"""GAN losses (LSGAN, the paper's log loss) and the CycleGAN image pool."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class GANLoss(nn.Module):
    """`lsgan`: MSE to 1/0 (the reference default); `vanilla`: the log loss (BCE with logits)."""

    def __init__(self, mode: str = "lsgan"):
        super().__init__()
        if mode not in ("lsgan", "vanilla"):
            raise ValueError(f"unknown gan_mode {mode!r} (lsgan, vanilla)")
        self.mode = mode

    def forward(self, pred: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        pred = pred.float()
        target = torch.full_like(pred, 1.0 if target_is_real else 0.0)
        if self.mode == "lsgan":
            return F.mse_loss(pred, target)
        return F.binary_cross_entropy_with_logits(pred, target)


class ImagePool:
    """History of generated images (Shrivastava et al.): the discriminator sees older fakes too.

    With probability 1/2 a query returns a stored image and stores the new one in its place.
    Randomness comes from torch's CPU generator, so resuming with the saved RNG state is exact.
    """

    def __init__(self, size: int = 50):
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for img in images.detach():
            img = img.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(img.clone())
                out.append(img)
            elif torch.rand(1).item() > 0.5:
                i = int(torch.randint(0, self.size, (1,)).item())
                out.append(self.images[i].clone())
                self.images[i] = img.clone()
            else:
                out.append(img)
        return torch.cat(out, 0)

    def state(self) -> torch.Tensor | None:
        """All stored images as one CPU tensor (None when empty), for the checkpoint."""
        return torch.cat(self.images, 0).cpu().contiguous() if self.images else None

    def load(self, stacked: torch.Tensor | None, device: torch.device) -> None:
        self.images = [] if stacked is None else [t.unsqueeze(0).to(device) for t in stacked]


def set_requires_grad(nets: list[nn.Module], flag: bool) -> None:
    """Freeze or unfreeze networks (the discriminators while the generators step)."""
    for net in nets:
        for p in net.parameters():
            p.requires_grad_(flag)
