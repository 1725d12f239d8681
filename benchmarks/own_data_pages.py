"""The commands and page templates of benchmarks/own_data.py (docs/guide/own-data.md, docs/results/own-data.md).

The guide's commands live here once: own_data.py runs them and the page shows them, word for word.
"""

from __future__ import annotations

import statistics

VAE_STEPS, GAN_STEPS, GAN_BATCH = 1500, 600, 32

C = {  # every command of the page, run exactly as shown (from the work folder)
    "mnist_inspect": "genlab data inspect mnist-png -o mnist-sheet.png",
    "mnist_prepare": "genlab data prepare mnist-png",
    "vae_folder": f"genlab train vae --data mnist-png --preset small --steps {VAE_STEPS} --set log_every=250 "
    '--out runs/vae-folder --data-license "CC BY-SA 3.0 (MNIST)"',
    "vae_embedded": f"genlab train vae --data mnist --preset small --steps {VAE_STEPS} --set log_every=250 "
    "--out runs/vae-embedded",
    "vae_sample": "genlab sample runs/vae-folder -n 64 -o vae.npz --grid vae-samples.png",
    "vae_eval": "genlab eval runs/vae-folder -n 2000 --json",
    "vae_eval_digits": "genlab eval runs/vae-folder -n 2000 --extractor digits --json",
    "shapes_inspect": "genlab data inspect shapes-png -o shapes-sheet.png",
    "gan_train": f"genlab train dcgan64 --data shapes-png --preset small --batch-size {GAN_BATCH} --steps {GAN_STEPS} "
    '--out runs/dcgan64-folder --data-license "MIT (genlab shapes64, procedural)"',
    "gan_sample": "genlab sample runs/dcgan64-folder -n 64 -o gan.npz --grid gan-samples.png",
    "gan_eval": "genlab eval runs/dcgan64-folder -n 2000 --json",
    "gan_eval_shapes": "genlab eval runs/dcgan64-folder -n 2000 --extractor shapes --json",
}
FIGURE_FILES = {  # written in the work folder by the commands above -> docs/guide/figures/
    "mnist-sheet.png": "own-data-mnist-sheet.png",
    "vae-samples.png": "own-data-mnist-samples.png",
    "shapes-sheet.png": "own-data-shapes-sheet.png",
    "gan-samples.png": "own-data-shapes-samples.png",
}


def guide_page(r: dict) -> str:
    same = all(a == b for _, a, b in r["losses"])
    loss_rows = "\n".join(f"| {step} | {a:.4f} | {b:.4f} |" for step, a, b in r["losses"])
    dup = r["shapes_duplicates"]
    return f"""# Train on your own images

genlab trains every family on data you bring: a folder of images, a .zip or .tar(.gz) of one, a
folder of IDX files (Fashion-MNIST, KMNIST, EMNIST...), the CIFAR-10/100 *binary* version, or a
.npz/.npy of uint8 images. This page walks through two folders end to end: the embedded MNIST
written out as PNG files in class folders, and a procedural 64x64 RGB set (shapes64) as PNGs.
Every output below was printed by the commands shown, and every figure drawn by them
(`python benchmarks/own_data.py --only guide` writes both folders and reruns all of it, each
command with one torch thread; load average {r["load"][0]:.1f} at the end, on a shared 2-core machine).

## The folder layout

```text
mnist-png/
  train/0/00001.png  train/0/00021.png  ...  train/9/59992.png
  test/0/00003.png   ...                     test/9/09992.png
```
- Sub-folders are the classes (`--labels folders`; the default `auto` uses them when every image
  sits in one; `--labels none` ignores them). Numeric class names sort by value.
- `train/` with `test/` (or `val/`) at the top are the splits; without them a seeded 10%
  (`--test-fraction`) is held out and recorded in the manifest.
- Files are ordered by name, then folder: names that encode an index keep the data set's order.
- PNG, JPEG, WebP, BMP, GIF (first frame), TIFF; any Pillow mode (L, LA, P, RGB, RGBA, CMYK,
  I;16). EXIF orientation is applied, transparency composited on `--background` (white).

## 1. Look at the data

```bash
{C["mnist_inspect"]}
```
```text
{r["mnist_inspect"]}
```
![The contact sheet: a row of eight images per class, as the trainer will see them](figures/own-data-mnist-sheet.png)

The contact sheet shows each class as prepared (here unchanged: 28x28 grey). `inspect` also lists
duplicates (by a hash of the decoded pixels), corrupt or unreadable files, and the size and
channels the data will be prepared at: its own (the median side, rounded to the nearest of 28, 32,
64, 128 on a log scale), unless `--image-size` / `--channels` say otherwise.

## 2. Prepare it once

```bash
{C["mnist_prepare"]}
```
```text
{r["mnist_prepare"]}
```
The first use decodes every file once, over every core, into a uint8 memory-mapped array and a
`manifest.json` (source, file-list hash, sizes, classes, preprocessing, split) in the cache
(`--cache-dir`, `$GENLAB_CACHE`, default `~/.cache/genlab`), never beside the data; later
runs find the entry by the hash of the file list and open it memory-mapped (both timed, with the
machine's load, in [docs/results/own-data.md](../results/own-data.md)). `genlab train --data` prepares on first use
itself; `prepare` does it ahead and says where.

## 3. Train, sample, evaluate

```bash
{C["vae_folder"]}
{C["vae_embedded"]}
{C["vae_sample"]}
{C["vae_eval"]}
{C["vae_eval_digits"]}
```
Same pixels in the same order give the same batches, so the folder and the embedded loader train to
the same losses ({"identical at every logged step" if same else "NOT identical: see the table"}):

| step | loss, `--data mnist-png` | loss, `--data mnist` |
|---|---|---|
{loss_rows}

![64 samples of the VAE trained on the PNG folder](figures/own-data-mnist-samples.png)

`genlab eval RUN` scores against the run's own test split (prepared with the run's options, from
its config.yaml). For your own data the default extractor is `random-projection`, a fixed random
projection of the pixels: the shipped classifiers know only MNIST digits and shapes64 motifs. Here
the data are MNIST, so the digit classifier applies too (scores of real MNIST data with each
extractor, the floor, are in [docs/results/baselines.md](../results/baselines.md)):

| extractor | FID | KID x 1000 | precision | recall |
|---|---|---|---|---|
{score_row("random-projection (default for a path)", r["vae_eval"])}
{score_row("digits", r["vae_eval_digits"])}

FID values from different extractors are not comparable with each other.

## 4. A 64x64 RGB folder

```bash
{C["shapes_inspect"]}
```
```text
{r["shapes_inspect"]}
```
![Contact sheet of the 64x64 RGB folder, one row per motif class](figures/own-data-shapes-sheet.png)

{
        f"`inspect` found {dup} duplicate groups: test images whose pixels also occur in train. shapes64 draws "
        "each split's factors independently from 368 640 combinations, so a few repeat; a held-out "
        "evaluation of your own data should check this too."
        if dup
        else "No duplicates between or within the splits."
    }

```bash
{C["gan_train"]}
{C["gan_sample"]}
{C["gan_eval"]}
{C["gan_eval_shapes"]}
```
![64 samples of DCGAN-64 after {GAN_STEPS} steps on the PNG folder](figures/own-data-shapes-samples.png)

| extractor | FID | KID x 1000 | precision | recall |
|---|---|---|---|---|
{score_row("random-projection (default for a path)", r["gan_eval"])}
{score_row("shapes", r["gan_eval_shapes"])}

{GAN_STEPS} steps at batch {GAN_BATCH} keep this page quick to rebuild; the samples are still rough
(docs/results/gan.md trains the same family for 1000 steps at batch 64).

The model card records what the run trained on (from the run's `data.json`):

```text
{r["card"]}
```

## Image-to-image pairs (pix2pix, cyclegan)

The translation families train on pairs of pictures, A (the input) and B (the target). genlab
reads three layouts from a folder, or from a .zip or .tar(.gz) of one:

```text
shoes/                      edges2shoes/               horse2zebra/
  A/0001.png  B/0001.jpg      train/0001.jpg (A|B)       trainA/...  trainB/...
  A/0002.png  B/0002.jpg      val/0001.jpg               testA/...   testB/...
```
- **A/ and B/ folders** (`--pairs ab`): files pair up by their path inside the folder without the
  suffix (`A/x/1.png` with `B/x/1.jpg`). `train/A`, `train/B`, `test/A`, `test/B` (or `val/`) at
  the top give the splits, as do the CycleGAN repository's `trainA/ trainB/ testA/ testB/`;
  otherwise a seeded `--test-fraction` of the pairs is held out. A file without a partner is
  skipped with one warning that counts them and names the first few (`--strict`: an error); no
  pair at all is an error.
- **Side-by-side images** (`--pairs side-by-side`): each image holds A on the left and B on the
  right, width = 2 x height, like the pix2pix paper's own data sets (edges2shoes, facades).
- **Unpaired domains** (`--pairs unpaired`): the same A/ and B/ (or trainA/ ...) folders, any
  counts, no names matched.

`pix2pix` reads `--pairs paired` by default (A/ and B/ folders when there are any, else
side-by-side images; either way the output of `data inspect` and `data prepare` names the layout
chosen); `cyclegan` reads `--pairs unpaired`. Both domains are prepared at one size and channel
count by the rules below (`--image-size`, `--channels`, `--crop`) and stored as rows of A|B
(width 2 x the image size), the layout of the built-in translation sets.

```bash
genlab data inspect shoes --pairs paired
genlab train pix2pix --data shoes --preset small --steps 2000
genlab sample runs/pix2pix -n 16 -o shoes.npz --grid shoes.png
genlab eval runs/pix2pix
genlab data prepare horse2zebra --pairs unpaired
genlab train cyclegan --data horse2zebra --preset small --steps 2000
genlab eval runs/cyclegan
```

Unequal counts (unpaired): a split has as many rows as its larger domain; the larger domain keeps
its own order and the smaller one is re-drawn by a cycle of seeded permutations
(`numpy.random.default_rng(1)`), so each of its images appears once per lap. The manifest records
the rule, the seed and the files per domain and split.

`genlab sample` translates held-out A images and shows [A | G(A)]. `genlab eval RUN` translates
the test split's A images: for aligned pairs it scores L1, PSNR and SSIM against the true B
beside the copy-the-input baseline (A itself as the output), plus FID of G(A) against the B test
images; unpaired data has no ground truth, which eval says, and it reports that FID and the
copy-the-input FID only (extractor: random projection, the default for your own data). `--pairs`
is refused for the other families, and `pix2pix` refuses plain images and unpaired domains, each
in one line.

## Options and what goes wrong

- `--image-size N`, `--channels 1|3`: downscaling averages (`Image.reduce` for an integer factor,
  else `Image.Resampling.BOX`); upscaling uses LANCZOS and prints one warning with a count.
- `--crop center` (default) takes the centre square; `--crop none` pads to a square with `--background`.
- These options live in the run's config.yaml (`image_size`, `channels`, `crop`, `labels`,
  `test_fraction`, `background`, `strict`, `pair_layout` (`--pairs`), `data_license`): a run is
  reproducible from its config.
- Corrupt, truncated or unreadable files are skipped with one warning that counts them and names
  the first few (`--strict` makes them an error); a decompression bomb (over Pillow's pixel limit)
  is refused by name; an archive member with an absolute or `..` path refuses the whole archive;
  labels out of range in arrays, an empty folder or one without images are one-line errors
  (exit status 2). Nothing is ever written into the data's folder.
"""


def score_row(name: str, r: dict) -> str:
    return f"| {name} | {r['fid']:.2f} | {1000 * r['kid']:.2f} | {r['precision']:.3f} | {r['recall']:.3f} |"


def bench_row(name: str, r: dict) -> str:
    starts = f"{1000 * min(r['startup_s']):.0f} / {1000 * statistics.median(r['startup_s']):.0f} ms"
    walk = f"{1000 * min(r['walk_s']):.0f} ms"
    return f"| {name} | {r['images']} | {r['seconds']:.1f} s | {r['per_s']:.0f} | {starts} | {walk} |"


def results_page(r: dict, command: str) -> str:
    mach, png, jpg = r["machine"], r["png28"], r["jpg64"]
    step, draw = r["step_ms"], r["draw_us"]
    return f"""# Own data: decode-and-cache throughput, cached start-up, step time

```bash
{command}
```
Machine: {mach["cores"]} cores ({mach["cpu"]}), torch {mach["torch"]} on {mach["threads"]} threads,
{mach["date"]}; load average {", ".join(f"{v:.1f}" for v in mach["load_average"])} at the start and
{", ".join(f"{v:.1f}" for v in r["load_end"])} at the end (1, 5, 15 min). The machine is shared with
other engineers: a load above the 2 cores means these numbers are slower than an idle laptop's.

| what | images | first use (decode + cache) | images/s | cached start-up (best / median of 5) | bare stat walk |
|---|---|---|---|---|---|
{bench_row("28x28 PNG folder (MNIST train, class folders)", png)}
{bench_row("64x64 JPEG folder (shapes64, class folders)", jpg)}

- First use: list and stat the files, read every header (for the data's own size and colour),
  decode in {r["cores_used"]} processes, write the memory-mapped .npy and the manifest, hash the arrays.
- Cached start-up: `load_dataset(PATH, "train")` when the entry exists: walk and stat the files,
  hash the list, open the arrays with `np.load(mmap_mode="r")`. The content key needs every file's
  size and modification time, so the floor is one `stat` per file: the last column times a bare
  `os.scandir` walk doing only that. On a loaded machine both grow with the load.
- Extra anonymous memory of a Batcher after drawing 200 batches of 128 (RssAnon, measured after
  the split is loaded): {r["rss_mapped_mb"]:.1f} MB over the memory-mapped cache, {r["rss_embedded_mb"]:.1f} MB
  over the embedded MNIST (that Batcher holds a copy of the whole array as a tensor). The mapped
  pages are file cache the OS can drop.

| 1x28x28, batch 128 | draw a batch, µs (median, 5 x 500) | VAE (small) step, ms (median, 3 rounds x 200) |
|---|---|---|
| `--data mnist-png` (memory-mapped cache) | {draw["cache"]:.0f} | {step["cache"]:.2f} |
| `--data mnist` (embedded, in memory) | {draw["embedded"]:.0f} | {step["embedded"]:.2f} |
| ratio cache / embedded | {draw["cache"] / draw["embedded"]:.2f} | {step["cache"] / step["embedded"]:.3f} |

A step includes drawing its batch (StepClock). A memory-mapped batch is one fancy-indexed read of
128 rows (the OS page cache holds the file after the first epoch); the embedded Batcher indexes a
tensor copy. The step-time ratio moves by several percent between rounds with the machine's load.
"""
