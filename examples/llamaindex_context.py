"""Fewer input tokens in a LlamaIndex app: compressed nodes and a windowed chat memory.

Run: python examples/llamaindex_context.py

1. A query engine with `node_postprocessors=[TokenomyNodePostprocessor(ratio=0.3)]`:
   each retrieved node is compressed to the sentences that answer the question, with
   its score and metadata kept (real MiniLM, offline).
2. A chat engine with `memory=TokenomyChatMemory.from_defaults(token_limit=...)`: the
   whole history stays in the chat store, the LLM gets what fits, the early fact included.

The LLM here answers with what it was sent, so you can see the savings; put
`OpenAI(model="gpt-4o-mini")` there.
"""

from llama_index.core import Document, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.core.llms import CustomLLM

from llama_index_tokenomy import TokenomyChatMemory, TokenomyNodePostprocessor
from tokenomy.embed import default_embedder
from tokenomy.tokens import TokenCounter

COUNTER = TokenCounter("gpt-4o")


class MiniLM(BaseEmbedding):
    """tokenomy's bundled MiniLM as a LlamaIndex embedding."""

    def _get_text_embedding(self, text):
        return default_embedder().embed([text])[0].tolist()

    def _get_query_embedding(self, query):
        return self._get_text_embedding(query)

    async def _aget_query_embedding(self, query):
        return self._get_text_embedding(query)


class Echo(CustomLLM):
    """Answers with the size of what it was sent."""

    @property
    def metadata(self):
        return LLMMetadata(context_window=8192, is_chat_model=True)

    def chat(self, messages, **kwargs):
        text = "\n".join(str(m.content) for m in messages)
        note = f"sent {len(messages)} messages, {COUNTER.count(text)} tokens"
        if "daughter" in text:
            note += f"; fact kept: {'Ottoline' in text}"
        return ChatResponse(message=ChatMessage(role=MessageRole.ASSISTANT, content=note))

    def complete(self, prompt, formatted=False, **kwargs):
        return CompletionResponse(text=f"prompt of {COUNTER.count(prompt)} tokens")

    def stream_complete(self, prompt, formatted=False, **kwargs):
        yield self.complete(prompt)


# 1. A query engine with compressed nodes ----------------------------------------------
PAGES = {
    "eiffel": "The Eiffel Tower is a wrought-iron lattice tower in Paris. It was designed by "
    "the company of Gustave Eiffel. Construction finished in March 1889, in time for the "
    "World's Fair. The tower is 330 metres tall. It was the tallest man-made structure until "
    "1930. About seven million people visit it every year.",
    "louvre": "The Louvre is the world's most-visited art museum. It opened in 1793. The "
    "museum holds about 35,000 works on display. Its glass pyramid was completed in 1989.",
    "seine": "The Seine flows 777 kilometres through northern France. It passes through Paris "
    "and enters the English Channel at Le Havre. Thirty-seven bridges cross it in Paris.",
}
index = VectorStoreIndex.from_documents(
    [Document(text=t, metadata={"source": k}) for k, t in PAGES.items()], embed_model=MiniLM()
)
question = "How tall is the Eiffel Tower?"
for label, post in [("without", []), ("with", [TokenomyNodePostprocessor(ratio=0.3)])]:
    engine = index.as_query_engine(llm=Echo(), similarity_top_k=3, node_postprocessors=post)
    response = engine.query(question)
    print(f"1. query engine {label} compression: {response}")
for n in response.source_nodes:
    print(f"   [{n.node.metadata['source']}, score {n.score:.2f}] {n.node.get_content()}")

# 2. A chat engine with a windowed memory ----------------------------------------------
history = [
    ChatMessage(role=MessageRole.USER, content="Hi! I have a few things to sort out today."),
    ChatMessage(role=MessageRole.ASSISTANT, content="Happy to help."),
    ChatMessage(role=MessageRole.USER, content="My daughter's name is Ottoline. A cake idea?"),
    ChatMessage(role=MessageRole.ASSISTANT, content="A lemon drizzle cake is easy to bake. " * 8),
]
for topic in ["tax returns", "a garden shed", "learning Spanish", "a road trip", "running"]:
    history += [
        ChatMessage(role=MessageRole.USER, content=f"Give me a long checklist for {topic}."),
        ChatMessage(role=MessageRole.ASSISTANT, content=f"A checklist for {topic}: step. " * 40),
    ]
memory = TokenomyChatMemory.from_defaults(chat_history=history, token_limit=600)
engine = SimpleChatEngine.from_defaults(llm=Echo(), memory=memory)
print(
    f"2. chat engine, history of {len(history)} messages: "
    f"{engine.chat('What is my daughter called?')}; the store keeps {len(memory.get_all())}"
)
