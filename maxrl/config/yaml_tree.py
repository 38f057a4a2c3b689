"""The YAML side of the config: the tree the YAML files define (every default lives there) and its keys."""

from __future__ import annotations

from collections.abc import Iterator

from omegaconf import DictConfig, OmegaConf

from maxrl.config import CONFIG_DIR, MAIN_CONFIG


def yaml_defaults() -> DictConfig:
    """The config the YAML files define, assembled from the main file's defaults list (no overrides)."""
    main = OmegaConf.load(CONFIG_DIR / f"{MAIN_CONFIG}.yaml")
    tree = OmegaConf.create()
    for entry in main.get("defaults", []):
        if not isinstance(entry, DictConfig):
            continue  # _self_
        ((group, option),) = entry.items()
        group, _, package = str(group).partition("@")
        section = OmegaConf.load(CONFIG_DIR / group / f"{option}.yaml")
        OmegaConf.update(tree, package or group.replace("/", "."), section, merge=True, force_add=True)
    own = {key: value for key, value in main.items() if key not in ("defaults", "hydra")}
    return OmegaConf.merge(tree, own)


def default_section(path: str, overrides: dict | None = None) -> DictConfig:
    """The section at ``path`` as the YAML files define it, with ``overrides`` applied (a misspelt key is an
    error). For code that builds one part, such as a dataset or a loader, without composing a run's config;
    interpolations into other sections are not resolved."""
    section = OmegaConf.select(yaml_defaults(), path)
    OmegaConf.set_struct(section, True)
    return OmegaConf.merge(section, overrides or {})


def leaf_keys(cfg: DictConfig) -> list[str]:
    """Dotted paths of every value that is not itself a non-empty mapping (interpolations unresolved)."""

    def walk(node, prefix: str) -> Iterator[str]:
        if isinstance(node, dict) and node:
            for key, value in node.items():
                yield from walk(value, f"{prefix}{key}.")
        else:
            yield prefix[:-1]

    return list(walk(OmegaConf.to_container(cfg, resolve=False), ""))
