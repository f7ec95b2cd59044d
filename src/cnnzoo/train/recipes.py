"""The papers' training recipes (`cnnzoo train --recipe NAME`): optimiser, learning rate and
schedule, weight decay, batch size, epochs and augmentation as each paper reports them, one YAML
file per paper in `train/recipes/`, every value with the section it comes from (or "not stated
(ours)" where the paper is silent). Precedence: defaults < recipe < --config file < flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

RECIPE_DIR = Path(__file__).with_name("recipes")
RECIPES = ("alexnet", "vgg", "googlenet", "resnet", "resnet-cifar", "densenet", "mobilenet", "efficientnet")


@dataclass(frozen=True)
class Recipe:
    name: str
    paper: str
    models: str
    settings: dict[str, tuple[Any, str]]  # TrainConfig field -> (value, section)
    notes: str = ""

    @property
    def values(self) -> dict[str, Any]:
        return {k: v for k, (v, _) in self.settings.items()}

    def describe(self) -> str:
        """The recipe as `--help-recipe` prints it: one line per value with its section."""
        width = max(len(k) for k in self.settings)
        lines = [f"recipe {self.name}: {self.paper}", f"  for: {self.models}"]
        lines += [f"  --{k.replace('_', '-'):<{width + 2}} {str(v):<14} {section}"
                  for k, (v, section) in self.settings.items()]
        if self.notes:
            lines.append(f"  note: {self.notes}")
        return "\n".join(lines)


def load_recipe(name: str) -> Recipe:
    """The recipe `name` (one of RECIPES); ConfigError naming the choices otherwise."""
    if name not in RECIPES:
        raise ConfigError(f"--recipe {name!r}: expected one of {', '.join(RECIPES)}")
    from ..config import from_mapping
    from .config import TrainConfig
    raw = yaml.safe_load((RECIPE_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    settings = {k: (v["value"], str(v["section"])) for k, v in raw["settings"].items()}
    from_mapping(TrainConfig, {k: v for k, (v, _) in settings.items()}, source=f"recipe {name}")  # checked
    return Recipe(name, raw["paper"], raw.get("models", ""), settings, raw.get("notes", ""))


def with_recipe(yaml_values: dict[str, Any], flag_values: dict[str, Any]) -> dict[str, Any]:
    """The --config file's values on top of the recipe named by a flag or the file (if any)."""
    name = flag_values.get("recipe") or yaml_values.get("recipe")
    if not name:
        return yaml_values
    return {**load_recipe(str(name)).values, **yaml_values}
