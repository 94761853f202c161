"""Tracing the pipeline's modules to TorchScript, and auditing the graphs for the pitfalls that
bite at run time (lost custom ops, float64 constants)."""
import torch


# The hidden states a text encoder module returns, in order; the manifest's `hidden_state` names
# the one the pipeline uses (SDXL: penultimate; SD 1.x/2.x: final, layer-normed).
HIDDEN_STATES = ["penultimate", "final"]


class TextEncoder(torch.nn.Module):
    """input_ids [B, 77] -> (penultimate hidden states [B, 77, H], final layer-normed states
    [B, 77, H], pooled [B, P]). `pooled` is the projected EOS embedding for
    CLIPTextModelWithProjection, the pooler output otherwise."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder
        self.projected = hasattr(encoder, "text_projection")

    def forward(self, input_ids):
        out = self.encoder(input_ids, output_hidden_states=True)
        pooled = out.text_embeds if self.projected else out.pooler_output
        return out.hidden_states[-2], out.last_hidden_state, pooled


def residual_shapes(unet):
    """(channels, level) of each ControlNet residual the UNet's skip connections take, in order,
    and of the mid-block residual: conv_in's output, then every down-block layer and downsampler."""
    channels = unet.config.block_out_channels
    layers = unet.config.layers_per_block
    down = [(channels[0], 0)]
    for level, width in enumerate(channels):
        down += [(width, level)] * (layers if isinstance(layers, int) else layers[level])
        if level < len(channels) - 1:
            down.append((width, level + 1))
    return down, (channels[-1], len(channels) - 1)


class UNet(torch.nn.Module):
    """SD 1.x/2.x: positional tensor inputs only, so that C++ can call it; timestep is a 0-dim
    tensor. ControlNet residuals are added to the skip connections and the mid block (zeros when
    no ControlNet runs: adding them changes no bit). INPUTS names them for the manifest."""
    INPUTS = ["sample", "timestep", "encoder_hidden_states", "down_residuals", "mid_residual"]

    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states, down_residuals: tuple, mid_residual):
        return self.unet(sample, timestep, encoder_hidden_states, down_block_additional_residuals=list(down_residuals),
                         mid_block_additional_residual=mid_residual, return_dict=False)[0]


class UNetWithAddedConditioning(torch.nn.Module):
    """SDXL: the UNet plus its added conditioning, pooled text embedding and time ids."""
    INPUTS = ["sample", "timestep", "encoder_hidden_states", "text_embeds", "time_ids", "down_residuals",
              "mid_residual"]

    def __init__(self, unet):
        super().__init__()
        self.unet = unet

    def forward(self, sample, timestep, encoder_hidden_states, text_embeds, time_ids, down_residuals: tuple,
                mid_residual):
        added = {"text_embeds": text_embeds, "time_ids": time_ids}
        return self.unet(sample, timestep, encoder_hidden_states, added_cond_kwargs=added,
                         down_block_additional_residuals=list(down_residuals),
                         mid_block_additional_residual=mid_residual, return_dict=False)[0]


class ControlNet(torch.nn.Module):
    """An SDXL ControlNet: the UNet's inputs and the control image ([B, 3, H, W] in [0, 1]) ->
    (down residuals, mid residual) at conditioning scale 1 (the runtime scales them). INPUTS names
    them for the manifest, which the runtime feeds by name, as the UNet's."""
    INPUTS = ["sample", "timestep", "encoder_hidden_states", "text_embeds", "time_ids", "controlnet_cond"]

    def __init__(self, controlnet):
        super().__init__()
        self.controlnet = controlnet

    def forward(self, sample, timestep, encoder_hidden_states, text_embeds, time_ids, control_image):
        added = {"text_embeds": text_embeds, "time_ids": time_ids}
        down, mid = self.controlnet(sample, timestep, encoder_hidden_states, control_image, added_cond_kwargs=added,
                                    return_dict=False)
        return tuple(down), mid


class DepthEstimator(torch.nn.Module):
    """A DPT depth estimator: pixel values at its input size, normalised as its image processor
    does -> predicted (relative inverse) depth [B, h, w]."""

    def __init__(self, estimator):
        super().__init__()
        self.estimator = estimator

    def forward(self, pixel_values):
        return self.estimator(pixel_values).predicted_depth


class VaeEncoder(torch.nn.Module):
    """image in [-1, 1] -> (mean, logvar) of the latent distribution (not yet scaled)."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, image):
        moments = self.vae.quant_conv(self.vae.encoder(image))
        mean, logvar = torch.chunk(moments, 2, dim=1)
        return mean, torch.clamp(logvar, -30.0, 20.0)


class VaeDecoder(torch.nn.Module):
    """latents already divided by the scaling factor -> image in about [-1, 1]."""

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    def forward(self, latents):
        return self.vae.decode(latents, return_dict=False)[0]


def trace(module, inputs):
    with torch.no_grad():
        return torch.jit.trace(module.eval(), inputs, check_trace=False, strict=False)


def audit(traced, name, expected_attention_calls=None):
    """Fails the export when a graph would misbehave in C++: a float64 tensor constant (a Python
    float baked as double promotes fp16/fp32 math), or a vsp::attention count that differs from
    the attention table (the tracer drops ops whose output is unused)."""
    graph = traced.inlined_graph
    calls = 0
    for node in graph.nodes():
        if node.kind() == "vsp::attention":
            calls += 1
        if node.kind() == "prim::Constant" and node.output().type().kind() == "TensorType":
            value = node.output().toIValue()
            if isinstance(value, torch.Tensor) and value.dtype == torch.float64:
                raise RuntimeError(f"{name}: float64 constant in the traced graph: {node}")
    if expected_attention_calls is not None and calls != expected_attention_calls:
        raise RuntimeError(f"{name}: {calls} vsp::attention calls in the graph, expected {expected_attention_calls}")
    return calls
