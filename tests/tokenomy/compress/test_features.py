import numpy as np

from tokenomy.compress._features import (
    answer_cues,
    document_rank,
    index_in_document,
    question_type,
)


def test_question_type_is_one_hot():
    assert question_type("When did the war end?")["ask_when"] == 1.0
    assert question_type("how many moons has Mars")["ask_how_many"] == 1.0
    other = question_type("Tell me about Mars")
    assert other["ask_other"] == 1.0
    assert sum(other.values()) == 1.0
    assert question_type(None)["ask_other"] == 1.0


def test_answer_cues():
    asked = {"who", "wrote", "hamlet"}
    assert answer_cues("It was written in 1603 by William Shakespeare.", asked) == (1.0, 1.0, 2.0)
    assert answer_cues("Hamlet is a play.", asked) == (0.0, 0.0, 0.0)


def test_index_in_document_counts_per_document():
    docs = np.array([0, 0, 0, 1, 1, 2])
    assert index_in_document(docs).tolist() == [0, 1, 2, 0, 1, 0]


def test_document_rank_orders_documents_by_their_best_segment():
    docs = np.array([0, 0, 1, 2, 2])
    values = np.array([0.1, 0.9, 0.5, 0.2, 0.3])
    assert document_rank(values, docs).tolist() == [1.0, 1.0, 0.5, 1 / 3, 1 / 3]
