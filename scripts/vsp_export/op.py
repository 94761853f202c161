"""The vsp::attention custom op and the attention processor that routes every UNet attention
through it, so that the C++ runtime can steer each layer (see docs/design: the custom op)."""
import torch
import torch.nn.functional as F

OP_SCHEMA = "(Tensor q, Tensor k, Tensor v, int layer) -> Tensor"


def _register_op():
    if hasattr(torch.ops, "vsp") and hasattr(torch.ops.vsp, "attention"):
        return
    torch.library.define("vsp::attention", OP_SCHEMA)

    # The Python implementation only serves tracing and eager checks: plain SDPA, the same
    # computation as diffusers' AttnProcessor2_0 and as the C++ default controller.
    @torch.library.impl("vsp::attention", "CompositeExplicitAutograd")
    def _attention(q, k, v, layer):
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.0, is_causal=False)


_register_op()


class VspAttnProcessor:
    """diffusers' AttnProcessor2_0, restricted to what SDXL's UNet uses, with SDPA replaced by
    torch.ops.vsp.attention(q, k, v, layer) so the trace records the layer id as a constant."""

    def __init__(self, layer_id: int):
        self.layer_id = layer_id

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, *args, **kwargs):
        if attention_mask is not None or attn.spatial_norm is not None or attn.group_norm is not None:
            raise NotImplementedError("vsp's exporter supports the SDXL UNet attention only (no masks or norms)")
        if hidden_states.ndim != 3:
            raise NotImplementedError("vsp's exporter expects [batch, tokens, channels] attention inputs")
        residual = hidden_states
        batch_size = hidden_states.shape[0]
        query = attn.to_q(hidden_states)
        context = hidden_states if encoder_hidden_states is None else encoder_hidden_states
        if encoder_hidden_states is not None and attn.norm_cross:
            context = attn.norm_encoder_hidden_states(context)
        key = attn.to_k(context)
        value = attn.to_v(context)
        head_dim = key.shape[-1] // attn.heads
        query = query.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        key = key.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        value = value.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)
        out = torch.ops.vsp.attention(query, key, value, self.layer_id)
        out = out.transpose(1, 2).reshape(batch_size, -1, attn.heads * head_dim).to(query.dtype)
        out = attn.to_out[0](out)
        out = attn.to_out[1](out)
        if attn.residual_connection:
            out = out + residual
        return out / attn.rescale_output_factor


class _OrderRecorder:
    """Records the execution order of attention modules during one forward pass."""

    def __init__(self, name, order, inner):
        self.name, self.order, self.inner = name, order, inner

    def __call__(self, attn, hidden_states, *args, **kwargs):
        self.order.append(self.name)
        return self.inner(attn, hidden_states, *args, **kwargs)


def _block_of(name: str) -> str:
    parts = name.split(".")
    return "mid_block" if parts[0] == "mid_block" else ".".join(parts[:2])


def _attention_of(name: str) -> str:
    # "up_blocks.0.attentions.2.transformer_blocks.1.attn1" -> "up_blocks.0.attentions.2"
    return name.split(".transformer_blocks.")[0]


def _level_of(unet, block: str) -> int:
    """Resolution level: 0 at full latent size, +1 per downsampling."""
    levels = len(unet.config.block_out_channels)
    kind, _, index = block.partition(".")
    if kind == "down_blocks":
        return int(index)
    if kind == "up_blocks":
        return levels - 1 - int(index)
    return levels - 1


def install_processors(unet, example_call):
    """Runs example_call() once to learn the execution order, then installs one VspAttnProcessor
    per attention module with its id in that order. Returns the manifest's attention table.
    (diffusers' attn_processors lists up blocks before mid: the order must come from a run.)"""
    modules = {name.rsplit(".processor", 1)[0]: name for name in unet.attn_processors}
    order = []
    unet.set_attn_processor({key: _OrderRecorder(key.rsplit(".processor", 1)[0], order, VspAttnProcessor(-1))
                             for key in unet.attn_processors})
    with torch.no_grad():
        example_call()
    if sorted(order) != sorted(modules) or len(order) != len(set(order)):
        raise RuntimeError("every attention module must run exactly once per UNet call")
    ids = {name: i for i, name in enumerate(order)}
    unet.set_attn_processor({modules[name]: VspAttnProcessor(ids[name]) for name in order})

    table = []
    for name in order:
        attn = unet.get_submodule(name)
        block = _block_of(name)
        table.append({
            "id": ids[name],
            "name": name,
            "kind": "self" if name.endswith("attn1") else "cross",
            "block": block,
            "attention": _attention_of(name),
            "level": _level_of(unet, block),
            "heads": attn.heads,
            "head_dim": attn.inner_dim // attn.heads,
        })
    return table
