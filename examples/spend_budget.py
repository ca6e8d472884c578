"""A spend limit that holds when eight threads call at once, and the trace of each call.

Run: python examples/spend_budget.py

`OptimizedChatModel(inner=..., budget=SpendBudget(5.0))` reserves each call's
upper-bound cost before it starts and settles to the actual cost after, so
eight concurrent $1 calls under a $5 limit make five calls and are refused three
times, instead of all eight going through. Each answer says what every stage of
tokenomy's request pipeline did in `response_metadata["tokenomy_trace"]`.

The model is a fake that answers with ten words after a short pause; put a real
chat model there (ChatOpenAI(model="gpt-4o-mini"), priced from the bundled table).
"""

import threading
import time

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from langchain_tokenomy import OptimizedChatModel
from tokenomy.budget import SpendBudget
from tokenomy.cache import SemanticCache
from tokenomy.errors import BudgetExceededError
from tokenomy.tokens import PriceTable

# A made-up model at $0.10 per answer token: a 10-token answer costs $1.00.
PRICES = PriceTable.default().with_prices({"demo-model": {"input": 0.0, "output": 100_000.0}})


class Slow(BaseChatModel):
    model_name: str = "demo-model"

    @property
    def _llm_type(self) -> str:
        return "slow-demo"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        time.sleep(0.2)  # a provider call in flight
        usage = {"input_tokens": 12, "output_tokens": 10, "total_tokens": 22}
        message = AIMessage(
            content="one two three four five six seven eight nine ten", usage_metadata=usage
        )
        return ChatResult(generations=[ChatGeneration(message=message)])


def main() -> None:
    budget = SpendBudget(5.0)
    model = OptimizedChatModel(
        inner=Slow(), budget=budget, prices=PRICES, cache=SemanticCache(mode="exact")
    ).bind(max_tokens=10)
    answered, refused = [], []

    def ask(i: int) -> None:
        try:
            answered.append(model.invoke(f"Question {i}?"))
        except BudgetExceededError:
            refused.append(i)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(
        f"8 concurrent $1 calls under a $5 limit: {len(answered)} answered, "
        f"{len(refused)} refused, ${budget.spent_usd:.2f} spent"
    )
    stages = answered[0].response_metadata["tokenomy_trace"]["stages"]
    print("trace of a call:", ", ".join(f"{s['stage']}:{s['outcome']}" for s in stages))


if __name__ == "__main__":
    main()
