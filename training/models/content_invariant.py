"""The paper's content-invariant one-direction generator (section 5.3), photo -> cartoon only.

Shared content encoder Ec and style encoder Es for both domains, decoder R with AdaIN-style
modulation. For photos x, x' and a cartoon y:

    fake = R(Ec(x), Es(y))                        adversarial loss through one cartoon PatchGAN
    rec  = R(Ec(fake), Es(x'))                    ||rec - x||_1           x lambda_rec
    content invariance                            ||Ec(fake) - Ec(x)||_1  x lambda_content
Added because they make it train well (MUNIT-style), each with its own weight:
    self-reconstruction R(Ec(x), Es(x)) ~ x and R(Ec(y), Es(y)) ~ y      x lambda_self
    random-style path fake_z = R(Ec(x), z), z ~ N(0, I): adversarial loss (averaged with the
    one on fake) and style reconstruction ||Es(fake_z) - z||              x lambda_style
Without the random-style path the style codes collapsed to one vector within a few hundred
steps on real data and the decoder reproduced the photo; with it the decoder must respond to
the code and Es must read it back. The content target Ec(x) is detached, so invariance cannot be
met by shrinking the content map. A running mean of cartoon style codes (`style_mean`, a buffer saved
with the weights) is the default style at inference; any reference cartoon's code also works.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn import functional as F

from training.losses import GANLoss, ImagePool, set_requires_grad
from training.models.base import TrainModel
from training.networks import build_content_style, build_discriminator, init_weights
from training.options import TrainConfig


class FixedStyleGenerator(nn.Module):
    """Ec then R with one style baked into plain norm affines: x -> cartoon (no style input)."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class StyleInputGenerator(nn.Module):
    """Ec, R and the style MLP: (x, style_code [N or 1, D]) -> cartoon; `style_code` defaults to
    the baked `code` buffer. Export with a second input named `style_code` for the app's
    reference-cartoon path (see avatar_cam/styles.py)."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module, code: torch.Tensor):
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.register_buffer("code", code.reshape(1, -1).clone())

    def forward(self, x: torch.Tensor, style_code: torch.Tensor | None = None) -> torch.Tensor:
        s = self.code if style_code is None else style_code
        return self.decoder(self.encoder(x), s.expand(x.shape[0], -1))


class ContentInvariant(TrainModel):
    """Ec, Es, R and one cartoon discriminator D_B."""

    kind = "content-invariant"
    ema_nets = ("Ec", "Es", "R")
    trained_nets = ("Ec", "Es", "R", "D_B")

    def __init__(self, cfg: TrainConfig, device: torch.device | str = "cpu"):
        super().__init__(cfg, device)
        enc, style, dec = build_content_style(cfg.generator, cfg.style_dim, cfg.gen_width or None)
        self.Ec, self.Es, self.R = init_weights(enc), style, init_weights(dec)
        # The style path keeps PyTorch's default (Kaiming-uniform) init: with N(0, 0.02) the MLP
        # output hardly depends on the code, no gradient reaches Es and the style collapses.
        for m in self.R.mlp.modules():
            if isinstance(m, nn.Linear):
                m.reset_parameters()
        self.D_B = build_discriminator(cfg.ndf, cfg.d_layers)
        self.register_buffer("style_mean", torch.zeros(cfg.style_dim))
        self.register_buffer("style_seen", torch.zeros((), dtype=torch.long))
        self.gan = GANLoss(cfg.gan_mode)
        self.pool_B = ImagePool(cfg.pool_size)
        self.finish_init()
        gen_params = list(self.Ec.parameters()) + list(self.Es.parameters()) + list(self.R.parameters())
        self.optimizers = {"G": self.adam(gen_params), "D": self.adam(list(self.D_B.parameters()))}

    def step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        cfg = self.cfg
        x, y = self.to_input(batch["A"]), self.to_input(batch["B"])
        x2 = self.to_input(batch["A2"]) if "A2" in batch else x.roll(1, 0)
        ec, es, r, d = (self.net(n) for n in self.trained_nets)
        set_requires_grad([self.D_B], False)  # frozen: called directly, not through DDP
        with self.autocast():
            c_x, c_y = ec(x), ec(y)
            s_x, s_x2, s_y = es(x), es(x2), es(y)
            fake = r(c_x, s_y)
            c_fake = ec(fake)
            rec = r(c_fake, s_x2)
            losses = {
                "gan": self.gan(self.D_B(fake), True) * cfg.lambda_gan,
                "rec": F.l1_loss(rec.float(), x) * cfg.lambda_rec,
                "content": F.l1_loss(c_fake.float(), c_x.detach().float()) * cfg.lambda_content,
            }
            if cfg.lambda_self > 0:
                losses["self_A"] = F.l1_loss(r(c_x, s_x).float(), x) * cfg.lambda_self
                losses["self_B"] = F.l1_loss(r(c_y, s_y).float(), y) * cfg.lambda_self
            fakes = [fake]
            if cfg.lambda_style > 0:
                z = self.randn(x.shape[0], cfg.style_dim)
                fake_z = r(c_x, z)
                losses["gan"] = 0.5 * (losses["gan"] + self.gan(self.D_B(fake_z), True) * cfg.lambda_gan)
                losses["style"] = F.l1_loss(es(fake_z).float(), z) * cfg.lambda_style
                fakes.append(fake_z)
            loss_g = sum(losses.values())
        self.backward_step(loss_g, self.optimizers["G"])
        set_requires_grad([self.D_B], True)
        with self.autocast():
            pooled = self.pool_query(self.pool_B, torch.cat(fakes), blocks=len(fakes))
            loss_d = 0.5 * (self.gan(d(y), True) + self.gan(d(pooled), False))
        self.backward_step(loss_d, self.optimizers["D"])
        self.end_step()
        self.track_style_mean(y, s_y)
        out = {k: float(v.detach()) for k, v in losses.items()}
        out["D_B"] = float(loss_d.detach())
        return out

    @torch.no_grad()
    def encode_style(self, image: torch.Tensor) -> torch.Tensor:
        """Style code [1, D] of a reference cartoon ([3,H,W] or [N,3,H,W] in [-1,1]; mean over N)."""
        was = self.training
        self.eval()
        img = image.reshape(-1, *image.shape[-3:]).to(self.device).float()
        code = self.averaged("Es")(img).float().mean(0, keepdim=True)
        self.train(was)
        return code

    def cartoons_of(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """R(Ec(a)) with the mean cartoon style and with each reference cartoon b's style."""
        ec, es, r = (self.averaged(n) for n in self.ema_nets)
        c_a = ec(a)
        mean = self.style_mean.reshape(1, -1).expand(a.shape[0], -1)
        return r(c_a, mean), r(c_a, es(b))

    def track_style_mean(self, y: torch.Tensor, s_y: torch.Tensor) -> None:
        """Fold a batch of cartoon style codes s_y = Es(y) into the running mean (the default
        style); with the generator EMA on, the codes of the averaged Es, which export uses.
        Under torchrun the mean is over the global batch, so every rank keeps the same one."""
        with torch.no_grad():
            if getattr(self, "ema", None) is not None:
                s_y = self.ema["Es"](y)
            m = 1.0 if int(self.style_seen) == 0 else self.cfg.style_ema
            batch_mean = self.ranks.mean(s_y.detach().float().mean(0))  # over the global batch
            self.style_mean.mul_(1 - m).add_(batch_mean * m)
            self.style_seen += 1

    @torch.no_grad()
    def visuals(self, a: torch.Tensor, b: torch.Tensor) -> list[tuple[str, torch.Tensor]]:
        a, b = self.to_input(a), self.to_input(b)
        with self.autocast():
            fake_mean, fake_ref = self.cartoons_of(a, b)
            rec = self.R(self.Ec(fake_ref), self.Es(a))
        return [("photo", a), ("cartoon (mean style)", fake_mean), ("cartoon (style of ref)", fake_ref),
                ("reconstruction", rec), ("style ref", b)]

    def _parts(self) -> tuple[nn.Module, nn.Module]:
        enc = copy.deepcopy(self.averaged("Ec")).float().cpu().eval()
        dec = copy.deepcopy(self.averaged("R")).float().cpu().eval()
        return enc, dec

    def generator_for_export(self, style_image: torch.Tensor | None = None) -> nn.Module:
        """Ec + R with the mean cartoon style (or `style_image`'s code) baked into the norms."""
        code = self.style_mean if style_image is None else self.encode_style(style_image)[0]
        enc, dec = self._parts()
        return FixedStyleGenerator(enc, dec.bake(code.detach().float().cpu())).eval()

    def style_input_generator(self, style_image: torch.Tensor | None = None) -> StyleInputGenerator:
        """Ec + R taking an optional `style_code` input (default: the mean or `style_image` code)."""
        code = self.style_mean if style_image is None else self.encode_style(style_image)[0]
        enc, dec = self._parts()
        return StyleInputGenerator(enc, dec, code.detach().float().cpu()).eval()

    def style_encoder_for_export(self) -> nn.Module:
        """Es on CPU, eval: reference cartoon [N,3,H,W] in [-1,1] -> style code [N, D]."""
        return copy.deepcopy(self.averaged("Es")).float().cpu().eval()

    def export_metadata(self) -> dict[str, str]:
        meta = super().export_metadata()
        meta["style_code_dim"] = str(self.cfg.style_dim)
        meta["default_style"] = "mean cartoon style code (running mean over training cartoons)"
        if self.cfg.g_ema > 0:
            meta["weights"] = f"exponential moving average of the generator weights (decay {self.cfg.g_ema})"
        return meta

    def extra_state(self) -> tuple[dict[str, torch.Tensor], dict]:
        tensors, meta = super().extra_state()
        st = self.pool_B.state()
        if st is not None:
            tensors["pool_B"] = st
        return tensors, meta

    def load_extra_state(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        super().load_extra_state(tensors, meta)
        self.pool_B.load(tensors.get("pool_B"), self.device)
