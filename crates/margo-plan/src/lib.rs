//! Nodule segmentation, ablation-zone models, margin metrics, trajectory checks, plan files.
