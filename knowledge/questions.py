"""What a trader's question asks for, in either language: the kind of fact, and what that fact must hold.

``Asked.of(question)`` reads, with rules (the questions are short and the patterns few):

* the **kind**: a number or amount (多少 / 几 / how many / what rate), a date (哪一年 / 何时 / when),
  a name or place (哪个 / which / who), yes or no (能不能 / 是否 / can / does), or other;
* for a number, its **unit family**: a duration ("几天", "how long"), a share or rate ("比例", "what
  percentage"), money ("多少钱", "how much does it cost"), or a plain count;
* the **numbers the question gives** ("trips in 2020": an answer about 2019 does not answer it);
* the **counted thing** ("how many trips", "几个非洲国家": trips, 国家): a sentence whose figure
  counts it ranks higher (``counts_in``), but one that says "merchants" for "traders" is not refused.

``Asked.held_by(sentence)`` then tells whether a sentence can state the asked fact at all, which is
what keeps a related passage from being presented as the answer. ``question_parts`` splits a message
that asks two things ("which new areas, and how big in total?", "A和B分别是多少").

Must not: import the search engine (the answer composer and the evaluation both use it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from knowledge import entities
from knowledge.language import tokenize

AnswerType = Literal["number", "date", "name", "yesno", "other"]
Unit = Literal["duration", "share", "money", "count"]

_DATE_Q = re.compile(
    r"\bwhen\b|what year|which year|since when|what date|which date|what day|in which month|哪一?年|何时|什么时候|"
    r"哪一?天|哪个月|几月|几号|何年|起始时间|开始时间|生效时间|实施时间|什么时间|哪一?日",
    re.IGNORECASE,
)
_WHICH_ONES = re.compile(r"哪几|哪些|which ones", re.IGNORECASE)  # "哪几类": names, not a number
_NUMBER_Q = re.compile(
    r"how (?:many|much|long|big|large|far|often)|what (?:share|percentage|percent|proportion|rate|amount|"
    r"limit|threshold|cap|ceiling|size|area|volume|number|value|total|portion|ratio|fee|cost|price)|"
    r"(?:maximum|minimum|max|min)\b|\blimit\b|\bthreshold\b|\bcap\b|多少|几[个家条项次倍年天月类批种座列艘名]|几成|"
    r"比例|占比|百分之|多大|多长|多久|多远|多高|上限|下限|限额|额度|门槛|规模|面积|税率|吞吐量|总量|总额",
    re.IGNORECASE,
)
_YESNO_Q = re.compile(
    r"^(?:can|could|does|do|is|are|must|should|will|has|have|did|was|were|may)\b|"
    r"能不能|能否|可不可以|可否|是否|是不是|有没有|需不需要|要不要|用不用|会不会|算不算|还能|吗[？?！!。.\s]*$",
    re.IGNORECASE,
)
_NAME_Q = re.compile(
    r"\bwhich\b|\bwho\b|\bwhom\b|what (?:is the name|authority|agency|office|department|body|law|regulation|"
    r"document|code|port|city)|哪个|哪家|哪些|哪几|哪里|谁|什么部门|哪个部门|名称|叫什么|什么机构|哪座|在哪",
    re.IGNORECASE,
)
_UNIT_Q: dict[Unit, re.Pattern[str]] = {
    "duration": re.compile(
        r"how long|how many (?:working )?(?:days|weeks|months|years|hours)|within how|time limit|deadline|"
        r"几天|多少天|几个工作日|多少个工作日|多久|多长时间|几个月|几年|多少年|时限|期限|有效期",
        re.IGNORECASE,
    ),
    "share": re.compile(
        r"what (?:share|percentage|percent|proportion|portion|ratio|rate)|how much of|比例|占比|百分之|税率|退税率|几成|"
        r"比重|份额",
        re.IGNORECASE,
    ),
    "money": re.compile(
        r"how much (?:does|do|is|will|would|money)|what (?:fee|cost|price)|多少钱|费用|价格|收费|多少美元|多少元|多少美金|"
        r"多少人民币|金额|货值|投资额",
        re.IGNORECASE,
    ),
}
_UNIT_A: dict[Unit, re.Pattern[str]] = {
    "duration": re.compile(
        r"(?:\d|[一二两三四五六七八九十百]|several|a few)[^.。;；]{0,12}?(?:working days?|days?|weeks?|months?|years?|hours?)|"
        r"(?:\d|[一二两三四五六七八九十百])[^。；]{0,4}?(?:个工作日|工作日|天|日内|周|个月|月内|年|小时)",
        re.IGNORECASE,
    ),
    "share": re.compile(r"%|％|percent|百分之|[一二三四五六七八九]成|half|one-third|third|quarter|一半", re.IGNORECASE),
    "money": re.compile(
        r"usd|rmb|cny|eur|yuan|dollars?|euros?|\$|¥|￥|€|元|美元|美金|欧元|万元|亿元",
        re.IGNORECASE,
    ),
}
# A year, but not the year of a document number ("公告2021年第106号", "〔2017〕16号", "[2017] No. 16").
_YEAR = re.compile(r"(?<![\d〔\[(（])(?:19|20)\d{2}(?![\d〕\])）]|年第)|[〇零一二三四五六七八九]{4}年(?!第)")
_MONTH = re.compile(
    r"\b(?:january|february|march|april|may|june|july|august|september|october|november|december)\b|\d{1,2}月",
    re.IGNORECASE,
)
_TIME_OF_DAY = re.compile(
    r"\b\d{1,2}:\d{2}\b|\b\d{1,2}\s*(?:am|pm|a\.m\.|p\.m\.)|\d{1,2}[点时]|"
    r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekdays?|weekends?)s?\b|周[一二三四五六日末]|星期",
    re.IGNORECASE,
)
_QUANTITY = re.compile(
    r"\d|[一二两三四五六七八九十百千万亿]+(?:个|家|项|条|年|月|日|天|倍|成|类|批|种|次|平方|万|亿)|百分之|"
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|hundred|thousand|"
    r"million|billion|half|dozen)\b",
    re.IGNORECASE,
)
_GIVEN_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
# "the 6th CIIE", "第六届进博会", "首届", "the second batch": the answer is about that edition.
_ORDINAL_ZH = re.compile(r"第([一二三四五六七八九十\d]{1,3})(?=届|批|次|版|轮|期)|(首)(?=届|批|次|版|轮|期)")
_ORDINAL_EN = re.compile(
    r"\b(\d{1,2})(?:st|nd|rd|th)\b|\b(first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth)\s+(?:\w+\s+)?"
    r"(?:edition|batch|round|session|expo|fair|forum|ciie|wave|phase)s?\b",
    re.IGNORECASE,
)
_ORDINAL_WORDS = {
    word: n
    for n, word in enumerate(
        ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"), 1
    )
}
_ZH_DIGITS = {c: i for i, c in enumerate("一二三四五六七八九", 1)}
_COUNTED_EN = re.compile(r"(?i:how (?:many|much)) (?:of |the |our |my )*((?:[A-Z][a-z'-]+ )?[a-z][a-z'-]+)")
# "几个非洲国家", "多少家企业": the counted thing follows a classifier; "吞吐量是多少": it comes before.
_COUNTED_ZH_AFTER = re.compile(r"(?:多少|几)(?:个|家|条|项|次|种|类|批|名|座|列|艘|档)([\u4e00-\u9fff]{1,4})")
_COUNTED_ZH_BEFORE = re.compile(r"([\u4e00-\u9fff]{2,8}?)(?:有|是|为|达|共|一共|总共|大概|大约|约)?(?:多少|几)")
_UNIT_AFTER_ZH = re.compile(r"(?:多少|几)(?:天|年|月|个月|个工作日|钱|元|美元|美金|倍|成)")
_CLASSIFIERS = "个家条项次种类批名座列艘档万亿千百十"
# Words that say "a number" without naming what is counted: any figure answers them.
_GENERIC = frozenset(
    [
        "is",
        "are",
        "was",
        "were",
        "does",
        "do",
        "did",
        "will",
        "can",
        "could",
        "should",
        "would",
        "has",
        "have",
        "time",
        "money",
        "percent",
        "per",
        "cost",
        "costs",
        "days",
        "years",
        "months",
        "weeks",
        "钱",
        "元",
        "美元",
        "美金",
        "人民币",
        "万",
        "亿",
        "天",
        "年",
        "个月",
        "月",
        "时间",
        "多久",
        "左右",
        "一共",
        "总共",
        "大概",
        "呢",
        "吗",
    ]
)


_ADVERBS = frozenset(
    ["一般", "具体", "大约", "通常", "现在", "目前", "最高", "最低", "最多", "最少", "分别", "到底", "究竟"]
)


def expected_type(question: str) -> AnswerType:
    """What kind of fact the question asks for, in either language."""
    if _DATE_Q.search(question):
        return "date"
    if _WHICH_ONES.search(question):
        return "name"
    if _NUMBER_Q.search(question):
        return "number"
    if _YESNO_Q.search(question.strip()):
        return "yesno"
    if _NAME_Q.search(question):
        return "name"
    return "other"


@dataclass(frozen=True)
class Asked:
    """What a fact must have to answer the question (see the module docstring)."""

    kind: AnswerType
    unit: Unit = "count"
    given: frozenset[str] = frozenset()
    counted: str | None = None
    editions: frozenset[int] = frozenset()

    @classmethod
    def of(cls, question: str) -> Asked:
        kind = expected_type(question)
        unit: Unit = next((u for u, pattern in _UNIT_Q.items() if pattern.search(question)), "count")
        folded = entities.normalise(question)
        given = frozenset(_GIVEN_NUMBER.findall(folded))
        editions = ordinals(question)
        # "the 6th" gives the number 6 too: it is an edition, checked as one.
        given -= {str(n) for n in editions}
        return cls(kind, unit, given, _counted(question), editions)

    def counts_in(self, sentence: str) -> bool:
        """Whether a figure in ``sentence`` counts the asked thing ("23 trips", "53个非洲国家")."""
        if self.counted is None:
            return False
        folded = entities.normalise(sentence)
        thing = re.escape(self.counted)
        if re.search(r"[a-z]", self.counted):
            return bool(re.search(rf"\d[\d,.]*\s*(?:[a-z%-]+\s+){{0,2}}{thing}", folded))
        number = r"(?:\d[\d,.]*|[一二两三四五六七八九十百千万亿]+)"
        return bool(re.search(rf"{number}[{_CLASSIFIERS}]{{0,2}}[\u4e00-\u9fff]{{0,4}}{thing}", folded))

    def held_by(self, sentence: str, heading: str = "") -> bool:
        """Whether ``sentence`` (in a section titled ``heading``) can state the asked number or date."""
        if self.kind not in ("number", "date"):
            return True
        folded = entities.normalise(sentence)
        where = folded + " " + entities.normalise(heading)
        if any(n not in where for n in self.given):
            return False
        if self.editions and not self.editions <= ordinals(f"{sentence} {heading}"):
            return False
        rest = folded
        for number in self.given:  # the question's own numbers are not the answer
            rest = rest.replace(number, " ")
        if self.kind == "date":  # "when does the hall open" is answered by "06:00" or "Mondays" too
            return bool(_YEAR.search(rest) or _MONTH.search(rest) or _TIME_OF_DAY.search(rest))
        if self.unit != "count":
            return bool(_UNIT_A[self.unit].search(rest))
        return bool(_QUANTITY.search(rest))


def ordinals(text: str) -> frozenset[int]:
    """The editions, batches or rounds a text names by ordinal, in either language ("第六届", "6th")."""
    found: set[int] = set()
    for digits, first in _ORDINAL_ZH.findall(text):
        if first:
            found.add(1)
        elif digits.isdigit():
            found.add(int(digits))
        else:
            found.add(_zh_number(digits))
    for digits, word in _ORDINAL_EN.findall(text):
        found.add(int(digits) if digits else _ORDINAL_WORDS[word.lower()])
    return frozenset(n for n in found if n > 0)


def _zh_number(text: str) -> int:
    """一 .. 九十九 as an int ("十二" 12, "二十" 20); 0 for anything else."""
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_ZH_DIGITS.get(tens, 1) if tens else 1) * 10 + _ZH_DIGITS.get(ones, 0)
    return _ZH_DIGITS.get(text, 0) if len(text) == 1 else 0


def _counted(question: str) -> str | None:
    """The thing a "how many" question counts, if it names one."""
    if _UNIT_AFTER_ZH.search(question):
        return None  # "几天", "多少钱": a unit, not a thing
    if match := _COUNTED_EN.search(question):  # "how many African officials": officials
        words = tokenize(match.group(1))
        return words[-1] if words and words[-1] not in _GENERIC else None
    if match := _COUNTED_ZH_AFTER.search(question):  # "几个非洲国家": 国家, the head comes last
        phrase = match.group(1)
        words = [w for w in tokenize(phrase) if w not in _GENERIC]
        return max(words, key=lambda w: (phrase.rfind(w), len(w))) if words else None
    if match := _COUNTED_ZH_BEFORE.search(question):
        words = [w for w in tokenize(match.group(1)) if w not in _GENERIC and w not in _ADVERBS and len(w) > 1]
        return words[-1] if words else None
    return None


_RESPECTIVELY = re.compile(r"^(.*?)和([\u4e00-\u9fffA-Za-z0-9]{2,12})分别(.*)$")
_PARTS = re.compile(
    r"[?？]\s*(?=\S)|[;；]|，(?:以及|还有|另外|并且|同时)|"
    r",? and (?=(?:\w+ ){0,2}(?:how|what|which|when|who|where|is|are|was|were|does|do|did|can|has|have)\b)",
    re.IGNORECASE,
)


def question_parts(question: str) -> list[str]:
    """The separate questions in a message ("which new areas, and how big in total?" -> two)."""
    if match := _RESPECTIVELY.match(question):  # "2022年货物吞吐量和集装箱吞吐量分别是多少" -> two
        before, second, after = match.groups()
        import jieba  # the tokenizer's own segmenter: the first item has as many words as the second

        words = jieba.lcut(before)
        width = max(1, len(jieba.lcut(second)))
        shared, first = "".join(words[:-width]), "".join(words[-width:])
        return [f"{shared}{first}{after}", f"{shared}{second}{after}"]
    parts = [p.strip(" ,，。") for p in _PARTS.split(question) if p and len(p.strip(" ,，。")) >= 4]
    return parts if len(parts) > 1 else [question]
