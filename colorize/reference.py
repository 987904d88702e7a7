"""Colour from reference photos: Charpiat, Hofmann & Schölkopf, "Automatic
Image Colorization via Multimodal Predictions" (ECCV 2008).

A colour photo of the same subject holds colours that no model trained on
other photos can know. The method learns, from the reference photos alone,
which colour goes with which local texture of L, and colorizes a gray photo
in four steps:

1. colour classes: the references' ab quantised by k-means;
2. local descriptors of L at every pixel, at several scales, reduced by PCA;
3. a multimodal prediction: for every pixel a probability for every colour
   class (a Parzen-window classifier over pixels sampled from the
   references: the paper's alternative to its SVMs, see below), and the
   expected local colour variation;
4. global coherence: the class map of least energy -log p + rho * (Lab
   distance between neighbouring classes) * (edge weight), by graph cuts
   (colorize.graphcut), where the edge weight is small across L's edges and
   where strong colour variation is predicted; then the colour is refined
   continuously within the chosen class.

Departures from the paper, each for a stated reason (RESULTS.md measures
them where a measurement applies):
- SURF is not in OpenCV's main package (it is patented, in
  opencv-contrib's non-free build). DAISY (scikit-image) replaces it: like
  SURF it is a histogram of local gradient orientations over a grid of
  regions around the pixel, and it is computed densely (every pixel) in
  one call, which is what a per-pixel classifier needs. Three radii stand
  for SURF's three scales.
- Parzen windows instead of one-against-all SVMs with Platt's probability
  outputs: the paper offers Parzen windows as its simpler variant; an SVM
  with probabilities on a few thousand samples and a few tens of classes
  is fitted with a 5-fold internal cross-validation per class pair:
  measured 6.4 s to fit and 21 s to predict one photo, against 4.6 s for
  this whole prediction (RESULTS.md), over the 10 s budget for learning
  and colorizing. The same kernel weights give the predicted colour variation
  (the paper fits a separate SVR) and the continuous refinement.
- Everything per pixel runs at a bounded work size (ReferenceConfig.size,
  squashed to a square like the network's input), so any photo size works
  at a fixed cost; the result is merged onto the photo's own
  full-resolution L as for the network (colorize.fullres.merge).
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import cv2
import numpy as np
import tensorflow as tf
from skimage.feature import daisy
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

from colorize import color, folders, graphcut, imageio, inference, metrics

# Below this mean chroma (Lab units) a reference holds no colours worth
# learning: a gray or near-gray photo. Above eval's gray-input test (1.0):
# a faint cast is still scored there, but is not worth learning colours from.
MIN_REFERENCE_CHROMA = 3.0
# Parzen window: the bandwidth is the median distance of a training sample
# to its BANDWIDTH_NEIGHBOUR-th neighbour.
BANDWIDTH_NEIGHBOUR = 8
# Probabilities are floored here before -log: a class the classifier never
# saw near a pixel costs -log(1e-4) = 9.2, not infinity.
PROBABILITY_FLOOR = 1e-4
CHUNK = 1024  # pixels per kernel block: CHUNK x samples float32 (16 MB at 4000)
FORMAT_VERSION = 1


class ReferenceError(ValueError):
    """No usable reference photo (with the reasons)."""


@dataclasses.dataclass(frozen=True)
class ReferenceConfig:
    size: int = 128  # work size: L and ab are learnt and predicted at size x size
    classes: int = 32  # k-means colour classes ("a few tens" in the paper)
    samples: int = 4000  # training pixels, over all references together
    components: int = 32  # PCA dimensions of the descriptors
    smoothness: float = 0.1  # rho: graph-cut cost per ab unit between neighbours
    edge_sigma: float = 4.0  # L step (0..100) at which an edge halves coherence (about)
    daisy_radii: tuple = (4, 8, 16)  # three scales, as the paper's three SURF scales
    fourier_window: int = 8  # side of the local Fourier spectrum's window
    seed: int = 0


@dataclasses.dataclass
class ReferenceModel:
    """What is learnt from the references: enough to colorize any photo."""
    config: ReferenceConfig
    centres: np.ndarray  # [C, 2] ab of the colour classes
    feature_mean: np.ndarray  # [D] standardisation of the raw descriptors
    feature_scale: np.ndarray  # [D]
    pca_mean: np.ndarray  # [D]
    pca_components: np.ndarray  # [K, D]
    train_features: np.ndarray  # [M, K] the sampled pixels' reduced descriptors
    train_classes: np.ndarray  # [M] their colour class
    train_ab: np.ndarray  # [M, 2] their colour
    train_variation: np.ndarray  # [M] their local colour variation (ab units / px)
    bandwidth: float
    variation_scale: float  # median train_variation: the pairwise term's unit
    sources: list  # names of the references learnt from


# --- Descriptors -------------------------------------------------------------

def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT) if sigma else image


def _daisy(l: np.ndarray, radius: int) -> np.ndarray:
    """Dense DAISY [H, W, 56] (one ring of six histograms of eight
    orientations, and the centre's): padded so every pixel has one."""
    padded = np.pad(l, radius, mode="reflect")
    return daisy(padded, step=1, radius=radius, rings=1, histograms=6, orientations=8,
                 normalization="l1")


def _fourier(l: np.ndarray, window: int) -> np.ndarray:
    """Magnitudes of the 2-D DFT of the window x window patch around each
    pixel [H, W, window * (window // 2 + 1)], log-compressed."""
    before = window // 2
    padded = np.pad(l, ((before, window - 1 - before),) * 2, mode="reflect")
    patches = np.lib.stride_tricks.sliding_window_view(padded, (window, window))
    spectrum = np.abs(np.fft.rfft2(patches * np.hanning(window)[:, None] * np.hanning(window)))
    return np.log1p(spectrum.reshape(*l.shape, -1)).astype(np.float32)


def descriptor_blocks(l: np.ndarray, cfg: ReferenceConfig) -> list[np.ndarray]:
    """L [S, S] (0..100) -> the descriptor blocks, each [S*S, d]: DAISY at
    each radius, the local Fourier spectrum, the gradient norm and the local
    standard deviation at three scales, and L smoothed at three scales."""
    l = np.ascontiguousarray(l, np.float32)
    n = l.size
    blocks = [_daisy(l / 100.0, r).reshape(n, -1) for r in cfg.daisy_radii]
    blocks.append(_fourier(l / 100.0, cfg.fourier_window).reshape(n, -1))
    grads, stds, means = [], [], []
    for sigma in (1.0, 2.0, 4.0):
        smooth = _blur(l, sigma)
        gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT)
        gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT)
        grads.append(np.hypot(gx, gy))
        mean = _blur(l, 2 * sigma)
        stds.append(np.sqrt(np.maximum(_blur(l * l, 2 * sigma) - mean * mean, 0.0)))
        means.append(_blur(l, sigma / 2 if sigma > 1 else 0))
    for block in (grads, stds, means):
        blocks.append(np.stack(block, axis=-1).reshape(n, -1))
    return [b.astype(np.float32) for b in blocks]


def _raw_features(l: np.ndarray, cfg: ReferenceConfig) -> tuple[np.ndarray, list[int]]:
    blocks = descriptor_blocks(l, cfg)
    return np.concatenate(blocks, axis=1), [b.shape[1] for b in blocks]


def _block_weights(widths: list[int]) -> np.ndarray:
    """Each block's columns scaled by 1/sqrt(width), so that every block
    (a 56-wide DAISY as the 3-wide gradient norm) adds the same variance
    before PCA, as its standardised columns each add 1."""
    return np.concatenate([np.full(w, 1.0 / np.sqrt(w), np.float32) for w in widths])


def reduce(model: ReferenceModel, raw: np.ndarray) -> np.ndarray:
    """Raw descriptors [N, D] -> the model's reduced features [N, K]."""
    scaled = (raw - model.feature_mean) / model.feature_scale
    return ((scaled - model.pca_mean) @ model.pca_components.T).astype(np.float32)


# --- Learning -------------------------------------------------------------

def work_lab(photo: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Photo [H, W, C] (uint8, uint16 or float) -> (L [S, S] by the same
    route as a photo to colorize (colorize.imageio.network_rgb),
    ab [S, S, 2] of the same shrunk photo)."""
    lab = color.rgb_to_lab_np(imageio.network_rgb(inference.to_rgb3_np(np.asarray(photo)), size))
    return lab[..., 0].astype(np.float32), lab[..., 1:].astype(np.float32)


def check_colourful(photo: np.ndarray, name: str) -> None:
    """ReferenceError for a gray or near-gray reference: it holds no
    colours to learn."""
    chroma = metrics.mean_chroma(imageio.to_uint8(photo[..., :3]))
    if chroma < MIN_REFERENCE_CHROMA:
        raise ReferenceError(f"{name} is gray or nearly (mean chroma {chroma:.1f} < "
                             f"{MIN_REFERENCE_CHROMA:g}): it holds no colours to learn")


def colour_variation(ab: np.ndarray) -> np.ndarray:
    """Local colour variation [S, S]: the norm of ab's gradient (ab units
    per pixel, smoothed over a pixel), what the paper predicts per pixel."""
    total = np.zeros(ab.shape[:2], np.float32)
    for c in range(2):
        smooth = _blur(np.ascontiguousarray(ab[..., c]), 1.0)
        gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3, borderType=cv2.BORDER_REFLECT) / 8
        gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3, borderType=cv2.BORDER_REFLECT) / 8
        total += gx * gx + gy * gy
    return np.sqrt(total)


def colour_classes(ab: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """ab [N, 2] -> k-means centres [C, 2], C = count, or fewer when the
    pixels have fewer distinct colours (rounded to 0.5 ab units)."""
    distinct = len(np.unique(np.round(ab * 2), axis=0))
    k = max(1, min(count, distinct))
    return KMeans(n_clusters=k, n_init=3, random_state=seed).fit(ab).cluster_centers_


def nearest_class(ab: np.ndarray, centres: np.ndarray) -> np.ndarray:
    return np.argmin(((ab[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)


def learn(references: list[np.ndarray], cfg: ReferenceConfig = ReferenceConfig(),
          names: list[str] | None = None) -> ReferenceModel:
    """Colour photos [H, W, C] of any sizes -> the learnt model. Each is
    shrunk to the work size first, so memory does not grow with their
    size; cfg.samples pixels are drawn evenly from them."""
    names = names or [f"reference {i}" for i in range(len(references))]
    if not references:
        raise ReferenceError("no reference photo given")
    rng = np.random.default_rng(cfg.seed)
    per_photo = max(1, cfg.samples // len(references))
    raws, abs_, variations, all_ab = [], [], [], []
    widths = None
    for photo, name in zip(references, names):
        check_colourful(photo, name)
        l, ab = work_lab(photo, cfg.size)
        raw, widths = _raw_features(l, cfg)
        pick = rng.choice(l.size, size=min(per_photo, l.size), replace=False)
        raws.append(raw[pick])
        abs_.append(ab.reshape(-1, 2)[pick])
        variations.append(colour_variation(ab).ravel()[pick])
        all_ab.append(ab.reshape(-1, 2))
    raw = np.concatenate(raws)
    train_ab = np.concatenate(abs_)
    every_ab = np.concatenate(all_ab)
    if len(every_ab) > 50_000:  # k-means on a sample: enough for a few tens of centres
        every_ab = every_ab[rng.choice(len(every_ab), 50_000, replace=False)]
    centres = colour_classes(every_ab, cfg.classes, cfg.seed)
    mean, scale = raw.mean(axis=0), raw.std(axis=0) + 1e-6
    scaled = (raw - mean) / scale * _block_weights(widths)
    scale = scale / _block_weights(widths)  # folded in: reduce() needs one division
    pca = PCA(n_components=min(cfg.components, *scaled.shape), random_state=cfg.seed).fit(scaled)
    model = ReferenceModel(
        config=cfg, centres=centres.astype(np.float32),
        feature_mean=mean.astype(np.float32), feature_scale=scale.astype(np.float32),
        pca_mean=pca.mean_.astype(np.float32), pca_components=pca.components_.astype(np.float32),
        train_features=np.zeros(0), train_classes=nearest_class(train_ab, centres),
        train_ab=train_ab, train_variation=np.concatenate(variations),
        bandwidth=1.0, variation_scale=1.0, sources=list(names))
    model.train_features = reduce(model, raw)
    model.bandwidth = _bandwidth(model.train_features)
    model.variation_scale = float(np.median(model.train_variation)) + 1e-3
    return model


def _bandwidth(features: np.ndarray) -> float:
    """The median distance of a training sample to its
    BANDWIDTH_NEIGHBOUR-th nearest other sample: a kernel as wide as the
    samples' local spacing."""
    k = min(BANDWIDTH_NEIGHBOUR, len(features) - 1)
    if k < 1:
        return 1.0
    dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(features).kneighbors(features)
    return float(max(np.median(dist[:, k]), 1e-6))


# --- Prediction ----------------------------------------------------------------

@dataclasses.dataclass
class Prediction:
    probabilities: np.ndarray  # [N, C] per pixel and class
    variation: np.ndarray  # [N] predicted local colour variation
    class_ab: np.ndarray  # [N, C, 2] the kernel-weighted colour within each class
    class_weight: np.ndarray  # [N, C] the kernel weight behind class_ab
    support: np.ndarray  # [N] exp(-d^2 / 2h^2) to the nearest training sample: ~1 for a
    # texture seen in the references, ~0 for one unlike any of theirs


def predict(model: ReferenceModel, l: np.ndarray) -> Prediction:
    """Parzen-window predictions for every pixel of L [S, S]: the kernel
    exp(-|f - f_k|^2 / 2h^2) between the pixel's features and each
    training sample's weighs that sample's class, variation and colour."""
    features = reduce(model, _raw_features(l, model.config)[0])
    train = model.train_features
    classes = len(model.centres)
    onehot = np.eye(classes, dtype=np.float32)[model.train_classes]
    # One product gives, per pixel: weight per class, weighted a and b per
    # class, weighted variation and total weight.
    targets = np.concatenate([onehot, onehot * model.train_ab[:, :1], onehot * model.train_ab[:, 1:],
                              model.train_variation[:, None], np.ones((len(train), 1))],
                             axis=1).astype(np.float32)
    inv = 1.0 / (2.0 * model.bandwidth ** 2)
    # -|f - t|^2 / 2h^2 = (2 f.t - |t|^2) / 2h^2 - |f|^2 / 2h^2: the last term
    # is the same for every sample of a pixel, so it cancels when the
    # weights are taken relative to the nearest sample (below), and each
    # block needs one product and three passes.
    train_t = np.ascontiguousarray(train.T * np.float32(2.0 * inv))
    train_term = ((train * train).sum(1) * inv).astype(np.float32)
    sums = np.empty((len(features), targets.shape[1]), np.float32)
    closest = np.empty(len(features), np.float32)
    for start in range(0, len(features), CHUNK):
        f = features[start:start + CHUNK]
        logits = f @ train_t
        logits -= train_term
        # Relative to each pixel's nearest sample: a pixel unlike every
        # reference pixel still gets a distribution (its nearest samples').
        top = logits.max(axis=1)
        closest[start:start + CHUNK] = top
        logits -= top[:, None]
        np.exp(logits, out=logits)
        sums[start:start + CHUNK] = logits @ targets
    # exp(-|f - nearest|^2 / 2h^2)
    support = np.exp(np.minimum(closest - (features * features).sum(1) * inv, 0.0))
    per_class = sums[:, :classes]
    total = sums[:, -1:]
    safe = np.maximum(per_class, 1e-30)
    class_ab = np.stack([sums[:, classes:2 * classes] / safe,
                         sums[:, 2 * classes:3 * classes] / safe], axis=-1)
    return Prediction(probabilities=per_class / total, variation=sums[:, -2] / total[:, 0],
                      class_ab=class_ab, class_weight=per_class, support=support)


def edge_weights(model: ReferenceModel, l: np.ndarray, variation: np.ndarray,
                 edges: np.ndarray) -> np.ndarray:
    """The pairwise term's weight per edge: rho, lowered across L's edges
    (exp(-dL^2 / 2 sigma^2)) and where the classifier expects colour to
    vary (divided by 1 + the pair's harmonic-mean variation in units of the
    references' median), as the paper's spatially varying coherence."""
    cfg = model.config
    flat_l = l.ravel()
    step = flat_l[edges[:, 0]] - flat_l[edges[:, 1]]
    gp, gq = variation[edges[:, 0]], variation[edges[:, 1]]
    harmonic = 2.0 * gp * gq / np.maximum(gp + gq, 1e-9)
    return (cfg.smoothness * np.exp(-step * step / (2.0 * cfg.edge_sigma ** 2))
            / (1.0 + harmonic / model.variation_scale))


def choose_classes(model: ReferenceModel, l: np.ndarray, pred: Prediction) -> np.ndarray:
    """The class map [N] of least energy (alpha-expansion): -log p per
    pixel, plus the Lab distance between neighbouring classes times the
    edge's weight."""
    unary = -np.log(pred.probabilities + PROBABILITY_FLOOR)
    edges = graphcut.grid_edges(*l.shape)
    pairwise = np.linalg.norm(model.centres[:, None] - model.centres[None], axis=-1)
    return graphcut.alpha_expansion(unary, edges, edge_weights(model, l, pred.variation, edges),
                                    pairwise)


def class_colours(model: ReferenceModel, pred: Prediction,
                  labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ab [N, 2], confidence [N]) for a class map: the colour refined
    within each pixel's class (the kernel-weighted mean colour of that
    class's training pixels; its centre where none is near), and the
    probability the classifier gave that class."""
    rows = np.arange(len(labels))
    seen = pred.class_weight[rows, labels] > 1e-12
    ab = np.where(seen[:, None], pred.class_ab[rows, labels], model.centres[labels])
    return ab.astype(np.float32), pred.probabilities[rows, labels]


def colorize_l(model: ReferenceModel, l: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """L [S, S] (0..100) -> (ab [S, S, 2] in Lab units, confidence [S, S])."""
    pred = predict(model, l)
    ab, confidence = class_colours(model, pred, choose_classes(model, l, pred))
    return ab.reshape(*l.shape, 2), confidence.reshape(l.shape)


# --- Use from eval ---------------------------------------------------------------

def as_model(model: ReferenceModel, prior: inference.Model | None = None,
             name: str | None = None) -> inference.Model:
    """An inference.Model whose predict gives the reference colorization's
    ab at the work size, so that eval merges, scores and writes it as it
    does the network's. With a prior (the automatic model), each pixel's
    ab is the mix confidence * reference + (1 - confidence) * prior: the
    network's colour where the classifier is unsure."""
    size = model.config.size

    def predict_ab(l_in):
        l_batch = color.denormalize_l(np.asarray(l_in, np.float32))[..., 0]
        results = [colorize_l(model, l) for l in l_batch]
        ab = np.stack([r[0] for r in results])
        if prior is not None:
            confidence = np.stack([r[1] for r in results])[..., None]
            net_in = tf.image.resize(l_in, [prior.render_size] * 2, antialias=True)
            net_ab = tf.image.resize(prior.predict(net_in), [size, size]).numpy()
            ab = confidence * ab + (1.0 - confidence) * color.denormalize_ab(net_ab).numpy()
        return tf.constant(color.normalize_ab(ab), tf.float32)

    label = name or f"reference ({len(model.sources)} photo{'s' * (len(model.sources) != 1)})"
    return inference.Model(predict_ab, size, label + (" + automatic prior" if prior else ""))


def read_references(path: str | os.PathLike, max_pixels: int | None = imageio.MAX_PIXELS,
                    size: int = ReferenceConfig.size) -> tuple[list, list, list]:
    """A colour photo or a folder of them -> (photos, names, skipped
    [{path, reason}]). Unreadable and gray photos are skipped with the
    reason; JPEGs are decoded at reduced size when they are far larger
    than the work size (bounded memory), others up to max_pixels."""
    path = Path(path)
    if path.is_file():
        root, names = path.parent, [path.name]
        skipped = []
    elif path.is_dir():
        found = folders.scan(path)
        root, names, skipped = path, found.images, list(found.skipped)
    else:
        raise ReferenceError(f"--reference does not exist: {path}")
    photos, kept = [], []
    for relpath in names:
        try:
            photo = imageio.read_image(root / relpath, keep_depth=True, min_side=2 * size,
                                       max_pixels=max_pixels)
            check_colourful(photo, folders.display_name(relpath))
            # Only the work-size version is needed: keep that, not the file.
            photos.append(imageio.resize(photo, *_shrunk_size(photo, 2 * size)))
            kept.append(folders.display_name(relpath))
        except Exception as e:  # noqa: BLE001 - any failure is this file's skip reason
            skipped.append({"path": folders.display_name(relpath),
                            "reason": folders.skip_reason(e)})
    if not photos and path.is_file():
        raise ReferenceError(f"--reference {path}: {skipped[0]['reason']}")
    if not photos:
        reasons = "; ".join(f"{s['path']}: {s['reason']}" for s in skipped[:5]) or "no image files"
        raise ReferenceError(f"no usable reference photo in {path} ({reasons})")
    return photos, kept, skipped


def _shrunk_size(photo: np.ndarray, side: int) -> tuple[int, int]:
    """(height, width) with the shorter side at most `side`, aspect kept."""
    h, w = photo.shape[:2]
    factor = min(1.0, side / min(h, w))
    return max(1, round(h * factor)), max(1, round(w * factor))


# --- Saving --------------------------------------------------------------------

_ARRAYS = ("centres", "feature_mean", "feature_scale", "pca_mean", "pca_components",
           "train_features", "train_classes", "train_ab", "train_variation")


def save(model: ReferenceModel, path: str | os.PathLike) -> None:
    """One .npz file (arrays and a JSON header), written under a temporary
    name then renamed."""
    path = Path(path)
    header = {"format": FORMAT_VERSION, "config": dataclasses.asdict(model.config),
              "bandwidth": model.bandwidth, "variation_scale": model.variation_scale,
              "sources": model.sources}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, header=np.array(json.dumps(header)),
                            **{k: getattr(model, k) for k in _ARRAYS})
    os.replace(tmp, path)


def load(path: str | os.PathLike) -> ReferenceModel:
    """A model written by save(); ReferenceError if the file is not one."""
    try:
        with np.load(path, allow_pickle=False) as data:
            header = json.loads(str(data["header"]))
            arrays = {k: data[k] for k in _ARRAYS}
    except (OSError, KeyError, ValueError) as e:
        raise ReferenceError(f"{path} is not a reference model saved by "
                             f"--save_reference_model ({type(e).__name__}: {e})") from e
    if header.get("format") != FORMAT_VERSION:
        raise ReferenceError(f"{path} is a reference model of format {header.get('format')}, "
                             f"this version reads {FORMAT_VERSION}")
    config = dict(header["config"])
    config["daisy_radii"] = tuple(config["daisy_radii"])
    return ReferenceModel(config=ReferenceConfig(**config), bandwidth=header["bandwidth"],
                          variation_scale=header["variation_scale"], sources=header["sources"],
                          **arrays)
