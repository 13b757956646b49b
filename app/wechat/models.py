"""Scene QR codes: a parametric QR shown at the counter or printed on a receipt that binds
the member who scans it to the member the station already knows."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow


class WechatScene(Base):
    __tablename__ = "wechat_scene"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The ``scene_str`` inside the QR (``qrscene_`` + it arrives with a subscribe event).
    scene: Mapped[str] = mapped_column(String(64), unique=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    #: WeChat's ticket (shows the QR at mp.weixin.qq.com/cgi-bin/showqrcode?ticket=…).
    ticket: Mapped[str | None] = mapped_column(String(200))
    permanent: Mapped[bool] = mapped_column(default=False)
    #: None for a permanent scene.
    expires_at: Mapped[dt.datetime | None]
    #: Set once an openid bound with it: a scene binds once.
    used_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
