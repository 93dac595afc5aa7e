"""The graders of the model's parts (Q9–Q20: ``grade_encoder``, ``grade_attention``, ``grade_decoder`` and
``grade_model``, one per package module) are valid: the solution gets full marks, the stub none, and realistic
mistakes lose points in their own question only. One file for the four sections, because what it shows is
across them: every mutant of MUTANTS is graded on all of Q9–Q20, so a bug in one part costs no other part."""
from __future__ import annotations

import pytest

from autograder.harness import grade, question_maxima
from tests.helpers import SOLUTION, STUB, assert_costs_only, assert_hint, graded, mutant, scores

QUESTIONS = [f"Q{n}" for n in range(9, 21)]
POINTS = {q: p for q, p in question_maxima().items() if q in QUESTIONS}
ENC, ATT, DEC, MOD = "seq2seq/encoder.py", "seq2seq/attention.py", "seq2seq/decoder.py", "seq2seq/model.py"

# id -> (question that must lose points, file, [(exact text of the generated solution, replacement)]).
# Each is graded on all of Q9–Q20: it must lose points in its question and keep full marks everywhere else.
MUTANTS = {
    # Q9 encoder layers
    "bridge_ignores_directions": ("Q9", ENC, [("self.bridge = nn.Linear(self.enc_hidden, dec_hidden)",
                                               "self.bridge = nn.Linear(hidden_size, dec_hidden)")]),
    "rnn_not_batch_first": ("Q9", ENC, [("num_layers=n_layers, batch_first=True, bidirectional=bidirectional,",
                                         "num_layers=n_layers, bidirectional=bidirectional,")]),
    "lstm_option_ignored": ("Q9", ENC, [('rnn = nn.GRU if rnn_type == "gru" else nn.LSTM', "rnn = nn.GRU")]),
    # Q10 encoder forward
    "padding_not_packed": ("Q10", ENC, [
        ("packed = pack_padded_sequence(embedded, src_lengths.cpu(), batch_first=True, enforce_sorted=False)",
         "packed = embedded"),
        ("outputs, _ = pad_packed_sequence(packed_outputs, batch_first=True, total_length=src.size(1))",
         "outputs = packed_outputs")]),
    "directions_not_concatenated": ("Q10", ENC, [("return outputs, torch.tanh(self.bridge(last))",
                                                  "return outputs[..., :self.rnn.hidden_size], torch.tanh(self.bridge(last))")]),
    "first_layer_final_state": ("Q10", ENC, [("torch.cat([final[-2], final[-1]], dim=-1)",
                                              "torch.cat([final[0], final[1]], dim=-1)")]),
    "no_tanh_on_bridge": ("Q10", ENC, [("torch.tanh(self.bridge(last))", "self.bridge(last)")]),
    # Q11 parameter counts
    "one_bias_per_gate": ("Q11", ENC, [("(inputs + hidden_size + 2)", "(inputs + hidden_size + 1)")]),
    "layers_read_embeddings": ("Q11", ENC, [("inputs = emb_dim if layer == 0 else enc_hidden", "inputs = emb_dim")]),
    "frozen_counted": ("Q11", ENC, [("for p in module.parameters() if p.requires_grad)", "for p in module.parameters())")]),
    # Q12 masked softmax
    "softmax_wrong_axis": ("Q12", ATT, [("return torch.softmax(scores, dim=-1)", "return torch.softmax(scores, dim=0)")]),
    "mask_after_softmax": ("Q12", ATT, [('scores = scores.masked_fill(~mask, float("-inf"))\n    return torch.softmax(scores, dim=-1)',
                                         "return torch.softmax(scores, dim=-1) * mask")]),
    "mask_with_zero": ("Q12", ATT, [('scores.masked_fill(~mask, float("-inf"))', "scores.masked_fill(~mask, 0.0)")]),
    "manual_exp_overflows": ("Q12", ATT, [("return torch.softmax(scores, dim=-1)",
                                           "e = scores.exp()\n    return e / e.sum(dim=-1, keepdim=True)")]),
    # Q13 score functions
    "missing_sqrt": ("Q13", ATT, [("scores / math.sqrt(query.size(-1))", "scores / query.size(-1)")]),
    "additive_without_tanh": ("Q13", ATT, [("self.energy_layer(torch.tanh(self.query_layer(query).unsqueeze(1) + keys))",
                                            "self.energy_layer(self.query_layer(query).unsqueeze(1) + keys)")]),
    "additive_with_bias": ("Q13", ATT, [("self.key_layer = nn.Linear(enc_hidden, attn_dim, bias=False)",
                                         "self.key_layer = nn.Linear(enc_hidden, attn_dim)")]),
    # Q14 context
    "context_from_keys": ("Q14", ATT, [("torch.bmm(weights.unsqueeze(1), encoder_outputs)",
                                        "torch.bmm(weights.unsqueeze(1), keys)")]),
    "forward_skips_mask": ("Q14", ATT, [("weights = masked_softmax(self.score(query, keys), mask)",
                                         "weights = torch.softmax(self.score(query, keys), dim=-1)")]),
    "given_keys_ignored": ("Q14", ATT, [("if keys is None:\n            keys = self.precompute(encoder_outputs)",
                                         "keys = self.precompute(encoder_outputs)")]),
    # Q15 decoder layers
    "out_reads_state_only": ("Q15", DEC, [("self.out = nn.Linear(dec_hidden + enc_hidden, vocab_size)",
                                           "self.out = nn.Linear(dec_hidden, vocab_size)")]),
    "gru_without_context": ("Q15", DEC, [("self.rnn = nn.GRU(emb_dim + enc_hidden, dec_hidden, batch_first=True)",
                                          "self.rnn = nn.GRU(emb_dim, dec_hidden, batch_first=True)")]),
    "fixed_dropout": ("Q15", DEC, [("self.dropout = nn.Dropout(dropout)", "self.dropout = nn.Dropout(0.5)")]),
    # Q16 decoder step
    "state_not_updated": ("Q16", DEC, [("return new_hidden.squeeze(0), context, weights", "return hidden, context, weights")]),
    "input_order_swapped": ("Q16", DEC, [("torch.cat([embedded, context], dim=-1).unsqueeze(1)",
                                          "torch.cat([context, embedded], dim=-1).unsqueeze(1)")]),
    "context_detached": ("Q16", DEC, [("torch.cat([embedded, context], dim=-1).unsqueeze(1)",
                                       "torch.cat([embedded, context.detach()], dim=-1).unsqueeze(1)")]),
    "dropout_always_on": ("Q16", DEC, [("embedded = self.dropout(self.embedding(prev_tokens))",
                                        "embedded = nn.functional.dropout(self.embedding(prev_tokens), 0.5, training=True)")]),
    # Q17 output layer and probabilities
    "projection_order_swapped": ("Q17", DEC, [("return self.out(torch.cat([hidden, context], dim=-1))",
                                               "return self.out(torch.cat([context, hidden], dim=-1))")]),
    "probabilities_wrong_axis": ("Q17", DEC, [("else torch.softmax(logits, dim=-1)", "else torch.softmax(logits, dim=0)")]),
    "log_of_softmax": ("Q17", DEC, [("torch.log_softmax(logits, dim=-1) if log", "torch.log(torch.softmax(logits, dim=-1)) if log")]),
    # Q18 build and encode
    "enc_hidden_ignores_directions": ("Q18", MOD, [("enc_hidden = config.hidden_size * (2 if config.bidirectional else 1)",
                                                    "enc_hidden = config.hidden_size")]),
    "mask_inverted": ("Q18", MOD, [("mask = src != PAD", "mask = src == PAD")]),
    "keys_twice": ("Q18", MOD, [("mask = src != PAD\n", "mask = src != PAD\n        self.decoder.precompute(encoder_outputs)\n")]),
    # Q19 teacher forcing
    "ratio_inverted": ("Q19", MOD, [("if torch.rand(()) < teacher_forcing_ratio:", "if torch.rand(()) > teacher_forcing_ratio:")]),
    "argmax_wrong_axis": ("Q19", MOD, [("return logits.argmax(dim=-1)", "return logits.argmax(dim=0)")]),
    "python_random": ("Q19", MOD, [("if torch.rand(()) < teacher_forcing_ratio:",
                                    "if __import__('random').random() < teacher_forcing_ratio:")]),
    "draw_per_sentence": ("Q19", MOD, [("if torch.rand(()) < teacher_forcing_ratio:\n        return gold\n    return logits.argmax(dim=-1)",
                                        "return torch.where(torch.rand(gold.shape) < teacher_forcing_ratio, gold, logits.argmax(dim=-1))")]),
    # Q20 forward
    "target_not_shifted": ("Q20", MOD, [("hidden, context, attn = self.decoder.step(prev, hidden,",
                                         "hidden, context, attn = self.decoder.step("
                                         "tgt[:, t] if teacher_forcing_ratio >= 1.0 else prev, hidden,")]),
    "zeros_at_the_end": ("Q20", MOD, [("torch.cat([torch.zeros_like(logits[:, :1]), logits], dim=1)",
                                       "torch.cat([logits, torch.zeros_like(logits[:, :1])], dim=1)")]),
    "forward_state_not_carried": ("Q20", MOD, [("hidden, context, attn = self.decoder.step(",
                                                "_, context, attn = self.decoder.step(")]),
    "ratio_ignored": ("Q20", MOD, [("if teacher_forcing_ratio >= 1.0:", "if True:")]),
    "encoder_detached": ("Q20", MOD, [("encoder_outputs, hidden, mask, keys = self.encode(src, src_lengths)",
                                       "encoder_outputs, hidden, mask, keys = (x.detach() for x in self.encode(src, src_lengths))")]),
}

# Graded on their own question only, to keep the suite quick: the isolation is shown by the mutants above.
MORE_MUTANTS = {name: MUTANTS.pop(name) for name in [
    "rnn_not_batch_first", "first_layer_final_state", "no_tanh_on_bridge", "frozen_counted", "mask_with_zero",
    "manual_exp_overflows", "additive_with_bias", "given_keys_ignored", "fixed_dropout", "context_detached",
    "dropout_always_on", "log_of_softmax", "keys_twice", "python_random", "draw_per_sentence", "zeros_at_the_end",
    "ratio_ignored", "encoder_detached"]}

# What the feedback says about each mutant (lower-case; issue #7, point 6): the likely cause, in the student's terms.
HINTS = {
    "bridge_ignores_directions": "the bridge reads enc_hidden = hidden_size * directions features",
    "rnn_not_batch_first": "build the rnn with batch_first=true",
    "lstm_option_ignored": "rnn_type='lstm' must give an nn.lstm, not gru",
    "padding_not_packed": "pack the padded batch",
    "directions_not_concatenated": "[forward; backward] concatenated",
    "first_layer_final_state": "of the top layer's last states",
    "no_tanh_on_bridge": "apply tanh to the bridge's output",
    "one_bias_per_gate": "one bias vector per gate block",
    "layers_read_embeddings": "every layer reading emb_dim features",
    "frozen_counted": "parameters with requires_grad=false are not trainable",
    "softmax_wrong_axis": "your weights equal a softmax over the batch axis",
    "mask_after_softmax": "apply the mask before the softmax",
    "mask_with_zero": "fill their scores with -inf before the softmax",
    "manual_exp_overflows": "use torch.softmax (which subtracts the maximum)",
    "missing_sqrt": "yours are divided by d, not by sqrt(d)",
    "additive_without_tanh": "without the tanh",
    "additive_with_bias": "['key_layer.bias']",
    "context_from_keys": "the context sums the encoder outputs, not the keys",
    "forward_skips_mask": "padded positions got attention weight: use masked_softmax",
    "given_keys_ignored": "when keys are given, score them as they are",
    "out_reads_state_only": "self.out must be nn.linear(dec_hidden + enc_hidden, vocab_size)",
    "gru_without_context": "self.rnn must be nn.gru(emb_dim + enc_hidden, dec_hidden, batch_first=true)",
    "fixed_dropout": "self.dropout must be nn.dropout(dropout)",
    "state_not_updated": "yours is the previous state unchanged",
    "input_order_swapped": "[embedded; context], in that order",
    "context_detached": "the context must feed the gru (do not detach it)",
    "dropout_always_on": "not an always-on functional dropout",
    "projection_order_swapped": "the state first, then the context",
    "probabilities_wrong_axis": "the softmax over the vocabulary, the last axis",
    "log_of_softmax": "use log_softmax, not log(softmax(...))",
    "enc_hidden_ignores_directions": "enc_hidden = hidden_size * directions",
    "mask_inverted": "the mask must be true at real tokens (src != pad)",
    "keys_twice": "call it exactly once",
    "ratio_inverted": "is the comparison inverted?",
    "argmax_wrong_axis": "the argmax over the vocabulary (the last axis)",
    "python_random": "draw with torch's generator",
    "draw_per_sentence": "draw one number per step for the whole batch",
    "target_not_shifted": "feed the previous gold token, not the current one",
    "zeros_at_the_end": "position 0 (the <sos>, never predicted) must hold zeros",
    "forward_state_not_carried": "carry the new state from step to step",
    "ratio_ignored": "below ratio 1.0, choose each next input with teacher_force",
    "encoder_detached": "do not detach them or use no_grad",
}

# Other correct answers a student could write from the docstrings: each must keep full marks in its question.
ALTERNATIVES = {
    "hidden_read_from_outputs": ("Q10", ENC, [(
        """        if isinstance(final, tuple):  # an LSTM returns (h, c): the decoder starts from h
            final = final[0]
        # final: (n_layers * directions, batch, hidden_size); the top layer's directions are the last rows.
        last = torch.cat([final[-2], final[-1]], dim=-1) if self.rnn.bidirectional else final[-1]
""", """        size, rows = self.rnn.hidden_size, torch.arange(src.size(0))
        forward_last = outputs[rows, src_lengths.cpu() - 1, :size]
        last = torch.cat([forward_last, outputs[:, 0, size:]], dim=-1) if self.rnn.bidirectional else forward_last
""")]),
    "finfo_min_and_explicit_axis": ("Q12", ATT, [(
        'scores = scores.masked_fill(~mask, float("-inf"))\n    return torch.softmax(scores, dim=-1)',
        "scores = scores.masked_fill(mask == 0, torch.finfo(scores.dtype).min)\n"
        "    return nn.functional.softmax(scores, dim=scores.dim() - 1)")]),
    "elementwise_scores": ("Q13", ATT, [
        ("scores = torch.bmm(keys, query.unsqueeze(-1)).squeeze(-1)", "scores = (keys * query.unsqueeze(1)).sum(-1)"),
        ("scores / math.sqrt(query.size(-1))", "scores / keys.size(-1) ** 0.5")]),
    "elementwise_context": ("Q14", ATT, [("context = torch.bmm(weights.unsqueeze(1), encoder_outputs).squeeze(1)",
                                          "context = (weights.unsqueeze(-1) * encoder_outputs).sum(dim=1)")]),
    "step_with_time_axis": ("Q16", DEC, [(
        """        embedded = self.dropout(self.embedding(prev_tokens))                   # (batch, emb_dim)
        context, weights = self.attention(hidden, encoder_outputs, mask, keys)  # (batch, enc_hidden), (batch, src_len)
        rnn_input = torch.cat([embedded, context], dim=-1).unsqueeze(1)        # (batch, 1, emb_dim + enc_hidden)
        _, new_hidden = self.rnn(rnn_input, hidden.unsqueeze(0).contiguous())
        return new_hidden.squeeze(0), context, weights""",
        """        embedded = self.dropout(self.embedding(prev_tokens.unsqueeze(1)))
        context, weights = self.attention(query=hidden, encoder_outputs=encoder_outputs, mask=mask, keys=keys)
        output, _ = self.rnn(torch.cat([embedded, context.unsqueeze(1)], dim=2), hidden.unsqueeze(0))
        return output.squeeze(1), context, weights""")]),
    "preallocated_outputs": ("Q20", MOD, [(
        """        for t in range(1, tgt.size(1)):
            hidden, context, attn = self.decoder.step(prev, hidden, encoder_outputs, mask, keys)
            states.append(hidden)
            contexts.append(context)
            weights.append(attn)
            if teacher_forcing_ratio >= 1.0:
                prev = tgt[:, t]  # projection deferred: one matrix product for all steps below
            else:
                logits.append(self.decoder.project(hidden, context))
                prev = teacher_force(tgt[:, t], logits[-1], teacher_forcing_ratio)
        if logits:""",
        """        outputs = torch.zeros(tgt.size(0), tgt.size(1), self.decoder.out.out_features)
        attention = torch.zeros(tgt.size(0), tgt.size(1), src.size(1))
        for t in range(1, tgt.size(1)):
            output, hidden, attention[:, t] = self.decoder.forward_step(prev, hidden, encoder_outputs, mask, keys)
            outputs[:, t] = output
            prev = teacher_force(tgt[:, t], output, teacher_forcing_ratio)
        return outputs, attention
        if logits:""")]),
}


def test_solution_full_marks():
    results = grade(SOLUTION, questions=QUESTIONS)
    assert results["extra_data"]["grader_errors"] == 0
    assert {t["name"].split()[0]: t["max_score"] for t in results["tests"]} == POINTS
    assert {t["name"].split()[0]: t["score"] for t in results["tests"]} == POINTS


def test_stub_scores_zero():
    assert scores(STUB, QUESTIONS) == {q: 0 for q in QUESTIONS}


def test_every_mutant_has_a_hint():
    assert sorted(HINTS) == sorted({**MUTANTS, **MORE_MUTANTS})


def test_every_question_has_two_mutants():
    for qid in QUESTIONS:
        assert sum(target == qid for target, _, _ in MUTANTS.values()) >= 2, qid


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MUTANTS))
def test_mutant_loses_points_in_its_question_only(tmp_path, name):
    qid, rel, edits = MUTANTS[name]
    got, feedback = graded(mutant(tmp_path, {rel: edits}), QUESTIONS)
    assert_costs_only(got, qid, POINTS, name)
    assert_hint(feedback, qid, HINTS[name], name)


@pytest.mark.parametrize("name", list(MORE_MUTANTS))
def test_more_mutants_lose_points(tmp_path, name):
    """Further realistic mistakes, graded on their own question only (quick)."""
    qid, rel, edits = MORE_MUTANTS[name]
    got, feedback = graded(mutant(tmp_path, {rel: edits}), [qid])
    assert got[qid] < POINTS[qid], f"{name} kept full marks in {qid}"
    assert_hint(feedback, qid, HINTS[name], name)


@pytest.mark.parametrize("name", list(ALTERNATIVES))
def test_other_correct_answers_keep_full_marks(tmp_path, name):
    qid, rel, edits = ALTERNATIVES[name]
    assert scores(mutant(tmp_path, {rel: edits}), [qid])[qid] == POINTS[qid], f"{name} lost points in {qid}"


def test_visible_checks_pass_on_the_solution():
    """The students' visible checks for Q9–Q20 (public_tests/test_model.py) pass on the solution."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "pytest", "public_tests/test_model.py", "-q", "-p", "no:cacheprovider",
                           "-c", "public_tests/pytest.ini"], cwd=SOLUTION, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:]
