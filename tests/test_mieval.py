"""coit_mieval task family, pairwise tally, language gate, judges. Fast tests; end to end is in _e2e."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from coit_hf.cli import main
from coit_hf.errors import CoitError, ConfigError, InputError
from coit_hf.evaluation import compare, judge, sources
from coit_hf.evaluation.results import GENERATIONS_FILE
from coit_hf.templates import ALPACA_NO_INPUT, ALPACA_WITH_INPUT

FIXTURES = Path(__file__).parent / "fixtures"
ZH_OK = "多睡觉，少喝咖啡，每天运动。"
ZH_OK_2 = "早点睡，睡前不要看手机。"
EN_WRONG = "Sleep more and drink less coffee."


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv(sources.CACHE_ENV, str(tmp_path / "coit_cache"))
    monkeypatch.delenv(sources.SOURCES_ENV, raising=False)
    monkeypatch.delenv(compare.LID_MODEL_ENV, raising=False)


# ------------------------------------------------------------------------------------------------ stub judge (tally)
class StubJudge(judge.Judge):
    """Deterministic judge for the tally tests: ``policy(answer_1, answer_2) -> reply text``; records every prompt."""

    kind = "stub"

    def __init__(self, policy):
        super().__init__("stub")
        self.policy = policy
        self.prompts: list = []

    def _complete(self, prompts):
        self.prompts += prompts
        replies = []
        for messages in prompts:
            text = messages[-1]["content"]
            first = text.split("[The Start of Assistant 1's Answer]\n")[1].split("\n[The End")[0]
            second = text.split("[The Start of Assistant 2's Answer]\n")[1].split("\n[The End")[0]
            replies.append(self.policy(first, second))
        return replies


def _pair(answer_a: str, answer_b: str, lang: str = "zh", id: str = "1") -> compare.Pair:
    return compare.Pair(f"coit_mieval:{lang}", lang, id, "请给出三条改善睡眠的建议。", answer_a, answer_b)


def test_combination_rule_table():
    c = compare.combine_orders
    assert [c("win", "win"), c("win", "tie"), c("tie", "win")] == ["win"] * 3
    assert [c("loss", "loss"), c("loss", "tie"), c("tie", "loss")] == ["loss"] * 3
    assert [c("win", "loss"), c("loss", "win"), c("tie", "tie")] == ["tie"] * 3
    assert c(None, "win") == "win" and c(None, None) == "tie" and c("loss", None) == "loss"
    # scores are (Assistant 1, Assistant 2): with B shown first, the second score is A's
    assert compare.order_outcome((8, 6), a_first=True) == "win"
    assert compare.order_outcome((8, 6), a_first=False) == "loss"
    assert compare.order_outcome((5, 5), a_first=False) == "tie" and compare.order_outcome(None, True) is None


def test_position_swapped_verdicts_combine_as_specified():
    gate = compare.LanguageGate()
    # judge that prefers the better answer in either position -> A wins both orders -> win
    fair = StubJudge(lambda one, two: "9 4" if one == ZH_OK else "4 9")
    [record] = compare.judge_pairs([_pair(ZH_OK, ZH_OK_2)], fair, gate, progress=False)
    assert (record["outcome_a_first"], record["outcome_b_first"], record["outcome"]) == ("win", "win", "win")
    assert record["scores_a_first"] == (9.0, 4.0) and record["scores_b_first"] == (4.0, 9.0)
    assert fair.calls == 2
    # the second prompt shows B first: answers swapped, everything else equal
    first, second = (m[-1]["content"] for m in fair.prompts)
    assert first.index(ZH_OK) < first.index(ZH_OK_2) and second.index(ZH_OK_2) < second.index(ZH_OK)
    assert first.replace(ZH_OK, "X").replace(ZH_OK_2, "Y") == second.replace(ZH_OK, "Y").replace(ZH_OK_2, "X")
    assert "Chinese" in first
    # judge that always prefers position 1 -> win then loss -> tie (position bias cancelled)
    biased = StubJudge(lambda one, two: "8 3")
    [record] = compare.judge_pairs([_pair(ZH_OK, ZH_OK_2)], biased, gate, progress=False)
    assert (record["outcome_a_first"], record["outcome_b_first"], record["outcome"]) == ("win", "loss", "tie")
    # win in one order, tie in the other -> win; B better in both -> loss
    half = StubJudge(lambda one, two: "7 7" if one == ZH_OK_2 else "8 5")
    assert compare.judge_pairs([_pair(ZH_OK, ZH_OK_2)], half, gate, progress=False)[0]["outcome"] == "win"
    worse = StubJudge(lambda one, two: "2 9" if one == ZH_OK else "9 2")
    assert compare.judge_pairs([_pair(ZH_OK, ZH_OK_2)], worse, gate, progress=False)[0]["outcome"] == "loss"


def test_wrong_language_answer_loses_without_a_judge_call():
    never = StubJudge(lambda one, two: pytest.fail("the judge must not be called"))
    gate = compare.LanguageGate()
    records = compare.judge_pairs(
        [_pair(EN_WRONG, ZH_OK, id="a-wrong"), _pair(ZH_OK, EN_WRONG, id="b-wrong"), _pair(EN_WRONG, "", id="both"),
         _pair("مرحبا بكم", ZH_OK, id="arabic-for-zh")], never, gate, progress=False)
    assert [r["outcome"] for r in records] == ["loss", "win", "tie", "loss"]
    assert all(r["decided_by"] == "gate" for r in records) and "reply_a_first" not in records[0]
    assert never.calls == 0 and never.prompts == []
    t = compare.tally(records)
    assert (t["win"], t["tie"], t["loss"], t["judged"]) == (1, 1, 2, 0)
    assert t["gate_rate_a"] == 75.0 and t["gate_rate_b"] == 50.0


def test_ties_are_counted_and_tallies_add_up():
    replies = {ZH_OK: "6 6", ZH_OK_2: "I cannot decide."}  # an equal pair and an unreadable reply
    stub = StubJudge(lambda one, two: replies.get(one, "5 5"))
    pairs = [_pair(ZH_OK, ZH_OK_2, id="t1"), _pair(ZH_OK_2, ZH_OK, id="t2"), _pair(EN_WRONG, ZH_OK, id="g1"),
             _pair(ZH_OK, ZH_OK_2, lang="zh", id="t3")]
    records = compare.judge_pairs(pairs, stub, compare.LanguageGate(), progress=False)
    assert [r["outcome"] for r in records] == ["tie", "tie", "loss", "tie"]
    assert records[0]["unreadable"] == 1 and records[0]["outcome_a_first"] == "tie"
    report = compare.build_comparison(records, run_a={"label": "a", "path": "a"}, run_b={"label": "b", "path": "b"},
                                      judge=stub.describe(), gate=compare.LanguageGate().describe())
    zh = report["languages"]["zh"]
    assert (zh["n"], zh["win"], zh["tie"], zh["loss"]) == (4, 0, 3, 1)
    assert zh["win"] + zh["tie"] + zh["loss"] == zh["n"] and zh["tie_rate"] == 75.0 and zh["judged"] == 3
    assert zh["unreadable_replies"] == 3 and stub.calls == 6
    low, high = zh["tie_ci"]
    assert low < 75.0 < high
    md = compare.comparison_markdown(report)
    assert "| zh | 4 | 0 | 3 | 1 |" in md
    assert "| zh | 4 | 0 | 3 | 1 |" in compare.card_section(report)


def test_wilson_interval_known_values():
    low, high = compare.wilson_interval(0, 8)
    assert low == 0.0 and high == pytest.approx(32.44, abs=0.01)
    low, high = compare.wilson_interval(5, 10)
    assert (low, high) == (pytest.approx(23.66, abs=0.01), pytest.approx(76.34, abs=0.01))
    assert compare.wilson_interval(0, 0) == (0.0, 100.0)
    assert compare.wilson_interval(5, 10, 0.99)[0] < compare.wilson_interval(5, 10, 0.9)[0]


@pytest.mark.parametrize("text, expected", [
    ("8 6", (8.0, 6.0)),
    ("7, 9\nAssistant 2 is more detailed.", (7.0, 9.0)),
    ("Assistant 1: 8/10\nAssistant 2: 6/10", (8.0, 6.0)),
    ('{"assistant_1": 7, "assistant_2": 9.5}', (7.0, 9.5)),
    ("Scores for Assistant 1 and 2: 8 6", (8.0, 6.0)),
    ("Assistant 1 receives 9 out of 10 and Assistant 2 gets 4 out of 10.", (9.0, 4.0)),
    ("Assistant 1's score is 5, Assistant 2's score is 6", (5.0, 6.0)),
    ("8\n\n6", (8.0, 6.0)),
    ("12 3", None), ("::::", None), ("The first one is better.", None), ("", None), (None, None),
])
def test_judge_scores_are_parsed_robustly(text, expected):
    assert judge.parse_scores(text) == expected


# ------------------------------------------------------------------------------------------------ gate
def test_language_gate_script_check_and_lid_label_mapping():
    gate = compare.LanguageGate()
    assert gate.passes(ZH_OK, "zh") and not gate.passes(EN_WRONG, "zh") and not gate.passes("", "zh")
    assert gate.passes("أعطني التقرير الآن من فضلك.", "ar") and not gate.passes(ZH_OK, "ar")
    assert gate.describe() == {"detector": "script+fasttext", "lid_model": "lid.176.ftz", "threshold": 0.0}
    # Han script but Japanese (kana): the script check passes, language identification does not.
    assert not gate.passes("日本国憲法第九条は戦争放棄を定める", "zh")
    script_only = compare.LanguageGate(use_lid=False)
    assert script_only.passes("日本国憲法第九条は戦争放棄を定める", "zh")
    assert script_only.describe()["detector"] == "script"
    assert compare.LanguageGate.label_matches("__label__zh", "zh")
    assert compare.LanguageGate.label_matches("__label__zho_Hans", "zh")
    assert compare.LanguageGate.label_matches("__label__arb_Arab", "ar")  # NLLB LID labels are Flores-200 codes
    assert compare.LanguageGate.label_matches("__label__ara", "ar")
    assert not compare.LanguageGate.label_matches("__label__ja", "zh")
    assert not compare.LanguageGate.label_matches("__label__en", "ar")
    gate.threshold = 1.01  # no probability reaches it
    assert not gate.passes(ZH_OK, "zh")


def test_lid_model_file_must_exist(tmp_path):
    with pytest.raises(InputError, match="not found"):
        compare.LanguageGate(str(tmp_path / "lid.176.bin"))


# ------------------------------------------------------------------------------------------------ task family
def test_instruction_rows_from_jsonl_json_and_lang_filter(tmp_path):
    rows = sources.read_instruction_rows(FIXTURES / "mieval_zh.jsonl", "zh")
    # the three fixtures are the same 8 prompts (ids aligned, inputs where the others have them) in en / zh / ar
    parallel = {lang: sources.read_instruction_rows(FIXTURES / f"mieval_{lang}.jsonl", lang) for lang in ("en", "zh", "ar")}
    assert {lang: [(r["id"][-2:], bool(r["input"])) for r in v] for lang, v in parallel.items()} == {
        lang: [(r["id"][-2:], bool(r["input"])) for r in parallel["en"]] for lang in parallel}
    gate = compare.LanguageGate()
    assert all(gate.passes(r["instruction"], lang) for lang, v in parallel.items() for r in v)
    assert len(rows) == 8 and rows[2]["input"].startswith("河流") and rows[0] == {
        "id": "zh-01", "instruction": "请给出三条改善睡眠的建议。", "input": "", "lang": "zh"}
    mixed = tmp_path / "mixed.json"
    mixed.write_text(json.dumps({"data": [{"instruction": "Hi?", "lang": "en"}, {"prompt": "你好？", "lang": "zh"}]}))
    assert sources.read_instruction_rows(mixed, "zh") == [{"id": "zh-1", "instruction": "你好？", "input": "", "lang": "zh"}]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "ok"}\n\n{"output": "no instruction"}\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        sources.read_instruction_rows(bad, "en")
    assert err.value.line == 3 and err.value.field == "instruction" and "bad.jsonl" in str(err.value)
    with pytest.raises(InputError, match="no instructions for language 'ar'"):
        sources.read_instruction_rows(mixed, "ar")


def test_mieval_task_config_prompts_and_sources(tmp_path):
    import datasets

    from coit_hf.evaluation import mieval, tasks

    with pytest.raises(ConfigError, match="--source 'mieval="):
        tasks.build_task_config("coit_mieval:zh")
    spec = dict([sources.parse_source(f"mieval={FIXTURES / 'mieval_{lang}.jsonl'}")])
    assert spec["mieval"].config is None and spec["mieval"].is_local
    config = tasks.build_task_config("coit_mieval:ar|0", "paper", spec)
    assert config.name == "coit_mieval:ar" and [m.metric_name for m in config.metrics] == ["fidelity"]
    data = datasets.load_dataset(config.hf_repo, config.hf_subset)[config.evaluation_splits[0]]
    assert len(data) == 8 and all(config.hf_filter(r) for r in data) and not config.hf_filter({"lang": "zh"})
    docs = [config.prompt_function(r, config.name) for r in data]
    assert docs[0].query == ALPACA_NO_INPUT.format(instruction="قدّم ثلاث نصائح لنوم أفضل.")
    with_input = next(d for d in docs if d.specific["id"] == "ar-03")
    assert with_input.query == ALPACA_WITH_INPUT.format(instruction="لخّص الفقرة التالية في جملة واحدة.",
                                                        input=data[2]["input"])
    chat = tasks.build_task_config("coit_mieval:ar", "chat", spec)
    assert chat.prompt_function(data[2], "t").query == f"{data[2]['instruction']}\n\n{data[2]['input']}"
    # folder sources: {lang}.jsonl or *_{lang}.jsonl; env sources put the family into TASKS_TABLE
    folder = tmp_path / "mi"
    folder.mkdir()
    (folder / "set_zh.jsonl").write_text((FIXTURES / "mieval_zh.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    cfg = tasks.build_task_config("coit_mieval:zh", sources={"mieval": sources.DataSource(str(folder))})
    assert len(datasets.load_dataset(cfg.hf_repo, cfg.hf_subset)[cfg.evaluation_splits[0]]) == 8
    with pytest.raises(InputError, match="no instruction file for language 'ar'"):
        tasks.build_task_config("coit_mieval:ar", sources={"mieval": sources.DataSource(str(folder))})
    with pytest.raises(InputError, match="for language 'vi' not found"):
        tasks.build_task_config("coit_mieval:vi", sources=spec)
    hub = sources.parse_source("mieval=org/mi-eval?config={lang}&split=test")[1]
    hub_cfg = mieval.build_mieval_config("zh", sources={"mieval": hub})
    assert (hub_cfg.hf_repo, hub_cfg.hf_subset, list(hub_cfg.evaluation_splits)) == ("org/mi-eval", "zh", ["test"])
    assert mieval.task_names(["zh", "ar"]) == ["coit_mieval:zh", "coit_mieval:ar"]


def test_generation_rows_from_lighteval_details():
    from lighteval.logging.info_loggers import DetailsLogger
    from lighteval.models.model_output import ModelResponse

    from coit_hf.evaluation import mieval

    row = {"id": "zh-09", "instruction": "你好吗？", "input": ""}
    doc = mieval.mieval_prompt(row, "coit_mieval:zh|0", lang="zh")
    details = {"coit_mieval:zh|0": [DetailsLogger.Detail(doc, ModelResponse(text=[" 我很好。 "]), {})],
               "coit_xquad:zh|0": [DetailsLogger.Detail(doc, ModelResponse(text=["x"]), {})]}
    [out] = mieval.generation_rows(details)
    assert out == {"task": "coit_mieval:zh", "lang": "zh", "id": "zh-09", "instruction": "你好吗？", "input": "",
                   "prompt": doc.query, "prediction": "我很好。"}


# ------------------------------------------------------------------------------------------------ endpoint judges
class _StubOpenAI(BaseHTTPRequestHandler):
    """Loopback OpenAI-compatible chat-completions server: records requests, prefers answers containing '多睡觉'."""

    requests: list = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        text = body["messages"][-1]["content"]
        first = text.split("[The Start of Assistant 1's Answer]\n")[1].split("\n[The End")[0]
        reply = "9 3\nThe first answer is better." if "多睡觉" in first else "3 9\nThe second answer is better."
        payload = json.dumps({
            "id": "cmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def openai_stub(monkeypatch):
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    _StubOpenAI.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def _write_run(folder: Path, answers: dict[str, str]) -> Path:
    folder.mkdir(parents=True)
    rows = [{"task": f"coit_mieval:{i.split('-')[0]}", "lang": i.split("-")[0], "id": i, "instruction": "问题", "input": "",
             "prompt": "p", "prediction": a} for i, a in answers.items()]
    (folder / GENERATIONS_FILE).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return folder


def test_openai_judge_request_and_compare_cli_write_no_key(openai_stub, tmp_path, monkeypatch, capsys):
    key = "sk-test-PLANTED-0123456789abcdefghij"
    monkeypatch.setenv("COIT_HF_JUDGE_API_KEY", key)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-other-PLANTED-9876543210")
    a = _write_run(tmp_path / "a", {"zh-1": ZH_OK, "zh-2": ZH_OK_2, "zh-3": EN_WRONG})
    b = _write_run(tmp_path / "b", {"zh-1": ZH_OK_2, "zh-2": ZH_OK, "zh-3": ZH_OK, "zh-4": ZH_OK})
    base_url = openai_stub.replace("http://", "http://user:secretpw@") + "?token=querysecret"
    out = tmp_path / "cmp"
    code = main(["compare", "--a", str(a), "--b", str(b), "--judge", "openai:judge-model", "--judge-base-url",
                 openai_stub, "--judge-max-tokens", "32", "--output-dir", str(out)])
    assert code == 0, capsys.readouterr().err
    requests = _StubOpenAI.requests
    assert len(requests) == 4  # two judged pairs x both orders; the gated pair costs nothing
    first = requests[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == f"Bearer {key}"
    assert first["body"]["model"] == "judge-model" and first["body"]["temperature"] == 0.0
    assert first["body"]["max_tokens"] == 32 and [m["role"] for m in first["body"]["messages"]] == ["system", "user"]
    report = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    zh = report["languages"]["zh"]
    assert (zh["n"], zh["win"], zh["tie"], zh["loss"], zh["judged"]) == (3, 1, 0, 2, 2)
    assert report["judge"] == {"kind": "openai", "model": "judge-model", "max_tokens": 32, "base_url": openai_stub}
    assert "1 only in run B" in report["notes"][0]
    # credentials in a URL are redacted from what the report records
    assert judge.OpenAIJudge("m", base_url).describe()["base_url"] == openai_stub
    written = "\n".join(p.read_text(encoding="utf-8") for p in out.rglob("*") if p.is_file())
    printed = capsys.readouterr().out
    assert "| zh | 3 | 1 | 0 | 2 |" in printed
    for secret in (key, "sk-test-other-PLANTED-9876543210"):
        assert secret not in written and secret not in printed


def test_openai_judge_key_only_from_named_env(openai_stub, monkeypatch):
    monkeypatch.delenv("COIT_HF_JUDGE_API_KEY", raising=False)
    monkeypatch.setenv("MY_JUDGE_KEY", "sk-test-named-env-PLANTED")
    j = judge.make_judge("openai:m", base_url=openai_stub, api_key_env="MY_JUDGE_KEY")
    assert j.complete([judge.judge_messages("q", "多睡觉", "b", "zh")]) == ["9 3\nThe first answer is better."]
    assert _StubOpenAI.requests[-1]["auth"] == "Bearer sk-test-named-env-PLANTED" and j.calls == 1
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="API key"):
        judge.make_judge("openai:gpt-4o", base_url=None).complete([[{"role": "user", "content": "x"}]])
    # an endpoint that is not there: a clear error naming the URL, not a traceback with headers
    dead = openai_stub.rsplit(":", 1)[0] + ":9/v1"
    with pytest.raises(CoitError, match="unreachable") as err:
        judge.OpenAIJudge("m", dead, api_key_env="MY_JUDGE_KEY", max_retries=0).complete([[{"role": "user", "content": "x"}]])
    assert "sk-test" not in str(err.value)


def test_lighteval_judge_backend_against_loopback_endpoint(openai_stub, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-lighteval-PLANTED")
    j = judge.make_judge("lighteval:openai:judge-model", base_url=openai_stub)
    replies = j.complete([judge.judge_messages("q", "多睡觉", "b", "zh"), judge.judge_messages("q", "b", "多睡觉", "zh")])
    assert [judge.parse_scores(r) for r in replies] == [(9.0, 3.0), (3.0, 9.0)]
    assert {r["auth"] for r in _StubOpenAI.requests} == {"Bearer sk-test-lighteval-PLANTED"}
    assert j.describe()["backend"] == "openai"
    with pytest.raises(ConfigError, match="needs CUDA"):
        judge.make_judge("lighteval:transformers:some/model")


def test_judge_specs_and_bad_inputs(tmp_path, tiny_model_dir):
    assert isinstance(judge.make_judge(f"transformers:{tiny_model_dir}"), judge.TransformersJudge)
    assert isinstance(judge.make_judge(str(tiny_model_dir)), judge.TransformersJudge)
    for bad in ("gpt-4o", "openai:", "lighteval:litellm"):
        with pytest.raises(ConfigError):
            judge.make_judge(bad)
    with pytest.raises(InputError, match="coit_generations.jsonl"):
        compare.load_generations(tmp_path)
    (tmp_path / GENERATIONS_FILE).write_text('{"task": "coit_mieval:zh"}\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        compare.load_generations(tmp_path)
    assert err.value.line == 1 and err.value.field == "lang"
    a = _write_run(tmp_path / "a", {"zh-1": ZH_OK})
    b = _write_run(tmp_path / "b", {"zh-2": ZH_OK})
    with pytest.raises(InputError, match="share no"):
        compare.pair_generations(compare.load_generations(a), compare.load_generations(b))


def test_transformers_judge_renders_chat_template_and_generates(tiny_model_dir):
    j = judge.TransformersJudge(str(tiny_model_dir), max_tokens=4, batch_size=2)
    messages = judge.judge_messages("问题", "答案一", "答案二", "zh")
    rendered = j.render(messages)
    assert rendered.startswith("<|im_start|>system\n") and rendered.endswith("<|im_start|>assistant\n")
    replies = j.complete([messages] * 3)
    assert len(replies) == 3 and all(isinstance(r, str) for r in replies) and j.calls == 3
    assert len(set(replies)) == 1  # greedy: the same prompt gives the same reply, batched or not


def test_card_section_and_report_include_the_comparison(tmp_path):
    from coit_hf.evaluation.report import build_report, report_markdown
    from coit_hf.evaluation.runner import write_results

    stub = StubJudge(lambda one, two: "8 2" if one == ZH_OK else "2 8")
    records = compare.judge_pairs([_pair(ZH_OK, ZH_OK_2), _pair(EN_WRONG, ZH_OK, id="2"),
                                   _pair("أعطني التقرير الآن.", EN_WRONG, lang="ar", id="3")], stub,
                                  compare.LanguageGate(), progress=False)
    report = compare.build_comparison(records, run_a={"label": "m-model", "path": "a"},
                                      run_b={"label": "alpaca", "path": "b"}, judge=stub.describe(),
                                      gate=compare.LanguageGate().describe())
    paths = compare.write_comparison(report, records, tmp_path / "cmp")
    assert sorted(p.name for p in (tmp_path / "cmp").iterdir()) == ["compare.json", "compare.md", "compare_items.jsonl"]
    section = compare.card_section(tmp_path / "cmp")
    assert section.startswith("## Multilingual instruction following (pairwise)")
    assert "| ar | 1 | 1 | 0 | 0 |" in section and "| zh | 2 | 1 | 0 | 1 |" in section
    assert "| **all** | 3 | 2 | 0 | 1 |" in section and "**A** (m-model)" in section
    assert compare.card_section(json.loads(paths["json"].read_text(encoding="utf-8")), heading_level=3).startswith("### ")
    write_results({"model": "a", "prompt_format": "paper", "tasks": {"coit_mieval:zh": {"fidelity": 50.0, "n": 2}}},
                  tmp_path / "run")
    md = report_markdown(build_report([tmp_path / "run"], comparisons=[tmp_path / "cmp"]))
    assert "## mieval/fidelity" in md and "| zh | 2 | 1 | 0 | 1 |" in md
    with pytest.raises(InputError, match="comparison not found"):
        build_report([tmp_path / "run"], comparisons=[tmp_path / "nowhere"])


def test_transformers_judge_prompt_without_system_role_or_template(tiny_model_dir):
    j = judge.TransformersJudge(str(tiny_model_dir))
    messages = judge.judge_messages("问题", "答案一", "答案二", "zh")
    j.render(messages)  # loads the tokenizer
    j._tokenizer.chat_template = ("{% for m in messages %}{% if m['role'] == 'system' %}"
                                  "{{ raise_exception('System role not supported') }}{% endif %}"
                                  "<u>{{ m['content'] }}</u>{% endfor %}<a>")
    rendered = j.render(messages)
    assert rendered.startswith(f"<u>{judge.JUDGE_SYSTEM}\n\n[Question]\n问题") and rendered.endswith("</u><a>")
    j._tokenizer.chat_template = None
    assert j.render(messages).startswith(judge.JUDGE_SYSTEM) and j.render(messages).endswith("\n\nScores:")


def test_endpoint_api_key_is_not_logged_into_lighteval_results(tmp_path, monkeypatch):
    """`coit-hf eval --backend endpoint` reads OPENAI_API_KEY into lighteval's model config; the logged copy drops it."""
    from lighteval.logging.evaluation_tracker import EvaluationTracker

    from coit_hf.evaluation import lighteval_compat, runner

    secret = "sk-test-endpoint-PLANTED-42"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    settings = runner.EvalSettings(model="served", tasks=["coit_mieval:zh"], backend="endpoint",
                                   base_url="http://127.0.0.1:8000/v1", output_dir=str(tmp_path))
    config = runner.build_model_config(settings)
    assert config.api_key == secret  # the model needs it...
    tracker = EvaluationTracker(output_dir=str(tmp_path), save_details=False)
    tracker.general_config_logger.log_model_info(config)
    lighteval_compat.redact_logged_model_config(tracker)
    tracker.save()
    written = "\n".join(p.read_text(encoding="utf-8") for p in tmp_path.rglob("*.json"))
    assert '"model_name": "openai/served"' in written and secret not in written  # ...the results file does not
    assert config.api_key == secret


def test_model_card_shows_win_rates_and_gate_rates(tmp_path):
    from coit_hf.hub.cards import CardInfo, read_card_info, update_model_card, write_model_card

    folder = tmp_path / "m-model"
    write_model_card(CardInfo(model_name="m-model", base_model="org/base", languages=["en", "zh", "ar"]), folder)
    plain = (folder / "README.md").read_text(encoding="utf-8")
    assert compare.CARD_HEADING not in plain
    stub = StubJudge(lambda one, two: "8 2" if one == ZH_OK else "2 8")
    records = compare.judge_pairs([_pair(ZH_OK, ZH_OK_2), _pair(EN_WRONG, ZH_OK, id="2"),
                                   _pair("أعطني التقرير الآن.", EN_WRONG, lang="ar", id="3")], stub,
                                  compare.LanguageGate(), progress=False)
    report = compare.build_comparison(records, run_a={"label": "m-model", "path": "a"},
                                      run_b={"label": "alpaca", "path": "b"}, judge=stub.describe(),
                                      gate=compare.LanguageGate().describe())
    compare.write_comparison(report, records, tmp_path / "cmp")
    update_model_card(folder, comparison=tmp_path / "cmp")
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert f"### {compare.CARD_HEADING}" in card and "| zh | 2 | 1 | 0 | 1 |" in card
    assert "| ar | 1 | 1 | 0 | 0 | 100.0 [" in card and "gate rate A %" in card
    assert card.index("## Evaluation") < card.index(compare.CARD_HEADING) < card.index("## Intended use")
    # a newer comparison replaces the section; the rest of the card is kept
    report["languages"]["zh"]["win"] = 2
    update_model_card(folder, comparison=report)
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert card.count(compare.CARD_HEADING) == 1 and "| zh | 2 | 2 |" in card
    assert len(read_card_info(folder).sections) == 1
    assert card.replace("\n" + compare.card_section(report, heading_level=3), "", 1) == plain  # purely additive
