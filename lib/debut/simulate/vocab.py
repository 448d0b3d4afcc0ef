"""Words of the simulated marketplace: categories, subcategories, materials, colours, styles, brands.

Asking for more categories than the base list cycles it with a suffix
("shoes_2"), reusing the base category's vocabulary.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple


@dataclass(frozen=True)
class CategoryWords:
    subcategories: Tuple[str, ...]    # also the noun used in titles and queries
    materials: Tuple[str, ...]
    median_price: float


BASE_CATEGORIES = {
    "shoes": CategoryWords(("sneakers", "boots", "sandals"), ("leather", "suede", "canvas", "mesh"), 95.0),
    "bags": CategoryWords(("tote", "backpack", "crossbody"), ("leather", "canvas", "nylon", "straw"), 120.0),
    "outerwear": CategoryWords(("coat", "jacket", "parka"), ("wool", "down", "cotton", "leather"), 180.0),
    "knitwear": CategoryWords(("sweater", "cardigan", "vest"), ("wool", "cashmere", "cotton", "merino"), 80.0),
    "jewellery": CategoryWords(("necklace", "ring", "earrings"), ("silver", "gold", "brass", "pearl"), 60.0),
    "home_textiles": CategoryWords(("throw", "cushion", "rug"), ("linen", "cotton", "wool", "velvet"), 45.0),
    "kitchen": CategoryWords(("mug", "bowl", "pan"), ("ceramic", "steel", "glass", "enamel"), 35.0),
    "beauty": CategoryWords(("serum", "lipstick", "cream"), ("rose", "aloe", "charcoal", "citrus"), 25.0),
}

COLOURS = ("black", "white", "navy", "grey", "beige", "red", "green", "pink")
STYLES = ("classic", "minimal", "sporty", "vintage", "bold", "boho")
BRANDS_PER_CATEGORY = 5
BRAND_POOL = (
    "Lumen", "Aster", "Corvo", "Halden", "Mira", "Norde", "Pavo", "Quill", "Rowan", "Sable",
    "Tessel", "Umber", "Vela", "Wren", "Yarrow", "Zephyr", "Alba", "Brio", "Cinder", "Dune",
    "Ember", "Fable", "Gala", "Hollis", "Isla", "Juno", "Kestrel", "Loom", "Mosaic", "Nimbus",
    "Orla", "Pique", "Ronde", "Solace", "Tide", "Verve", "Willow", "Xeno", "Yuki", "Zola",
)
# What a non-UTF-8 export typically looks like: Latin-1 bytes of an accented word.
LATIN1_WORD = "crème"


def category_names(n: int) -> List[str]:
    """n category names: the base list, then cycled with a suffix ("shoes_2", ...)."""
    base = list(BASE_CATEGORIES)
    return [base[i % len(base)] + ("" if i < len(base) else f"_{i // len(base) + 1}") for i in range(n)]


def words_of(category: str) -> CategoryWords:
    return BASE_CATEGORIES[category.rsplit("_", 1)[0] if category not in BASE_CATEGORIES else category]
