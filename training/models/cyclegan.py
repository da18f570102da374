"""CycleGAN as in the paper and the reference implementation (A = photos, B = cartoons).

G_A: A->B, G_B: B->A; D_A judges B-domain images, D_B judges A-domain images. Generator loss:
LSGAN (or log loss) for both directions + cycle L1 x lambda_cycle + identity L1 x
lambda_cycle x lambda_identity; discriminators: 0.5 x (real + fake from a 50-image pool).
Optional distillation: L1 between G_A(x) and a trained teacher's output x lambda_distill.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F

from training.losses import GANLoss, ImagePool, set_requires_grad
from training.models.base import TrainModel
from training.networks import build_discriminator, build_generator
from training.options import TrainConfig


class CycleGAN(TrainModel):
    """Two generators, two 70x70 PatchGANs, Adam 2e-4 (0.5, 0.999)."""

    kind = "cyclegan"
    ema_nets = ("G_A",)
    trained_nets = ("G_A", "G_B", "D_A", "D_B")

    def __init__(self, cfg: TrainConfig, device: torch.device | str = "cpu",
                 teacher: nn.Module | None = None):
        super().__init__(cfg, device)
        width = cfg.gen_width or None
        self.G_A = build_generator(cfg.generator, cfg.upsample, width)
        self.G_B = build_generator(cfg.generator, cfg.upsample, width)
        self.D_A = build_discriminator(cfg.ndf, cfg.d_layers)
        self.D_B = build_discriminator(cfg.ndf, cfg.d_layers)
        self.gan = GANLoss(cfg.gan_mode)
        self.pool_A = ImagePool(cfg.pool_size)  # fake A images, for D_B
        self.pool_B = ImagePool(cfg.pool_size)  # fake B images, for D_A
        self.teacher = [teacher.eval().requires_grad_(False)] if teacher is not None else []
        self.finish_init()
        if self.teacher:
            self.teacher[0].to(self.device)
        self.optimizers = {
            "G": self.adam(list(self.G_A.parameters()) + list(self.G_B.parameters())),
            "D": self.adam(list(self.D_A.parameters()) + list(self.D_B.parameters())),
        }

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.cfg
        real_a, real_b = self.to_input(batch["A"]), self.to_input(batch["B"])
        g_a, g_b, d_a, d_b = (self.net(n) for n in self.trained_nets)
        lam_idt = cfg.lambda_cycle * cfg.lambda_identity
        # generators (the frozen discriminators are called directly, not through DDP)
        set_requires_grad([self.D_A, self.D_B], False)
        with self.autocast():
            fake_b = g_a(real_a)
            rec_a = g_b(fake_b)
            fake_a = g_b(real_b)
            rec_b = g_a(fake_a)
            losses = {
                "G_A": self.gan(self.D_A(fake_b), True) * cfg.lambda_gan,
                "G_B": self.gan(self.D_B(fake_a), True) * cfg.lambda_gan,
                "cycle_A": F.l1_loss(rec_a.float(), real_a) * cfg.lambda_cycle,
                "cycle_B": F.l1_loss(rec_b.float(), real_b) * cfg.lambda_cycle,
            }
            if lam_idt > 0:
                losses["idt_A"] = F.l1_loss(g_a(real_b).float(), real_b) * lam_idt
                losses["idt_B"] = F.l1_loss(g_b(real_a).float(), real_a) * lam_idt
            if self.teacher:
                with torch.no_grad():
                    target = self.teacher[0](real_a).float()
                losses["distill"] = F.l1_loss(fake_b.float(), target) * cfg.lambda_distill
            loss_g = sum(losses.values())
        self.backward_step(loss_g, self.optimizers["G"])
        # discriminators
        set_requires_grad([self.D_A, self.D_B], True)
        with self.autocast():
            pooled_b = self.pool_query(self.pool_B, fake_b)
            pooled_a = self.pool_query(self.pool_A, fake_a)
            loss_d_a = 0.5 * (self.gan(d_a(real_b), True) + self.gan(d_a(pooled_b), False))
            loss_d_b = 0.5 * (self.gan(d_b(real_a), True) + self.gan(d_b(pooled_a), False))
        self.backward_step(loss_d_a + loss_d_b, self.optimizers["D"])
        self.end_step()
        out = {k: float(v.detach()) for k, v in losses.items()}
        out["D_A"], out["D_B"] = float(loss_d_a.detach()), float(loss_d_b.detach())
        return out

    @torch.no_grad()
    def visuals(self, a: torch.Tensor, b: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
        a, b = self.to_input(a), self.to_input(b)
        with self.autocast():
            fake_b = self.G_A(a)
            rec_a = self.G_B(fake_b)
            fake_a = self.G_B(b)
            rec_b = self.G_A(fake_a)
        return [("photo", a), ("cartoon G_A(photo)", fake_b), ("G_B(G_A(photo))", rec_a),
                ("cartoon", b), ("G_B(cartoon)", fake_a), ("G_A(G_B(cartoon))", rec_b)]

    def generator_for_export(self, style_image: torch.Tensor | None = None) -> nn.Module:
        """G_A (photo -> cartoon) on CPU in eval mode; `style_image` is ignored (one style)."""
        del style_image
        gen = copy.deepcopy(self.averaged("G_A")).float().cpu().eval()
        return gen.to(memory_format=torch.contiguous_format)

    def extra_state(self) -> tuple[dict[str, torch.Tensor], dict]:
        tensors, meta = super().extra_state()
        for name, pool in (("pool_A", self.pool_A), ("pool_B", self.pool_B)):
            st = pool.state()
            if st is not None:
                tensors[name] = st
        return tensors, meta

    def load_extra_state(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        super().load_extra_state(tensors, meta)
        self.pool_A.load(tensors.get("pool_A"), self.device)
        self.pool_B.load(tensors.get("pool_B"), self.device)
