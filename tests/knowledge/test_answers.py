"""Answer composition: what a question asks for, the sentence that answers it, and honest refusals."""

from __future__ import annotations

import datetime as dt

import pytest

from knowledge.answers import answer_question, compose
from knowledge.documents import Document
from knowledge.questions import Asked, expected_type, question_parts
from knowledge.search import HybridRetriever
from knowledge.sentences import split_sentences


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many trips did the Yiwu train run in 2024?", "number"),
        ("义乌市场采购每票报关单最多多少美元？", "number"),
        ("境外投资备案几天能办完", "number"),
        ("what share of Zhejiang's foreign trade came from the FTZ", "number"),
        ("When did the Zhejiang FTZ open?", "date"),
        ("浙江自贸区是哪一年成立的", "date"),
        ("Which authority approves sensitive outbound projects?", "name"),
        ("11号令里的敏感国家具体指哪几类？", "name"),
        ("Can goods exported under market procurement get a VAT rebate?", "yesno"),
        ("义乌市场采购能退税吗", "yesno"),
        ("how do I file an outbound investment", "other"),
    ],
)
def test_the_kind_of_fact_a_question_asks_for_is_read_in_both_languages(question: str, kind: str) -> None:
    assert expected_type(question) == kind


def test_what_a_number_must_hold_is_read_from_the_question() -> None:
    trips = Asked.of("How many Yixin'ou trips ran in 2020?")
    assert (trips.unit, trips.given, trips.counted) == ("count", frozenset({"2020"}), "trip")
    assert Asked.of("境外投资备案表交上去，商务部门几天能发证？").unit == "duration"
    assert Asked.of("出口退税率最高是多少？").unit == "share"
    assert Asked.of("首届中非经贸博览会有几个非洲国家参展").counted == "国家"
    # A sentence about another year, or without a duration, cannot answer.
    assert not trips.held_by("In 2014 the line ran 23 trips.")
    assert trips.held_by("In 2020 the line ran 1,399 trips.")
    days = Asked.of("how many days does the certificate take")
    assert days.held_by("The certificate is issued within 3 working days.")
    assert not days.held_by("The certificate is governed by MOFCOM Order No. 3.")
    # The year of a document number is not a date.
    when = Asked.of("从什么时候开始可以用RCEP原产地证？")
    assert not when.held_by("报关单应填写海关总署公告2021年第106号规定的代码。")
    assert when.held_by("自2022年2月1日起对韩国生效。")


def test_a_message_that_asks_two_things_is_split_into_both() -> None:
    assert question_parts("Which new areas were added in 2020, and how big is the zone in total?") == [
        "Which new areas were added in 2020",
        "how big is the zone in total?",
    ]
    assert question_parts("宁波舟山港2022年货物吞吐量和集装箱吞吐量分别是多少？") == [
        "宁波舟山港2022年货物吞吐量是多少？",
        "宁波舟山港2022年集装箱吞吐量是多少？",
    ]
    assert question_parts("what is 9610") == ["what is 9610"]


def test_sentences_are_split_without_breaking_document_numbers() -> None:
    text = (
        "Code 1039 was added by Announcement No. 54 of 2014. The rules were revised in 2019.\n"
        "- Each declaration may cover USD 150,000.\n免征增值税。不予退税！"
    )
    assert split_sentences(text) == [
        "Code 1039 was added by Announcement No. 54 of 2014.",
        "The rules were revised in 2019.",
        "- Each declaration may cover USD 150,000.",
        "免征增值税。",
        "不予退税！",
    ]


def _english_only(doc_id: str) -> Document:
    return Document(
        id=doc_id,
        lang="en",
        title="Night-time container pickup at Meishan terminal",
        title_en="Night-time container pickup at Meishan terminal",
        title_zh="梅山码头夜间提箱",
        topic="port",
        zones=["ningbo"],
        sources=[{"url": "https://example.org/meishan-night-pickup", "title": "Terminal notice", "date": "2026-11-20"}],
        source_date=dt.date(2026, 11, 20),
        last_reviewed=dt.date(2026, 12, 1),
        confidence="high",
        body=(
            "# Night-time container pickup at Meishan terminal\n\nTrucks can collect import containers at the "
            "Meishan terminal at night.\n\n## How to book a night pickup\n\nA night pickup between 22:00 and "
            "06:00 must be booked at least 24 hours ahead on the terminal's platform. Each truck may collect "
            "two containers per visit."
        ),
    )


def test_a_fact_only_the_english_version_states_answers_a_chinese_question(retriever: HybridRetriever) -> None:
    retriever.apply([_english_only("meishan-night-pickup.en")], persist=False)
    question = "梅山码头夜间提箱要提前多少小时预约？"
    assert compose(retriever.search(question, k=8, lang="zh"), question, "zh").outcome != "answer"
    _, reply = answer_question(retriever, question, "zh")
    assert reply.outcome == "answer", reply.text
    assert "以下内容来自英文资料" in reply.text
    assert "24 hours" in reply.text
    assert reply.citations[0]["doc_id"] == "meishan-night-pickup.en"


@pytest.mark.parametrize(
    ("question", "lang", "words"),
    [
        ("Is GACC Order No. 251 on customs credit management still in force?", "en", "no longer applies"),
        ("海关总署令第251号还有效吗？", "zh", "已不再适用"),
    ],
)
def test_a_question_about_a_replaced_rule_names_what_replaced_it_and_cites_the_new_one(
    retriever: HybridRetriever, corpus_documents: list[Document], question: str, lang: str, words: str
) -> None:
    replaced_and_successor = [d for d in corpus_documents if d.slug in ("aeo-order-251-history", "aeo")]
    old = next(d for d in replaced_and_successor if d.slug == "aeo-order-251-history")
    assert old.superseded_by == "aeo" and old.valid_until is not None and old.valid_until < dt.date.today()
    retriever.apply(replaced_and_successor, persist=False)
    _, reply = answer_question(retriever, question, lang)
    assert words in reply.text
    assert (old.valid_until + dt.timedelta(days=1)).isoformat() in reply.text
    cited = [c["doc_id"] for c in reply.citations]
    assert f"aeo.{lang}" in cited
    assert not any(doc_id.startswith("aeo-order-251-history") for doc_id in cited)


def test_places_outside_zhejiang_are_read_in_both_languages() -> None:
    from knowledge.places import other_places

    assert other_places("广东省对出口信用保险保费的补贴比例是多少？") == {"Guangdong"}
    assert other_places("Shenzhen Qianhai cooperation zone tax incentives") == {"Shenzhen", "Qianhai"}
    # Zhejiang's own places, foreign destinations and the capital's ministries are not "elsewhere".
    assert not other_places("义乌到宁波的海铁联运，还有去越南投资要去北京吗？")


def test_a_question_about_another_province_is_not_answered_with_zhejiangs_rule(retriever: HybridRetriever) -> None:
    from dataclasses import replace

    zhejiang = "跨境电商出口海外仓现在还要向海关备案吗？"
    elsewhere = "深圳的跨境电商出口海外仓现在还要向海关备案吗？"
    answered = compose(replace(retriever.search(zhejiang, k=8, lang="zh"), answered=True), zhejiang, "zh")
    assert answered.outcome == "answer" and answered.citations
    refused = compose(replace(retriever.search(elsewhere, k=8, lang="zh"), answered=True), elsewhere, "zh")
    assert refused.outcome == "partial"
    assert refused.citations == []
    assert "深圳" in refused.text and "浙江" in refused.text


def test_every_reply_text_exists_in_both_languages_with_the_same_placeholders() -> None:
    import string

    from knowledge.answer_texts import TEXT

    assert set(TEXT["en"]) == set(TEXT["zh"])
    for key in TEXT["en"]:
        fields = [{f for _, f, _, _ in string.Formatter().parse(TEXT[lang][key]) if f} for lang in ("en", "zh")]
        assert fields[0] == fields[1], key


def test_one_sentence_with_most_of_the_question_can_answer_when_no_whole_passage_clears_the_bar(
    retriever: HybridRetriever,
) -> None:
    # A bar no whole passage clears (similarity 0.99, all the words), with the joint similarity bar low
    # enough that the sentence-evidence rule may look at the sentences.
    retriever.settings = retriever.settings.model_copy(
        update={
            "min_dense_similarity_en": 0.99,
            "min_lexical_coverage_en": 1.01,
            "min_joint_dense_en": 0.5,
            "min_joint_coverage_en": 1.01,
        }
    )
    question = "Can one market procurement customs declaration cover goods worth up to USD 150,000?"
    assert not retriever.search(question, k=8, lang="en").answered
    _, reply = answer_question(retriever, question, "en")
    assert reply.outcome == "answer", reply.text
    assert "150,000" in reply.text
    # A question whose words no sentence holds stays refused.
    _, refused = answer_question(retriever, "What's the weather going to be like in Hangzhou tomorrow?", "en")
    assert refused.outcome != "answer" and refused.citations == []
