"""What a POS needs to know about the programme: its stores and its levels."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from app.api.base import Blueprint
from app.api.schemas import LevelNamesSchema, level_names
from app.i18n import request_language
from app.members.services import list_levels
from app.stores.services import list_stores

blp = Blueprint(
    "programme",
    __name__,
    url_prefix="/api/v1",
    description="The programme: its stores and levels.",
)


class StoreSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    region = fields.String(required=True)


class StoreListSchema(Schema):
    stores = fields.List(fields.Nested(StoreSchema), required=True)


class LevelSchema(Schema):
    name = fields.String(required=True, metadata={"description": "The level's one name."})
    level_name = fields.String(
        required=True,
        metadata={"description": "The name in the request's Accept-Language."},
    )
    names = fields.Nested(LevelNamesSchema, required=True)
    rank = fields.Integer(required=True, metadata={"description": "1 is the entry level."})
    discount_bp = fields.Integer(
        required=True, metadata={"description": "Price paid in basis points: 9500 is 5% off."}
    )
    points_multiplier_bp = fields.Integer(required=True, metadata={"description": "10000 is 1x."})
    upgrade_threshold = fields.Integer(
        required=True, metadata={"description": "Growth that reaches this level."}
    )


class LevelListSchema(Schema):
    levels = fields.List(fields.Nested(LevelSchema), required=True)


@blp.route("/stores", methods=["GET"])
@blp.response(200, StoreListSchema)
@blp.errors()
def stores() -> dict[str, Any]:
    """The chain's stores, by code."""
    return {"stores": [{"code": s.code, "name": s.name, "region": s.region} for s in list_stores()]}


@blp.route("/levels", methods=["GET"])
@blp.response(200, LevelListSchema)
@blp.errors()
def levels() -> dict[str, Any]:
    """The programme's levels, entry level first, with their discounts and thresholds."""
    language = request_language()
    return {
        "levels": [
            {
                "name": level.name,
                "level_name": level.name_in(language),
                "names": level_names(level),
                "rank": level.rank,
                "discount_bp": level.discount_bp,
                "points_multiplier_bp": level.points_multiplier_bp,
                "upgrade_threshold": level.upgrade_threshold,
            }
            for level in list_levels()
        ]
    }
