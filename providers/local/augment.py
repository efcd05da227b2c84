"""Training augmentations in plain torch, applied to a whole batch on its device.

What the paper's model trainers do: random horizontal flips, random crops from a
zero-padded image, small rotations. (Colour normalization lives in the model.)
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_flip(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    flip = torch.rand(x.shape[0], generator=generator, device=x.device) < 0.5
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)


def random_crop(x: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """A random H×W crop of each image after zero-padding it by ``padding`` pixels."""
    if padding <= 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=x.device)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=x.device)
    # Gather with per-image offsets: rows[i] = dy[i] + arange(h), likewise for columns.
    rows = (dy.view(n, 1) + torch.arange(h, device=x.device)).view(n, 1, h, 1)
    cols = (dx.view(n, 1) + torch.arange(w, device=x.device)).view(n, 1, 1, w)
    batch = torch.arange(n, device=x.device).view(n, 1, 1, 1)
    channels = torch.arange(x.shape[1], device=x.device).view(1, -1, 1, 1)
    return padded[batch, channels, rows, cols]


def random_rotation(
    x: torch.Tensor, max_degrees: float, generator: torch.Generator
) -> torch.Tensor:
    """Rotate each image by a uniform angle in ±``max_degrees`` (bilinear, zero fill)."""
    if max_degrees <= 0:
        return x
    n = x.shape[0]
    angle = (torch.rand(n, generator=generator, device=x.device) * 2 - 1) * math.radians(
        max_degrees
    )
    cos, sin = torch.cos(angle), torch.sin(angle)
    zero = torch.zeros_like(angle)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def augment(
    x: torch.Tensor,
    generator: torch.Generator,
    *,
    padding: int = 4,
    max_degrees: float = 10.0,
) -> torch.Tensor:
    """Flip, crop and rotate a float batch (N, 3, H, W) in [0, 1]; returns a new tensor."""
    x = random_flip(x, generator)
    x = random_crop(x, padding, generator)
    return random_rotation(x, max_degrees, generator)
