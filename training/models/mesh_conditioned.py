"""The mesh-conditioned generator: the paper's content/style split with a content input that
cannot carry identity.

Content is a drawing of the MediaPipe face mesh (`avatar_cam.mesh_drawing.draw_face_mesh`), style
the code Es(y) of a cartoon. Training is paired on the cartoons' own meshes, which converges far
faster than unpaired photo -> cartoon translation; the photos enter only through their mesh
drawings, adversarially, so the generator also draws a cartoon for a real face's proportions:

    rec  = R(Ec(mesh(y)), Es(y))     ||rec - y||_1 x lambda_rec   and the adversarial loss
    fake = R(Ec(mesh(x)), Es(y'))    the adversarial loss (x a photo, y' another cartoon)

Two options aim the training at expression (issue 12: the mouth and eyes must follow the person).
`style_lowpass` k: Es reads the cartoon average-pooled by k (a pre-hook, so the exported style
encoder does the same), so its code keeps hair, skin and colours but cannot say how open the
eyes and mouth are; that must come from the mesh, the only input that has it at run time (the
style code is then a fixed mean). `lambda_features`: an extra L1 on the pixels of the eyes,
brows and mouth (the mesh drawing's feature colours, dilated), small regions the plain L1 lets
blur into the average face.

`lambda_look` (issue 27: a character made from any cartoon picture must take its look): the
cartoon drawn on a photo's mesh with another cartoon's code keeps that cartoon's look, read back
by the style encoder: ||Es(fake) - Es(y')||_1, the Es that reads the fake held fixed (so it
cannot meet the term by forgetting colours). Without it only the adversarial loss judges those
cartoons, and held-out references' hair colours drifted to the training mean (brown).

Batches: "B" cartoons, "M" their mesh drawings (paired), "A" photo mesh drawings. At run time
the app draws the mesh of the camera crop and runs Ec + R with one style code baked in
(the running mean, or a chosen cartoon's code: `--style-image`), as for the content-invariant
model, whose networks, export helpers and state this class reuses.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional as F

from training.losses import set_requires_grad
from training.models.content_invariant import ContentInvariant
from training.options import TrainConfig


def feature_mask(mesh: torch.Tensor, grow: int) -> torch.Tensor:
    """[N,1,H,W] 1 on the eyes, irises, brows, nose and lips of mesh drawings in [-1,1]: the
    coloured or bright pixels (background is black, the face oval a mid grey), dilated."""
    colour = mesh.amax(1, keepdim=True) - mesh.amin(1, keepdim=True) > 0.2
    bright = mesh.mean(1, keepdim=True) > 0.5
    mask = (colour | bright).float()
    return F.max_pool2d(mask, 2 * grow + 1, stride=1, padding=grow)


def _low_pass_hook(k: int) -> Callable[[torch.nn.Module, tuple[torch.Tensor, ...]], tuple[torch.Tensor, ...]]:
    def hook(_module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        x = args[0]
        return (F.interpolate(F.avg_pool2d(x, k), size=x.shape[-2:], mode="bilinear", align_corners=False),
                *args[1:])
    return hook


class MeshConditioned(ContentInvariant):
    kind = "mesh-conditioned"

    def __init__(self, cfg: TrainConfig, device: torch.device | str = "cpu"):
        super().__init__(cfg, device)
        if cfg.style_lowpass > 1:
            for es in {self.Es, self.averaged("Es")}:
                es.register_forward_pre_hook(_low_pass_hook(cfg.style_lowpass))

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.cfg
        mesh_a, y, mesh_y = (self.to_input(batch[k]) for k in ("A", "B", "M"))
        ec, es, r, d = (self.net(n) for n in self.trained_nets)
        set_requires_grad([self.D_B], False)  # frozen: called directly, not through DDP
        with self.autocast():
            s_y = es(y)
            rec = r(ec(mesh_y), s_y)
            # each photo takes the style of the cartoon one slot before it in the global batch
            s_ref = self.ranks.part(self.ranks.gather(s_y, grad=True).roll(1, 0))
            fake = r(ec(mesh_a), s_ref)
            gan = self.gan(self.D_B(rec), True) + self.gan(self.D_B(fake), True)
            err = (rec.float() - y).abs()  # one L1 map for both pixel terms
            losses = {"rec": err.mean() * cfg.lambda_rec, "gan": 0.5 * cfg.lambda_gan * gan}
            if cfg.lambda_features > 0:
                mask = feature_mask(mesh_y.float(), grow=max(1, y.shape[-1] // 32))
                # normalised by the global batch's count (per rank: its mean over ranks), so
                # the loss DDP averages is the one-process loss of the global batch
                n = self.ranks.mean(mask.sum() * err.shape[1]).clamp(min=1)
                losses["features"] = (err * mask).sum() / n * cfg.lambda_features
            if cfg.lambda_look > 0:
                set_requires_grad([self.Es], False)  # frozen: called directly, not through DDP
                losses["look"] = F.l1_loss(self.Es(fake).float(), s_ref.detach().float()) * cfg.lambda_look
                set_requires_grad([self.Es], True)
            loss_g = sum(losses.values())
        self.backward_step(loss_g, self.optimizers["G"])
        set_requires_grad([self.D_B], True)
        with self.autocast():
            pooled = self.pool_query(self.pool_B, torch.cat([rec, fake]), blocks=2)
            loss_d = 0.5 * (self.gan(d(y), True) + self.gan(d(pooled), False))
        self.backward_step(loss_d, self.optimizers["D"])
        self.end_step()
        self.track_style_mean(y, s_y)
        out = {k: float(v.detach()) for k, v in losses.items()}
        out["D_B"] = float(loss_d.detach())
        return out

    @torch.no_grad()
    def visuals(self, a: torch.Tensor, b: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
        a, b = self.to_input(a), self.to_input(b)
        with self.autocast():
            fake_mean, fake_ref = self.cartoons_of(a, b)
        return [("photo's mesh", a), ("cartoon (mean style)", fake_mean),
                ("cartoon (style of ref)", fake_ref), ("style ref", b)]

    def export_metadata(self) -> dict[str, str]:
        meta = super().export_metadata()
        meta["input"] = "face_mesh_drawing"
        return meta
