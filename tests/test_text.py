"""Tokens for keyword search, and figures / masked figures as the answerer sees them."""

from __future__ import annotations

from rag.text import cjk_bigrams, content_words, english_pinyin_query, masked_figures, normalise, pinyin_tokens, tokenize


def test_tokenize_drops_question_words_and_punctuation():
    toks = tokenize("永北圩所在的镇保障了多少户低保？")
    assert "低保" in toks and "多少" not in toks and "？" not in toks
    assert "~低保" in toks  # character pairs survive segmentation differences


def test_bigrams_skip_non_chinese():
    assert cjk_bigrams("河长制abc12") == ["~河长", "~长制"]


def test_content_words_skip_question_words():
    words = content_words("华海药业所在镇2022年向部队输送了几名新兵？")
    assert "新兵" in words and "几名" not in words and "部队" in words


def test_normalise_full_width():
    assert normalise("１２３％ＡＢ") == "123%ab"


def test_masked_figures():
    assert masked_figures("种植双季稻*亩，完成率*%，共***万人次") == ["*亩", "*%", "***万"]
    assert masked_figures("在*市综治民调中，我镇排*市第一") == []


def test_pinyin_bridges_english_names():
    assert "py:yongbei" in pinyin_tokens("永北圩")
    assert "py:yongbei" in english_pinyin_query("the Yongbei dike")
