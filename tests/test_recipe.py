"""The system's options beyond the questions, which the Multi30k recipe uses (issue #16): the attentional, tied
output layer (seq2seq.variants), SentencePiece vocabularies (seq2seq.subwords), ensembles (seq2seq.ensemble) and
checkpoint averaging (average_last).
Tiny models on the synthetic corpus: seconds."""
from __future__ import annotations

import sys

import pytest
import torch

from tests.helpers import REPO, SOLUTION

sys.path.insert(0, str(SOLUTION))
from seq2seq import EOS, SOS, UNK, runner  # noqa: E402
from seq2seq.checkpoint import average_weights, load_checkpoint  # noqa: E402
from seq2seq.data import collate_batch  # noqa: E402
from seq2seq.ensemble import Ensemble  # noqa: E402
from seq2seq.model import ModelConfig  # noqa: E402
from seq2seq.search import translate  # noqa: E402
from seq2seq.subwords import SubwordVocab, vocabularies  # noqa: E402
from seq2seq.training import sequence_loss, train_epoch  # noqa: E402
from seq2seq.variants import AttentionalOutputDecoder, WordDropout, build, trained  # noqa: E402

SIZES = dict(src_vocab=30, tgt_vocab=40, emb_dim=8, hidden_size=8, dec_hidden=8)
TINY = dict(synthetic_train=160, synthetic_eval=16, emb_dim=8, hidden_size=8, dec_hidden=8, dropout=0.0,
            batch_size=32, lr=0.01, device="cpu", threads=None, progress=False, beam_size=2, patience=5)


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())  # a tied matrix is one Parameter, counted once


def test_tied_output_layer_is_the_target_embedding():
    linear, attentional, tied = (build(ModelConfig(**SIZES, output=o)) for o in ("linear", "attentional", "tied"))
    assert isinstance(tied.decoder, AttentionalOutputDecoder)
    assert tied.decoder.out.weight is tied.decoder.embedding.weight
    weight = tied.decoder.embedding.weight
    assert weight.abs().max() <= 0.1 and not weight[0].any(), "small start (logits near 0), PAD row zero"
    assert attentional.decoder.out.weight is not attentional.decoder.embedding.weight
    # linear: out (8 + 16) x 40 + 40; attentional: combine 24 x 8 + 8, out 8 x 40 + 40; tied: without the 8 x 40
    assert n_params(linear) - n_params(attentional) == (24 * 40 + 40) - (24 * 8 + 8 + 8 * 40 + 40)
    assert n_params(attentional) - n_params(tied) == 8 * 40


def test_attentional_output_projects_one_step_and_all_steps_alike():
    model = build(ModelConfig(**SIZES, output="tied", output_dropout=0.5)).eval()
    hidden, context = torch.randn(3, 5, 8), torch.randn(3, 5, 16)
    all_steps = model.decoder.project(hidden, context)
    assert all_steps.shape == (3, 5, 40)
    torch.testing.assert_close(model.decoder.project(hidden[:, 2], context[:, 2]), all_steps[:, 2])
    model.train()
    assert not torch.equal(model.decoder.project(hidden, context), model.decoder.project(hidden, context)), \
        "output dropout acts in training"


def test_tied_embedding_learns_from_the_output_layer():
    model = build(ModelConfig(**SIZES, output="tied"))
    logits = model.decoder.project(torch.randn(2, 8), torch.randn(2, 16))
    torch.nn.functional.cross_entropy(logits, torch.tensor([5, 7])).backward()
    assert model.decoder.embedding.weight.grad is not None and model.decoder.embedding.weight.grad.abs().sum() > 0


def test_linear_output_with_dropout_keeps_the_course_layers():
    course, dropped = build(ModelConfig(**SIZES)), build(ModelConfig(**SIZES, output_dropout=0.5))
    assert type(course.decoder).__name__ == "AttentionDecoder", "the course's model, as Q18 builds it"
    assert isinstance(dropped.decoder, AttentionalOutputDecoder)
    assert dropped.state_dict().keys() == course.state_dict().keys()
    dropped.load_state_dict(course.state_dict())
    hidden, context = torch.randn(4, 8), torch.randn(4, 16)
    torch.testing.assert_close(dropped.eval().decoder.project(hidden, context), course.decoder.project(hidden, context))
    dropped.train()
    assert not torch.equal(dropped.decoder.project(hidden, context), course.decoder.project(hidden, context))


@pytest.mark.parametrize("options, message", [
    (dict(output="deep"), "unknown output"),
    (dict(output_dropout=0.2, attention="none"), "need attention"),
    (dict(output="tied", attention="none"), "need attention"),
])
def test_impossible_output_options_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        build(ModelConfig(**{**SIZES, **options}))


def test_tied_embeddings_are_one_matrix_for_both_languages_and_the_output():
    shared = dict(SIZES, tgt_vocab=30)
    three_way = build(ModelConfig(**shared, output="tied", tie_embeddings=True))
    weight = three_way.decoder.embedding.weight
    assert three_way.encoder.embedding.weight is weight and three_way.decoder.out.weight is weight
    assert n_params(build(ModelConfig(**shared, output="tied"))) - n_params(three_way) == 30 * 8
    source = three_way.encoder(torch.tensor([[5, 6, 7]]), torch.tensor([3]))[0]
    source.sum().backward()
    assert weight.grad[[5, 6, 7]].abs().sum() > 0, "the source side trains the one matrix"
    two_way = build(ModelConfig(**shared, tie_embeddings=True))  # the course's output layer, embeddings shared
    assert two_way.encoder.embedding.weight is two_way.decoder.embedding.weight
    with pytest.raises(ValueError, match="one vocabulary for both languages"):
        build(ModelConfig(**SIZES, tie_embeddings=True))  # 30 source entries, 40 target
    for options, message in ((dict(shared_vocab=True), "shared_vocab needs subwords"),
                             (dict(subwords=60, tie_embeddings=True), "tie_embeddings needs shared_vocab")):
        with pytest.raises(ValueError, match=message):
            runner.RunConfig(**options)


SENTENCES = [s.split() for s in ["the cat sat on the mat .", "the dog sat on the cat .", "a cat and a dog .",
                                 "the mats are on the dogs .", "cats and dogs sat ."] * 4]


def test_subword_vocab_gives_words_back_and_knows_every_seen_character():
    vocab = SubwordVocab.train(SENTENCES, 40, model_type="bpe")
    assert vocab.itos[:4] == ["<pad>", "<sos>", "<eos>", "<unk>"] and len(set(vocab.itos)) == len(vocab)
    for words in SENTENCES + [["catdog", "mast", "."], []]:  # unseen words of seen characters are pieces
        ids = vocab.encode(words)
        assert ids[0] == SOS and ids[-1] == EOS and UNK not in ids
        assert vocab.decode(ids) == words
    assert UNK in vocab.encode(["zebra"])  # "z" was never seen
    assert vocab.decode(vocab.encode(["cat", "."]) + [7, 8]) == ["cat", "."], "decode stops at <eos>"
    assert vocab == SubwordVocab.train(SENTENCES, 40, model_type="bpe"), "the same data gives the same vocabulary"
    assert vocab != SubwordVocab.train(SENTENCES, 30, model_type="bpe")
    with pytest.raises(ValueError, match="unknown subword model"):
        SubwordVocab.train(SENTENCES, 40, model_type="wordpiece")


def test_a_shared_vocabulary_is_learnt_on_both_languages():
    german = [s.split() for s in ["die katze sitzt .", "der hund und die katze ."] * 4]
    src, tgt = vocabularies(list(zip(german, SENTENCES)), 60, model_type="bpe", shared=True)
    assert src is tgt
    for words in (["die", "katze", "sat", "on", "the", "mat"], ["dogs", "sitzt"]):
        assert UNK not in src.encode(words) and src.decode(src.encode(words)) == words
    apart = vocabularies(list(zip(german, SENTENCES)), 60, model_type="bpe")
    assert apart[0] != apart[1] and UNK in apart[0].encode(["mat"]), "apart, the source never saw English"


def test_a_three_way_tied_run_keeps_its_tie_through_checkpoints(tmp_path):
    config = runner.RunConfig(**TINY, epochs=2, out_dir=str(tmp_path), subwords=60, subword_model="bpe",
                              shared_vocab=True, tie_embeddings=True, output="tied", average_last=2)
    data = runner.train(config)["data"]
    assert data.src_vocab is data.tgt_vocab
    for name in ("last.pt", "averaged.pt"):
        checkpoint = load_checkpoint(tmp_path / name)
        model = checkpoint.model
        assert model.encoder.embedding.weight is model.decoder.embedding.weight is model.decoder.out.weight, name
        assert checkpoint.src_vocab == checkpoint.tgt_vocab == data.tgt_vocab
    assert runner.translate_sentences(tmp_path / "last.pt", [data.corpus.test[0][0]], device="cpu")


@pytest.fixture(scope="module")
def subword_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("subwords")
    config = runner.RunConfig(**TINY, epochs=1, out_dir=str(out), subwords=60, subword_model="bpe",
                              output="tied", output_dropout=0.1)
    first = runner.train(config)
    runner.train(runner.RunConfig(**{**vars(config), "epochs": 2}), resume=True)  # same vocabularies again
    return out, first["data"]


def test_subword_run_saves_and_loads_its_vocabularies(subword_run):
    out, data = subword_run
    assert isinstance(data.tgt_vocab, SubwordVocab) and data.tokens["test"][0][1][0] in data.corpus.test[0][1]
    checkpoint = load_checkpoint(out / "last.pt")
    assert checkpoint.state["epoch"] == 2
    assert checkpoint.src_vocab == data.src_vocab and checkpoint.tgt_vocab == data.tgt_vocab
    assert checkpoint.model.decoder.out.weight is checkpoint.model.decoder.embedding.weight, "still tied"


@pytest.mark.slow
def test_subword_run_evaluates_on_words_and_draws_pieces(subword_run, tmp_path, capsys):
    out, data = subword_run
    results = runner.evaluate_checkpoint(out / "best.pt", beams=(1,), device="cpu", data=data)
    assert results[1]["references"] == [tgt for _, tgt in data.tokens["test"]], "words, not pieces"
    assert all(isinstance(h, list) and "" not in h for h in results[1]["hypotheses"])
    sentences = [src for src, _ in data.corpus.test[:2]]
    outputs = runner.translate_sentences(out / "best.pt", sentences, device="cpu", heatmaps=tmp_path)
    assert len(outputs) == 2 and all(isinstance(o, str) for o in outputs)
    assert "alignment error rate" not in capsys.readouterr().out, "word alignments do not fit pieces"


def test_ensemble_of_one_model_twice_decodes_as_the_model(subword_run):
    out, data = subword_run
    model = load_checkpoint(out / "best.pt").model
    batch = next(iter(data.loader("test", 16)))
    for beam in (1, 3):
        alone = translate(model, batch.src, batch.src_lengths, beam, 20)
        twice = translate(Ensemble([model, model]), batch.src, batch.src_lengths, beam, 20)
        assert [t.tokens for t in alone] == [t.tokens for t in twice]


def test_ensemble_averages_the_members_probabilities():
    torch.manual_seed(0)
    members = [build(ModelConfig(**{**SIZES, "hidden_size": h}, output=o)).eval() for h, o in ((8, "tied"), (6, "linear"))]
    src, lengths = torch.randint(4, 30, (3, 5)), torch.tensor([5, 4, 3])
    src[1, 4:] = 0
    src[2, 3:] = 0
    ensemble = Ensemble(members)
    prev = torch.full((3,), SOS)
    with torch.no_grad():
        outputs, state, mask, keys = ensemble.encode(src, lengths)
        log_probs, hidden, weights = ensemble.decoder.forward_step(prev, state, outputs, mask, keys)
        expected = []
        for model in members:
            outputs, state, mask, keys = model.encode(src, lengths)
            logits, _, attention = model.decoder.forward_step(prev, state, outputs, mask, keys)
            expected.append((logits.softmax(-1), attention))
    torch.testing.assert_close(log_probs.exp(), sum(p for p, _ in expected) / 2)
    torch.testing.assert_close(weights, sum(a for _, a in expected) / 2)
    assert hidden.shape == (3, 16)


def test_ensemble_refuses_other_vocabularies(subword_run, tmp_path):
    out, data = subword_run
    other = runner.train(runner.RunConfig(**TINY, epochs=1, out_dir=str(tmp_path), output="tied"))
    with pytest.raises(ValueError, match="cannot join the ensemble"):
        runner.evaluate_checkpoint(out / "best.pt", beams=(1,), device="cpu", data=data, ensemble=(other["best"],))


def test_ensemble_evaluates_through_the_cli_path(subword_run, capsys):
    """``evaluate A.pt --ensemble B.pt``: the loss of the averaged probabilities, then greedy and beam."""
    out, data = subword_run
    alone = runner.evaluate_checkpoint(out / "best.pt", beams=(1, 3), device="cpu", data=data)
    twice = runner.evaluate_checkpoint(out / "best.pt", beams=(1, 3), device="cpu", data=data,
                                       ensemble=(out / "best.pt",))
    assert "ensemble of 2 checkpoints" in capsys.readouterr().out
    for beam in (1, 3):
        assert twice[beam]["loss"] == pytest.approx(alone[beam]["loss"], rel=1e-5)
        assert twice[beam]["hypotheses"] == alone[beam]["hypotheses"]
    model = load_checkpoint(out / "best.pt").model.eval()
    batch = next(iter(data.loader("test", 4)))
    with pytest.raises(ValueError, match="teacher forcing 1.0"):
        Ensemble([model, model])(batch.src, batch.src_lengths, batch.tgt, 0.5)


def test_average_weights_is_the_mean_of_floats_and_the_last_of_the_rest():
    states = [{"w": torch.tensor([1.0, 2.0]), "h": torch.tensor([0.5], dtype=torch.bfloat16), "n": torch.tensor(3)},
              {"w": torch.tensor([3.0, 6.0]), "h": torch.tensor([1.5], dtype=torch.bfloat16), "n": torch.tensor(7)}]
    average = average_weights(states)
    torch.testing.assert_close(average["w"], torch.tensor([2.0, 4.0]))
    assert average["h"].dtype == torch.bfloat16 and average["h"].item() == 1.0
    assert average["n"].item() == 7, "an integer counter is the last state's, not a mean"
    with pytest.raises(ValueError, match="no weights"):
        average_weights([])
    with pytest.raises(ValueError, match="different models"):
        average_weights([states[0], {**states[1], "w": torch.zeros(3)}])
    with pytest.raises(ValueError, match="average_last"):
        runner.RunConfig(average_last=-1)


def _averaged_run(out, epochs, resume=False, seen=None):
    config = runner.RunConfig(**TINY, epochs=epochs, out_dir=str(out), average_last=2, seed=7)
    hook = None if seen is None else (lambda epoch, model, row: seen.append(
        {k: v.detach().clone() for k, v in model.state_dict().items()}))
    return runner.train(config, resume=resume, on_epoch=hook)


def test_average_last_writes_the_mean_of_the_last_epochs_weights(tmp_path):
    seen = []
    result = _averaged_run(tmp_path, 3, seen=seen)
    averaged = load_checkpoint(result["averaged"]).state["model"]
    for key, value in averaged.items():
        torch.testing.assert_close(value, (seen[1][key] + seen[2][key]) / 2)
    last = load_checkpoint(result["last"]).state["model"]
    assert all(torch.equal(last[key], seen[2][key]) for key in last), "last.pt keeps the last epoch's weights"
    assert sorted(p.name for p in tmp_path.glob("weights-epoch*.pt")) == ["weights-epoch2.pt", "weights-epoch3.pt"]
    report = (tmp_path / "averaged.json").read_text()
    assert '"epochs": [\n    2,\n    3\n  ]' in report and '"bleu"' in report
    # a run stopped after epoch 2 and resumed averages the same epochs
    _averaged_run(tmp_path / "resumed", 2)
    resumed = _averaged_run(tmp_path / "resumed", 3, resume=True)
    again = load_checkpoint(resumed["averaged"]).state["model"]
    for key, value in averaged.items():
        torch.testing.assert_close(again[key], value)


class _Spy(torch.nn.Module):
    """A model that records the inputs it is given and predicts every target token uniformly."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.bias, self.vocab, self.seen = torch.nn.Parameter(torch.zeros(vocab)), vocab, []

    def forward(self, src, src_lengths, tgt, teacher_forcing_ratio=1.0):
        self.seen.append((src.clone(), tgt.clone()))
        return self.bias.expand(tgt.shape[0], tgt.shape[1], self.vocab), None  # position 0 never scored


def test_word_dropout_drops_input_words_only_never_specials_nor_the_targets():
    torch.manual_seed(0)
    src = torch.randint(4, 50, (64, 20))
    src[:, 0], src[:, -3:] = SOS, torch.tensor([EOS, 0, 0])  # <sos> ... <eos> <pad> <pad>
    tgt = src.flip(0)
    spy = _Spy(50)
    dropped = WordDropout(spy, 0.3)
    dropped.train()
    dropped(src, torch.full((64,), 18), tgt)
    seen_src, seen_tgt = spy.seen[-1]
    words = src >= 4
    assert torch.equal(seen_src[~words], src[~words]) and torch.equal(seen_tgt[tgt < 4], tgt[tgt < 4])
    for seen, original in ((seen_src, src), (seen_tgt, tgt)):
        changed = seen != original
        assert (seen[changed] == UNK).all()
        assert 0.25 < changed.sum() / (original >= 4).sum() < 0.35, "about p of the words"
    assert not torch.equal(seen_src, seen_tgt.flip(0)), "source and target drawn apart"
    dropped.eval()
    dropped(src, torch.full((64,), 18), tgt)
    assert torch.equal(spy.seen[-1][0], src) and torch.equal(spy.seen[-1][1], tgt), "nothing dropped in eval"
    assert trained(spy, 0.0) is spy and isinstance(trained(spy, 0.1), WordDropout)
    # train_epoch scores the model against the batch's own targets: with the model's inputs dropped, the loss
    # is the same as without (the spy's logits do not depend on its inputs)
    batch = collate_batch([(s[s != 0], t[t != 0]) for s, t in zip(src[:8], tgt[:8])])
    expected = sequence_loss(spy(batch.src, batch.src_lengths, batch.tgt)[0], batch.tgt).item()
    loss = train_epoch(WordDropout(spy, 0.5), [batch], torch.optim.SGD(spy.parameters(), lr=0.0), clip=None)
    assert loss == pytest.approx(expected)
    assert not torch.equal(spy.seen[-1][1], batch.tgt), "the model was fed dropped words"


@pytest.mark.parametrize("p", [-0.1, 1.0])
def test_word_dropout_outside_0_1_is_refused(p):
    with pytest.raises(ValueError, match="word_dropout must be in"):
        runner.RunConfig(word_dropout=p)
    with pytest.raises(ValueError, match="word dropout must be in"):
        WordDropout(torch.nn.Linear(1, 1), p)


def test_a_run_with_word_dropout_saves_the_plain_model(tmp_path):
    config = runner.RunConfig(**TINY, epochs=1, out_dir=str(tmp_path), word_dropout=0.2, seed=7)
    run = runner.start_run(config)
    assert isinstance(run.trainer, WordDropout) and run.trainer.model is run.model
    result = runner.train(config)
    state = load_checkpoint(result["last"]).state["model"]
    assert set(state) == set(run.model.state_dict()), "the checkpoint holds the model's own keys"


def test_every_benchmark_recipe_is_a_valid_run_config():
    """The recipes the benchmarks README quotes load as they are (a misspelt key is an error, not a default)."""
    recipes = sorted((REPO / "benchmarks").glob("*.json"))
    assert len(recipes) >= 5
    for recipe in recipes:
        config = runner.RunConfig.from_json(recipe)
        assert config.corpus == "multi30k", recipe.name
