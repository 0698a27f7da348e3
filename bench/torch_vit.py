import torch, torch.nn as nn, torch.nn.functional as F
# bench/torch_vit.py: a plain-PyTorch ViT with timm's layout and state_dict names (no timm on this machine), used by
# bench/torch_backbone.py --model vit-tiny; torch 1.13 has no F.scaled_dot_product_attention, so attention is unfused.

class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.qkv(x).reshape(B, T, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
        a = (q @ k.transpose(-2, -1) * (D // self.heads) ** -0.5).softmax(-1)  # torch 1.13: no F.scaled_dot_product_attention
        return self.proj((a @ v).transpose(1, 2).reshape(B, T, D))

class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)
    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))

class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio=4.0):
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(dim, eps=1e-6), Attention(dim, heads)
        self.norm2, self.mlp = nn.LayerNorm(dim, eps=1e-6), Mlp(dim, int(dim * mlp_ratio))
    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))

class PatchEmbed(nn.Module):
    def __init__(self, patch, in_ch, dim):
        super().__init__()
        self.proj = nn.Conv2d(in_ch, dim, patch, stride=patch)
    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)

class ViT(nn.Module):
    """timm's VisionTransformer (class token, learned pos_embed, pre-norm, exact GELU, LN eps 1e-6), timm's state_dict names."""
    def __init__(self, img=32, patch=4, in_ch=3, dim=192, depth=12, heads=3, mlp_ratio=4.0, num_classes=0):
        super().__init__()
        n = (img // patch) ** 2
        self.patch_embed = PatchEmbed(patch, in_ch, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, n + 1, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, mlp_ratio) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes) if num_classes > 0 else nn.Identity()
    def forward(self, x):
        t = self.patch_embed(x)
        t = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), t], 1) + self.pos_embed
        return self.head(self.norm(self.blocks(t))[:, 0])

if __name__ == '__main__':
    m = ViT(img=224, patch=16, dim=192, heads=3, num_classes=1000)
    print(sum(p.numel() for p in m.parameters()), list(m.state_dict())[:6])
    m = ViT()
    x = torch.randn(4, 3, 32, 32); y = m(x); y.backward(torch.randn_like(y)); print(y.shape, m.patch_embed.proj.weight.grad.shape)
