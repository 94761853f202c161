"""Makes a row's UNet output independent of the other rows in its batch.

On the CPU, a GEMM whose M is the batch size (the timestep and added-condition embeddings and
every resnet's time_emb_proj: one row per image) picks kernels by M, so a row's bits depend on how many rows share the call. vsp
relies on rows not depending on their company: a style reference runs alone, targets run in
chunks of --batch-size, and both must give the same images whatever the chunking. Every other
GEMM has M = batch * tokens and is already row-stable."""
import torch


class RowwiseLinear(torch.nn.Module):
    """nn.Linear as a batched [1, K] x [K, N] product per row: the same kernel for every batch size."""

    def __init__(self, linear: torch.nn.Linear):
        super().__init__()
        self.weight = linear.weight
        self.bias = linear.bias

    def forward(self, x):
        out = torch.bmm(x.unsqueeze(1), self.weight.t().unsqueeze(0).expand(x.shape[0], -1, -1)).squeeze(1)
        return out if self.bias is None else out + self.bias


def _per_image(name):
    return name.startswith(("time_embedding.", "add_embedding.")) or name.endswith(".time_emb_proj")


def make_embeddings_row_stable(unet):
    """Swaps the per-image linears (input [batch, K]) for RowwiseLinear."""
    for name, module in list(unet.named_modules()):
        if isinstance(module, torch.nn.Linear) and _per_image(name):
            parent_name, _, child = name.rpartition(".")
            setattr(unet.get_submodule(parent_name), child, RowwiseLinear(module))
