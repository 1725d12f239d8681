"""Sample an exported genlab model with NumPy and ONNX Runtime only (no torch, no genlab).

    genlab export runs/dcgan -o exports/dcgan          # then:
    python examples/onnx_sample.py exports/dcgan -n 64 -o digits.npz
    python examples/onnx_sample.py exports/ddpm -n 16 --steps 50 -o ddpm.npz   # a full DDIM-50 loop

Reads manifest.json, checks it (a hand-edited manifest of the wrong shape is refused in one
line, exit status 2) and the model files' SHA-256, then draws: a generator graph is called
once on z ~ N(0, I); a diffusion export runs DDIM (eta = 0, Song et al. 2021, eq. 12) over the
manifest's alpha-bar, with the x_0 clipping and classifier-free guidance it records. Noise
comes from --noise FILE.npy (float32: (n, z_dim) for a generator, x_T of shape (n, *x_shape)
for diffusion) or from NumPy's generator with --seed. Labels default to 0, 1, ..., K-1, 0, ...
as `genlab sample` draws them. Writes images uint8 (n, C, H, W) and labels to an .npz.
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

DTYPES = {"float32": np.float32, "int64": np.int64, "bool": np.bool_}


def fail(message):
    print(f"onnx_sample: error: {message}", file=sys.stderr)
    sys.exit(2)


def check_manifest(folder):
    """The manifest of ``folder`` if it has the shape genlab writes (version 1), else one line and exit 2."""
    path = folder / "manifest.json"
    if not path.is_file() or path.stat().st_size > 8 << 20:
        fail(f"{path} is missing or larger than 8 MB")
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        fail(f"{path} is not JSON ({e})")
    if not isinstance(m, dict) or m.get("format") != "genlab-export" or m.get("version") != 1:
        fail(f"{path} is not a genlab-export version 1 manifest")
    if m.get("runtime") != "onnx" or not isinstance(m.get("graphs"), dict) or not m["graphs"]:
        fail(f"{path}: runtime must be onnx and graphs a non-empty object")
    for name, g in m["graphs"].items():
        if not isinstance(g, dict) or not isinstance(g.get("file"), str) or "/" in g["file"]:
            fail(f"{path}: graph {name!r} needs a file name inside {folder}")
        for spec in (g.get("inputs") or [None]) + (g.get("outputs") or [None]):
            ok = isinstance(spec, dict) and isinstance(spec.get("name"), str) and spec.get("dtype") in DTYPES
            shape = spec.get("shape") if ok else None
            if not isinstance(shape, list) or not all(d == "batch" or (isinstance(d, int) and d > 0) for d in shape):
                fail(f"{path}: graph {name!r} has an input or output without a valid name, dtype and shape")
        digest = (
            hashlib.sha256((folder / g["file"]).read_bytes()).hexdigest() if (folder / g["file"]).is_file() else None
        )
        if digest != g.get("sha256"):
            fail(f"{folder / g['file']} is missing or does not match the manifest's sha256")
    d = m.get("diffusion")
    if d is not None:
        ab = d.get("alpha_bar") if isinstance(d, dict) else None
        if (
            not isinstance(ab, list)
            or len(ab) != d.get("diffusion_steps")
            or not all(isinstance(a, (int, float)) and 0 < a < 1 for a in ab)
        ):
            fail(f"{path}: diffusion.alpha_bar must be diffusion_steps numbers in (0, 1)")
        if "denoiser" not in m["graphs"] or not isinstance(d.get("x_shape"), list):
            fail(f"{path}: a diffusion export needs a denoiser graph and diffusion.x_shape")
    return m


def num_classes(m, graph):
    """K for a class-conditional graph (it has a ``labels`` input), else 0: the diffusion null label is K,
    a generator's labels range is "0..K-1"."""
    spec = next((s for s in m["graphs"][graph]["inputs"] if s["name"] == "labels"), None)
    if spec is None:
        return 0
    if m.get("diffusion") is not None:
        return int(m["diffusion"]["null_label"])
    return int(str(spec.get("range", "")).split("..")[-1]) + 1


def session(folder, graph, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(folder / graph["file"]), options, providers=["CPUExecutionProvider"])


def ddim_steps(total, n):
    """Step indices of an n-step DDIM: unique(round(linspace(T - 1, 0, n))), descending (the manifest's spacing)."""
    return [int(s) for s in np.unique(np.round(np.linspace(total - 1, 0, n)).astype(int))[::-1]]


def ddim(denoise, x, alpha_bar, steps, clip_x0):
    """Deterministic DDIM (eta = 0) from x_T: x_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev) eps."""
    ab32 = np.asarray(alpha_bar, dtype=np.float32)  # the float32 schedule x_0 and eps are computed with
    for j, i in enumerate(steps):
        eps = denoise(x, i)
        a = ab32[i]
        x0 = (x - np.sqrt(1 - a) * eps) / np.sqrt(a)  # 1. predicted x_0 ...
        if clip_x0:
            x0 = np.clip(x0, -1, 1)
            eps = (x - np.sqrt(a) * x0) / np.sqrt(1 - a)  # ... and the noise consistent with it
        a_prev = float(alpha_bar[steps[j + 1]]) if j + 1 < len(steps) else 1.0
        x = (a_prev**0.5 * x0 + max(1 - a_prev, 0.0) ** 0.5 * eps).astype(np.float32)  # 2. eq. 12, sigma = 0
    return x


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", type=Path, help="a directory made by `genlab export RUN --format onnx`")
    parser.add_argument("-n", type=int, default=16, help="number of images")
    parser.add_argument("--noise", type=Path, help="float32 .npy noise (see above); default: NumPy noise of --seed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, help="diffusion: DDIM steps (default: the manifest's sample_steps)")
    parser.add_argument("--guidance", type=float, help="diffusion: guidance w (default: the manifest's)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("-o", "--output", type=Path, default=Path("onnx-samples.npz"))
    args = parser.parse_args()
    m = check_manifest(args.export)
    sessions = {name: session(args.export, g, args.threads) for name, g in m["graphs"].items()}
    d = m.get("diffusion")
    main_graph = "denoiser" if d else "generator"
    if main_graph not in m["graphs"]:
        fail(f"{args.export} holds neither a generator nor a denoiser graph (graphs: {', '.join(m['graphs'])})")
    first = m["graphs"][main_graph]["inputs"][0]
    shape = tuple(d["x_shape"]) if d else tuple(first["shape"][1:])
    if args.noise is not None:
        noise = np.load(args.noise, allow_pickle=False).astype(np.float32)
        if noise.shape[1:] != shape:
            fail(f"--noise has shape {noise.shape}; expected (n, {', '.join(map(str, shape))})")
    else:
        noise = np.random.default_rng(args.seed).standard_normal((args.n, *shape)).astype(np.float32)
    n = noise.shape[0]
    k = num_classes(m, main_graph)
    labels = np.arange(n, dtype=np.int64) % k if k else None
    if d is None:
        feed = {"z": noise, **({"labels": labels} if labels is not None else {})}
        images = sessions["generator"].run(None, feed)[0]
    else:
        w = d["guidance"] if args.guidance is None else args.guidance
        if d.get("eta", 0) != 0:
            print(f"note: the run samples with eta = {d['eta']}; this example runs deterministic DDIM (eta = 0)")
        steps = ddim_steps(d["diffusion_steps"], args.steps or d["sample_steps"])

        def denoise(x, i):
            t = np.full(len(x), i, np.int64)
            if labels is None:
                return sessions["denoiser"].run(None, {"x": x, "t": t})[0]
            null = np.full(len(x), k, np.int64)
            if w == 0 or w == 1:
                return sessions["denoiser"].run(None, {"x": x, "t": t, "labels": null if w == 0 else labels})[0]
            both = sessions["denoiser"].run(
                None,
                {"x": np.concatenate([x, x]), "t": np.concatenate([t, t]), "labels": np.concatenate([labels, null])},
            )[0]
            cond, uncond = both[: len(x)], both[len(x) :]
            return uncond + np.float32(w) * (cond - uncond)  # eps_u + w (eps_c - eps_u)

        images = ddim(denoise, noise, d["alpha_bar"], steps, d["clip_x0"])
        if "decoder" in sessions:  # latent diffusion: decode the latents
            images = sessions["decoder"].run(None, {"z": images})[0]
    uint8 = ((np.clip(images, -1, 1) + 1) * 127.5).round().astype(np.uint8)
    np.savez_compressed(args.output, images=uint8, **({"labels": labels} if labels is not None else {}))
    print(f"wrote {n} images {uint8.shape[1:]} of {m['family']} ({args.export}) to {args.output}")


if __name__ == "__main__":
    main()
