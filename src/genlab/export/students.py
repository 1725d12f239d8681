"""Export adapter of the few-step students (``ddpm-progressive``, ``ddpm-consistency``).

A student's graph is its clean-data estimate, ``x0 = f(x_t, t[, labels])``: for a progressive
student the EMA network's output read in its parameterisation, for a consistency student the
consistency function (skip and output scalings included). Unlike the teacher's ``denoiser``
graph it outputs x_0, not eps, because the consistency sampler needs x_0 and not a noise
prediction. The few steps themselves stay outside the graph: :meth:`StudentExportable.generate`
runs the family's own ``sample_space`` around any runner, so the manifest's grid, the
re-noising of multistep consistency sampling and the x_0 clipping are the family's. A student
of an ``ldm`` teacher also gets the teacher's VAE ``decoder`` graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from genlab.export.diffusion import _Decoder
from genlab.export.generators import image_spec
from genlab.export.graphs import BATCH, Exportable, Graph, Runner, TensorSpec, integers, normal
from genlab.models.distill_base import DistilledDiffusion
from genlab.models.distill_maths import multistep_times, trailing_grid
from genlab.models.distill_progressive import ProgressiveDistillation


class _StudentX0(nn.Module):
    """(x_t, 0-based step index[, student label]) -> the student's x_0 estimate (``family.x0_fn``)."""

    def __init__(self, family: DistilledDiffusion) -> None:
        super().__init__()
        self.net = family.nets["ema"].net.eval()
        self.x0_fn = family.x0_fn  # a bound method: the schedule and scalings of the family, no weights

    def forward(self, x: torch.Tensor, t: torch.Tensor, *labels: torch.Tensor) -> torch.Tensor:
        return self.x0_fn(self.net, x, t, labels[0] if labels else None)


def visited_steps(family: DistilledDiffusion) -> list[int]:
    """The 0-based step indices the student's sampler evaluates its network at, in order."""
    if isinstance(family, ProgressiveDistillation):
        return trailing_grid(family.teacher.num_train_steps, family.cfg.sample_steps)
    return multistep_times(family.grid, family.cfg.sample_steps)


class StudentExportable(Exportable):
    """The student's few-step sampler around its ``x0`` graph (and the teacher's ``decoder``)."""

    def __init__(self, *args: Any, family: DistilledDiffusion, data: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.family, self.data = family, data
        self.x_shape: tuple[int, ...] = family.teacher.shape
        self.num_classes = family.num_classes if family.conditional else 0

    def example_inputs(self, name, n, generator):
        if name == "decoder":
            return {"z": normal((n, *self.x_shape), generator)}
        t = integers(self.family.teacher.num_train_steps, (n,), generator)
        inputs = {"x": normal((n, *self.x_shape), generator), "t": t}
        if self.num_classes:
            inputs["labels"] = integers(self.num_classes + 1, (n,), generator)
        return inputs

    def calibration(self, name, n, generator):
        """x_t = q(x_t | x_0) of the run's data at the steps the sampler visits (decoder: the clean latents)."""
        images, labels = self.data()
        rows = torch.randint(0, len(images), (n,), generator=generator).numpy()
        scale = self.family.data_scale
        pixels = torch.from_numpy(images[rows].astype(np.float32) / 255)
        with torch.no_grad():
            x0 = self.family.teacher.encode(pixels * 2 - 1 if scale == "-1,1" else pixels)
        if name == "decoder":
            return [{"z": z[None].numpy()} for z in x0]
        steps = torch.tensor(visited_steps(self.family))
        i = steps[torch.randint(0, len(steps), (n,), generator=generator)]
        a = self.family.teacher.alpha_bar_at(i, x0).float()
        xt = a.sqrt() * x0 + (1 - a).sqrt() * torch.randn(x0.shape, generator=generator)
        out = []
        for j in range(n):
            row = {"x": xt[j : j + 1].numpy(), "t": i[j : j + 1].numpy()}
            if self.num_classes:
                row["labels"] = np.array([labels[rows[j]]], np.int64)
            out.append(row)
        return out

    def generate(self, runner: Runner, n: int, generator: torch.Generator) -> np.ndarray:
        # family.sample: labels 0, 1, ..., K-1, 0, ... at the distilled w; x_T ~ N(0, I); the family's sampler
        family = self.family
        labels = torch.arange(n) % family.num_classes if family.conditional else None
        y = family.sampling_labels(labels, family.cfg.guidance, n)

        def x0_fn(x: torch.Tensor, i: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
            inputs = {"x": x.float().numpy(), "t": i.numpy()}
            if self.num_classes:
                inputs["labels"] = y.numpy()
            return torch.from_numpy(runner("x0", inputs)[0])

        x = torch.randn((n, *self.x_shape), generator=generator)
        with torch.inference_mode():
            z = family.sample_space(x, y, generator, x0_fn)
        if "decoder" in self.graphs:
            return runner("decoder", {"z": z.float().numpy()})[0]
        return z.float().clamp(-1, 1).numpy()


def student_exportable(family: DistilledDiffusion, data: Any) -> Exportable:
    teacher, k = family.teacher, (family.num_classes if family.conditional else 0)
    shape = teacher.shape
    if teacher.latent:
        x = TensorSpec("x", (BATCH, *shape), "float32", "unbounded", "z_t, scaled latent")
        x0 = TensorSpec("x0", (BATCH, *shape), "float32", "unbounded", "the student's estimate of z_0")
    else:
        x = image_spec("x", shape, "x_t", "unbounded")
        x0 = image_spec("x0", shape, "the student's estimate of x_0 (clip it to [-1, 1])", "unbounded")
    steps = teacher.num_train_steps
    inputs = [x, TensorSpec("t", (BATCH,), "int64", f"0..{steps - 1}", "0-based step index (t - 1)")]
    if k:
        inputs.append(TensorSpec("labels", (BATCH,), "int64", f"0..{k}", f"class label; {k} = no label (null)"))
    graphs = {"x0": Graph(_StudentX0(family).eval(), inputs, [x0])}
    if teacher.latent:
        graphs["decoder"] = Graph(
            _Decoder(teacher.family).eval(),
            [TensorSpec("z", (BATCH, *shape), "float32", "unbounded", "scaled latent z_0 (the sampler's output)")],
            [image_spec("images", family.image_shape, "the teacher VAE's decoder mean")],
        )
    ex = StudentExportable(family.registry_name, family.kind, family.image_shape, graphs, family=family, data=data)
    ex.diffusion = {
        "diffusion_steps": steps,
        "alpha_bar": [float(a) for a in family.alpha_bar.double()],
        "sampler": family.cfg.sampler,
        "sample_steps": family.cfg.sample_steps,
        "timesteps": visited_steps(family),
        "timestep_spacing": (
            "progressive: deterministic DDIM on the trailing grid, from each visited index to the next, the last to "
            "alpha_bar = 1; consistency: x_0 = f(x_T) at the first index, then for each later index re-noise "
            "x_t = sqrt(alpha_bar) x_0 + sqrt(1 - alpha_bar) z and x_0 = f(x_t)"
        ),
        "eta": 0.0,
        "clip_x0": teacher.clip_x0,
        "x_shape": list(shape),
        "prediction": "x0 (the graph outputs the student's clean-data estimate, not eps)",
        "guidance": family.distilled_guidance,
        "guidance_rule": "distilled into the weights: class labels sample at that w, the null label at w = 0",
        "null_label": k if k else None,
    }
    ex.conventions = {
        "x0": "EMA weights of the student, float32",
        "x_T": f"N(0, I) of shape (n, {', '.join(map(str, shape))})",
        "teacher": {"run_id": family.cfg.teacher_run_id, "weights_hash": family.cfg.teacher_hash},
    }
    if k:
        ex.conventions["labels"] = f"class labels 0..{k - 1}, {k} is the null label (unconditional)"
    return ex
