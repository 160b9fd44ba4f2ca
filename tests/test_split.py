"""Splitter properties: offsets round-trip, chunks cover the text, structure is followed, numbers stay whole."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from rag.config import SplitterSettings
from rag.load import load_folder
from rag.schema import Document
from rag.split import SECTION_SEP, split_document

from conftest import REPORTS_DIR

SETTINGS = SplitterSettings(chunk_size=120, chunk_overlap=30)


def doc(text: str) -> Document:
    return Document(doc_id="d" * 16, source="t.txt", title="t", text=text)


def assert_invariants(d: Document, chunks, settings=SETTINGS) -> None:
    covered = [False] * len(d.text)
    for c in chunks:
        assert d.text[c.start : c.end] == c.text
        assert c.text == c.text.strip() and c.text
        assert c.chunk_id == f"{d.doc_id}:{c.start}"
        for i in range(c.start, c.end):
            covered[i] = True
    uncovered = "".join(ch for ch, cov in zip(d.text, covered) if not cov)
    assert uncovered.strip() == "", f"text not covered by any chunk: {uncovered[:50]!r}"
    starts = [c.start for c in chunks]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)


@pytest.mark.parametrize(
    "text",
    ["", "   \n\n ", "。", "一行字", "没有标点的一段很长的文字" * 40, "a" * 1000,
     "2022年GDP增长5.2%，完成投资1.29万平方米；Revenue rose 12.5% to 3,400 yuan. 混合English和中文！",
     "种植双季稻*亩，全镇无抛荒现象；共开展核酸检测***万人次。上半年财政收入仅完成全年任务的*%。"],
)
def test_edge_cases_keep_invariants(text):
    d = doc(text)
    chunks = split_document(d, SETTINGS)
    assert_invariants(d, chunks)
    if not text.strip():
        assert chunks == []


def test_masked_figures_stay_as_they_are():
    text = "种植双季稻*亩，全镇无抛荒现象；共开展核酸检测***万人次。上半年财政收入仅完成全年任务的*%。"
    chunks = split_document(doc(text), SETTINGS)
    joined = "".join(c.text for c in chunks)
    assert "*亩" in joined and "***万人次" in joined and "*%" in joined


def test_long_run_without_punctuation_is_cut_but_never_inside_a_number():
    text = "全镇共投入资金" + "".join(f"{i}1234.56万元" for i in range(40))
    chunks = split_document(doc(text), SplitterSettings(chunk_size=60, chunk_overlap=0))
    assert len(chunks) > 1
    for a, b in zip(chunks, chunks[1:]):
        left, right = text[a.end - 1], text[b.start] if b.start < len(text) else ""
        assert not (re.match(r"[\d.*%]", left) and re.match(r"[\d.*%]", right)), (a.text[-10:], b.text[:10])


def test_chunks_respect_size_except_single_sentences():
    d = doc("。".join(f"第{i}句话讲了一些具体工作内容和数字{i * 7}户" for i in range(60)) + "。")
    for c in split_document(d, SETTINGS):
        assert len(c.text) <= SETTINGS.chunk_size


def test_overlap_repeats_whole_sentences():
    sentences = [f"这是第{i}句，内容是关于工作的说明。" for i in range(30)]
    d = doc("".join(sentences))
    chunks = split_document(d, SplitterSettings(chunk_size=100, chunk_overlap=40))
    assert any(b.start < a.end for a, b in zip(chunks, chunks[1:])), "expected overlapping chunks"
    for c in chunks:
        assert c.text.endswith("。")


STRUCTURED = """前言第一段，说明总体情况。
2022年工作总结
一、全面保障民生福祉
（一）社会保障不断完善。全年保障城乡低保1120户1774人。
（二）精神文明建设不断加强。开展志愿服务活动150余次。一是加强宣传，印发资料500份；二是强化培训，培训干部30人次。
二、聚力补齐基础短板
1. 道路建设。新建道路5公里。
2023年工作打算
一、防风险促发展
持续加强招商引资力度。
"""


def test_sections_follow_headings():
    d = doc(STRUCTURED)
    chunks = split_document(d, SplitterSettings(chunk_size=60, chunk_overlap=0))
    assert_invariants(d, chunks)
    by_text = {c.text.split("\n")[-1][:8]: c.section for c in chunks}
    sections = [c.section for c in chunks]
    assert sections[0] == ""
    low = next(c for c in chunks if "1120户" in c.text)
    assert low.section == SECTION_SEP.join(["2022年工作总结", "一、全面保障民生福祉", "（一）社会保障不断完善"])
    road = next(c for c in chunks if "5公里" in c.text)
    assert road.section.endswith("二、聚力补齐基础短板" + SECTION_SEP + "1. 道路建设")
    plan = next(c for c in chunks if "招商引资" in c.text)
    assert plan.section == SECTION_SEP.join(["2023年工作打算", "一、防风险促发展"])
    assert by_text  # built


def test_a_chunk_never_spans_two_top_sections():
    d = doc(STRUCTURED)
    for c in split_document(d, SplitterSettings(chunk_size=400, chunk_overlap=50)):
        assert not ("1120户" in c.text and "5公里" in c.text)
        assert not ("5公里" in c.text and "招商引资" in c.text)


def test_enumerations_label_the_section_without_tiny_chunks():
    d = doc(STRUCTURED)
    chunks = split_document(d, SplitterSettings(chunk_size=300, chunk_overlap=0))
    assert any("一是加强宣传" in c.text and "二是强化培训" in c.text for c in chunks)


def test_headings_are_not_separate_chunks():
    d = doc(STRUCTURED)
    for c in split_document(d, SplitterSettings(chunk_size=300, chunk_overlap=0)):
        lines = c.text.split("\n")
        assert len(c.text) > 12 or len(lines) == 1


def test_sample_reports_split_into_sized_structured_chunks():
    settings = SplitterSettings()
    for d in load_folder(REPORTS_DIR).documents:
        chunks = split_document(d, settings)
        assert_invariants(d, chunks, settings)
        assert all(len(c.text) <= settings.chunk_size for c in chunks)
        assert sum(1 for c in chunks if c.section) >= 0.9 * len(chunks) - 1


_cjk = st.sampled_from(list("的一是在了不和有大这主中人上为们地个用工时要动国产以我到他会作来分生对于学下级就年阶义发成部民可出能方进同行面说种过命度革而多子后自社加小机也经力线本电高量长党得实家定深法表着水理化争现所二起政三好十战无农使性前等反体合斗路图把结第里正新开论之物从当两些还天资事队批点育重其思与间内去因件日利相由压员气业代全组数果期导平各基或月毛然如应形想制心样干都向变关问比展那它最及外没看治提五解系林者米群头意只明四道马认次文通但条较克又公孔领军流入接席位情运器并飞原油放立题质指建区验活众很教决特此常石强极土少已根共直团统式转别造切九你取西持总料连任志观调七么山程百报更见必真保热委手改管处己将修支识病象几先老光专什六型具示复安带每东增则完风回南广劳轮科北打积车计给节做务被整联步类集号列温装即毫知轴研单色坚据速防史拉世设达尔场织历花受求传口断况采精金界品判参层止边清至万确究书术状厂须离再目海交权且儿青才证低越际八试规斯近注办布门铁需走议县兵固除般引齿千胜细影济白格效置推空配刀叶率述今选养德话查差半敌始片施响收华觉备名红续均药标记难存测士身紧液派准斤角降维板许破述技消底床田势端感往神便贺村构照容非搞亚磨族火段算适讲按值美态黄易彪服早班麦削信排台声该击素张密害侯草何树肥继右属市严径螺检左页抗苏显苦英快称坏移约巴材省黑武培著河帝仅针怎植京助升王眼她抓含苗副杂普谈围食射源例致酸旧却充足短划剂宣环落首尺波承粉践府鱼随考刻靠够满夫失包住促枝局菌杆周护岩师举曲春元超负砂封换太模贫减阳扬江析亩木言球朝医校古呢稻宋听唯输滑站另卫字鼓刚写刘微略范供阿块某功套友限项余倒卷创律雨让骨远帮初皮播优占死毒圈伟季训控激找叫云互跟裂粮粒母练塞钢顶策双留误础吸阻故寸盾晚丝女散焊功株亲院冷彻弹错散商视艺灭版烈零室轻血倍缺厘泵察绝富城冲喷壤简否柱李望盘磁雄似困巩益洲脱投送奴侧润盖挥距触星松送获兴独官混纪依未突架宽冬章湿偏纹吃执阀矿寨责熟稳夺硬价努翻奇甲预职评读背协损棉侵灰虽矛厚罗泥辟告卵箱掌氧恩爱停曾溶营终纲孟钱待尽俄缩沙退陈讨奋械载胞幼哪剥迫旋征槽倒握担仍呀鲜吧卡粗介钻逐弱脚怕盐末阴丰编印蜂急拿扩伤飞露核缘游振操央伍域甚迅辉异序免纸夜乡久隶缸夹念兰映沟乙吗儒杀汽磷艰晶插埃燃欢铁补咱芽永瓦倾阵碳演威附牙芽永瓦斜灌欧献顺猪洋腐请透司危括脉宜笑若尾束壮暴企菜穗楚汉愈绿拖牛份染既秋遍锻玉夏疗尖殖井费州访吹荣铜沿替滚客召旱悟刺脑措贯藏敢令隙炉壳硫煤迎铸粘探临薄旬善福纵择礼愿伏残雷延烟句纯渐耕跑泽慢栽鲁赤繁境潮横掉锥希池败船假亮谓托伙哲怀割摆贡呈劲财仪沉炼麻罪祖息车穿货销齐鼠抽画饲龙库守筑房歌寒喜哥洗蚀废纳腹乎录镜妇恶脂庄擦险赞钟摇典柄辩竹谷卖乱虚桥奥伯赶垂途额壁网截野遗静谋弄挂课镇妄盛耐援扎虑键归符庆聚绕摩忙舞遇索顾胶羊湖钉仁音迹碎伸灯避泛亡答勇频皇柳哈揭甘诺概宪浓岛袭谁洪谢炮浇斑讯懂灵蛋闭孩释乳巨徒私银伊景坦累匀霉杜乐勒隔弯绩招绍胡呼痛峰零柴簧午跳居尚丁秦稍追梁折耗碱殊岗挖氏刃剧堆赫荷胸衡勤膜篇登驻案刊秧缓凸役剪川雪链渔啦脸户洛孢勃盟买杨宗焦赛旗滤硅炭股坐蒸凝竟陷枪黎救冒暗洞犯筒您宋弧爆谬涂味津臂障褐陆啊健尊豆拔莫抵桑坡缝警挑污冰柬嘴啥饭塑寄赵喊垫丹渡耳刨虎笔稀昆浪萨茶滴浅拥穴覆伦娘吨浸袖珠雌妈紫戏塔锤震岁貌洁剖牢锋疑霸闪埔猛诉刷狠忽灾闹乔唐漏闻沈熔氯荒茎男凡抢像浆旁玻亦忠唱蒙予纷捕锁尤乘乌智淡允叛畜俘摸锈扫毕璃宝芯爷鉴秘净蒋钙肩腾枯抛轨堂拌爸循诱祝励肯酒绳穷塘燥泡袋朗喂铝软渠颗惯贸粪综墙趋彼届墨碍启逆卸航衣孙龄岭骗休借")) | st.sampled_from(list("。，；！？、：“”（）\n 0123456789*%.一二三是"))


@hsettings(max_examples=150, deadline=None)
@given(st.lists(_cjk, min_size=0, max_size=700).map("".join), st.integers(min_value=50, max_value=400), st.integers(min_value=0, max_value=49))
def test_random_text_keeps_invariants(text, size, overlap):
    settings = SplitterSettings(chunk_size=size, chunk_overlap=min(overlap, size - 1))
    d = doc(text)
    chunks = split_document(d, settings)
    assert_promises(d, chunks, settings)


# -- the splitter's promises, as properties: size, whole figures, offsets ----------------------------------
# a figure: digits with . or , inside (1,234.5), or a `*` mask (***, *.*)
FIGURE_RUN = re.compile(r"[0-9０-９*＊]+(?:[.,．][0-9０-９*＊]+)*")
_ENDS = "。！？；!?;"


def single_sentence(text: str) -> bool:
    """No sentence end or line break inside (a trailing end and closing quotes allowed)."""
    return not re.search(rf"[{_ENDS}\n]", text.rstrip(_ENDS + "”’」』）)"))


def assert_promises(d: Document, chunks, settings) -> None:
    assert_invariants(d, chunks, settings)
    figures = [(m.start(), m.end()) for m in FIGURE_RUN.finditer(d.text)]
    for c in chunks:
        assert len(c.text) <= settings.chunk_size or single_sentence(c.text), (len(c.text), c.text[:80])
        for edge in (c.start, c.end):
            cut = [d.text[a:b] for a, b in figures if a < edge < b]
            assert not cut, f"figure {cut[0]!r} cut at a passage edge: {c.text[:30]!r}…{c.text[-30:]!r}"


def test_forty_heading_lines_do_not_make_an_oversized_passage():
    text = "\n".join(f"{'一二三四五六七八九十'[i % 10]}、第{i}部分工作的标题" for i in range(40)) + "\n正文第一句。"
    settings = SplitterSettings(chunk_size=300, chunk_overlap=80)
    d = doc(text)
    assert_promises(d, split_document(d, settings), settings)


def test_a_figure_is_never_cut_at_a_passage_edge():
    settings = SplitterSettings(chunk_size=60, chunk_overlap=20)
    for text in [
        "（一）" + "全镇" * 27 + "保障城乡低保2866户4310人，新增12,345.67万元。",  # a heading truncated at 60 chars
        "全镇共投入资金" + "，".join(f"{i}2,345,678.90元" for i in range(30)) + "。",  # thousands separators
        "全镇" + "1234567890" * 10 + "户。",  # one figure longer than a passage
        "种植双季稻" + "*" * 150 + "亩。",
    ]:
        d = doc(text)
        assert_promises(d, split_document(d, settings), settings)


_heading_line = st.sampled_from(["一、", "二、", "（一）", "（二）", "1.", "2、", "（1）", "一是", "# ", "2023年工作打算", "第一章"]).flatmap(
    lambda head: st.lists(_cjk, max_size=80).map(lambda body: head + "".join(body).replace("\n", ""))
)
_figure = st.from_regex(r"[0-9]{1,9}(?:[.,][0-9]{1,4}){0,3}|\*{1,5}(?:\.\*{1,2})?", fullmatch=True)
_piece = st.one_of(_cjk, _cjk, _cjk, _figure, _figure.map(lambda f: f + "户"), st.just("\n"), _heading_line.map(lambda h: "\n" + h + "\n"))


@hsettings(max_examples=200, deadline=None)
@given(st.lists(_piece, max_size=300).map("".join), st.integers(min_value=50, max_value=300), st.integers(min_value=0, max_value=120))
def test_random_reports_keep_the_splitters_promises(text, size, overlap):
    settings = SplitterSettings(chunk_size=size, chunk_overlap=min(overlap, size - 1))
    d = doc(text)
    assert_promises(d, split_document(d, settings), settings)
