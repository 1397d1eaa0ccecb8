"""Write an initial θ_M for the meta-controller: a fresh DU agent's parameters (``get_params()``),
shaped for the scenario and agent configuration the DU xApps run with (their defaults: ``paper``).

    python3 make_theta0.py --out /init/theta0.pt [--scenario paper] [--agent paper] [--seed 0]

The compose topology runs it once (service ``meta-init``) before the meta-controller starts; in a
cluster, run it the same way and put the file where the chart's ``init`` points.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="where to write the torch.save file")
    parser.add_argument("--scenario", default="paper", help="scenario name or YAML (the xApps' `scenario`)")
    parser.add_argument("--agent", default="paper", help="training config name or YAML (the xApps' `agent`)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initialisation")
    args = parser.parse_args(argv)

    import torch

    from e2sim.env import HierarchicalSlicingEnv
    from e2sim.scenario import load_scenario
    from experiments.config import load_train_config
    from experiments.train import agent_config_for
    from xapps.agent.hierarchical import HierarchicalAgent

    config = load_train_config(args.agent)
    env = HierarchicalSlicingEnv(load_scenario(args.scenario), config.env)
    params = HierarchicalAgent(agent_config_for(env, config), seed=args.seed).get_params()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    torch.save(params, tmp)
    tmp.replace(args.out)
    sys.stdout.write(f"{args.out}: {len(params)} tensors, {sum(p.numel() for p in params.values())} values\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
