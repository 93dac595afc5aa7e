"""The graders of the model's parts (Q9–Q20: ``grade_encoder``, ``grade_attention``, ``grade_decoder`` and
``grade_model``, one per package module) are valid: the solution gets full marks, the stub none, and realistic
mistakes lose points in their own question only. One file for the four sections, because what it shows is
across them: the mutants of EVERYWHERE are graded on all of Q9–Q20, so a bug in one part costs no other part."""
from __future__ import annotations

import pytest

from autograder.harness import grade, question_maxima
from tests.bug_reach import assert_costs_only_its_question
from tests.helpers import SOLUTION, STUB, Mutant, assert_hint, graded, scores

# Grading (or a whole run) in every test: the full tier only (make test), not make check.
pytestmark = pytest.mark.slow

QUESTIONS = [f"Q{n}" for n in range(9, 21)]
POINTS = {q: p for q, p in question_maxima().items() if q in QUESTIONS}
ENC, ATT, DEC, MOD = "seq2seq/encoder.py", "seq2seq/attention.py", "seq2seq/decoder.py", "seq2seq/model.py"

# name -> Mutant(question that must lose points, {file: [(code of the generated solution, replacement)]},
# hint: what the feedback on that question must say (lower-case; issue #7, point 6), the likely cause in the student's
# terms). Each is graded on all of Q9–Q20: it must lose points in its question and keep full marks everywhere else,
# except those of OWN_ONLY.
MUTANTS: dict[str, Mutant] = {
    # Q9 encoder layers
    "Q9 bridge_ignores_directions": Mutant("Q9", {ENC: [
        ("self.bridge = nn.Linear(self.enc_hidden, dec_hidden)", "self.bridge = nn.Linear(hidden_size, dec_hidden)"),
    ]}, hint="the bridge reads enc_hidden = hidden_size * directions features"),
    "Q9 rnn_not_batch_first": Mutant("Q9", {ENC: [
        ("num_layers=n_layers, batch_first=True, bidirectional=bidirectional,",
         "num_layers=n_layers, bidirectional=bidirectional,"),
    ]}, hint="build the rnn with batch_first=true"),
    "Q9 lstm_option_ignored": Mutant("Q9", {ENC: [
        ('rnn = nn.GRU if rnn_type == "gru" else nn.LSTM', "rnn = nn.GRU"),
    ]}, hint="rnn_type='lstm' must give an nn.lstm, not gru"),
    # Q10 encoder forward
    "Q10 padding_not_packed": Mutant("Q10", {ENC: [
        ("packed = pack_padded_sequence(embedded, src_lengths.cpu(), batch_first=True, enforce_sorted=False)",
         "packed = embedded"),
        ("outputs, _ = pad_packed_sequence(packed_outputs, batch_first=True, total_length=src.size(1))",
         "outputs = packed_outputs"),
    ]}, hint="pack the padded batch"),
    "Q10 directions_not_concatenated": Mutant("Q10", {ENC: [
        ("return outputs, torch.tanh(self.bridge(last))",
         "return outputs[..., :self.rnn.hidden_size], torch.tanh(self.bridge(last))"),
    ]}, hint="[forward; backward] concatenated"),
    "Q10 first_layer_final_state": Mutant("Q10", {ENC: [
        ("torch.cat([final[-2], final[-1]], dim=-1)", "torch.cat([final[0], final[1]], dim=-1)"),
    ]}, hint="of the top layer's last states"),
    "Q10 no_tanh_on_bridge": Mutant("Q10", {ENC: [
        ("torch.tanh(self.bridge(last))", "self.bridge(last)"),
    ]}, hint="apply tanh to the bridge's output"),
    # Q11 parameter counts
    "Q11 one_bias_per_gate": Mutant("Q11", {ENC: [
        ("(inputs + hidden_size + 2)", "(inputs + hidden_size + 1)"),
    ]}, hint="one bias vector per gate block"),
    "Q11 layers_read_embeddings": Mutant("Q11", {ENC: [
        ("inputs = emb_dim if layer == 0 else enc_hidden", "inputs = emb_dim"),
    ]}, hint="every layer reading emb_dim features"),
    "Q11 frozen_counted": Mutant("Q11", {ENC: [
        ("for p in module.parameters() if p.requires_grad)", "for p in module.parameters())"),
    ]}, hint="parameters with requires_grad=false are not trainable"),
    # Q12 masked softmax
    "Q12 softmax_wrong_axis": Mutant("Q12", {ATT: [
        ("return torch.softmax(scores, dim=-1)", "return torch.softmax(scores, dim=0)"),
    ]}, hint="your weights equal a softmax over the batch axis"),
    "Q12 mask_after_softmax": Mutant("Q12", {ATT: [
        ('scores = scores.masked_fill(~mask, float("-inf"))\n    return torch.softmax(scores, dim=-1)',
         "return torch.softmax(scores, dim=-1) * mask"),
    ]}, hint="apply the mask before the softmax"),
    "Q12 mask_with_zero": Mutant("Q12", {ATT: [
        ('scores.masked_fill(~mask, float("-inf"))', "scores.masked_fill(~mask, 0.0)"),
    ]}, hint="fill their scores with -inf before the softmax"),
    "Q12 manual_exp_overflows": Mutant("Q12", {ATT: [
        ("return torch.softmax(scores, dim=-1)", "e = scores.exp()\n    return e / e.sum(dim=-1, keepdim=True)"),
    ]}, hint="use torch.softmax (which subtracts the maximum)"),
    # Q13 score functions
    "Q13 missing_sqrt": Mutant("Q13", {ATT: [
        ("scores / math.sqrt(query.size(-1))", "scores / query.size(-1)"),
    ]}, hint="yours are divided by d, not by sqrt(d)"),
    "Q13 additive_without_tanh": Mutant("Q13", {ATT: [
        ("self.energy_layer(torch.tanh(self.query_layer(query).unsqueeze(1) + keys))",
         "self.energy_layer(self.query_layer(query).unsqueeze(1) + keys)"),
    ]}, hint="without the tanh"),
    "Q13 additive_with_bias": Mutant("Q13", {ATT: [
        ("self.key_layer = nn.Linear(enc_hidden, attn_dim, bias=False)",
         "self.key_layer = nn.Linear(enc_hidden, attn_dim)"),
    ]}, hint="['key_layer.bias']"),
    # Q14 context
    "Q14 context_from_keys": Mutant("Q14", {ATT: [
        ("torch.bmm(weights.unsqueeze(1), encoder_outputs)", "torch.bmm(weights.unsqueeze(1), keys)"),
    ]}, hint="the context sums the encoder outputs, not the keys"),
    "Q14 forward_skips_mask": Mutant("Q14", {ATT: [
        ("weights = masked_softmax(self.score(query, keys), mask)",
         "weights = torch.softmax(self.score(query, keys), dim=-1)"),
    ]}, hint="padded positions got attention weight: use masked_softmax"),
    "Q14 given_keys_ignored": Mutant("Q14", {ATT: [
        ("if keys is None:\n            keys = self.precompute(encoder_outputs)",
         "keys = self.precompute(encoder_outputs)"),
    ]}, hint="when keys are given, score them as they are"),
    # Q15 decoder layers
    "Q15 out_reads_state_only": Mutant("Q15", {DEC: [
        ("self.out = nn.Linear(dec_hidden + enc_hidden, vocab_size)", "self.out = nn.Linear(dec_hidden, vocab_size)"),
    ]}, hint="self.out must be nn.linear(dec_hidden + enc_hidden, vocab_size)"),
    "Q15 gru_without_context": Mutant("Q15", {DEC: [
        ("self.rnn = nn.GRU(emb_dim + enc_hidden, dec_hidden, batch_first=True)",
         "self.rnn = nn.GRU(emb_dim, dec_hidden, batch_first=True)"),
    ]}, hint="self.rnn must be nn.gru(emb_dim + enc_hidden, dec_hidden, batch_first=true)"),
    "Q15 fixed_dropout": Mutant("Q15", {DEC: [
        ("self.dropout = nn.Dropout(dropout)", "self.dropout = nn.Dropout(0.5)"),
    ]}, hint="self.dropout must be nn.dropout(dropout)"),
    # Q16 decoder step
    "Q16 state_not_updated": Mutant("Q16", {DEC: [
        ("return new_hidden.squeeze(0), context, weights", "return hidden, context, weights"),
    ]}, hint="yours is the previous state unchanged"),
    "Q16 input_order_swapped": Mutant("Q16", {DEC: [
        ("torch.cat([embedded, context], dim=-1).unsqueeze(1)", "torch.cat([context, embedded], dim=-1).unsqueeze(1)"),
    ]}, hint="[embedded; context], in that order"),
    "Q16 context_detached": Mutant("Q16", {DEC: [
        ("torch.cat([embedded, context], dim=-1).unsqueeze(1)",
         "torch.cat([embedded, context.detach()], dim=-1).unsqueeze(1)"),
    ]}, hint="the context must feed the gru (do not detach it)"),
    "Q16 dropout_always_on": Mutant("Q16", {DEC: [
        ("embedded = self.dropout(self.embedding(prev_tokens))",
         "embedded = nn.functional.dropout(self.embedding(prev_tokens), 0.5, training=True)"),
    ]}, hint="not an always-on functional dropout"),
    # Q17 output layer and probabilities
    "Q17 projection_order_swapped": Mutant("Q17", {DEC: [
        ("return self.out(torch.cat([hidden, context], dim=-1))",
         "return self.out(torch.cat([context, hidden], dim=-1))"),
    ]}, hint="the state first, then the context"),
    "Q17 probabilities_wrong_axis": Mutant("Q17", {DEC: [
        ("else torch.softmax(logits, dim=-1)", "else torch.softmax(logits, dim=0)"),
    ]}, hint="the softmax over the vocabulary, the last axis"),
    "Q17 log_of_softmax": Mutant("Q17", {DEC: [
        ("torch.log_softmax(logits, dim=-1) if log", "torch.log(torch.softmax(logits, dim=-1)) if log"),
    ]}, hint="use log_softmax, not log(softmax(...))"),
    # Q18 build and encode
    "Q18 enc_hidden_ignores_directions": Mutant("Q18", {MOD: [
        ("enc_hidden = config.hidden_size * (2 if config.bidirectional else 1)", "enc_hidden = config.hidden_size"),
    ]}, hint="enc_hidden = hidden_size * directions"),
    "Q18 mask_inverted": Mutant("Q18", {MOD: [
        ("mask = src != PAD", "mask = src == PAD"),
    ]}, hint="the mask must be true at real tokens (src != pad)"),
    "Q18 keys_twice": Mutant("Q18", {MOD: [
        ("mask = src != PAD\n", "mask = src != PAD\n        self.decoder.precompute(encoder_outputs)\n"),
    ]}, hint="call it exactly once"),
    # Q19 teacher forcing
    "Q19 ratio_inverted": Mutant("Q19", {MOD: [
        ("if torch.rand(()) < teacher_forcing_ratio:", "if torch.rand(()) > teacher_forcing_ratio:"),
    ]}, hint="is the comparison inverted?"),
    "Q19 argmax_wrong_axis": Mutant("Q19", {MOD: [
        ("return logits.argmax(dim=-1)", "return logits.argmax(dim=0)"),
    ]}, hint="the argmax over the vocabulary (the last axis)"),
    "Q19 python_random": Mutant("Q19", {MOD: [
        ("if torch.rand(()) < teacher_forcing_ratio:", "if __import__('random').random() < teacher_forcing_ratio:"),
    ]}, hint="draw with torch's generator"),
    "Q19 draw_per_sentence": Mutant("Q19", {MOD: [
        ("if torch.rand(()) < teacher_forcing_ratio:\n        return gold\n    return logits.argmax(dim=-1)",
         "return torch.where(torch.rand(gold.shape) < teacher_forcing_ratio, gold, logits.argmax(dim=-1))"),
    ]}, hint="draw one number per step for the whole batch"),
    # Q20 forward
    "Q20 target_not_shifted": Mutant("Q20", {MOD: [
        ("hidden, context, attn = self.decoder.step(prev, hidden,",
         "hidden, context, attn = self.decoder.step("
         "tgt[:, t] if teacher_forcing_ratio >= 1.0 else prev, hidden,"),
    ]}, hint="feed the previous gold token, not the current one"),
    "Q20 zeros_at_the_end": Mutant("Q20", {MOD: [
        ("torch.cat([torch.zeros_like(logits[:, :1]), logits], dim=1)",
         "torch.cat([logits, torch.zeros_like(logits[:, :1])], dim=1)"),
    ]}, hint="position 0 (the <sos>, never predicted) must hold zeros"),
    "Q20 forward_state_not_carried": Mutant("Q20", {MOD: [
        ("hidden, context, attn = self.decoder.step(", "_, context, attn = self.decoder.step("),
    ]}, hint="carry the new state from step to step"),
    "Q20 ratio_ignored": Mutant("Q20", {MOD: [
        ("if teacher_forcing_ratio >= 1.0:", "if True:"),
    ]}, hint="below ratio 1.0, choose each next input with teacher_force"),
    "Q20 encoder_detached": Mutant("Q20", {MOD: [
        ("encoder_outputs, hidden, mask, keys = self.encode(src, src_lengths)",
         "encoder_outputs, hidden, mask, keys = (x.detach() for x in self.encode(src, src_lengths))"),
    ]}, hint="do not detach them or use no_grad"),
}

# Graded on their own question only, to keep the suite quick: the isolation is shown by the other mutants.
OWN_ONLY = ["Q9 rnn_not_batch_first", "Q10 first_layer_final_state", "Q10 no_tanh_on_bridge", "Q11 frozen_counted",
            "Q12 mask_with_zero", "Q12 manual_exp_overflows", "Q13 additive_with_bias", "Q14 given_keys_ignored",
            "Q15 fixed_dropout", "Q16 context_detached", "Q16 dropout_always_on", "Q17 log_of_softmax",
            "Q18 keys_twice", "Q19 python_random", "Q19 draw_per_sentence", "Q20 zeros_at_the_end",
            "Q20 ratio_ignored", "Q20 encoder_detached"]
EVERYWHERE = [name for name in MUTANTS if name not in OWN_ONLY]

# Other correct answers a student could write from the docstrings: each must keep full marks in its question.
ALTERNATIVES: dict[str, Mutant] = {
    "hidden_read_from_outputs": Mutant("Q10", {ENC: [(
        """        if isinstance(final, tuple):  # an LSTM returns (h, c): the decoder starts from h
            final = final[0]
        # final: (n_layers * directions, batch, hidden_size); the top layer's directions are the last rows.
        last = torch.cat([final[-2], final[-1]], dim=-1) if self.rnn.bidirectional else final[-1]
""", """        size, rows = self.rnn.hidden_size, torch.arange(src.size(0))
        forward_last = outputs[rows, src_lengths.cpu() - 1, :size]
        last = torch.cat([forward_last, outputs[:, 0, size:]], dim=-1) if self.rnn.bidirectional else forward_last
""")]}),
    "finfo_min_and_explicit_axis": Mutant("Q12", {ATT: [(
        'scores = scores.masked_fill(~mask, float("-inf"))\n    return torch.softmax(scores, dim=-1)',
        "scores = scores.masked_fill(mask == 0, torch.finfo(scores.dtype).min)\n"
        "    return nn.functional.softmax(scores, dim=scores.dim() - 1)")]}),
    "elementwise_scores": Mutant("Q13", {ATT: [
        ("scores = torch.bmm(keys, query.unsqueeze(-1)).squeeze(-1)", "scores = (keys * query.unsqueeze(1)).sum(-1)"),
        ("scores / math.sqrt(query.size(-1))", "scores / keys.size(-1) ** 0.5")]}),
    "elementwise_context": Mutant("Q14", {ATT: [
        ("context = torch.bmm(weights.unsqueeze(1), encoder_outputs).squeeze(1)",
         "context = (weights.unsqueeze(-1) * encoder_outputs).sum(dim=1)")]}),
    "step_with_time_axis": Mutant("Q16", {DEC: [(
        """        embedded = self.dropout(self.embedding(prev_tokens))                   # (batch, emb_dim)
        context, weights = self.attention(hidden, encoder_outputs, mask, keys)  # (batch, enc_hidden), (batch, src_len)
        rnn_input = torch.cat([embedded, context], dim=-1).unsqueeze(1)        # (batch, 1, emb_dim + enc_hidden)
        _, new_hidden = self.rnn(rnn_input, hidden.unsqueeze(0).contiguous())
        return new_hidden.squeeze(0), context, weights""",
        """        embedded = self.dropout(self.embedding(prev_tokens.unsqueeze(1)))
        context, weights = self.attention(query=hidden, encoder_outputs=encoder_outputs, mask=mask, keys=keys)
        output, _ = self.rnn(torch.cat([embedded, context.unsqueeze(1)], dim=2), hidden.unsqueeze(0))
        return output.squeeze(1), context, weights""")]}),
    "preallocated_outputs": Mutant("Q20", {MOD: [(
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
        if logits:""")]}),
}


def test_solution_full_marks():
    results = grade(SOLUTION, questions=QUESTIONS)
    assert results["extra_data"]["grader_errors"] == 0
    assert {t["name"].split()[0]: t["max_score"] for t in results["tests"]} == POINTS
    assert {t["name"].split()[0]: t["score"] for t in results["tests"]} == POINTS


def test_stub_scores_zero():
    assert scores(STUB, QUESTIONS) == {q: 0 for q in QUESTIONS}


def test_every_mutant_has_a_hint():
    assert [name for name, m in MUTANTS.items() if not m.hint or m.qid not in QUESTIONS] == []
    assert set(OWN_ONLY) <= set(MUTANTS) and len(set(OWN_ONLY)) == len(OWN_ONLY)


def test_every_question_has_two_mutants():
    for qid in QUESTIONS:
        assert sum(MUTANTS[name].qid == qid for name in EVERYWHERE) >= 2, qid


@pytest.mark.slow
@pytest.mark.parametrize("name", EVERYWHERE)
def test_mutant_loses_points_in_its_question_only(tmp_path, reached, name):
    m = MUTANTS[name]
    assert_hint(assert_costs_only_its_question(m, tmp_path, reached, name), m.qid, m.hint, name)


@pytest.mark.parametrize("name", OWN_ONLY)
def test_more_mutants_lose_points(tmp_path, name):
    """Further realistic mistakes, graded on their own question only (quick)."""
    m = MUTANTS[name]
    got, feedback = graded(m.build(tmp_path), [m.qid])
    assert got[m.qid] < POINTS[m.qid], f"{name} kept full marks in {m.qid}"
    assert_hint(feedback, m.qid, m.hint, name)


@pytest.mark.parametrize("name", list(ALTERNATIVES))
def test_other_correct_answers_keep_full_marks(tmp_path, name):
    m = ALTERNATIVES[name]
    assert scores(m.build(tmp_path), [m.qid])[m.qid] == POINTS[m.qid], f"{name} lost points in {m.qid}"

