"""Reference outputs of diffusers' schedulers for the C++ sampler tests (tests/unit/sampling).

Usage: fixtures_sampling.py OUTDIR   (writes OUTDIR/sampling/)

- grids.json: timesteps, sigmas and init_noise_sigma of each sampler for many step counts and
  all three timestep spacings.
- cases/<name>/index.json + raw little-endian float32 .bin files: a seeded run of one sampler.
  Starting from `initial_sample`, step i feeds the previous step's output and a random model
  output; the case records scale_model_input, prev_sample and the x0 prediction of every step,
  and add_noise(clean, noise) at every step's timestep.
"""
import json
import os
import sys

import torch
from diffusers import DDIMInverseScheduler, DDIMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler
from diffusers.utils import logging

logging.set_verbosity_error()  # from_config warns about the Euler-only keys it ignores

# stabilityai/stable-diffusion-xl-base-1.0's scheduler config (as in scripts/vsp_export/random_models.py).
SDXL_SCHEDULER = dict(
    num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
    prediction_type="epsilon", timestep_spacing="leading", steps_offset=1, interpolation_type="linear",
    use_karras_sigmas=False, set_alpha_to_one=False, skip_prk_steps=True, clip_sample=False,
    sample_max_value=1.0, trained_betas=None)
SHAPE = (2, 4, 8, 8)
GRID_STEP_COUNTS = list(range(1, 61)) + [97, 100, 150, 333, 500, 999, 1000]


def make(sampler, config):
    """The scheduler the SDXL pipeline would build: Euler from the config, the others from_config of it."""
    euler = EulerDiscreteScheduler.from_config(config)
    if sampler == "euler":
        return euler
    if sampler in ("ddim", "ddim_inversion"):
        cls = DDIMScheduler if sampler == "ddim" else DDIMInverseScheduler
        return cls.from_config(euler.config)
    return DPMSolverMultistepScheduler.from_config(
        euler.config, algorithm_type="dpmsolver++", solver_order=2, lower_order_final=True,
        final_sigmas_type="zero", euler_at_final=False)


def ddim_sigmas(scheduler):
    """vsp's k-diffusion view of DDIM: sigma at each timestep, then at the alpha the last step lands on."""
    ac = scheduler.alphas_cumprod
    alphas = [ac[int(t)] for t in scheduler.timesteps]
    last = int(scheduler.timesteps[-1]) - scheduler.config.num_train_timesteps // scheduler.num_inference_steps
    alphas.append(ac[last] if last >= 0 else scheduler.final_alpha_cumprod)
    alphas = torch.stack(alphas)
    return ((1 - alphas) / alphas) ** 0.5


def floats(tensor):
    return [float(v) for v in tensor.flatten()]


def schedule(sampler, scheduler):
    entry = {"timesteps": floats(scheduler.timesteps.double())}
    if sampler in ("euler", "dpmpp2m"):
        entry["sigmas"] = floats(scheduler.sigmas)
    elif sampler == "ddim":
        entry["sigmas"] = floats(ddim_sigmas(scheduler))
    if sampler != "ddim_inversion":
        entry["init_noise_sigma"] = float(scheduler.init_noise_sigma)
    return entry


def write_grids(out):
    grids = {}
    for sampler in ("euler", "ddim", "dpmpp2m", "ddim_inversion"):
        spacings = ("leading", "trailing") if sampler == "ddim_inversion" else ("leading", "trailing", "linspace")
        for spacing in spacings:
            config = dict(SDXL_SCHEDULER, timestep_spacing=spacing)
            for steps in GRID_STEP_COUNTS:
                scheduler = make(sampler, config)
                scheduler.set_timesteps(steps)
                if sampler.startswith("ddim") and scheduler.timesteps.max() >= config["num_train_timesteps"]:
                    continue  # diffusers' DDIM fails on such a grid; vsp refuses it (tested in C++)
                grids.setdefault(sampler, {}).setdefault(spacing, {})[str(steps)] = schedule(sampler, scheduler)
    with open(os.path.join(out, "grids.json"), "w") as f:
        json.dump({"config": SDXL_SCHEDULER, "grids": grids}, f)


def run_case(sampler, steps, config, seed):
    generator = torch.Generator().manual_seed(seed)
    scheduler = make(sampler, config)
    scheduler.set_timesteps(steps)
    sample = torch.randn(SHAPE, generator=generator) * float(getattr(scheduler, "init_noise_sigma", 1.0))
    tensors = {"initial_sample": sample}
    model_outputs, scaled, prev_samples, originals = [], [], [], []
    for t in scheduler.timesteps:
        model_output = torch.randn(SHAPE, generator=generator)
        scaled.append(scheduler.scale_model_input(sample, t))
        out = scheduler.step(model_output, t, sample)
        # DPM-Solver++ does not return x0; its converted model output is the x0 prediction.
        originals.append(scheduler.model_outputs[-1] if sampler == "dpmpp2m" else out.pred_original_sample)
        model_outputs.append(model_output)
        prev_samples.append(out.prev_sample)
        sample = out.prev_sample
    tensors.update(model_outputs=torch.stack(model_outputs), scaled_inputs=torch.stack(scaled),
                   prev_samples=torch.stack(prev_samples), pred_original_samples=torch.stack(originals))
    if sampler != "ddim_inversion":
        # No begin index is set, so add_noise looks each timestep up in the schedule: index i.
        clean, noise = torch.randn(SHAPE, generator=generator), torch.randn(SHAPE, generator=generator)
        noised = [scheduler.add_noise(clean, noise, scheduler.timesteps[i:i + 1]) for i in range(steps)]
        tensors.update(clean=clean, noise=noise, noised=torch.stack(noised))
    return dict(schedule(sampler, scheduler), sampler=sampler, steps=steps, config=config), tensors


def write_case(out, name, index, tensors):
    folder = os.path.join(out, "cases", name)
    os.makedirs(folder, exist_ok=True)
    index["tensors"] = {}
    for key, tensor in tensors.items():
        tensor.to(torch.float32).contiguous().numpy().astype("<f4").tofile(os.path.join(folder, key + ".bin"))
        index["tensors"][key] = {"file": key + ".bin", "shape": list(tensor.shape)}
    with open(os.path.join(folder, "index.json"), "w") as f:
        json.dump(index, f)


def cases():
    """(name, sampler, steps, config overrides). The names are listed again in the C++ test."""
    for sampler in ("euler", "ddim", "dpmpp2m", "ddim_inversion"):
        for steps in (4, 25, 50):
            yield f"{sampler}_{steps}", sampler, steps, {}
        yield f"{sampler}_v_prediction_25", sampler, 25, {"prediction_type": "v_prediction"}
        yield f"{sampler}_trailing_25", sampler, 25, {"timestep_spacing": "trailing"}
        if sampler != "ddim_inversion":
            yield f"{sampler}_linspace_25", sampler, 25, {"timestep_spacing": "linspace"}
    yield "ddim_alpha_one_25", "ddim", 25, {"set_alpha_to_one": True}
    yield "ddim_clip_25", "ddim", 25, {"clip_sample": True}
    yield "ddim_inversion_alpha_one_25", "ddim_inversion", 25, {"set_alpha_to_one": True}


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: fixtures_sampling.py OUTDIR")
    out = os.path.join(sys.argv[1], "sampling")
    os.makedirs(out, exist_ok=True)
    write_grids(out)
    for seed, (name, sampler, steps, overrides) in enumerate(cases()):
        index, tensors = run_case(sampler, steps, dict(SDXL_SCHEDULER, **overrides), seed)
        write_case(out, name, index, tensors)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
