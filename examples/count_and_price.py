"""Count tokens exactly (offline) and price a call.

Run: python examples/count_and_price.py
"""

from tokenomy import PriceTable, TokenUsage, count_tokens, estimate_cost

messages = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "Summarize the plot of Hamlet in two sentences."},
]
for model in ("gpt-4o", "gpt-4", "claude-sonnet-4-20250514"):
    n = count_tokens(messages, model=model)
    print(
        f"{model:28} {n.tokens:4} prompt tokens "
        f"({'exact' if n.exact else 'estimate'}, {n.tokenizer})"
    )

usage = TokenUsage(input_tokens=1_200, output_tokens=350, cached_input_tokens=1_024)
print("gpt-4o call:", estimate_cost("gpt-4o", usage))

# Your negotiated price overrides the bundled table
# (or from a file: PriceTable.default().with_file("prices.json")).
mine = PriceTable.default().with_prices(
    {"gpt-4o": {"input": 2.0, "cached_input": 1.0, "output": 8.0}}
)
print("at our price:", mine.cost("gpt-4o", usage))
