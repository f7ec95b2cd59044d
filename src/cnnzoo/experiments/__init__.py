"""The lectures' experiments, one command each (`cnnzoo experiment NAME`).

    degradation   plain vs residual CIFAR-style networks at two depths (He et al. 2015, Fig. 1 and 6)
    lesion        deleting and reordering residual blocks (Veit et al. 2016; seed 000 Fig. 14-15)
    gradflow      per-layer gradient norms and response std of deep nets (seed 004; seed 000 Fig. 13)
    kernels       one 5x5 vs two 3x3 vs 1xn + nx1 (VGG §2.3, Inception v3 §3)

Each writes a folder: `experiment.yaml` (its settings), raw CSV, PNG figures, `summary.md`,
`report.html`, and `runs/<name>/` (ordinary run folders of its sub-runs, which a second call
with the same settings reuses, or resumes when they were interrupted).
"""
