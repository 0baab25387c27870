#!/usr/bin/env python3
"""Times one training iteration of the authors' PyTorch UniPET (github.com/Yaziwel/UniPET), as their
main_UniPET_RALS.py performs it, on the CPU: a critic step (generator forward with autograd, critic on
the masked real and fake, gradient penalty, AdamW) then a generator step (a second generator forward,
L1 + 0.001 style + 0.001 adversarial, AdamW). Their networks are imported from a checkout given on the
command line; the loop below is our transcription of their iteration (their GradientPenalty allocates
CUDA tensors, so it is restated for the CPU with the same arithmetic). Their Discriminator flattens
into Linear(8, 1) and so only takes 64^3 patches; for smaller patches an AdaptiveAvgPool3d(2) is
appended to its convolutions, which is what unipet's Discriminator does (the identity at 64^3).

usage: reference_train_step.py REPO [--patch 32] [--batch 2] [--iterations 3] [--threads 0] [--ndf 16]
Prints one line: "reference <patch>^3 x<batch>: <median seconds> s/it (<iterations> its)".
"""
import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def main():
    p = argparse.ArgumentParser()
    p.add_argument("repo")
    p.add_argument("--patch", type=int, default=32)
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--iterations", type=int, default=3)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--ndf", type=int, default=16)
    a = p.parse_args()
    torch.set_num_threads(a.threads or os.cpu_count())
    sys.path.insert(0, a.repo)
    from model.UniPET import UniPET, Discriminator  # the authors' networks

    torch.manual_seed(0)
    generator = UniPET()
    critic = Discriminator(ndf=a.ndf)
    if a.patch != 64:
        critic.model.add_module("pool_to_2x2x2", torch.nn.AdaptiveAvgPool3d(2))
    opt_g = torch.optim.AdamW(generator.parameters(), lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
    opt_d = torch.optim.AdamW(critic.parameters(), lr=1e-4, betas=(0.9, 0.99))

    shape = (a.batch, 1, a.patch, a.patch, a.patch)
    label = torch.rand(shape) * 0.5
    low = (label + 0.02 * torch.randn(shape)).clamp_min(0)
    # Their stylized region: local 3x3x3 variance of the full-dose patch >= 0.001.
    mask = ((F.avg_pool3d(label ** 2, 3, 1, 1) - F.avg_pool3d(label, 3, 1, 1) ** 2) >= 0.001).float()

    def penalty(real, fake):
        alpha = torch.rand(real.size(0), 1, 1, 1, 1)
        interp = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        out = critic(interp)
        grads = torch.autograd.grad(out, interp, torch.ones_like(out), create_graph=True, retain_graph=True)[0]
        return ((grads.view(grads.size(0), -1).norm(2, dim=1) - 1) ** 2).mean() * 10

    def iteration():
        critic.train()
        generator.eval()
        opt_d.zero_grad()
        out, loss_recon, loss_style = generator(low, label)
        real, fake = label * mask, out * mask
        loss_d = torch.mean(critic(fake.data)) - torch.mean(critic(real.data))
        loss_d = loss_d + penalty(real.data, fake.data)
        loss_d.backward()
        opt_d.step()
        generator.train()
        opt_g.zero_grad()
        out, loss_recon, loss_style = generator(low, label)
        loss_adv = -torch.mean(critic(out * mask))
        loss = loss_recon.mean() + 0.001 * loss_style.mean() + 0.001 * loss_adv
        loss.backward()
        opt_g.step()

    iteration()  # warm-up, as unipet_bench does
    times = []
    for _ in range(a.iterations):
        start = time.perf_counter()
        iteration()
        times.append(time.perf_counter() - start)
    print(f"reference {a.patch}^3 x{a.batch}: {statistics.median(times):.3f} s/it ({a.iterations} its)")


if __name__ == "__main__":
    main()
