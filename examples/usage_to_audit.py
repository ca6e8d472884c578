"""From tracked usage to the audit report: the LangChain handler writes a SQLite
ledger and an audit-format call log; `tokenomy audit` reads both.

Run: python examples/usage_to_audit.py

The chain uses LangChain's GenericFakeChatModel so the example runs offline; put
`ChatOpenAI(model="gpt-4o")` (or any chat model) in its place. The call log
keeps the prompt text (`include_text=True`) with e-mail addresses masked by a
redaction hook; leave `include_text` off to log usage only.
"""

import re
import tempfile
from pathlib import Path

from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.prompts import ChatPromptTemplate

import langchain_tokenomy
from tokenomy import SQLiteLedger
from tokenomy.cli import main as tokenomy
from tokenomy.monitor import CallLog

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def fake_answers():
    while True:  # what ChatOpenAI returns: text, usage and the served model
        yield AIMessage(
            content="You can reset it from Settings > Security.",
            response_metadata={"model_name": "gpt-4o"},
            usage_metadata={"input_tokens": 1200, "output_tokens": 90, "total_tokens": 1290},
        )


folder = Path(tempfile.mkdtemp())
ledger_path, log_path = folder / "usage.db", folder / "calls.jsonl"
langchain_tokenomy.enable(
    ledger=SQLiteLedger(ledger_path),
    call_log=CallLog(log_path, include_text=True, redact=lambda t: EMAIL.sub("<email>", t)),
    tags={"app": "support-bot"},
)
chain = ChatPromptTemplate.from_messages(
    [("system", "You are a helpful support agent."), ("human", "{question}")]
) | GenericFakeChatModel(messages=fake_answers())

questions = [
    ("alice", "How do I reset my password? I am alice@example.com."),
    ("bob", "How do I reset my password?"),
    ("alice", "How do I reset my password?"),
    ("carol", "Where are my invoices?"),
]
for user, question in questions:
    chain.invoke({"question": question}, config={"metadata": {"user": user, "feature": "faq"}})
langchain_tokenomy.disable()

logged = log_path.read_text()
print("e-mail redacted in the call log:", "<email>" in logged and "alice@" not in logged)
print("--- tokenomy audit usage.db")
tokenomy(["audit", str(ledger_path), "--no-html", "--no-progress", "--only", "exact_cache"])
print("--- tokenomy audit calls.jsonl")
tokenomy(["audit", str(log_path), "--no-html", "--no-progress", "--only", "exact_cache"])
