import pytest

from tokenomy.errors import ConfigError
from tokenomy.monitor import UsageRecord
from tokenomy.output import LengthSample, OutputControl, OutputPlanner, template_key
from tokenomy.pipeline import Request, Sent


def sent(request: Request, model: str | None = None) -> Sent:
    return Sent(
        request,
        request.messages,
        tuple(range(len(request.messages))),
        model=model,
        max_tokens=request.max_tokens,
    )


def fitted(**options) -> OutputPlanner:
    samples = [LengthSample(n, feature="faq", model="gpt-4o") for n in range(1, 101)]
    samples += [LengthSample(10 * n, feature="essay", model="gpt-4o") for n in range(1, 101)]
    return OutputPlanner(**options).fit(samples)


def test_plans_the_quantile_with_a_margin_per_group():
    planner = fitted()
    faq = planner.plan(sent(Request(prompt="q", tags={"feature": "faq"})))
    essay = planner.plan(sent(Request(prompt="q", tags={"feature": "essay"})))
    assert faq == 123 and essay == 1225
    # no group of its own: the model's answers
    assert planner.plan(sent(Request(prompt="q", model="gpt-4o"))) == planner.cap_for(
        model="gpt-4o"
    )


def test_leaves_caller_caps_unless_told():
    request = Request(prompt="q", max_tokens=4000, tags={"feature": "faq"})
    assert fitted().plan(sent(request)) is None
    assert fitted(lower_caller_caps=True).plan(sent(request)) == 123
    small = Request(prompt="q", max_tokens=50, tags={"feature": "faq"})
    assert fitted(lower_caller_caps=True).plan(sent(small)) == 50  # never raises a cap


def test_never_below_what_tools_or_json_need():
    planner = fitted()
    tools = Request(
        messages=({"role": "user", "content": "q"},),
        tools=({"name": "f"},),
        tags={"feature": "faq"},
    )
    assert planner.plan(sent(tools)) == 256
    json_ask = Request(prompt="Answer in JSON: q", tags={"feature": "faq"})
    assert planner.plan(sent(json_ask)) == 128


def test_groups_with_many_cut_answers_do_not_plan():
    samples = [LengthSample(100, feature="f", truncated=i % 10 == 0) for i in range(50)]
    planner = OutputPlanner().fit(samples)
    assert planner.cap_for(feature="f") is None and planner.groups == 0


def test_learns_from_ledger_records_and_templates():
    system = {"role": "system", "content": "You are a terse bot."}
    key = template_key([system])
    records = [UsageRecord("gpt-4o", 10, 30, tags={"template": key}) for _ in range(30)] + [
        UsageRecord("gpt-4o", 10, 999, cache_hit=True, tags={"template": key})
    ]
    planner = OutputPlanner().fit_records(records)
    request = Request(messages=(system, {"role": "user", "content": "hi"}))
    assert planner.plan(sent(request)) == 38


def test_output_control_falls_back_to_its_max_tokens():
    control = OutputControl(planner=fitted(), max_tokens=300)
    assert control.plan(sent(Request(prompt="q", tags={"feature": "faq"}))) == 123
    assert control.plan(sent(Request(prompt="q"))) == 1200  # the planner's all-answers cap
    unfitted = OutputControl(planner=OutputPlanner(), max_tokens=300)
    assert unfitted.plan(sent(Request(prompt="q"))) == 300
    assert control.plan(sent(Request(prompt="q", max_tokens=20))) is None


def test_validates_options():
    with pytest.raises(ConfigError, match="quantile"):
        OutputPlanner(quantile=1.5)
    with pytest.raises(ConfigError, match="margin"):
        OutputPlanner(margin=0.5)
