"""Categories, the appeal model and products (catalogue items, launches, candidates).

An item's appeal is a category-specific linear function of its attributes
(colour, material, style, brand, subcategory one-hots and its price position in
the category) -- the learnable part -- plus Gaussian noise that no feature
explains. The learnable part carries SIGNAL_SHARE of the appeal's variance.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Sequence

import numpy as np

from debut.simulate import vocab

APPEAL_SD = 1.1            # sd of appeal within a category
SIGNAL_SHARE = 0.6         # share of that variance that attributes explain
PRICE_SD = 0.45            # sd of log price within a category
BRAND_PRICE_SD = 0.25      # brands have price tiers
SUB_PRICE_SD = 0.15


@dataclass(frozen=True)
class Category:
    name: str
    subcategories: tuple
    materials: tuple
    brands: tuple
    log_median_price: float
    brand_price: np.ndarray    # (B,) log-price offset of each brand
    sub_price: np.ndarray      # (3,)
    w_colour: np.ndarray       # appeal weights, one per vocabulary word
    w_material: np.ndarray
    w_style: np.ndarray
    w_brand: np.ndarray
    w_sub: np.ndarray
    w_price: float             # per unit of price position z

    def learnable(self, sub, brand, colour, material, style, z, **_) -> np.ndarray:
        return (self.w_sub[sub] + self.w_brand[brand] + self.w_colour[colour]
                + self.w_material[material] + self.w_style[style] + self.w_price * z)


def make_categories(n: int, rng: np.random.Generator) -> List[Category]:
    cats = []
    for name in vocab.category_names(n):
        words = vocab.words_of(name)
        brands = tuple(rng.choice(vocab.BRAND_POOL, vocab.BRANDS_PER_CATEGORY, replace=False))
        nb, nm, ns = len(brands), len(words.materials), len(vocab.STYLES)
        raw = dict(
            w_colour=rng.normal(0, 0.35, len(vocab.COLOURS)), w_material=rng.normal(0, 0.35, nm),
            w_style=rng.normal(0, 0.4, ns), w_brand=rng.normal(0, 0.45, nb),
            w_sub=rng.normal(0, 0.25, len(words.subcategories)))
        w_price = float(-0.25 + rng.normal(0, 0.1))
        brand_price = rng.normal(0, BRAND_PRICE_SD, nb)
        sub_price = rng.normal(0, SUB_PRICE_SD, len(words.subcategories))
        cat = Category(name, words.subcategories, words.materials, brands, float(np.log(words.median_price)),
                       brand_price, sub_price, w_price=w_price, **raw)
        # rescale so that the learnable part has exactly the intended variance
        probe = _draw_attributes(cat, 20000, rng)
        scale = np.sqrt(SIGNAL_SHARE * APPEAL_SD ** 2) / cat.learnable(**probe).std()
        cats.append(Category(name, words.subcategories, words.materials, brands, cat.log_median_price,
                             brand_price, sub_price, w_price=w_price * scale,
                             **{k: v * scale for k, v in raw.items()}))
    return cats


def _draw_attributes(cat: Category, n: int, rng: np.random.Generator) -> dict:
    sub = rng.integers(0, len(cat.subcategories), n)
    brand = rng.integers(0, len(cat.brands), n)
    colour = rng.integers(0, len(vocab.COLOURS), n)
    material = rng.integers(0, len(cat.materials), n)
    style = rng.integers(0, len(vocab.STYLES), n)
    resid_sd = np.sqrt(max(PRICE_SD ** 2 - BRAND_PRICE_SD ** 2 - SUB_PRICE_SD ** 2, 0.01))
    log_price = cat.log_median_price + cat.brand_price[brand] + cat.sub_price[sub] + rng.normal(0, resid_sd, n)
    price = np.maximum(np.round(np.exp(log_price)) - 0.01, 0.99)
    z = (np.log(price) - cat.log_median_price) / PRICE_SD
    return dict(sub=sub, brand=brand, colour=colour, material=material, style=style, z=z, price=price)


@dataclass
class Products:
    """Column arrays of products; `cat` indexes the category list."""
    ids: np.ndarray
    cat: np.ndarray
    sub: np.ndarray
    brand: np.ndarray
    colour: np.ndarray
    material: np.ndarray
    style: np.ndarray
    price: np.ndarray
    unit_cost: np.ndarray
    z: np.ndarray              # price position within the category
    learnable: np.ndarray
    noise: np.ndarray
    launch_day: np.ndarray     # relative to the window start
    delist_day: np.ndarray     # first day not live (a large number: never)
    titles: List[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def appeal(self) -> np.ndarray:
        return self.learnable + self.noise

    @staticmethod
    def concat(parts: Sequence["Products"]) -> "Products":
        names = [f for f in Products.__dataclass_fields__ if f != "titles"]
        out = {f: np.concatenate([getattr(p, f) for p in parts]) for f in names}
        return Products(titles=[t for p in parts for t in p.titles], **out)


def make_products(cats: List[Category], per_category: int, rng: np.random.Generator, *, prefix: str,
                  first_number: int, width: int, launch_days: np.ndarray | None = None) -> Products:
    """per_category products in every category; launch_days (C, per_category) or None (set later)."""
    cols = {k: [] for k in ("cat", "sub", "brand", "colour", "material", "style", "z", "price", "learnable")}
    for c, cat in enumerate(cats):
        a = _draw_attributes(cat, per_category, rng)
        cols["cat"].append(np.full(per_category, c))
        for k in ("sub", "brand", "colour", "material", "style", "z", "price"):
            cols[k].append(a[k])
        cols["learnable"].append(cat.learnable(**a))
    col = {k: np.concatenate(v) for k, v in cols.items()}
    n = len(col["cat"])
    price = col["price"]
    unit_cost = np.round(price * rng.uniform(0.40, 0.70, n), 2)
    noise = rng.normal(0, np.sqrt((1 - SIGNAL_SHARE) * APPEAL_SD ** 2), n)
    ids = np.array([f"{prefix}{first_number + i:0{width}d}" for i in range(n)], dtype=object)
    launch = np.zeros(n, dtype=np.int64) if launch_days is None else np.asarray(launch_days).reshape(-1)
    titles = [title(cats[c], s, b, co, m, st) for c, s, b, co, m, st in
              zip(col["cat"], col["sub"], col["brand"], col["colour"], col["material"], col["style"])]
    return Products(ids, col["cat"], col["sub"], col["brand"], col["colour"], col["material"], col["style"],
                    price, unit_cost, col["z"], col["learnable"], noise, launch,
                    np.full(n, np.iinfo(np.int32).max, dtype=np.int64), titles)


def title(cat: Category, sub: int, brand: int, colour: int, material: int, style: int) -> str:
    """e.g. "Navy wool classic coat by Lumen"."""
    return (f"{vocab.COLOURS[colour].capitalize()} {cat.materials[material]} {vocab.STYLES[style]} "
            f"{cat.subcategories[sub]} by {cat.brands[brand]}")
