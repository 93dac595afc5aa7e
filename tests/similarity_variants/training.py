"""Independent answers to Q21 (sequence_loss), Q23 (train_epoch) and Q26 (corpus_bleu); see the package
docstring."""

Q21 = [
    {"sequence_loss": '''
vocab = logits.size(-1)
return F.cross_entropy(logits[:, 1:].reshape(-1, vocab), tgt[:, 1:].reshape(-1), ignore_index=PAD,
                       label_smoothing=label_smoothing)
'''},
    {"sequence_loss": '''
return F.cross_entropy(logits[:, 1:].transpose(1, 2), tgt[:, 1:], ignore_index=PAD, label_smoothing=label_smoothing)
'''},
    {"sequence_loss": '''
log_probs = torch.log_softmax(logits[:, 1:].float(), dim=-1)
gold = tgt[:, 1:]
nll = -log_probs.gather(-1, gold.unsqueeze(-1)).squeeze(-1)
smooth = -log_probs.mean(dim=-1)
per_token = (1 - label_smoothing) * nll + label_smoothing * smooth
real = gold != PAD
return (per_token * real).sum() / real.sum()
'''},
    {"sequence_loss": '''
predictions = logits[:, 1:, :].flatten(0, 1)
targets = tgt[:, 1:].flatten()
keep = targets != PAD
return F.cross_entropy(predictions[keep], targets[keep], label_smoothing=label_smoothing)
'''},
    {"sequence_loss": '''
criterion = nn.CrossEntropyLoss(ignore_index=PAD, reduction="sum", label_smoothing=label_smoothing)
vocab_size = logits.shape[2]
total = criterion(logits[:, 1:].contiguous().view(-1, vocab_size), tgt[:, 1:].contiguous().view(-1))
n_tokens = (tgt[:, 1:] != PAD).sum()
return total / n_tokens
'''},
    {"sequence_loss": '''
total_loss = logits.new_zeros(())
count = 0
for t in range(1, tgt.size(1)):
    target_t = tgt[:, t]
    total_loss = total_loss + F.cross_entropy(logits[:, t], target_t, ignore_index=PAD, reduction="sum",
                                              label_smoothing=label_smoothing)
    count += int((target_t != PAD).sum())
return total_loss / count
'''},
    {"sequence_loss": '''
shifted_logits, shifted_tgt = logits[:, 1:], tgt[:, 1:]
lp = F.log_softmax(shifted_logits, dim=-1).reshape(-1, shifted_logits.size(-1))
y = shifted_tgt.reshape(-1)
nll = F.nll_loss(lp, y, ignore_index=PAD)
if label_smoothing == 0:
    return nll
uniform = -(lp.mean(-1)[y != PAD]).mean()
return (1 - label_smoothing) * nll + label_smoothing * uniform
'''},
    {"sequence_loss": '''
vocab = logits.size(-1)
targets = tgt[:, 1:]
one_hot = F.one_hot(targets, vocab).to(logits.dtype)
soft = one_hot * (1 - label_smoothing) + label_smoothing / vocab
token_loss = -(soft * F.log_softmax(logits[:, 1:], dim=-1)).sum(-1)
weight = (targets != PAD).to(token_loss.dtype)
return (token_loss * weight).sum() / weight.sum()
'''},
]

Q23 = [
    {"train_epoch": '''
if device is None:
    device = next(model.parameters()).device
model.train()
loss_sum, token_count = 0.0, 0
iterator = tqdm(loader, disable=not progress)
for step, batch in enumerate(iterator, 1):
    batch = batch.to(device)
    logits, _ = model(batch.src, batch.src_lengths, batch.tgt, teacher_forcing_ratio)
    loss = sequence_loss(logits, batch.tgt, label_smoothing)
    value = loss.item()
    if history is not None:
        history.log_step(value)
    if math.isnan(value) or math.isinf(value):
        raise FloatingPointError(f"loss is {value} at step {step}")
    optimizer.zero_grad()
    loss.backward()
    if clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    n = (batch.tgt[:, 1:] != PAD).sum().item()
    loss_sum += value * n
    token_count += n
    iterator.set_postfix(loss=loss_sum / token_count)
return loss_sum / token_count
'''},
    {"train_epoch": '''
target_device = torch.device(device) if device is not None else next(iter(model.parameters())).device
model.train()
weighted = []
counts = []
batches = tqdm(loader, desc="epoch") if progress else loader
for i, batch in enumerate(batches):
    src, src_lengths, tgt = batch.to(target_device)
    output, _attn = model(src, src_lengths, tgt, teacher_forcing_ratio)
    batch_loss = sequence_loss(output, tgt, label_smoothing=label_smoothing)
    scalar = float(batch_loss.detach())
    if history:
        history.log_step(scalar)
    if not math.isfinite(scalar):
        raise FloatingPointError("non-finite loss %r at step %d" % (scalar, i + 1))
    optimizer.zero_grad(set_to_none=True)
    batch_loss.backward()
    if clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=clip)
    optimizer.step()
    tokens = int(tgt[:, 1:].ne(PAD).sum())
    weighted.append(scalar * tokens)
    counts.append(tokens)
return sum(weighted) / sum(counts)
'''},
    {"train_epoch": '''
dev = torch.device(device) if device else next(model.parameters()).device
model.train(True)
numerator = 0.0
denominator = 0
for step_no, batch in enumerate(tqdm(loader, disable=not progress, leave=False)):
    batch = batch.to(dev)
    logits, _ = model(batch.src, batch.src_lengths, batch.tgt, teacher_forcing_ratio)
    loss = sequence_loss(logits, batch.tgt, label_smoothing)
    loss_value = loss.item()
    if history is not None:
        history.log_step(loss_value)
    if loss_value != loss_value or abs(loss_value) == float("inf"):
        raise FloatingPointError(f"step {step_no + 1}: loss became {loss_value}")
    optimizer.zero_grad()
    loss.backward()
    if clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    real = (batch.tgt[:, 1:] != PAD).sum().item()
    numerator += loss_value * real
    denominator += real
return numerator / max(denominator, 1)
'''},
    {"+": '''
def _count_tokens(tgt):
    return int((tgt[:, 1:] != PAD).sum())


def _update(model, optimizer, loss, clip):
    optimizer.zero_grad()
    loss.backward()
    if clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
''', "train_epoch": '''
if device is None:
    device = next(model.parameters()).device
model.train()
stats = {"loss": 0.0, "tokens": 0}
for number, batch in enumerate(tqdm(loader, disable=not progress), start=1):
    batch = batch.to(device)
    logits = model(batch.src, batch.src_lengths, batch.tgt, teacher_forcing_ratio)[0]
    loss = sequence_loss(logits, batch.tgt, label_smoothing)
    if history is not None:
        history.log_step(loss.item())
    if not torch.isfinite(loss):
        raise FloatingPointError(f"loss {loss.item()} at step {number}")
    _update(model, optimizer, loss, clip)
    n_tok = _count_tokens(batch.tgt)
    stats["loss"] += loss.item() * n_tok
    stats["tokens"] += n_tok
return stats["loss"] / stats["tokens"]
'''},
    {"train_epoch": '''
params = list(model.parameters())
where = params[0].device if device is None else torch.device(device)
model.train()
total_loss = torch.zeros((), dtype=torch.float64)
total_tokens = 0
step = 0
loop = tqdm(loader, leave=False) if progress else loader
for batch in loop:
    step += 1
    batch = batch.to(where)
    logits, attention = model(batch.src, batch.src_lengths, batch.tgt, teacher_forcing_ratio)
    loss = sequence_loss(logits, batch.tgt, label_smoothing)
    current = loss.item()
    if history is not None:
        history.log_step(current)
    if not math.isfinite(current):
        raise FloatingPointError(f"diverged: loss={current} at step {step}")
    optimizer.zero_grad()
    loss.backward()
    if clip is not None:
        torch.nn.utils.clip_grad_norm_(params, clip)
    optimizer.step()
    mask = batch.tgt[:, 1:] != PAD
    total_loss += current * mask.sum().item()
    total_tokens += mask.sum().item()
    if progress:
        loop.set_description(f"loss {total_loss.item() / total_tokens:.3f}")
return float(total_loss / total_tokens)
'''},
    {"train_epoch": '''
device = device if device is not None else next(model.parameters()).device
model.train()
it = iter(loader)
losses, sizes = [], []
index = 0
bar = tqdm(disable=not progress)
while True:
    try:
        batch = next(it)
    except StopIteration:
        break
    index += 1
    batch = batch.to(device)
    logits, _ = model(batch.src, batch.src_lengths, batch.tgt, teacher_forcing_ratio)
    loss = sequence_loss(logits, batch.tgt, label_smoothing)
    value = loss.item()
    if history is not None:
        history.log_step(value)
    if math.isinf(value) or math.isnan(value):
        raise FloatingPointError("loss of step %d is %s" % (index, value))
    optimizer.zero_grad()
    loss.backward()
    if clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    losses.append(value)
    sizes.append((batch.tgt[:, 1:] != PAD).sum().item())
    bar.update(1)
bar.close()
return sum(l * s for l, s in zip(losses, sizes)) / sum(sizes)  # noqa: E741
'''},
    {"+": "import numpy as np\n", "train_epoch": '''
if device is None:
    device = next(model.parameters()).device
model.train()
per_batch, weights = [], []
for k, batch in enumerate(tqdm(loader, disable=not progress, desc="training")):
    batch = batch.to(device)
    out, _ = model(batch.src, batch.src_lengths, batch.tgt, teacher_forcing_ratio)
    l = sequence_loss(out, batch.tgt, label_smoothing)  # noqa: E741
    if history is not None:
        history.log_step(l.item())
    if not np.isfinite(l.item()):
        raise FloatingPointError(f"NaN/inf loss ({l.item()}) at step {k + 1}")
    optimizer.zero_grad()
    l.backward()
    if clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    per_batch.append(l.item())
    weights.append(int(batch.tgt[:, 1:].ne(PAD).sum()))
return float(np.average(per_batch, weights=weights))
'''},
    {"train_epoch": '''
dev = next(model.parameters()).device if device is None else torch.device(device)
model.train()

def run_batch(batch, number):
    batch = batch.to(dev)
    logits, _ = model(batch.src, batch.src_lengths, batch.tgt, teacher_forcing_ratio)
    loss = sequence_loss(logits, batch.tgt, label_smoothing)
    if history is not None:
        history.log_step(loss.item())
    if torch.isnan(loss) or torch.isinf(loss):
        raise FloatingPointError(f"step {number}: loss {loss.item()}")
    optimizer.zero_grad()
    loss.backward()
    if clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), clip)
    optimizer.step()
    return loss.item(), int((batch.tgt[:, 1:] != PAD).sum())

results = [run_batch(b, i) for i, b in enumerate(tqdm(loader, disable=not progress), start=1)]
tokens = sum(n for _, n in results)
return sum(v * n for v, n in results) / tokens
'''},
]

Q26 = [
    {"corpus_bleu": '''
clipped = [0] * max_n
possible = [0] * max_n
c = r = 0
for hyp, ref in zip(hypotheses, references):
    c += len(hyp)
    r += len(ref)
    for n in range(1, max_n + 1):
        h, rf = ngrams(hyp, n), ngrams(ref, n)
        clipped[n - 1] += sum((h & rf).values())
        possible[n - 1] += sum(h.values())
if c == 0 or 0 in clipped:
    return 0.0
geo = math.exp(sum(math.log(clipped[i] / possible[i]) for i in range(max_n)) / max_n)
bp = 1.0 if c > r else math.exp(1 - r / c)
return 100.0 * bp * geo
'''},
    {"+": '''
def _grams(words, n):
    table = {}
    for i in range(len(words) - n + 1):
        g = tuple(words[i:i + n])
        table[g] = table.get(g, 0) + 1
    return table
''', "corpus_bleu": '''
hits = {n: 0 for n in range(1, max_n + 1)}
totals = {n: 0 for n in range(1, max_n + 1)}
hyp_length = sum(len(h) for h in hypotheses)
ref_length = sum(len(r) for r in references)
for h, r in zip(hypotheses, references):
    for n in hits:
        hg, rg = _grams(h, n), _grams(r, n)
        for g, cnt in hg.items():
            hits[n] += min(cnt, rg.get(g, 0))
        totals[n] += sum(hg.values())
if hyp_length == 0 or any(hits[n] == 0 for n in hits):
    return 0.0
log_p = [math.log(hits[n]) - math.log(totals[n]) for n in hits]
penalty = math.exp(min(0.0, 1 - ref_length / hyp_length))
return 100 * penalty * math.exp(sum(log_p) / max_n)
'''},
    {"+": "import numpy as np\n", "corpus_bleu": '''
matched = np.zeros(max_n)
counted = np.zeros(max_n)
hyp_tokens = ref_tokens = 0
for hyp, ref in zip(hypotheses, references):
    hyp_tokens += len(hyp)
    ref_tokens += len(ref)
    for order in range(max_n):
        hyp_counts = Counter(tuple(hyp[i:i + order + 1]) for i in range(len(hyp) - order))
        ref_counts = Counter(tuple(ref[i:i + order + 1]) for i in range(len(ref) - order))
        matched[order] += sum(min(v, ref_counts[k]) for k, v in hyp_counts.items())
        counted[order] += max(0, len(hyp) - order)
if hyp_tokens == 0 or (matched == 0).any():
    return 0.0
precision = matched / counted
brevity = 1.0 if hyp_tokens > ref_tokens else np.exp(1.0 - ref_tokens / hyp_tokens)
return float(100 * brevity * np.exp(np.log(precision).mean()))
'''},
    {"corpus_bleu": '''
num = [0 for _ in range(max_n)]
den = [0 for _ in range(max_n)]
sys_len = 0
ref_len = 0
for k in range(len(hypotheses)):
    hyp, ref = hypotheses[k], references[k]
    sys_len += len(hyp)
    ref_len += len(ref)
    for n in range(1, max_n + 1):
        ref_ngrams = ngrams(ref, n)
        for gram, count in ngrams(hyp, n).items():
            num[n - 1] += min(count, ref_ngrams.get(gram, 0))
            den[n - 1] += count
if sys_len == 0:
    return 0.0
product = 1.0
for n in range(max_n):
    if num[n] == 0:
        return 0.0
    product *= num[n] / den[n]
bp = math.exp(1 - ref_len / sys_len) if sys_len <= ref_len else 1.0
return 100 * bp * product ** (1 / max_n)
'''},
    {"+": '''
def _precision_counts(pairs, n):
    match = total = 0
    for hyp, ref in pairs:
        h = Counter(zip(*[hyp[i:] for i in range(n)]))
        r = Counter(zip(*[ref[i:] for i in range(n)]))
        match += sum(min(c, r[g]) for g, c in h.items())
        total += sum(h.values())
    return match, total
''', "corpus_bleu": '''
pairs = list(zip(hypotheses, references))
stats = [_precision_counts(pairs, n) for n in range(1, max_n + 1)]
length_h = sum(len(h) for h, _ in pairs)
length_r = sum(len(r) for _, r in pairs)
if length_h == 0 or any(m == 0 for m, _ in stats):
    return 0.0
mean_log = sum(math.log(m / t) for m, t in stats) / max_n
brevity_penalty = 1 if length_h > length_r else math.exp(1 - length_r / length_h)
return 100 * brevity_penalty * math.exp(mean_log)
'''},
    {"corpus_bleu": '''
def clipped(hyp, ref, n):
    h, r = ngrams(hyp, n), ngrams(ref, n)
    return sum(min(h[g], r[g]) for g in h)

orders = range(1, max_n + 1)
matches = [sum(clipped(h, r, n) for h, r in zip(hypotheses, references)) for n in orders]
totals = [sum(max(0, len(h) - n + 1) for h in hypotheses) for n in orders]
c = sum(map(len, hypotheses))
r = sum(map(len, references))
if c == 0 or not all(matches):
    return 0.0
score = math.exp(math.fsum(math.log(m) - math.log(t) for m, t in zip(matches, totals)) / max_n)
return 100 * score * (1.0 if c > r else math.exp(1 - r / c))
'''},
    {"corpus_bleu": '''
stats = []
for n in range(1, max_n + 1):
    correct = 0
    proposed = 0
    for hyp, ref in zip(hypotheses, references):
        if len(hyp) < n:
            continue
        ref_counts = Counter(tuple(ref[i:i + n]) for i in range(len(ref) - n + 1))
        for gram, count in Counter(tuple(hyp[i:i + n]) for i in range(len(hyp) - n + 1)).items():
            correct += min(count, ref_counts[gram])
        proposed += len(hyp) - n + 1
    if correct == 0:
        return 0.0
    stats.append(math.log(correct / proposed))
hyp_len = sum(len(h) for h in hypotheses)
ref_len = sum(len(r) for r in references)
log_bp = 0.0 if hyp_len > ref_len else 1 - ref_len / hyp_len
return 100 * math.exp(log_bp + sum(stats) / len(stats))
'''},
    {"+": "from collections import defaultdict\n", "corpus_bleu": '''
numerators = defaultdict(int)
denominators = defaultdict(int)
total_hyp = total_ref = 0
for hyp, ref in zip(hypotheses, references):
    total_hyp += len(hyp)
    total_ref += len(ref)
    for n in range(1, max_n + 1):
        counts_h = ngrams(hyp, n)
        counts_r = ngrams(ref, n)
        overlap = counts_h & counts_r
        numerators[n] += sum(overlap.values())
        denominators[n] += max(len(hyp) - n + 1, 0)
if total_hyp == 0:
    return 0.0
if min(numerators[n] for n in range(1, max_n + 1)) == 0:
    return 0.0
log_avg = sum(math.log(numerators[n] / denominators[n]) for n in range(1, max_n + 1)) / max_n
bp = math.exp(1 - total_ref / total_hyp) if total_hyp <= total_ref else 1.0
return 100 * bp * math.exp(log_avg)
'''},
]

VARIANTS = {"Q21": Q21, "Q23": Q23, "Q26": Q26}
