"""oran-metahrl: O-RAN xApps for slicing and RB scheduling with adaptive meta-hierarchical RL."""

__version__ = "0.1.0"
__all__ = ["__version__"]
