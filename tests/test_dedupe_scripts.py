"""Texts the model barely covers (Korean, Chinese, Arabic under an English model) are
compared by character 3-grams, not vectors: unrelated lines are never near duplicates.

Under the bundled English model unrelated Korean lines have cosine ~0.85 and unrelated
Arabic lines up to 0.92 (mostly byte-fallback and single-letter tokens), so at 0.9 they
were removed as near duplicates of each other (35 of 61 distinct Korean lines).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from conftest import tiny_encoder
from hypothesis import given, settings
from hypothesis import strategies as st

from sememe import Deduplicator, dedupe
from sememe.deduplication import normalize_text
from sememe.deduplication._coverage import (
    jaccard_cutoff,
    ngram_best,
    ngram_pairs,
    shingles,
    uncovered,
    uncovered_share,
)

KOREAN = [
    "오늘은 날씨가 맑고 따뜻해서 공원에 산책을 갔다",
    "회의는 다음 주 화요일 오후 세 시에 시작합니다",
    "이 책은 조선 시대의 역사를 자세히 설명한다",
    "주문하신 상품은 내일 오전 중에 배송될 예정입니다",
    "고양이가 창문 옆에서 햇볕을 쬐며 잠을 자고 있다",
    "비밀번호를 세 번 이상 잘못 입력하면 계정이 잠깁니다",
    "서울에서 부산까지 기차로 약 세 시간이 걸린다",
    "우리 팀은 이번 분기 매출 목표를 달성했습니다",
    "김치찌개를 끓일 때는 잘 익은 김치를 사용하세요",
    "학생들은 도서관에서 시험 공부를 하고 있었다",
    "새로운 소프트웨어 업데이트가 설치되었습니다",
    "강아지와 함께 매일 아침 한강을 따라 달린다",
]
CHINESE = [
    "今天天气很好，我们一起去公园散步吧",
    "会议将在下周二下午三点准时开始",
    "这本书详细介绍了唐朝的历史和文化",
    "您订购的商品预计明天上午送达",
    "小猫在窗台上晒着太阳睡觉",
    "密码输入错误三次后账户将被锁定",
    "从北京到上海坐高铁大约需要五个小时",
    "我们团队本季度完成了销售目标",
    "做红烧肉的时候要先把糖炒出颜色",
    "学生们正在图书馆里复习准备考试",
    "新的软件更新已经安装完成",
    "他每天早上都沿着河边跑步锻炼身体",
]
ARABIC = [
    "الطقس جميل اليوم لذلك ذهبنا إلى الحديقة",
    "سيبدأ الاجتماع يوم الثلاثاء القادم في الساعة الثالثة",
    "يشرح هذا الكتاب تاريخ الدولة العباسية بالتفصيل",
    "سيتم توصيل طلبك صباح الغد إن شاء الله",
    "القطة نائمة بجانب النافذة تحت أشعة الشمس",
    "سيتم قفل الحساب بعد ثلاث محاولات خاطئة",
    "تستغرق الرحلة من القاهرة إلى الإسكندرية ثلاث ساعات",
    "حقق فريقنا هدف المبيعات لهذا الربع",
    "أضف الملح والفلفل ثم اترك الحساء على نار هادئة",
    "يدرس الطلاب في المكتبة استعدادا للامتحان",
    "تم تثبيت تحديث البرنامج الجديد بنجاح",
    "يركض أخي كل صباح على شاطئ البحر",
]
RUSSIAN = [
    "Сегодня хорошая погода, поэтому мы пошли гулять в парк",
    "Совещание начнётся в следующий вторник в три часа",
    "Эта книга подробно рассказывает об истории Древней Руси",
    "Ваш заказ будет доставлен завтра утром",
    "Кошка спит на подоконнике под тёплым солнцем",
    "После трёх неверных попыток учётная запись будет заблокирована",
    "Поезд из Москвы в Петербург идёт около четырёх часов",
    "Наша команда выполнила план продаж в этом квартале",
    "Для борща нужны свёкла, капуста и немного уксуса",
    "Студенты готовятся к экзамену в библиотеке",
    "Новое обновление программы успешно установлено",
    "Мой брат каждое утро бегает вдоль набережной",
]
ENGLISH = [
    "The weather is lovely today so we walked in the park",
    "The meeting starts next Tuesday at three in the afternoon",
    "Your order will be delivered tomorrow morning",
    "The cat is sleeping by the window in the sun",
]

SCRIPTS = {"ko": KOREAN, "zh": CHINESE, "ar": ARABIC, "ru": RUSSIAN}
MIXED = [line for group in zip(KOREAN, CHINESE, ARABIC, RUSSIAN, strict=True) for line in group]
MIXED += ENGLISH


def near_copies(line: str) -> list[str]:
    """The same line with one character changed, and with punctuation added."""
    k = len(line) // 2
    return [line[:k] + ("다" if line[k] != "다" else "가") + line[k + 1 :], line + "!"]


def removed_pairs(result) -> list[tuple[int, int]]:
    return [(d.index, d.duplicate_of) for d in result.removed]


@pytest.mark.parametrize("threshold", [0.8, 0.9, 0.95])
def test_distinct_lines_in_any_script_are_all_kept(default, threshold):
    with pytest.warns(UserWarning, match="character 3-grams"):
        r = dedupe(MIXED, threshold=threshold)
    assert r.kept == list(range(len(MIXED))), [(MIXED[i], MIXED[j]) for i, j in removed_pairs(r)]


def test_the_bundled_model_covers_russian_but_not_korean_chinese_arabic(default):
    for name, lines in SCRIPTS.items():
        mask = uncovered(default, lines)
        assert mask.all() if name != "ru" else not mask.any(), name
    assert not uncovered(default, ENGLISH).any()
    assert uncovered_share(default, ["", "   ", "line 12345", "naïve café"]).max() < 0.5


def test_true_near_duplicates_in_uncovered_scripts_are_still_removed(default):
    lines = KOREAN[:4] + CHINESE[:4] + ARABIC[:4]
    copies = [c for line in lines for c in near_copies(line)]
    texts = lines + copies
    with pytest.warns(UserWarning, match=r"24 of 36 texts|36 of 36 texts"):
        r = dedupe(texts, threshold=0.9)
    assert r.kept == list(range(len(lines)))
    for d in r.removed:
        assert d.duplicate_of == (d.index - len(lines)) // 2
        assert d.ngram and not d.exact
        assert d.jaccard >= jaccard_cutoff(0.9) - 1e-9
    text = r.explain(len(lines))
    assert "character 3-gram Jaccard" in text and "not vectors" in text
    assert r.to_dict()["removed"][0]["ngram"] is True


def test_uncovered_texts_still_match_exactly_and_by_normalisation(default):
    texts = [KOREAN[0], KOREAN[0] + "  ", CHINESE[0], CHINESE[0].replace("，", ",")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = dedupe(texts, threshold=0.9)
    assert r.kept == [0, 2]
    assert r.removed[0].exact  # equal after normalisation
    assert normalize_text(texts[3]) == normalize_text(texts[2])  # NFKC folds the comma


def test_rethreshold_and_target_size_stay_exact_for_ngram_pairs(default):
    lines = KOREAN[:6] + ARABIC[:6]
    texts = lines + [c for line in lines for c in near_copies(line)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        base = dedupe(texts, threshold=0.9, min_threshold=0.8)
        for t in (0.8, 0.85, 0.9, 0.95, 0.99):
            again, fresh = base.rethreshold(t), dedupe(texts, threshold=t)
            assert again.kept == fresh.kept and again.removed == fresh.removed, t
        sized = dedupe(texts, target_size=len(lines))
    assert sized.n_kept == len(lines)


def test_against_a_reference_and_a_stream(default, tmp_path):
    lines = KOREAN[:5] + CHINESE[:5]
    copies = [near_copies(line)[1] for line in lines]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = dedupe(copies + ARABIC[:3], against=lines, threshold=0.9)
        assert r.kept == [10, 11, 12]
        assert all(d.reference and d.ngram for d in r.removed)
        assert [d.duplicate_of for d in r.removed] == list(range(10))
        dd = Deduplicator(0.9)
        first = dd.update(lines)
        assert first.kept == list(range(10))
        dd.save(tmp_path / "state")
        back = Deduplicator.load(tmp_path / "state")
        assert back.n_kept_ == dd.n_kept_ == 10
        later = back.update([*copies, ARABIC[0]])
    assert later.kept == [10]
    assert [d.duplicate_of for d in later.removed] == list(range(10))  # stream positions
    assert all(d.reference and d.ngram for d in later.removed)


def test_a_word_level_model_marks_unknown_words_uncovered():
    enc = tiny_encoder()  # a word vocabulary: Korean is one unknown token per word
    with pytest.warns(UserWarning, match="2 of 3 texts"):
        r = dedupe([KOREAN[0], KOREAN[1], "cat sat"], threshold=0.5, encoder=enc)
    assert r.kept == [0, 1, 2]


# ---------------------------------------------------------------------- the 3-gram join

syllables = st.sampled_from(list("가나다라마바사아자차카타파하"))
short_lines = st.lists(syllables, min_size=0, max_size=12).map("".join)


@settings(max_examples=40, deadline=None)
@given(lines=st.lists(short_lines, max_size=25), floor=st.sampled_from([0.8, 0.9, 0.95, 1.0]))
def test_ngram_join_is_exact(lines, floor):
    sets = [shingles(line) for line in lines]
    cut = jaccard_cutoff(floor)

    def jac(a, b):
        return len(a & b) / len(a | b)

    want = {
        (a, b)
        for a in range(len(sets))
        for b in range(a + 1, len(sets))
        if jac(sets[a], sets[b]) >= cut - 1e-12
    }
    ua, ub, sims = ngram_pairs(sets, floor)
    assert set(zip(ua.tolist(), ub.tolist(), strict=True)) == want
    assert all(s >= floor - 1e-6 for s in sims.tolist())
    half = len(sets) // 2
    best, where = ngram_best(sets[:half], sets[half:], floor)
    for q in range(half):
        scores = [jac(sets[q], s) for s in sets[half:]]
        good = [k for k, j in enumerate(scores) if j >= cut - 1e-12]
        if not good:
            assert where[q] == -1 and best[q] == -np.inf
        else:
            top = max(scores[k] for k in good)
            assert where[q] == min(k for k in good if scores[k] == top)
            assert best[q] == pytest.approx(1 - (1 - top) / 5, abs=1e-6)
