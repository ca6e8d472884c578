"""Each request to the cheapest model that will answer it well, and no failed calls.

Run: python examples/routing.py

1. LangChain: `RoutingChatModel(models={"small": ..., "large": ...}, router=Router(...))`,
   with the choice in `response_metadata["tokenomy_route"]`; the small model is down
   for one call and the request falls back to the large one.
2. `Router.fit(prompts, outcomes)` learns from your own outcomes, then explains a choice.
3. LlamaIndex: `RoutingLLM({...}, router)` as an engine's LLM.
4. A `Cascade`: try the cheap model, escalate when its answer fails a check.

The models are fakes that answer with their name; put ChatOpenAI(model="gpt-4o-mini")
and ChatOpenAI(model="gpt-4o") there (the default router prices them from the table).
"""

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from llama_index.core.base.llms.types import CompletionResponse, LLMMetadata
from llama_index.core.llms import CustomLLM

from langchain_tokenomy import RoutingChatModel
from llama_index_tokenomy import RoutingLLM
from tokenomy.embed import HashingEmbedder
from tokenomy.route import Cascade, ModelTable, Router

TABLE = ModelTable.from_prices({"small": ("gpt-4o-mini", 0.65), "large": ("gpt-4o", 0.85)})


class Named(BaseChatModel):
    """Answers with its name; `down` makes it fail the next call."""

    label: str
    down: bool = False

    @property
    def _llm_type(self):
        return "named"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        if self.down:
            self.down = False
            raise ConnectionError("503 Service Unavailable")
        return ChatResult(generations=[ChatGeneration(message=AIMessage(f"({self.label})"))])


# 1. LangChain ---------------------------------------------------------------------------
small, large = Named(label="small"), Named(label="large")
llm = RoutingChatModel(
    models={"small": small, "large": large},
    router=Router(TABLE, quality_target=0.6, embedder=HashingEmbedder()),
)
for question in [
    "What is the capital of France?",
    "Prove step by step that the square root of 2 is irrational, and explain why it matters.",
]:
    reply = llm.invoke(question)
    route = reply.response_metadata["tokenomy_route"]
    print(f"1. {question[:50]!r:55} -> {route['model']}: {route['reason']}")
small.down = True
reply = llm.invoke("What is the capital of Spain?")
attempts = reply.response_metadata["tokenomy_route"]["attempts"]
print(
    f"   small is down: answered by {reply.content}, attempts "
    f"{[(a['model'], a['outcome']) for a in attempts]}"
)

# 2. Learning from outcomes -------------------------------------------------------------
history = [f"Summarize this paragraph about topic {i}." for i in range(30)] + [
    f"Solve the integral of x^{i} times sin(x) step by step." for i in range(30)
]
outcomes = {"small": [True] * 30 + [False] * 30, "large": [True] * 60}
router = Router(TABLE, quality_target=0.7, embedder=HashingEmbedder()).fit(history, outcomes)
decision = router.route("Solve the integral of x^7 times sin(x) step by step.")
print(
    f"2. fitted: {decision.model}, predicted success "
    f"{ {k: round(v, 2) for k, v in decision.success.items()} }"
)
# ... or online, one outcome at a time, with no fit: the default prior, corrected near
# each outcome (here the cascade's escalations: the small model's answers were rejected)
online = Router(TABLE, quality_target=0.7, embedder=HashingEmbedder())
for i in range(20):
    online.update(f"Solve the integral of x^{i} times sin(x) step by step.", "small", False)
after = online.predict("Solve the integral of x^7 times sin(x) step by step.")
print(f"   online: after 20 escalations, small's predicted success {after['small']:.2f}")


# 3. LlamaIndex --------------------------------------------------------------------------
class NamedLLM(CustomLLM):
    label: str

    @property
    def metadata(self):
        return LLMMetadata(context_window=128_000, model_name=self.label)

    def complete(self, prompt, formatted=False, **kwargs):
        return CompletionResponse(text=f"({self.label})")

    def stream_complete(self, prompt, formatted=False, **kwargs):
        yield self.complete(prompt)


routed = RoutingLLM(
    {"small": NamedLLM(label="small"), "large": NamedLLM(label="large")},
    Router(TABLE, quality_target=0.6, embedder=HashingEmbedder()),
)
print(f"3. LlamaIndex: {routed.complete('Name a primary colour.').text}")

# 4. A cascade ---------------------------------------------------------------------------
answers = {"small": "I'm sorry, I can't help with that.", "large": "42"}
result = Cascade(["small", "large"], cost=lambda m, a: {"small": 0.0001, "large": 0.002}[m]).run(
    answers.__getitem__
)
print(
    f"4. cascade: {result.answer!r} from {result.model}, "
    f"{[(a.model, a.outcome, a.detail) for a in result.attempts]}, ${result.cost_usd:.4f}"
)
