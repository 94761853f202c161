"""`vsp edit` (prompt-to-prompt) against a plain Python prompt-to-prompt (p2p_reference.py) on
diffusers' parts and the same tiny weights, SDXL and SD 1.x at a non-square size: images within
2/255 and final latents within LATENT_TOLERANCE for replace, refine, reweight (alone and on top of
replace, positive and negative), local blend, per-word cross-replace, self-replace windows, a word
of several tokens, two edits at once and --source-pooled; the output files; the input errors.
The reference's own sanity (identical prompts give identical rows; no edit is diffusers' pipeline)
is checked first, without the binary (`-k reference`)."""
import numpy as np
import pytest
import torch
from PIL import Image

from conftest import DATA, exported
from p2p_reference import EditRun, decode, initial_latents, prompt_to_prompt, refinement_mapper, replacement_mapper, \
    time_word_alphas, word_inds
from test_bad_input import one_error_line, run, written
from vsp_reference import read_png

TOLERANCE = 2 / 255 + 1e-6
# vsp runs the edits fused (P_src·(M·V) instead of (P_src·M)·V, SDPA instead of an explicit
# softmax), so it differs from the reference by float rounding, which the tiny random UNets amplify
# over the steps: observed at most 3.5e-5 (every case, both models; the reference itself is 2.5e-5
# from diffusers' pipeline), images 0.5/255 (PNG rounding). The smallest semantic change the cases
# were checked to catch on the reference moves the latents by 3.2e-4 (the cross-replace window
# over steps instead of steps + 1, SDXL); most move them by 1e-3 to 1.
LATENT_TOLERANCE = 1e-4
WIDTH, HEIGHT, STEPS, CFG, SEED = 96, 64, 6, 7.5, 11
SIZES = {"tiny": (96, 64), "sd1-tiny": (128, 64)}  # non-square; SD 1.x sizes are multiples of 64
SOURCE = "a cat riding a bicycle"


@pytest.fixture(scope="module")
def pipelines(tiny_pipeline):
    from diffusers import StableDiffusionPipeline
    sd1 = StableDiffusionPipeline.from_pretrained(DATA / "sd1-tiny-diffusers", torch_dtype=torch.float32,
                                                  safety_checker=None, requires_safety_checker=False)
    for pipe in (tiny_pipeline, sd1):
        pipe.set_progress_bar_config(disable=True)
    return {"tiny": tiny_pipeline, "sd1-tiny": sd1}


def edit_run(model="tiny", **fields):
    width, height = SIZES[model]
    fields = {"source": SOURCE, "edits": ["a dog riding a bicycle"], "steps": STEPS, "cfg": CFG, "seed": SEED,
              "width": width, "height": height, **fields}
    return EditRun(**fields)


def number(x):
    return repr(float(x))


def cli_args(r, edits_given=True):
    """`vsp edit` flags for an EditRun. edits_given=False leaves --to out (one edit = the source)."""
    args = ["--prompt", r.source]
    if edits_given:
        for edit in r.edits:
            args += ["--to", edit]
    if isinstance(r.modes, str) and r.modes != "auto":
        args += ["--mode", r.modes]
    for word, weight in (r.reweight or {}).items():
        args += ["--reweight", f"{word}={number(weight)}"]
    if r.blend is not None:
        args += ["--blend", ",".join(w if isinstance(w, str) else " ".join(w) for w in r.blend),
                 "--blend-threshold", number(r.blend_threshold)]
    if isinstance(r.cross_replace, dict):
        spec = ",".join(f"{'default' if k == 'default_' else k}={number(v)}" for k, v in r.cross_replace.items())
    else:
        spec = number(r.cross_replace)
    args += ["--cross-replace", spec, "--self-replace", number(r.self_replace)]
    if r.self_res is not None:
        args += ["--self-replace-res", r.self_res]
    args += ["--steps", r.steps, "--cfg", number(r.cfg), "-s", r.seed, "--sampler", "ddim", "-W", r.width,
             "-H", r.height, "--vae-tiling", "off"]  # the reference decodes whole (the tiny VAE tiles at 192x128)
    if r.negative is not None:
        args += ["-n", r.negative]
    if r.source_pooled:
        args.append("--source-pooled")
    return args


def output_names(edits):
    return sorted(["source.png", "grid.png", *[f"edit_{e}.png" for e in range(1, edits + 1)]])


def vsp_edit(run_vsp, model, r, out, edits_given=True):
    """(latents [1 + E, C, h, w], images [1 + E, H, W, 3]) as vsp wrote them."""
    latents_path = out / "latents.npy"
    run_vsp("edit", "--model", exported(model), *cli_args(r, edits_given), "--out", out, "--save-latents",
            "latents.npy", "-q")
    edits = len(r.edits)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == sorted(output_names(edits) + ["latents.npy"])
    images = np.stack([read_png(out / "source.png"), *[read_png(out / f"edit_{e}.png") for e in range(1, edits + 1)]])
    Image.open(out / "grid.png").verify()
    return np.load(latents_path), images


def compare(what, latents, images, ref_latents, ref_images, latent_tolerance=LATENT_TOLERANCE):
    ref_latents = ref_latents.numpy()
    assert latents.shape == ref_latents.shape, f"{what}: latents {latents.shape}, expected {ref_latents.shape}"
    assert latents.dtype == np.float32
    assert images.shape == ref_images.shape, f"{what}: images {images.shape}, expected {ref_images.shape}"
    rows = ["source", *[f"edit {e}" for e in range(1, len(latents))]]
    latent_diffs = [np.abs(latents[r] - ref_latents[r]).max() for r in range(len(rows))]
    image_diffs = [np.abs(images[r] - ref_images[r]).max() for r in range(len(rows))]
    print(f"{what}: latents max diff per row {['%.3g' % d for d in latent_diffs]}, "
          f"images {['%.2f/255' % (d * 255) for d in image_diffs]}")
    for row, latent_diff, image_diff in zip(rows, latent_diffs, image_diffs):
        assert image_diff <= TOLERANCE, f"{what}, {row}: images differ by {image_diff * 255:.2f}/255 from the reference"
        assert latent_diff <= latent_tolerance, f"{what}, {row}: latents differ by {latent_diff:.3g} from the reference"


# ----------------------------------------------------------------------------------------------
# The reference's own sanity (no binary needed)

@pytest.mark.parametrize("model", ["tiny", "sd1-tiny"])
def test_reference_identical_prompts_give_identical_rows(pipelines, model):
    """Up to float rounding: CPU kernels are not batch-invariant (rows of one batch may round
    differently), which the tiny UNets amplify to about 2e-5 over 6 steps."""
    r = edit_run(model, edits=[SOURCE, SOURCE], cross_replace=1.0, self_replace=0.0)
    latents, images = prompt_to_prompt(pipelines[model], r)
    for row in (1, 2):
        diff = (latents[row] - latents[0]).abs().max().item()
        print(f"{model} row {row}: {diff:.3g} from the source row")
        assert diff <= 1e-4, f"row {row} differs from the source row by {diff:.3g}"


@pytest.mark.parametrize("model", ["tiny", "sd1-tiny"])
def test_reference_without_edits_is_the_diffusers_pipeline(pipelines, model):
    """No cross or self replacement, no blend, no reweight: every row is diffusers' own DDIM
    pipeline on its prompt from the shared noise."""
    from diffusers import DDIMScheduler
    pipe = pipelines[model]
    r = edit_run(model, edits=["a dog riding a bicycle", "a red cat riding a bicycle"], cross_replace=0.0,
                 self_replace=0.0)
    latents, _ = prompt_to_prompt(pipe, r)
    original = pipe.scheduler
    pipe.scheduler = DDIMScheduler.from_config(original.config)
    try:
        noise = initial_latents(pipe, r, pipe.scheduler)[:1] / pipe.scheduler.init_noise_sigma
        for row, prompt in enumerate(r.prompts):
            expected = pipe(prompt=prompt, num_inference_steps=STEPS, guidance_scale=CFG, width=r.width,
                            height=r.height, latents=noise.clone(), output_type="latent").images
            diff = (latents[row] - expected[0]).abs().max().item()
            print(f"{model} row {row}: {diff:.3g} from diffusers")
            assert diff <= 1e-4, f"row {row} ({prompt!r}) differs from diffusers by {diff:.3g}"
    finally:
        pipe.scheduler = original


def test_reference_alignment_quirks(pipelines):
    tok = pipelines["sd1-tiny"].tokenizer
    # "hippopotamus" is 3 tokens: cat's column spreads over them at 1/3; after it the original writes
    # the identity (mapper[j, j]) instead of continuing the shifted diagonal.
    assert word_inds("a hippopotamus riding a bicycle", 1, tok) == [2, 3, 4]
    m = replacement_mapper(SOURCE, "a hippopotamus riding a bicycle", tok)
    assert torch.allclose(m[2, 2:5], torch.full((3,), 1 / 3)) and m[0, 0] == 1 and m[1, 1] == 1
    assert m[3, 5] == 0 and m[5, 5] == 1 and m[76, 76] == 1
    # The other way round (3 tokens -> 1): the source is 2 positions ahead, so the last 2 columns stay 0.
    m = replacement_mapper("a hippopotamus riding a bicycle", SOURCE, tok)
    assert torch.equal(m[2:5, 2], torch.ones(3)) and m[74, 74] == 1 and m[75:, :].sum() == 0 and m[:, 75:].sum() == 0
    # Refine: added words keep their own attention, the rest follow the source.
    mapper, alphas = refinement_mapper(SOURCE, "a fluffy cat riding a red bicycle", tok)
    assert mapper[:9].tolist() == [0, 1, -1, 2, 3, 4, -1, 5, 6] and alphas[:9].tolist() == [1, 1, 0, 1, 1, 1, 0, 1, 1]
    assert mapper[9:].tolist() == list(range(9, 77)) and alphas[9:].eq(1).all()
    # Time-word alphas: windows int(b * (steps + 1)) over steps + 1 rows; per word in the edit.
    alphas = time_word_alphas([SOURCE, "a dog riding a bicycle"], 6, {"default_": 1.0, "dog": 0.4}, tok)
    assert alphas.shape == (7, 1, 77)
    assert alphas[:, 0, 2].tolist() == [1, 1, 0, 0, 0, 0, 0] and alphas[:, 0, 1].eq(1).all()


# ----------------------------------------------------------------------------------------------
# Parity with the reference

PARITY_CASES = {
    "replace": dict(),
    "refine": dict(edits=["a fluffy cat riding a red bicycle"]),
    "refine-forced-on-equal-words": dict(modes="refine"),
    "reweight-2-alone": dict(edits=[SOURCE], reweight={"cat": 2.0}),
    "reweight-minus-1-alone": dict(edits=[SOURCE], reweight={"cat": -1.0}),
    "replace-reweight-2": dict(reweight={"dog": 2.0}),
    "replace-reweight-minus-1": dict(reweight={"dog": -1.0}),
    "replace-reweight-2-cross-0.4": dict(reweight={"dog": 2.0}, cross_replace=0.4),  # no reweight past the window
    "refine-reweight-2": dict(edits=["a fluffy cat riding a red bicycle"], reweight={"fluffy": 2.0}),
    "blend": dict(blend=[["cat"], ["dog"]]),
    "blend-two-words-per-prompt": dict(blend=[["cat", "bicycle"], ["dog"]], blend_threshold=0.2),
    "cross-replace-per-word": dict(cross_replace={"default_": 1.0, "dog": 0.4}),
    "cross-replace-per-word-0.3": dict(cross_replace={"default_": 0.8, "dog": 0.3}),  # int(0.3*7) != int(0.3*6)
    "self-replace-0.5-cross-0.6": dict(self_replace=0.5, cross_replace=0.6),
    "self-replace-0.3": dict(self_replace=0.3),  # int(0.3*6) = 1: the self window counts steps, not steps + 1
    "no-self-replace": dict(self_replace=0.0),
    "self-replace-res-latent-2": dict(self_res=4, self_replace=0.5),  # the null-text notebook's <= 32 ** 2
    "multi-token-word": dict(edits=["a hippopotamus riding a bicycle"]),
    "multi-token-word-to-one": dict(source="a pangolin riding a bicycle", edits=[SOURCE]),
    "two-edits": dict(edits=["a dog riding a bicycle", "a cat riding a red bicycle"]),
    "two-edits-blend-reweight": dict(edits=["a dog riding a bicycle", "a tiger riding a bicycle"],
                                     blend=[["cat"], ["dog"], ["tiger"]], reweight={"tiger": 1.5}),
    "negative": dict(negative="blurry, low quality"),
}
MODELS = ["tiny", "sd1-tiny"]


@pytest.mark.parametrize("case", PARITY_CASES)
@pytest.mark.parametrize("model", MODELS)
def test_edit_matches_python_prompt_to_prompt(run_vsp, pipelines, tmp_path, model, case):
    r = edit_run(model, **PARITY_CASES[case])
    edits_given = not (r.edits == [r.source] and r.reweight)  # reweight alone: no --to
    latents, images = vsp_edit(run_vsp, model, r, tmp_path / "out", edits_given)
    ref_latents, ref_images = prompt_to_prompt(pipelines[model], r)
    compare(f"{model} {case}", latents, images, ref_latents, ref_images)


def test_source_pooled_matches_python_prompt_to_prompt(run_vsp, pipelines, tmp_path):
    """SDXL: the edits take the source's pooled embedding in the default cross-replace window."""
    r = edit_run(source_pooled=True, cross_replace={"default_": 0.6, "dog": 0.3})
    latents, images = vsp_edit(run_vsp, "tiny", r, tmp_path / "out")
    ref_latents, ref_images = prompt_to_prompt(pipelines["tiny"], r)
    compare("tiny source-pooled", latents, images, ref_latents, ref_images)
    own, _ = prompt_to_prompt(pipelines["tiny"], edit_run(cross_replace={"default_": 0.6, "dog": 0.3}))
    assert (own[1] - ref_latents[1]).abs().max() > 10 * LATENT_TOLERANCE  # the option does something


def blend_margin(pipe, r):
    """The smallest distance of a normalised blend map value to the threshold over the steps."""
    import p2p_reference
    import torch.nn.functional as F
    margins = []
    original = p2p_reference.LocalBlend.__call__

    def spy(self, x, store):
        rows, _, h, w = x.shape
        maps = torch.cat([m.reshape(rows, -1, 1, h // 4, w // 4, m.shape[-1]) for m in store.values()], dim=1)
        maps = F.max_pool2d((maps * self.indicator).sum(-1).mean(1), (3, 3), (1, 1), padding=(1, 1))
        maps = maps / maps.amax((2, 3), keepdim=True)
        margins.append(((maps - self.threshold).abs().min().item(), maps.gt(self.threshold).float().mean().item()))
        return original(self, x, store)

    p2p_reference.LocalBlend.__call__ = spy
    try:
        latents, images = prompt_to_prompt(pipe, r)
    finally:
        p2p_reference.LocalBlend.__call__ = original
    return latents, images, margins


# The tiny random UNets attend almost uniformly: at 0.3 every mask is full. At 192x128 (a 6x4 map)
# 0.95 cuts the masks part-way (SDXL in the first 2 steps, SD 1.x in all 6) with a margin of about
# 2e-3 between any normalised map value and the threshold (checked on the reference each run).
PARTIAL_BLEND = {"tiny": 0.95, "sd1-tiny": 0.95}


@pytest.mark.parametrize("model", MODELS)
def test_partial_local_blend_matches_python_prompt_to_prompt(run_vsp, pipelines, tmp_path, model):
    r = edit_run(model, blend=[["cat"], ["dog"]], blend_threshold=PARTIAL_BLEND[model], width=192, height=128,
                 cross_replace=0.5)
    ref_latents, ref_images, margins = blend_margin(pipelines[model], r)
    print(f"{model}: per step (margin to the threshold, fraction of the mask on): {margins}")
    assert any(0 < on < 1 for _, on in margins), "the masks are never partial"
    assert min(margin for margin, _ in margins) > 1e-4, "a map value sits at the threshold: pick another"
    latents, images = vsp_edit(run_vsp, model, r, tmp_path / "out")
    compare(f"{model} partial blend", latents, images, ref_latents, ref_images)


def test_reweight_alone_equals_to_the_source(run_vsp, tmp_path):
    """--to absent is one edit equal to the source prompt."""
    r = edit_run(edits=[SOURCE], reweight={"cat": 2.0})
    a, _ = vsp_edit(run_vsp, "tiny", r, tmp_path / "alone", edits_given=False)
    b, _ = vsp_edit(run_vsp, "tiny", r, tmp_path / "to-source", edits_given=True)
    assert np.array_equal(a, b)


# ----------------------------------------------------------------------------------------------
# Input errors: one line, non-zero exit, nothing written

LONG = " ".join(["a"] * 80)
BAD_INPUTS = {
    "image-with-another-sampler": (["--to", "a dog riding a bicycle", "--image", "picture.png", "--sampler", "euler"],
                                   ["ddim"]),
    "inversion-without-image": (["--to", "a dog riding a bicycle", "--inversion", "negative-prompt"], ["--image"]),
    "missing-image": (["--to", "a dog riding a bicycle", "--image", "missing.png"], ["missing.png"]),
    "replace-with-other-word-count": (["--to", "a fluffy dog riding a bicycle", "--mode", "replace"], ["replace"]),
    "reweight-word-not-in-an-edit": (["--to", "a dog riding a bicycle", "--reweight", "zebra=2"], ["zebra"]),
    "reweight-word-only-in-the-source": (["--to", "a dog riding a bicycle", "--reweight", "cat=2"], ["cat"]),
    "blend-entry-count": (["--to", "a dog riding a bicycle", "--blend", "cat"], ["blend"]),
    "blend-entry-count-too-many": (["--to", "a dog riding a bicycle", "--blend", "cat,dog,dog"], ["blend"]),
    "blend-word-not-in-its-prompt": (["--to", "a dog riding a bicycle", "--blend", "cat,horse"], ["horse"]),
    "edited-word-past-the-token-limit": (["--prompt", f"{LONG} cat", "--to", f"{LONG} dog"], ["77"]),
    # "!!" is one token in CLIP-L but two in SDXL's CLIP-G (its pad token "!" is split out first).
    "tokenizers-disagree": (["--prompt", "wow!! a cat", "--to", "wow!! a dog", "--reweight", "dog=2"], ["tokenizer"]),
    "nothing-to-edit": ([], ["--to"]),
    "cross-replace-word-not-in-an-edit": (["--to", "a dog riding a bicycle", "--cross-replace", "default=0.8,zebra=0.4"],
                                          ["zebra"]),
    "cross-replace-above-one": (["--to", "a dog riding a bicycle", "--cross-replace", "1.5"], ["--cross-replace"]),
    "reweight-without-weight": (["--to", "a dog riding a bicycle", "--reweight", "dog"], ["--reweight"]),
    "attention-res-without-folder": (["--to", "a dog riding a bicycle", "--attention-res", "2"], ["--save-attention"]),
    "self-replace-res-matching-no-level": (["--to", "a dog riding a bicycle", "--self-replace-res", "3"],
                                           ["--self-replace-res"]),
    "attention-res-matching-no-level": (["--to", "a dog riding a bicycle", "--save-attention", "maps",
                                         "--attention-res", "5"], ["--attention-res"]),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_edit_errors_write_nothing(vsp_bin, tmp_path, case):
    args, words = BAD_INPUTS[case]
    write_picture(tmp_path / "picture.png", WIDTH, HEIGHT)
    args = [str(tmp_path / a) if a in ("picture.png", "missing.png") else a for a in args]
    options = ["--prompt", SOURCE] if "--prompt" not in args else []
    out = tmp_path / "out"
    out.mkdir()
    result = run(vsp_bin, "edit", "--model", exported("tiny"), *options, *args, "--steps", 2, "-W", WIDTH,
                 "-H", HEIGHT, "--out", out, "--save-latents", "latents.npy", "-q")
    one_error_line(result, *words)
    assert written(out) == []


def test_source_pooled_needs_pooled_embeddings(vsp_bin, tmp_path):
    out = tmp_path / "out"
    result = run(vsp_bin, "edit", "--model", exported("sd1-tiny"), "--prompt", SOURCE, "--to", "a dog riding a bicycle",
                 "--source-pooled", "--steps", 2, "--out", out, "-q")
    one_error_line(result, "--source-pooled")
    assert not out.exists()


# ----------------------------------------------------------------------------------------------
# The attention store: --save-attention

@pytest.mark.parametrize("model", MODELS)
def test_attention_maps_are_averaged_probabilities_and_leave_the_images_alone(run_vsp, tmp_path, model):
    """Each prompt's maps ([h, w, 77] at latent / 4, averaged over steps, heads and the down and up
    blocks' layers) sum to 1 over the tokens at every location for the source and a replace edit
    (its mapper moves probability, keeping the sum); one heatmap per token from BOS to EOS plus a
    labelled grid; the images' pixels are those of the same run without maps."""
    width, height = SIZES[model]
    args = ["edit", "--model", exported(model), "--prompt", SOURCE, "--to", "a dog riding a bicycle", "--steps", 3,
            "-W", width, "-H", height, "--vae-tiling", "off", "-q"]
    run_vsp(*args, "--out", tmp_path / "plain")
    run_vsp(*args, "--out", tmp_path / "maps", "--save-attention", "attention")
    for name in ("source", "edit_1"):
        assert np.array_equal(read_png(tmp_path / "plain" / f"{name}.png"), read_png(tmp_path / "maps" / f"{name}.png"))
        maps = np.load(tmp_path / "maps" / "attention" / f"{name}.npy")
        assert maps.shape == (height // 32, width // 32, 77)
        np.testing.assert_allclose(maps.sum(-1), 1.0, atol=1e-5)
        heatmaps = sorted(p.name for p in (tmp_path / "maps" / "attention" / name).iterdir())
        assert len(heatmaps) == 7 and heatmaps[0] == "00_startoftext.png" and heatmaps[-1] == "06_endoftext.png"
        assert Image.open(tmp_path / "maps" / "attention" / f"{name}_tokens.png").size[0] > width
    assert "02_cat.png" in {p.name for p in (tmp_path / "maps" / "attention" / "source").iterdir()}
    assert "02_dog.png" in {p.name for p in (tmp_path / "maps" / "attention" / "edit_1").iterdir()}


def test_attention_res_picks_the_level(run_vsp, tmp_path):
    """At 96x64 the latent is 12x8: --attention-res 4 (the short side) is the latent / 2 level, 6x4."""
    run_vsp("edit", "--model", exported("tiny"), "--prompt", SOURCE, "--to", "a dog riding a bicycle", "--steps", 2,
            "-W", 96, "-H", 64, "--vae-tiling", "off", "-q", "--out", tmp_path / "out", "--save-attention", "maps",
            "--attention-res", 4)
    assert np.load(tmp_path / "out" / "maps" / "source.npy").shape == (4, 6, 77)


def test_batch_edit_job_equals_the_command_line(run_vsp, tmp_path):
    """A jobs file's "mode": "edit" job writes <name>/source.png, edit_N.png and grid.png with the
    pixels of the same edit on the command line."""
    import json
    fields = {"prompt": SOURCE, "to": ["a dog riding a bicycle"], "reweight": ["dog=2"], "blend": ["cat", "dog"],
              "steps": 3, "width": WIDTH, "height": HEIGHT, "seed": SEED, "vae_tiling": "off"}
    jobs = tmp_path / "jobs.json"
    jobs.write_text(json.dumps({"jobs": [{"mode": "edit", "name": "cat2dog", **fields}]}))
    run_vsp("batch", jobs, "--model", exported("tiny"), "--out", tmp_path / "batch", "-q")
    run_vsp("edit", "--model", exported("tiny"), "--prompt", SOURCE, "--to", "a dog riding a bicycle", "--reweight",
            "dog=2", "--blend", "cat,dog", "--steps", 3, "-W", WIDTH, "-H", HEIGHT, "-s", SEED, "--vae-tiling", "off",
            "--out", tmp_path / "cli", "-q")
    assert sorted(p.name for p in (tmp_path / "batch" / "cat2dog").iterdir()) == output_names(1)
    for name in ("source", "edit_1"):
        assert np.array_equal(read_png(tmp_path / "batch" / "cat2dog" / f"{name}.png"),
                              read_png(tmp_path / "cli" / f"{name}.png"))


# ----------------------------------------------------------------------------------------------
# Real images: --image with null-text, negative-prompt and plain DDIM inversion

def write_picture(path, width, height):
    """A deterministic picture with structure: gradients, a block and a disc."""
    y, x = np.mgrid[0:height, 0:width]
    pixels = np.stack([x * 255 // width, y * 255 // height, np.full_like(x, 120)], axis=-1)
    pixels[height // 5:height // 2, width // 6:width // 2] = (250, 240, 30)
    pixels[(x - width * 3 // 4) ** 2 + (y - height // 2) ** 2 < (height // 5) ** 2] = 255
    pixels = pixels.astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return pixels


def vsp_image_edit(run_vsp, model, r, picture, out, inversion, *extra):
    run_vsp("edit", "--model", exported(model), *cli_args(r), "--image", picture, "--inversion", inversion,
            "--out", out, "--save-latents", "latents.npy", "-q", *extra)
    images = np.stack([read_png(out / "source.png"), *[read_png(out / f"edit_{e}.png") for e in range(1, len(r.edits) + 1)]])
    return np.load(out / "latents.npy"), images


# A real image goes through the VAE encoder and the inversion before the edit, which the tiny UNets
# amplify (as in test_transfer.py): observed up to 1e-3; the images stay within 0.7/255.
IMAGE_LATENT_TOLERANCE = 1e-2
# Null-text's Adam normalises each gradient entry, so entries whose gradient is near zero move by up
# to lr per iteration on either side of a rounding difference: the embeddings are compared by mean.
NULL_TEXT_MEAN_TOLERANCE = 1e-3


@pytest.mark.parametrize("model", MODELS)
def test_null_text_edit_matches_python_null_text(run_vsp, pipelines, tmp_path, model):
    from null_text_reference import ddim_inversion, null_text
    pipe = pipelines[model]
    r = edit_run(model, edits=["a dog riding a bicycle"], steps=4)
    pixels = write_picture(tmp_path / "picture.png", r.width, r.height)
    path = ddim_inversion(pipe, r, pixels)
    embeds, losses = null_text(pipe, r, path)
    ref_latents, ref_images = prompt_to_prompt(pipe, r, start=path[-1], uncond_per_step=embeds)
    latents, images = vsp_image_edit(run_vsp, model, r, tmp_path / "picture.png", tmp_path / "out", "null-text",
                                     "--save-null-text", "embeds.npy")
    got = np.load(tmp_path / "out" / "embeds.npy")
    want = torch.cat(embeds).numpy()
    assert got.shape == want.shape
    diff = np.abs(got - want)
    print(f"{model} null-text embeddings: max diff {diff.max():.3g}, mean {diff.mean():.3g}; "
          f"reference losses {['%.3g' % v for v in losses]}")
    assert diff.mean() <= NULL_TEXT_MEAN_TOLERANCE
    compare(f"{model} null-text edit", latents, images, ref_latents, ref_images, IMAGE_LATENT_TOLERANCE)


@pytest.mark.parametrize("model", MODELS)
def test_negative_prompt_inversion_matches_python(run_vsp, pipelines, tmp_path, model):
    from null_text_reference import ddim_inversion
    pipe = pipelines[model]
    r = edit_run(model, edits=["a dog riding a bicycle"], steps=4)
    pixels = write_picture(tmp_path / "picture.png", r.width, r.height)
    path = ddim_inversion(pipe, r, pixels)
    ref_latents, ref_images = prompt_to_prompt(pipe, r, start=path[-1], negative_is_source=True)
    latents, images = vsp_image_edit(run_vsp, model, r, tmp_path / "picture.png", tmp_path / "out",
                                     "negative-prompt")
    compare(f"{model} negative-prompt edit", latents, images, ref_latents, ref_images, IMAGE_LATENT_TOLERANCE)


def test_picture_moves_the_edit_beyond_the_parity_tolerance(run_vsp, tmp_path):
    """Guards test_negative_prompt_inversion_matches_python and test_null_text_edit_matches_python_null_text:
    the picture reaches the edit through the VAE encoder and the inversion, so with an encoder that
    ignored its input a wrongly read or prepared picture would pass them. The mirrored picture must
    move every row beyond IMAGE_LATENT_TOLERANCE and TOLERANCE."""
    r = edit_run("tiny", edits=["a dog riding a bicycle"], steps=3, width=64, height=64)
    pixels = write_picture(tmp_path / "picture.png", r.width, r.height)
    Image.fromarray(np.ascontiguousarray(pixels[:, ::-1])).save(tmp_path / "mirrored.png")
    runs = [vsp_image_edit(run_vsp, "tiny", r, tmp_path / f"{name}.png", tmp_path / name, "negative-prompt")
            for name in ("picture", "mirrored")]
    latent_diffs = np.abs(runs[0][0] - runs[1][0]).reshape(len(runs[0][0]), -1).max(axis=1)
    image_diffs = np.abs(runs[0][1] - runs[1][1]).reshape(len(runs[0][1]), -1).max(axis=1)
    print(f"mirrored picture: latents move {['%.3g' % d for d in latent_diffs]} (tolerance "
          f"{IMAGE_LATENT_TOLERANCE:g}), images {['%.2f/255' % (d * 255) for d in image_diffs]} "
          f"(tolerance {TOLERANCE * 255:.2f}/255)")
    assert (latent_diffs > IMAGE_LATENT_TOLERANCE).all() and (image_diffs > TOLERANCE).all()


def test_pictures_are_prepared_as_the_official_load_512(run_vsp, pipelines, tmp_path):
    """A picture of another size: the centre square (83 - 64 = 19 spare columns: 9) and Pillow's
    bicubic, as the null-text notebook's load_512."""
    from null_text_reference import ddim_inversion, load_512
    pipe = pipelines["tiny"]
    r = edit_run("tiny", edits=["a dog riding a bicycle"], steps=4, width=64, height=64)
    write_picture(tmp_path / "picture.png", 83, 64)
    path = ddim_inversion(pipe, r, load_512(tmp_path / "picture.png", 64))
    ref_latents, ref_images = prompt_to_prompt(pipe, r, start=path[-1], negative_is_source=True)
    latents, images = vsp_image_edit(run_vsp, "tiny", r, tmp_path / "picture.png", tmp_path / "out", "negative-prompt")
    compare("tiny 83x64 picture", latents, images, ref_latents, ref_images, IMAGE_LATENT_TOLERANCE)


@pytest.mark.parametrize("model", MODELS)
def test_null_text_reconstructs_better_than_plain_ddim_inversion(run_vsp, pipelines, tmp_path, model):
    """The source row rebuilds the image's latent: null-text at guidance 7.5 against plain DDIM
    inversion sampled at guidance 7.5 (PSNR over the latent's range, and of the decoded images
    against the VAE's own round trip of the picture)."""
    from styleid_reference import encode_image
    pipe = pipelines[model]
    r = edit_run(model, edits=["a dog riding a bicycle"], steps=6)
    pixels = write_picture(tmp_path / "picture.png", r.width, r.height)
    with torch.no_grad():
        z0 = encode_image(pipe, pixels)[0].numpy()
        vae_round_trip = decode(pipe, torch.from_numpy(z0)[None])[0]
    scores = {}
    for inversion in ("null-text", "ddim"):
        latents, images = vsp_image_edit(run_vsp, model, r, tmp_path / "picture.png", tmp_path / inversion, inversion)
        latent_mse = float(((latents[0] - z0) ** 2).mean())
        image_mse = float(((images[0] - vae_round_trip) ** 2).mean())
        scores[inversion] = (10 * np.log10(np.ptp(z0) ** 2 / latent_mse), 10 * np.log10(1 / image_mse))
    print(f"{model} reconstruction PSNR (latent, image): null-text {scores['null-text'][0]:.2f} / "
          f"{scores['null-text'][1]:.2f} dB, plain DDIM inversion at cfg 7.5 {scores['ddim'][0]:.2f} / "
          f"{scores['ddim'][1]:.2f} dB")
    assert scores["null-text"][0] > scores["ddim"][0]


def test_image_edit_timings_name_the_inversion_and_the_optimisation(run_vsp, tmp_path):
    """scripts/benchmark_edit.py reads these phases; timing a run leaves its output alone."""
    import re
    r = edit_run("tiny", edits=["a dog riding a bicycle"], steps=2)
    write_picture(tmp_path / "picture.png", r.width, r.height)
    vsp_image_edit(run_vsp, "tiny", r, tmp_path / "picture.png", tmp_path / "plain", "null-text")
    result = run_vsp("edit", "--model", exported("tiny"), *cli_args(r), "--image", tmp_path / "picture.png",
                     "--inversion", "null-text", "--out", tmp_path / "timed", "--timings")
    phases = re.findall(r"^timings: phase (\S+) ", result.stderr, re.M)
    assert phases.index("inversion") < phases.index("null-text") < phases.index("denoise"), phases
    for name in ("source.png", "edit_1.png"):
        assert (tmp_path / "plain" / name).read_bytes() == (tmp_path / "timed" / name).read_bytes()
