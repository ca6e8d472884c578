"""Fewer input tokens in a LangChain app: compressed retrieval and conversation windows.

Run: python examples/langchain_context.py

1. RAG: `ContextualCompressionRetriever(base_compressor=TokenomyCompressor(ratio=0.3))`
   keeps the sentences that answer the question (real MiniLM, offline).
2. A long chat through `OptimizedChatModel(inner=..., window=ConversationWindow(...))`:
   the model is sent what fits the budget, the early fact included.
3. `window_messages(...)` as a Runnable in a chain: `trim_messages`' contract.
4. `create_agent(..., middleware=[TokenomyMiddleware(window=...)])`: the agent's state
   keeps every message, the model gets the window.

The chat model here answers with what it was sent (messages and tokens), so you can
see the savings; put `ChatOpenAI(model="gpt-4o-mini")` there.
"""

from langchain.agents import create_agent
from langchain_classic.retrievers import ContextualCompressionRetriever
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.vectorstores import InMemoryVectorStore

from langchain_tokenomy import (
    OptimizedChatModel,
    TokenomyCompressor,
    TokenomyMiddleware,
    to_openai_messages,
    window_messages,
)
from tokenomy.context import ConversationWindow
from tokenomy.embed import default_embedder
from tokenomy.tokens import TokenCounter

COUNTER = TokenCounter("gpt-4o")


class MiniLM(Embeddings):
    """tokenomy's bundled MiniLM as LangChain embeddings."""

    def embed_documents(self, texts):
        return default_embedder().embed(texts).tolist()

    def embed_query(self, text):
        return self.embed_documents([text])[0]


class Echo(BaseChatModel):
    """Answers with the size of what it was sent."""

    @property
    def _llm_type(self):
        return "echo"

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        tokens = COUNTER.count_messages(to_openai_messages(messages))
        sent = " ".join(str(m.content) for m in messages)
        note = f"sent {len(messages)} messages, {tokens} tokens; fact kept: {'Ottoline' in sent}"
        return ChatResult(generations=[ChatGeneration(message=AIMessage(note))])


# 1. Compressed retrieval --------------------------------------------------------------
PAGES = {
    "eiffel": "The Eiffel Tower is a wrought-iron lattice tower in Paris. It was designed by "
    "the company of Gustave Eiffel. Construction finished in March 1889, in time for the "
    "World's Fair. The tower is 330 metres tall. It was the tallest man-made structure until "
    "1930. About seven million people visit it every year.",
    "louvre": "The Louvre is the world's most-visited art museum. It opened in 1793. The "
    "museum holds about 35,000 works on display. Its glass pyramid was completed in 1989. The "
    "Mona Lisa hangs in the Salle des Etats.",
    "seine": "The Seine flows 777 kilometres through northern France. It passes through Paris "
    "and enters the English Channel at Le Havre. Thirty-seven bridges cross it in Paris.",
}
docs = [Document(page_content=t, metadata={"source": k}) for k, t in PAGES.items()]
store = InMemoryVectorStore.from_documents(docs, MiniLM())
retriever = ContextualCompressionRetriever(
    base_compressor=TokenomyCompressor(ratio=0.3),
    base_retriever=store.as_retriever(search_kwargs={"k": 3}),
)
question = "When was the Eiffel Tower finished?"
found = retriever.invoke(question)
before = sum(COUNTER.count(d.page_content) for d in docs)
after = sum(COUNTER.count(d.page_content) for d in found)
print(f"1. retrieval: {before} -> {after} tokens of context for {question!r}")
for d in found:
    print(
        f"   [{d.metadata['source']}, kept {d.metadata['tokenomy_kept_ratio']:.0%}] "
        f"{d.page_content}"
    )

# 2. A long chat through the model wrapper ----------------------------------------------
history = [
    SystemMessage("You are a helpful assistant."),
    HumanMessage("Hi! I have a few things to sort out today."),
    AIMessage("Happy to help."),
    HumanMessage("By the way, my daughter's name is Ottoline. Can you suggest a cake?"),
    AIMessage("A lemon drizzle cake is easy and loved by children. " * 8),
]
for topic in ["tax returns", "a garden shed", "learning Spanish", "a road trip", "running"]:
    history += [
        HumanMessage(f"Give me a long checklist for {topic}."),
        AIMessage(f"Here is a thorough checklist for {topic}: step one, step two. " * 25),
    ]
history.append(HumanMessage("What is my daughter's name?"))
window = ConversationWindow(max_tokens=600, overlap_tokens=200)
model = OptimizedChatModel(inner=Echo(), window=window)
print(
    f"2. chat: history is {len(history)} messages, "
    f"{COUNTER.count_messages(to_openai_messages(history))} tokens"
)
print(f"   without window: {Echo().invoke(history).content}")
print(f"   with window:    {model.invoke(history).content}")

# 3. The trimmer in a chain -------------------------------------------------------------
prompt = ChatPromptTemplate.from_messages([MessagesPlaceholder("history")])
chain = prompt | window_messages(window=window) | Echo()
reply = chain.invoke({"history": history}, config={"configurable": {"session_id": "s1"}})
print(f"3. chain with window_messages: {reply.content}")

# 4. An agent ---------------------------------------------------------------------------
agent = create_agent(
    model=Echo(),
    tools=[],
    system_prompt="You are a helpful assistant.",
    middleware=[TokenomyMiddleware(window=window)],
)
state = agent.invoke({"messages": history[1:]})
print(f"4. agent: {state['messages'][-1].content}; state keeps {len(state['messages'])} messages")
