"""Random pipelines built from configs with fixed seeds. SDXL architecture: `tiny` for the tests,
`medium` for quick CPU benchmarks, `sdxl-structure` (SDXL's depth at reduced width) for the CPU
benchmarks, `full` (the real SDXL sizes) for GPU benchmarks. SD 1.x architecture: `sd1-tiny`,
`sd1-medium`; SD 2.x (v-prediction, OpenCLIP-shaped encoder): `sd2-tiny`, `sd2-medium`. The
tokenizers are the real CLIP vocabulary, so tokenizer parity stays meaningful."""
import os
import sys
import tempfile

import torch
from diffusers import (AutoencoderKL, EulerDiscreteScheduler, PNDMScheduler, StableDiffusionPipeline,
                       StableDiffusionXLPipeline, UNet2DConditionModel)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from clip_vocab import find_clip_vocab, write_clip_tokenizers  # noqa: E402

# stabilityai/stable-diffusion-xl-base-1.0's scheduler config.
SDXL_SCHEDULER = dict(
    num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
    prediction_type="epsilon", timestep_spacing="leading", steps_offset=1, interpolation_type="linear",
    use_karras_sigmas=False, set_alpha_to_one=False, skip_prk_steps=True, clip_sample=False,
    sample_max_value=1.0)
# stable-diffusion-v1-5's scheduler config (PNDM); stable-diffusion-2-1's is the same schedule with
# v-prediction.
SD1_SCHEDULER = dict(num_train_timesteps=1000, beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                     clip_sample=False, set_alpha_to_one=False, skip_prk_steps=True, steps_offset=1)

SIZES = {
    # SDXL's block structure (3 levels, attention in levels 1-2, deeper transformers at level 2),
    # scaled down: 17 self- and 17 cross-attention layers.
    "tiny": dict(
        unet=dict(block_out_channels=(32, 64, 64), attention_head_dim=(2, 4, 4),
                  transformer_layers_per_block=(1, 1, 2), cross_attention_dim=64, norm_num_groups=16,
                  addition_time_embed_dim=8, sample_size=8),
        vae=dict(block_out_channels=(16, 16, 32, 32), norm_num_groups=8, sample_size=64),
        text=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=3, num_attention_heads=4),
        text_2=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=3, num_attention_heads=4)),
    "medium": dict(
        unet=dict(block_out_channels=(128, 256, 512), attention_head_dim=(2, 4, 8),
                  transformer_layers_per_block=(1, 2, 4), cross_attention_dim=768, norm_num_groups=32,
                  addition_time_embed_dim=256, sample_size=64),
        vae=dict(block_out_channels=(64, 128, 256, 256), norm_num_groups=32, sample_size=512),
        text=dict(hidden_size=256, intermediate_size=1024, num_hidden_layers=4, num_attention_heads=4),
        text_2=dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=4, num_attention_heads=8)),
    # SDXL's real block and layer structure at reduced width: 64-dim heads, transformer depth 1/2/10,
    # the 140 attention layers in SDXL's order, cross-attention width 2048 from a CLIP-L-shaped and a
    # CLIP-G-shaped (8 of 32 layers) text encoder. The CPU benchmarks' model.
    "sdxl-structure": dict(
        unet=dict(block_out_channels=(128, 256, 512), attention_head_dim=(2, 4, 8),
                  transformer_layers_per_block=(1, 2, 10), cross_attention_dim=2048, norm_num_groups=32,
                  addition_time_embed_dim=256, sample_size=128),
        vae=dict(block_out_channels=(64, 128, 256, 256), norm_num_groups=32, sample_size=1024),
        text=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12),
        text_2=dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=8, num_attention_heads=20)),
    "full": dict(
        unet=dict(block_out_channels=(320, 640, 1280), attention_head_dim=(5, 10, 20),
                  transformer_layers_per_block=(1, 2, 10), cross_attention_dim=2048, norm_num_groups=32,
                  addition_time_embed_dim=256, sample_size=128),
        vae=dict(block_out_channels=(128, 256, 512, 512), norm_num_groups=32, sample_size=1024),
        text=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12),
        text_2=dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=20)),
}


# SD 1.x's block structure (4 levels, attention in the first three, one transformer per attention)
# and SD 2.x's (the same with linear projections, 64-dim heads and a 1024-wide encoder), scaled down.
SD_SIZES = {
    "sd1-tiny": dict(
        unet=dict(block_out_channels=(32, 32, 64, 64), attention_head_dim=2, cross_attention_dim=32,
                  norm_num_groups=16, sample_size=8),
        vae=dict(block_out_channels=(16, 16, 32, 32), norm_num_groups=8, sample_size=64),
        text=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=3, num_attention_heads=4)),
    "sd1-medium": dict(
        unet=dict(block_out_channels=(128, 256, 384, 384), attention_head_dim=8, cross_attention_dim=768,
                  norm_num_groups=32, sample_size=64),
        vae=dict(block_out_channels=(64, 128, 256, 256), norm_num_groups=32, sample_size=512),
        text=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12)),
    "sd2-tiny": dict(
        unet=dict(block_out_channels=(32, 32, 64, 64), attention_head_dim=(2, 2, 4, 4), cross_attention_dim=48,
                  norm_num_groups=16, sample_size=8, use_linear_projection=True),
        vae=dict(block_out_channels=(16, 16, 32, 32), norm_num_groups=8, sample_size=64),
        text=dict(hidden_size=48, intermediate_size=64, num_hidden_layers=3, num_attention_heads=4)),
    "sd2-medium": dict(
        unet=dict(block_out_channels=(128, 256, 384, 384), attention_head_dim=(2, 4, 6, 6), cross_attention_dim=1024,
                  norm_num_groups=32, sample_size=96, use_linear_projection=True),
        vae=dict(block_out_channels=(64, 128, 256, 256), norm_num_groups=32, sample_size=768),
        text=dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=8, num_attention_heads=16)),
}
RANDOM_SIZES = sorted(SIZES) + sorted(SD_SIZES)


def random_family(size: str) -> str:
    return size.split("-")[0] if size in SD_SIZES else "sdxl"


def _text_encoder(cls, seed, act, **size):
    torch.manual_seed(seed)
    config = CLIPTextConfig(vocab_size=49408, max_position_embeddings=77, bos_token_id=49406,
                            eos_token_id=49407, pad_token_id=1, hidden_act=act,
                            projection_dim=size["hidden_size"], **size)
    return cls(config).eval()


def _tokenizers():
    with tempfile.TemporaryDirectory() as folder:
        write_clip_tokenizers(find_clip_vocab(), folder)
        return (CLIPTokenizer.from_pretrained(os.path.join(folder, "tokenizer"), model_max_length=77),
                CLIPTokenizer.from_pretrained(os.path.join(folder, "tokenizer_2"), model_max_length=77))


def _vae(spec, scaling_factor):
    torch.manual_seed(1)
    vae_blocks = len(spec["vae"]["block_out_channels"])
    vae = AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2,
                        down_block_types=("DownEncoderBlock2D",) * vae_blocks,
                        up_block_types=("UpDecoderBlock2D",) * vae_blocks,
                        scaling_factor=scaling_factor, force_upcast=True, **spec["vae"]).eval()
    # The default init encodes pictures to a spread of about 0.32, 25x (SDXL) below a trained VAE's
    # 1 / scaling_factor, so an encoded picture was 4% of the noise mixed into it and barely reached
    # --style-image's targets: the mean half of quant_conv scaled to about unit spread after scaling.
    with torch.no_grad():
        gain = 1 / (0.32 * scaling_factor)
        vae.quant_conv.weight[:4] *= gain
        vae.quant_conv.bias[:4] *= gain
    return vae


def build_random_pipeline(size: str):
    if size in SD_SIZES:
        return _build_sd_pipeline(size)
    spec = SIZES[size]
    text_encoder = _text_encoder(CLIPTextModel, 2, "quick_gelu", **spec["text"])
    text_encoder_2 = _text_encoder(CLIPTextModelWithProjection, 3, "gelu", **spec["text_2"])
    torch.manual_seed(0)
    time_dim = spec["unet"]["addition_time_embed_dim"]
    unet = UNet2DConditionModel(
        in_channels=4, out_channels=4, layers_per_block=2,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        use_linear_projection=True, addition_embed_type="text_time",
        projection_class_embeddings_input_dim=6 * time_dim + spec["text_2"]["hidden_size"],
        **spec["unet"]).eval()
    vae = _vae(spec, 0.13025)
    tokenizer, tokenizer_2 = _tokenizers()
    return StableDiffusionXLPipeline(
        vae=vae, text_encoder=text_encoder, text_encoder_2=text_encoder_2, tokenizer=tokenizer,
        tokenizer_2=tokenizer_2, unet=unet, scheduler=EulerDiscreteScheduler.from_config(SDXL_SCHEDULER),
        force_zeros_for_empty_prompt=True, add_watermarker=False)


def _build_sd_pipeline(size: str) -> StableDiffusionPipeline:
    """SD 1.x: CLIP-L-shaped encoder (quick_gelu, pads with <|endoftext|>), epsilon prediction.
    SD 2.x: OpenCLIP-H-shaped encoder (gelu, pads with "!"), v-prediction."""
    spec, sd2 = SD_SIZES[size], size.startswith("sd2")
    text_encoder = _text_encoder(CLIPTextModel, 2, "gelu" if sd2 else "quick_gelu", **spec["text"])
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        in_channels=4, out_channels=4, layers_per_block=2,
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, **spec["unet"]).eval()
    vae = _vae(spec, 0.18215)
    tokenizer_l, tokenizer_open = _tokenizers()
    scheduler = PNDMScheduler.from_config(dict(SD1_SCHEDULER, prediction_type="v_prediction" if sd2 else "epsilon"))
    return StableDiffusionPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer_open if sd2 else tokenizer_l, unet=unet,
        scheduler=scheduler, safety_checker=None, feature_extractor=None, requires_safety_checker=False)


def build_random_controlnets(unet, kinds):
    """{kind: ControlNetModel} copied from the UNet, as diffusers' from_unet does, with random
    instead of zero output convolutions (seeded per kind), so that their residuals are not zero, and
    a conditioning embedding re-drawn so that the residuals depend on the control image."""
    from diffusers import ControlNetModel
    controlnets = {}
    for index, kind in enumerate(kinds):
        controlnet = ControlNetModel.from_unet(unet).eval()
        torch.manual_seed(20 + index)
        for conv in [*controlnet.controlnet_down_blocks, controlnet.controlnet_mid_block]:
            torch.nn.init.normal_(conv.weight, std=0.05)
            torch.nn.init.normal_(conv.bias, std=0.05)
        embedding = controlnet.controlnet_cond_embedding
        # The default init fades the picture out over the embedding's 7 convolutions + SiLU (a mirrored
        # control image moved the latents by 6e-4 even with conv_out drawn): He-normal keeps its signal.
        for conv in [embedding.conv_in, *embedding.blocks]:
            torch.nn.init.normal_(conv.weight, std=(2.0 / (conv.in_channels * 9)) ** 0.5)
            torch.nn.init.zeros_(conv.bias)
        # diffusers zero-initialises conv_out, which made the control image irrelevant; 0.1 puts the
        # embedding at about a third of conv_in(latents)'s spread.
        torch.nn.init.normal_(embedding.conv_out.weight, std=0.1)
        torch.nn.init.zeros_(embedding.conv_out.bias)
        controlnets[kind] = controlnet
    return controlnets


def build_random_depth_estimator():
    """(DPTForDepthEstimation, DPTImageProcessor): a tiny ViT DPT at a 64-pixel input, its
    convolutions re-drawn wider than the default init and the head's last layer narrowed above
    zero, so that the predicted depth varies over the image instead of resting on the final ReLU's zero."""
    from transformers import DPTConfig, DPTForDepthEstimation
    from transformers.models.dpt import DPTImageProcessor
    torch.manual_seed(30)
    config = DPTConfig(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64, image_size=64,
                       patch_size=8, backbone_out_indices=[0, 1, 2, 3], neck_hidden_sizes=[8, 16, 32, 32],
                       fusion_hidden_size=16, reassemble_factors=[4, 2, 1, 0.5], is_hybrid=False)
    model = DPTForDepthEstimation(config).eval()
    convolutions = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    for conv in convolutions:
        torch.nn.init.normal_(conv.weight, std=0.2)
        if conv.bias is not None:
            torch.nn.init.normal_(conv.bias, std=0.1)
    last = [m for m in model.head.modules() if isinstance(m, torch.nn.Conv2d)][-1]
    torch.nn.init.normal_(last.weight, std=0.02)
    torch.nn.init.constant_(last.bias, 10.0)
    processor = DPTImageProcessor(size={"height": 64, "width": 64}, resample=2, image_mean=[0.5] * 3,
                                  image_std=[0.5] * 3)
    return model, processor
