"""Places in China outside Zhejiang that a trader's question may name ("深圳", "Shanghai Lingang").

The knowledge base is about Zhejiang. A question about another province's subsidy or another city's
zone ("广东省对出口信用保险保费的补贴比例", "Shenzhen Qianhai tax incentives") finds Zhejiang's
nearest rule, which does not answer it. ``knowledge.answers`` therefore refuses to present a reply
whose documents never mention the place the question names; a document that does (Shanghai for the
import expo, Changsha for the China-Africa expo, Guangzhou for the Canton Fair) still answers.

Must not: list Zhejiang's own cities, or foreign countries (an outbound investment question names
its destination, and the knowledge base answers for any destination), or Beijing: the national
ministries sit there, and "do we have to go to Beijing?" is a question about them (dev half: three
outbound-investment questions name Beijing that way).
"""

from __future__ import annotations

import re
from functools import lru_cache

from knowledge.entities import normalise

# Canonical English name -> the names traders type (Chinese names match as substrings, English on
# word boundaries). Provinces, municipalities and special regions, then the cities and zones that
# trade questions name most.
_PLACES: dict[str, tuple[str, ...]] = {
    "Tianjin": ("tianjin", "天津"),
    "Shanghai": ("shanghai", "上海"),
    "Chongqing": ("chongqing", "重庆"),
    "Hebei": ("hebei", "河北"),
    "Shanxi": ("shanxi", "山西"),
    "Liaoning": ("liaoning", "辽宁"),
    "Jilin": ("jilin", "吉林"),
    "Heilongjiang": ("heilongjiang", "黑龙江"),
    "Jiangsu": ("jiangsu", "江苏"),
    "Anhui": ("anhui", "安徽"),
    "Fujian": ("fujian", "福建"),
    "Jiangxi": ("jiangxi", "江西"),
    "Shandong": ("shandong", "山东"),
    "Henan": ("henan", "河南"),
    "Hubei": ("hubei", "湖北"),
    "Hunan": ("hunan", "湖南"),
    "Guangdong": ("guangdong", "广东"),
    "Hainan": ("hainan", "海南"),
    "Sichuan": ("sichuan", "四川"),
    "Guizhou": ("guizhou", "贵州"),
    "Yunnan": ("yunnan", "云南"),
    "Shaanxi": ("shaanxi", "陕西"),
    "Gansu": ("gansu", "甘肃"),
    "Qinghai": ("qinghai", "青海"),
    "Inner Mongolia": ("inner mongolia", "内蒙古"),
    "Guangxi": ("guangxi", "广西"),
    "Tibet": ("tibet", "xizang", "西藏"),
    "Ningxia": ("ningxia", "宁夏"),
    "Xinjiang": ("xinjiang", "新疆"),
    "Hong Kong": ("hong kong", "香港"),
    "Macao": ("macao", "macau", "澳门"),
    "Taiwan": ("taiwan", "台湾"),
    "Shenzhen": ("shenzhen", "深圳"),
    "Guangzhou": ("guangzhou", "广州"),
    "Dongguan": ("dongguan", "东莞"),
    "Foshan": ("foshan", "佛山"),
    "Xiamen": ("xiamen", "厦门"),
    "Qingdao": ("qingdao", "青岛"),
    "Suzhou": ("suzhou", "苏州"),
    "Nanjing": ("nanjing", "南京"),
    "Chengdu": ("chengdu", "成都"),
    "Wuhan": ("wuhan", "武汉"),
    "Xi'an": ("xi'an", "xian", "西安"),
    "Zhengzhou": ("zhengzhou", "郑州"),
    "Changsha": ("changsha", "长沙"),
    "Hefei": ("hefei", "合肥"),
    "Dalian": ("dalian", "大连"),
    "Qianhai": ("qianhai", "前海"),
    "Lingang": ("lingang", "临港"),
    "Hengqin": ("hengqin", "横琴"),
    "Nansha": ("nansha", "南沙"),
    "Pudong": ("pudong", "浦东"),
}


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    compiled = []
    for place, names in _PLACES.items():
        alternatives = [
            re.escape(name) if re.search(r"[\u4e00-\u9fff]", name) else rf"\b{re.escape(name)}\b" for name in names
        ]
        compiled.append((place, re.compile("|".join(alternatives))))
    return tuple(compiled)


def other_places(text: str) -> frozenset[str]:
    """The places outside Zhejiang that ``text`` names (canonical English names)."""
    folded = normalise(text)
    return frozenset(place for place, pattern in _patterns() if pattern.search(folded))


def place_name(place: str, lang: str) -> str:
    """How to write a place (a canonical name from ``other_places``) in ``lang``."""
    names = _PLACES[place]
    return next((n for n in names if re.search(r"[\u4e00-\u9fff]", n)), place) if lang == "zh" else place
