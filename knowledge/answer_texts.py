"""What the answer composer says around the facts, in both languages (``knowledge.answers``).

Kept apart from the composer's logic so that wording can be reviewed, and changed, on its own. Every
key exists in both languages (``tests/knowledge/test_answers.py``).
"""

from __future__ import annotations

TEXT = {
    "en": {
        "source": "Source: {title}{date}. Last reviewed {reviewed}.",
        "dated": ", dated {date}",
        "uncertain": "Note: part of this rests on a single or unofficial source; confirm with the office named before you act on it.",
        "not_found": 'I could not find this in the knowledge base, so I would rather not guess. Try naming the procedure, place or customs code (for example "9810 overseas warehouse" or "ODI filing Zhejiang").',
        "partial": "The knowledge base covers **{title}**, but it does not state {what}, so I would rather not guess.",
        "elsewhere": "My knowledge base is about trade in Zhejiang and says nothing specific about {places}, so I would rather not answer with Zhejiang's rules.",
        "what_number": "the figure you ask for",
        "what_date": "the date you ask for",
        "nearest": "These topics are the closest I have:",
        "person": "If you need a definite answer, I can pass your question to a member of staff.",
        "as_of": "As of {date} (the date of the newest source): ",
        "other_language": "(This comes from a document written in Chinese only.)",
        "replaced": "Note: {old} no longer applies: it was replaced on {date} by **{new}**. What follows is the rule in force now.",
        "replaced_only": "Note: {old} no longer applies: it was replaced on {date} by **{new}**. Open that topic for the rule in force now.",
        "good": "👍 Helpful",
        "bad": "👎 Not helpful",
        "human": "Talk to a person",
    },
    "zh": {
        "source": "来源：{title}{date}。最近审核：{reviewed}。",
        "dated": "，日期 {date}",
        "uncertain": "提示：其中部分内容仅有单一或非官方来源，办理前请向文中提到的主管部门核实。",
        "not_found": "知识库里没有找到这个问题的答案，我不想随便猜测。可以试着写明具体业务、地点或监管方式代码（例如“9810 海外仓”或“浙江 境外投资备案”）。",
        "partial": "知识库涉及“{title}”，但没有写明{what}，我不想随便猜测。",
        "elsewhere": "我的知识库讲的是浙江的外贸规则，没有关于{places}的具体内容，我不想拿浙江的规定来回答。",
        "what_number": "您问的具体数字",
        "what_date": "您问的具体日期",
        "nearest": "最接近的相关主题：",
        "person": "如需确切答复，我可以把您的问题转给工作人员。",
        "as_of": "截至 {date}（最新来源的日期）：",
        "other_language": "（以下内容来自英文资料，该文档只有英文版本。）",
        "replaced": "提示：{old}已不再适用，自{date}起由**{new}**取代。以下是现行规定。",
        "replaced_only": "提示：{old}已不再适用，自{date}起由**{new}**取代。现行规定请查看该主题。",
        "good": "👍 有帮助",
        "bad": "👎 没帮助",
        "human": "转人工",
    },
}
