"""What the two advisors decide, without Rasa: the answer tables, the decision rules and their texts.

``odi_route`` (which NDRC, commerce and bank steps an outbound investment needs) and
``customs_mode`` (which supervision-mode code fits a shipment) follow the knowledge-base documents
that the advice cites; where those documents say something is uncertain, so does the advice. The
forms (``actions.advisors``) and a case stated in one message (``actions.cases``) both use them.
"""

from __future__ import annotations

from decimal import Decimal

from knowledge import entities

ODI_SLOTS = ("odi_investor_type", "odi_destination", "odi_industry", "odi_amount_usd", "odi_offshore")
CUSTOMS_SLOTS = ("customs_direction", "customs_import_stock", "customs_buyer", "customs_route")
NATIONAL_THRESHOLD_USD = Decimal(300_000_000)
MAX_PLAUSIBLE_USD = Decimal(1_000_000_000_000)  # more than any single outbound deal on record


def keywords(text: str, table: dict[str, tuple[str, ...]]) -> str | None:
    """The first key of ``table`` whose keywords occur in ``text`` (tables are ordered, specific first)."""
    lowered = entities.normalise(text)
    for value, words in table.items():
        if any(word in lowered for word in words):
            return value
    return None


INVESTOR_TYPES: dict[str, tuple[str, ...]] = {
    "central_soe": ("central", "中央", "央企", "sasac"),
    "local_soe": (
        "local state",
        "local soe",
        "provincial",
        "municipal",
        "地方国",
        "省属",
        "市属",
        "地方国企",
        "国有",
        "国企",
    ),
    "private": ("private", "民营", "私营", "民企", "privately", "family", "listed company", "个人", "有限公司"),
}

ODI_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "investor_unclear": 'Please choose one: "Central state-owned enterprise", "Local state-owned enterprise" or "Private company".',
        "country_unknown": 'I don\'t recognise "{text}" as a country or region. Please type its name, for example "Vietnam" or "Germany".',
        "amount_unclear": 'Please give the amount in US dollars with digits, for example "USD 5 million" or "300000000".',
        "amount_currency": "Please give the amount in US dollars: the filing thresholds are set in USD, and I would rather not convert {currency} at a guessed rate.",
        "amount_absurd": "That amount does not look right ({text}). Please give the total Chinese investment in US dollars, a positive number.",
        "yes_no": 'Please answer "Yes" or "No".',
        "stopped": 'OK, I have stopped the outbound investment advisor. Ask me anything else, or type "help".',
        "prohibited": "Outbound investment in gambling is prohibited under the State Council's 2017 guidance (Guo Ban Fa [2017] No. 74): there is no filing or approval route for it.",
        "title": "**Your outbound investment route** ({investor}, {country}, {industry}, USD {amount})",
        "ndrc_offshore": "1. NDRC: because your overseas company invests without money or guarantees from China and the industry is not sensitive, neither approval nor filing is needed.",
        "ndrc_offshore_report": " The amount is USD 300 million or more, so you must still submit a report (情况报告) to the NDRC.",
        "ndrc_sensitive": "1. NDRC: {industry} is in the 2018 Catalogue of Sensitive Industries, so the project needs approval by the national NDRC, whatever the amount.",
        "ndrc_restricted_offshore": "1. NDRC: {industry} is a restricted sector in the 2018 Catalogue; according to the NDRC's June 2018 FAQ it counts as sensitive only where onshore assets, financing or guarantees are involved. With none from China, no NDRC approval or filing should be needed, but confirm with the Zhejiang DRC.",
        "ndrc_national": "1. NDRC: file with the national NDRC ({why}) before the project is implemented, in practice before closing.",
        "why_central": "central state-owned enterprises file nationally",
        "why_amount": "USD 300 million or more",
        "ndrc_provincial": "1. NDRC: file with the Zhejiang Provincial Development and Reform Commission (a local enterprise, under USD 300 million) before the project is implemented, in practice before closing.",
        "destination_caveat": "   If {country} has no diplomatic relations with China, is affected by war or civil unrest, or is under sanctions, the project is sensitive instead: national NDRC approval.",
        "mofcom_central": "2. Commerce: file with MOFCOM and obtain the Enterprise Overseas Investment Certificate.",
        "mofcom_local": "2. Commerce: file with the Zhejiang Provincial Department of Commerce; the Enterprise Overseas Investment Certificate is issued within 3 working days when the form is complete and truthful.",
        "mofcom_caveat": "   Approval by MOFCOM replaces filing if the commerce test finds the project sensitive (export-restricted products or technology, industries affecting more than one country, or a sanctioned destination).",
        "mofcom_offshore": "2. Commerce: whether the commerce department expects a report on re-investment by your overseas company is not covered by my sources; ask the Zhejiang Provincial Department of Commerce.",
        "bank": "3. Bank: register the investment at a qualified bank (banks handle ODI foreign-exchange registration since 1 June 2015), then remit the funds.",
        "bank_offshore": "3. Bank: no new foreign-exchange filing is needed in China for re-investment by your overseas company (SAFE Hui Fa [2015] No. 13).",
        "order": "Order: NDRC first, then commerce, then the bank; do not remit before the bank registration.",
        "documents": "**What to prepare** (from the knowledge base):",
        "confirm": "This is a first orientation from the sources cited, not a legal opinion: confirm the route with the Zhejiang DRC and the Department of Commerce before you file.",
    },
    "zh": {
        "investor_unclear": "请选择一项：“中央企业”“地方国有企业”或“民营企业”。",
        "country_unknown": "我不认识“{text}”这个国家或地区。请输入国家名称，例如“越南”或“德国”。",
        "amount_unclear": "请用数字给出美元金额，例如“500万美元”或“300000000”。",
        "amount_currency": "请以美元给出金额：备案门槛以美元计，我不想按猜测的汇率换算{currency}。",
        "amount_absurd": "这个金额看起来不对（{text}）。请给出中方投资总额（美元，正数）。",
        "yes_no": "请回答“是”或“否”。",
        "stopped": "好的，已退出境外投资向导。可以继续问其他问题，或输入“帮助”。",
        "prohibited": "根据国务院2017年指导意见（国办发〔2017〕74号），境外博彩业投资属于禁止类，没有备案或核准途径。",
        "title": "**您的境外投资办理路径**（{investor}，{country}，{industry}，{amount}美元）",
        "ndrc_offshore": "1. 发改部门：由您控制的境外企业投资、不使用境内资金或担保，且行业不敏感，无需核准也无需备案。",
        "ndrc_offshore_report": "由于金额达到3亿美元及以上，仍须向国家发展改革委提交大额非敏感类项目情况报告。",
        "ndrc_sensitive": "1. 发改部门：{industry}属于《境外投资敏感行业目录（2018年版）》，无论金额多少，都须报国家发展改革委核准。",
        "ndrc_restricted_offshore": "1. 发改部门：{industry}属于2018年目录中的限制类行业；据国家发展改革委2018年6月的问答，只有涉及境内资产、境内融资或担保时才按敏感项目管理。若没有任何境内资金或担保，一般无需核准或备案，但请向浙江省发展改革委确认。",
        "ndrc_national": "1. 发改部门：在项目实施前（实际上是交割前）向国家发展改革委备案（{why}）。",
        "why_central": "中央企业在国家层面备案",
        "why_amount": "金额3亿美元及以上",
        "ndrc_provincial": "1. 发改部门：在项目实施前（实际上是交割前）向浙江省发展改革委备案（地方企业，金额低于3亿美元）。",
        "destination_caveat": "   如果{country}与中国未建交、发生战争或内乱，或受制裁，则项目属于敏感类，须报国家发展改革委核准。",
        "mofcom_central": "2. 商务部门：向商务部备案，领取《企业境外投资证书》。",
        "mofcom_local": "2. 商务部门：向浙江省商务厅备案；备案表填写完整、真实的，3个工作日内颁发《企业境外投资证书》。",
        "mofcom_caveat": "   如商务部门认定项目敏感（涉及出口管制产品或技术、影响一国以上利益的行业，或受制裁的目的地），则改为报商务部核准。",
        "mofcom_offshore": "2. 商务部门：境外企业再投资是否需要向商务部门报告，我的资料没有涉及，请咨询浙江省商务厅。",
        "bank": "3. 银行：在合格银行办理境外直接投资外汇登记（自2015年6月1日起由银行直接办理），然后汇出资金。",
        "bank_offshore": "3. 银行：境外企业的再投资无需在境内另行办理外汇备案（汇发〔2015〕13号）。",
        "order": "顺序：先发改，再商务，最后银行；银行登记完成前不要汇出资金。",
        "documents": "**需要准备的材料**（来自知识库）：",
        "confirm": "以上是根据所引资料给出的初步指引，不是法律意见：正式申报前请向浙江省发展改革委和商务厅确认。",
    },
}

INVESTOR_NAMES = {
    # "unstated": a case read from one message about an overseas company's own investment, where the
    # Chinese parent's type changes nothing in the route (actions/cases.py).
    "en": {
        "central_soe": "central SOE",
        "local_soe": "local SOE",
        "private": "private company",
        "unstated": "Chinese parent",
    },
    "zh": {"central_soe": "中央企业", "local_soe": "地方国有企业", "private": "民营企业", "unstated": "境内母公司"},
}


def industry_catalogue(industry: str) -> str:
    entry = entities.vocabulary().get("industry", {}).get(industry) or {}
    return str(entry.get("catalogue") or "none")


def industry_name(industry: str, lang: str) -> str:
    """A known industry's name in ``lang``; an industry typed outside the vocabulary as typed."""
    known = industry in entities.vocabulary().get("industry", {})
    return entities.display_name("industry", industry, lang) if known else industry


def amount_text(value: Decimal, lang: str) -> str:
    if lang == "zh":
        if value >= 100_000_000:
            return f"{value / 100_000_000:g}亿"
        if value >= 10_000:
            return f"{value / 10_000:g}万"
        return f"{value:g}"
    if value >= 1_000_000:
        return f"{value / 1_000_000:g} million"
    return f"{value:,.0f}"


def odi_route(
    investor: str, country: str, industry: str, amount: Decimal, offshore: bool, lang: str
) -> tuple[list[str], list[tuple[str, str]]]:
    """The numbered steps for these answers, and the (slug, heading) knowledge sections they rest on."""
    words = ODI_TEXT[lang]
    catalogue = industry_catalogue(industry)
    shown = industry_name(industry, lang)
    country_name = entities.display_name("country", country, lang)
    if catalogue == "prohibited":
        return [words["prohibited"]], [("odi-sensitive-industries", "")]
    lines: list[str] = []
    sources = [("odi-ndrc-approval-vs-filing", ""), ("odi-mofcom-certificate", ""), ("odi-bank-fx-registration", "")]
    if catalogue in ("sensitive", "restricted"):
        sources.insert(0, ("odi-sensitive-industries", ""))
    if offshore:
        sources.insert(0, ("odi-offshore-vehicle", ""))
        if catalogue == "sensitive":
            lines.append(words["ndrc_sensitive"].format(industry=shown))
        elif catalogue == "restricted":
            lines.append(words["ndrc_restricted_offshore"].format(industry=shown))
        else:
            line = words["ndrc_offshore"]
            if amount >= NATIONAL_THRESHOLD_USD:
                line += words["ndrc_offshore_report"]
            lines.append(line)
    elif catalogue in ("sensitive", "restricted"):
        lines.append(words["ndrc_sensitive"].format(industry=shown))
    elif investor == "central_soe":
        lines.append(words["ndrc_national"].format(why=words["why_central"]))
    elif amount >= NATIONAL_THRESHOLD_USD:
        lines.append(words["ndrc_national"].format(why=words["why_amount"]))
    else:
        lines.append(words["ndrc_provincial"])
    lines.append(words["destination_caveat"].format(country=country_name))
    if offshore:
        lines.append(words["mofcom_offshore"])
        lines.append(words["bank_offshore"])
    else:
        lines.append(words["mofcom_central"] if investor == "central_soe" else words["mofcom_local"])
        lines.append(words["mofcom_caveat"])
        lines.append(words["bank"])
        lines.append(words["order"])
    return lines, sources


DIRECTIONS: dict[str, tuple[str, ...]] = {
    "import": ("import", "进口", "bring in", "into china"),
    "export": ("export", "出口", "sell abroad", "ship abroad"),
}
IMPORT_STOCK: dict[str, tuple[str, ...]] = {
    "bonded": ("bonded", "stock", "warehouse", "advance", "保税", "备货", "提前"),
    "parcel": ("parcel", "each order", "per order", "direct", "mail", "express", "包裹", "直购", "每单", "直邮"),
}
BUYERS: dict[str, tuple[str, ...]] = {
    "market": ("market", "yiwu", "procurement", "市场", "义乌", "采购"),
    "platform": ("platform", "e-commerce", "ecommerce", "alibaba", "平台", "电商"),
    "consumers": ("consumer", "individual", "parcel", "b2c", "retail", "消费者", "个人", "包裹", "零售"),
    "contract": ("contract", "b2b", "importer", "general trade", "factory", "合同", "一般贸易", "外贸", "进口商"),
}
ROUTES: dict[str, tuple[str, ...]] = {
    "warehouse": ("warehouse", "overseas", "海外仓", "仓"),
    "direct": ("straight", "direct", "buyer", "直接", "直发", "买家"),
}

CUSTOMS_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "unclear": "Sorry, I did not catch that. Please choose one of the buttons, or type a few words.",
        "stopped": 'OK, I have stopped the customs mode advisor. Ask me anything else, or type "help".',
        "title": "**Recommended: {code}**",
        "why_1210": "Why: you import for consumers in China and stock the goods in a bonded area in advance (in some cities the code is 1239; ask customs which one your facility uses).",
        "why_9610_import": "Why: you import for consumers in China and each order travels from abroad as its own parcel (direct purchase).",
        "why_9610": "Why: you sell to individual consumers abroad and send each order as a small parcel.",
        "why_9710": "Why: a foreign company buys from you on a cross-border e-commerce platform and you ship straight to it.",
        "why_9810": "Why: you ship to an overseas warehouse first and sell from there later through a platform.",
        "why_1039": "Why: the goods are bought in a recognised market cluster such as Yiwu. It fits only within USD 150,000 per declaration, and 1039 exports get no export VAT rebate.",
        "why_0110": "Why: none of the special regimes fits an ordinary B2B sales contract, so it is general trade.",
        "prepare": "**From the knowledge base:**",
        "confirm": "Confirm the code with your local customs office (or the 12360 hotline) before you declare.",
    },
    "zh": {
        "unclear": "抱歉，没有明白。请点选一个按钮，或用几个字说明。",
        "stopped": "好的，已退出监管方式向导。可以继续问其他问题，或输入“帮助”。",
        "title": "**建议的监管方式：{code}**",
        "why_1210": "原因：您为国内消费者进口，并提前把货物存入保税区（部分城市使用1239，请向海关确认您的仓库适用哪个代码）。",
        "why_9610_import": "原因：您为国内消费者进口，每个订单单独从境外以包裹寄送（直购进口）。",
        "why_9610": "原因：您向境外个人消费者销售，每个订单以小包裹寄出。",
        "why_9710": "原因：境外企业在跨境电商平台上向您采购，您直接发货给它。",
        "why_9810": "原因：您先把货物发到海外仓，之后再通过平台销售。",
        "why_1039": "原因：货物在义乌等经认定的市场集聚区采购。每票报关单不超过15万美元才适用，且1039出口不退增值税。",
        "why_0110": "原因：普通B2B外贸合同不适用任何特殊监管方式，按一般贸易申报。",
        "prepare": "**知识库中的说明：**",
        "confirm": "申报前请向当地海关（或12360热线）确认代码。",
    },
}


def customs_mode(direction: str, import_stock: str | None, buyer: str | None, route: str | None) -> str:
    """The supervision-mode code for the advisor's answers (the how-to document's decision steps)."""
    if direction == "import":
        return "1210" if import_stock == "bonded" else "9610-import"
    if buyer == "consumers":
        return "9610"
    if buyer == "platform":
        return "9810" if route == "warehouse" else "9710"
    if buyer == "market":
        return "1039"
    return "0110"


# Where the knowledge base explains each result: (document slug, text in the section heading).
CUSTOMS_SOURCES = {
    "1210": ("howto-choose-customs-code", "1210"),
    "9610-import": ("cbec-retail-import", "9610"),
    "9610": ("howto-choose-customs-code", "9610"),
    "9710": ("howto-choose-customs-code", "9710"),
    "9810": ("howto-choose-customs-code", "9810"),
    "1039": ("howto-choose-customs-code", "1039"),
    "0110": ("howto-choose-customs-code", "0110"),
}
