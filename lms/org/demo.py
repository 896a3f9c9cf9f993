"""The demo district: the real functional zones, subdistricts and towns, and sector unions of
the Binhai New Area, and about 20 grassroots unions (enterprise names are invented)."""
from __future__ import annotations

import sqlalchemy as sa

from lms.extensions import db
from lms.org.models import Unit, UnitKind
from lms.org.services import create_unit

DISTRICT = "滨海新区总工会"

ZONES = ["天津经济技术开发区总工会", "天津港保税区总工会", "滨海高新技术产业开发区总工会",
         "东疆综合保税区总工会", "中新天津生态城总工会"]
SUBDISTRICTS = ["新村街道总工会", "新河街道总工会", "新港街道总工会", "杭州道街道总工会",
                "向阳街道总工会", "大沽街道总工会", "新北街道总工会", "北塘街道总工会",
                "胡家园街道总工会", "泰达街道总工会", "汉沽街道总工会", "寨上街道总工会",
                "茶淀街道总工会", "大港街道总工会", "古林街道总工会", "海滨街道总工会",
                "新城镇总工会", "杨家泊镇总工会", "太平镇总工会", "小王庄镇总工会", "中塘镇总工会"]
SECTORS = ["区教育工会", "区卫生健康系统工会", "区建设交通系统工会", "区商务系统工会",
           "区直属机关工会工作委员会", "区金融工会"]
AFFILIATED = ["区城市管理委员会工会", "区文化和旅游局工会"]

#: (parent, grassroots union) — invented enterprises, realistic in kind and place
GRASSROOTS = [
    ("天津经济技术开发区总工会", "泰达智能装备有限公司工会"),
    ("天津经济技术开发区总工会", "开发区汽车零部件制造有限公司工会"),
    ("天津经济技术开发区总工会", "滨海生物医药科技有限公司工会"),
    ("天津港保税区总工会", "保税区航空物流有限公司工会"),
    ("天津港保税区总工会", "临港精细化工有限公司工会"),
    ("滨海高新技术产业开发区总工会", "海河信创软件有限公司工会"),
    ("滨海高新技术产业开发区总工会", "高新区新能源电池有限公司工会"),
    ("东疆综合保税区总工会", "东疆融资租赁有限公司工会"),
    ("中新天津生态城总工会", "生态城绿色建筑科技有限公司工会"),
    ("新村街道总工会", "新村街道社区联合工会"),
    ("新港街道总工会", "新港码头装卸服务有限公司工会"),
    ("杭州道街道总工会", "杭州道商贸城联合工会"),
    ("胡家园街道总工会", "胡家园物流园区联合工会"),
    ("汉沽街道总工会", "汉沽盐化工有限公司工会"),
    ("大港街道总工会", "大港石化设备维修有限公司工会"),
    ("古林街道总工会", "古林快递外卖新就业形态联合工会"),
    ("太平镇总工会", "太平镇农业合作社联合工会"),
    ("区卫生健康系统工会", "滨海新区某人民医院工会"),
    ("区教育工会", "滨海新区某实验中学工会"),
    ("区建设交通系统工会", "滨海公交集团有限公司工会"),
]


def _ensure(name: str, kind: UnitKind, parent: Unit | None) -> Unit:
    stmt = sa.select(Unit).where(Unit.name == name)
    stmt = stmt.where(Unit.parent_id.is_(None) if parent is None else Unit.parent_id == parent.id)
    unit = db.session.scalar(stmt)
    return unit or create_unit(name=name, kind=kind, parent_id=parent.id if parent else None)


def load_units() -> dict[str, Unit]:
    """Create what is missing; returns every demo unit by name."""
    root = db.session.scalar(sa.select(Unit).where(Unit.kind == UnitKind.DISTRICT)) \
        or _ensure(DISTRICT, UnitKind.DISTRICT, None)
    units = {DISTRICT: root}
    for names, kind in ((ZONES, UnitKind.ZONE), (SUBDISTRICTS, UnitKind.SUBDISTRICT),
                        (SECTORS, UnitKind.SECTOR), (AFFILIATED, UnitKind.AFFILIATED)):
        for order, name in enumerate(names):
            unit = _ensure(name, kind, root)
            unit.sort_order = order
            units[name] = unit
    for parent_name, name in GRASSROOTS:
        units[name] = _ensure(name, UnitKind.GRASSROOTS, units[parent_name])
    db.session.flush()
    return units
