"""Independent answers to Q5 (read_tsv, split_pairs) and Q7 (Vocab.build, Vocab.decode); see the package
docstring."""

Q5 = [
    {"read_tsv": '''
pairs, skipped = [], []
for lineno, line in enumerate(read_lines(path), 1):
    parts = line.split("\\t")
    if len(parts) < 2:
        problem = "no tab"
    elif not parts[0].strip() or not parts[1].strip():
        problem = "empty side"
    else:
        pairs.append((parts[0].strip(), parts[1].strip()))
        continue
    if strict:
        raise DataError(f"{path}:{lineno}: {problem}")
    skipped.append((lineno, problem))
if not pairs:
    raise DataError(f"{path}: nothing could be read")
return pairs, skipped
''', "split_pairs": '''
if any(f < 0 for f in fractions) or abs(sum(fractions) - 1.0) > 1e-6:
    raise ValueError("bad fractions")
data = list(pairs)
random.Random(seed).shuffle(data)
n_valid = int(len(pairs) * fractions[1])
n_test = int(len(pairs) * fractions[2])
valid = data[:n_valid]
test = data[n_valid:n_valid + n_test]
train = data[n_valid + n_test:]
return train, valid, test
'''},
    {"+": '''
def _parse_line(line):
    """Return (pair, None) for a good line, (None, reason) for a bad one."""
    if "\\t" not in line:
        return None, "no tab"
    source, target = line.split("\\t")[:2]
    source, target = source.strip(), target.strip()
    if source == "" or target == "":
        return None, "empty side"
    return (source, target), None
''', "read_tsv": '''
good = []
bad = []
lines = read_lines(path)
for i in range(len(lines)):
    pair, why = _parse_line(lines[i])
    if pair is not None:
        good.append(pair)
        continue
    if strict:
        raise DataError("%s:%d: %s" % (path, i + 1, why))
    bad.append((i + 1, why))
if len(good) == 0:
    raise DataError("%s: the corpus is empty" % path)
return good, bad
''', "split_pairs": '''
train_f, valid_f, test_f = fractions
for f in (train_f, valid_f, test_f):
    if f < 0:
        raise ValueError("negative fraction")
if not math.isclose(train_f + valid_f + test_f, 1.0, abs_tol=1e-6):
    raise ValueError("fractions must sum to 1")
order = list(range(len(pairs)))
random.Random(seed).shuffle(order)
nv = int(len(pairs) * valid_f)
nt = int(len(pairs) * test_f)
valid_idx, test_idx, train_idx = order[:nv], order[nv:nv + nt], order[nv + nt:]
pick = lambda idx: [pairs[j] for j in idx]  # noqa: E731
return pick(train_idx), pick(valid_idx), pick(test_idx)
'''},
    {"read_tsv": '''
lines = read_lines(path)
result = []
errors = []
n = 0
while n < len(lines):
    text = lines[n]
    n += 1
    fields = [f.strip() for f in text.split("\\t")]
    if len(fields) == 1:
        reason = "no tab"
    elif min(len(fields[0]), len(fields[1])) == 0:
        reason = "empty side"
    else:
        result.append((fields[0], fields[1]))
        continue
    if strict:
        raise DataError(str(path) + ":" + str(n) + ": " + reason + " in line " + repr(text))
    errors += [(n, reason)]
if not result:
    raise DataError(str(path) + ": no valid pairs")
return result, errors
''', "split_pairs": '''
total = sum(fractions)
if min(fractions) < 0 or not (1 - 1e-6 <= total <= 1 + 1e-6):
    raise ValueError(f"invalid split fractions {fractions}")
generator = random.Random(seed)
items = [p for p in pairs]
generator.shuffle(items)
size = len(items)
cut1 = int(size * fractions[1])
cut2 = cut1 + int(size * fractions[2])
return items[cut2:], items[:cut1], items[cut1:cut2]
'''},
    {"read_tsv": '''
numbered = list(enumerate(read_lines(path), start=1))

def check(line):
    cols = line.split("\\t")
    if len(cols) < 2:
        return "no tab"
    if not (cols[0].strip() and cols[1].strip()):
        return "empty side"
    return None

problems = [(num, check(line)) for num, line in numbered if check(line)]
if strict and problems:
    num, why = problems[0]
    raise DataError(f"{path}:{num}: malformed line ({why})")
pairs = [tuple(c.strip() for c in line.split("\\t")[:2]) for _, line in numbered if not check(line)]
if not pairs:
    raise DataError(f"{path}: no line could be read")
return pairs, ([] if strict else problems)
''', "split_pairs": '''
valid_frac, test_frac = fractions[1], fractions[2]
if any(x < 0 for x in fractions) or abs(fractions[0] + valid_frac + test_frac - 1) > 1e-6:
    raise ValueError("fractions must be >= 0 and sum to 1")
shuffled = list(pairs)
rng = random.Random(seed)
rng.shuffle(shuffled)
boundaries = [int(len(shuffled) * valid_frac)]
boundaries.append(boundaries[0] + int(len(shuffled) * test_frac))
valid, test, train = shuffled[:boundaries[0]], shuffled[boundaries[0]:boundaries[1]], shuffled[boundaries[1]:]
return train, valid, test
'''},
    {"read_tsv": '''
out_pairs = []
out_skipped = []
for index, raw in enumerate(read_lines(path)):
    line_no = index + 1
    try:
        left, right = raw.split("\\t", 2)[:2]
    except ValueError:
        if strict:
            raise DataError(f"{path}:{line_no}: no tab") from None
        out_skipped.append((line_no, "no tab"))
        continue
    left = left.strip()
    right = right.strip()
    if left and right:
        out_pairs.append((left, right))
    elif strict:
        raise DataError(f"{path}:{line_no}: empty side")
    else:
        out_skipped.append((line_no, "empty side"))
if out_pairs:
    return out_pairs, out_skipped
raise DataError(f"{path}: no usable pairs")
''', "split_pairs": '''
bad = [f for f in fractions if f < 0]
if bad:
    raise ValueError(f"negative fractions: {bad}")
if abs(1 - sum(fractions)) > 1e-6:
    raise ValueError(f"fractions sum to {sum(fractions)}, not 1")
copy = list(pairs)
random.Random(seed).shuffle(copy)
n = len(copy)
sizes = {"valid": int(n * fractions[1]), "test": int(n * fractions[2])}
valid = copy[0:sizes["valid"]]
test = copy[sizes["valid"]:sizes["valid"] + sizes["test"]]
train = copy[sizes["valid"] + sizes["test"]:n]
return (train, valid, test)
'''},
    {"+": '''
def _records(lines):
    for number, line in enumerate(lines, 1):
        head, sep, rest = line.partition("\\t")
        if not sep:
            yield number, None, "no tab"
            continue
        tail = rest.split("\\t")[0]
        src, tgt = head.strip(), tail.strip()
        yield (number, (src, tgt), None) if src and tgt else (number, None, "empty side")
''', "read_tsv": '''
kept, dropped = [], []
for number, pair, reason in _records(read_lines(path)):
    if pair:
        kept.append(pair)
    elif strict:
        raise DataError(f"{path}:{number}: {reason}")
    else:
        dropped.append((number, reason))
if not kept:
    raise DataError(f"{path}: empty corpus after skipping {len(dropped)} lines")
return kept, dropped
''', "split_pairs": '''
tr, va, te = fractions
if tr < 0 or va < 0 or te < 0:
    raise ValueError("fractions cannot be negative")
if abs(tr + va + te - 1) > 1e-6:
    raise ValueError("fractions must add up to one")
rand = random.Random(seed)
perm = list(pairs)
rand.shuffle(perm)
a = int(va * len(perm))
b = a + int(te * len(perm))
return perm[b:], perm[:a], perm[a:b]
'''},
    {"read_tsv": '''
pairs_found = []
malformed = []
for k, line in enumerate(read_lines(path), start=1):
    if "\\t" not in line:
        kind = "no tab"
    else:
        fields = line.split("\\t")
        pair = (fields[0].strip(), fields[1].strip())
        if all(pair):
            pairs_found.append(pair)
            continue
        kind = "empty side"
    if strict:
        raise DataError("{}:{}: {}".format(path, k, kind))
    malformed.append((k, kind))
if len(pairs_found) < 1:
    raise DataError("{}: no pair".format(path))
return pairs_found, malformed
''', "split_pairs": '''
if sum(1 for f in fractions if f < 0) or abs(sum(fractions) - 1) > 1e-6:
    raise ValueError("fractions")
indices = list(range(len(pairs)))
random.Random(seed).shuffle(indices)
n_val = int(len(pairs) * fractions[1])
n_tst = int(len(pairs) * fractions[2])
split = {"valid": [], "test": [], "train": []}
for pos, i in enumerate(indices):
    name = "valid" if pos < n_val else "test" if pos < n_val + n_tst else "train"
    split[name].append(pairs[i])
return split["train"], split["valid"], split["test"]
'''},
    {"read_tsv": '''
lines = read_lines(path)
parsed = [line.split("\\t") for line in lines]
pairs = []
skipped = []
for number, cells in zip(range(1, len(lines) + 1), parsed):
    reason = None
    if len(cells) >= 2:
        s, t = map(str.strip, cells[:2])
        if s and t:
            pairs.append((s, t))
        else:
            reason = "empty side"
    else:
        reason = "no tab"
    if reason is None:
        continue
    if strict:
        raise DataError(f"{path}:{number}: {reason}: {lines[number - 1]!r}")
    skipped.append((number, reason))
if not pairs:
    raise DataError(f"{path}: no pairs read")
return pairs, skipped
''', "split_pairs": '''
if len(fractions) != 3:
    raise ValueError("three fractions please")
for value in fractions:
    if value < 0:
        raise ValueError(f"fraction {value} < 0")
if not abs(sum(fractions) - 1) <= 1e-6:
    raise ValueError("fractions do not sum to 1")
pool = list(pairs)
random.Random(seed).shuffle(pool)
first = int(len(pairs) * fractions[1])
second = int(len(pairs) * fractions[2])
test_part = pool[first:first + second]
valid_part = pool[:first]
return pool[first + second:], valid_part, test_part
'''},
]

Q7 = [
    {"Vocab.build": '''
counter = Counter()
for sentence in sentences:
    counter.update(sentence)
for tok in SPECIALS:
    if tok in counter:
        del counter[tok]
words = sorted(counter, key=lambda w: (-counter[w], w))
words = [w for w in words if counter[w] >= min_freq]
if max_size is not None:
    words = words[:max_size]
return cls(list(SPECIALS) + words)
''', "Vocab.decode": '''
out = []
for i in ids:
    i = int(i)
    if strip_specials:
        if i == EOS:
            break
        if i == PAD or i == SOS:
            continue
    out.append(self.id_to_token(i))
return out
'''},
    {"Vocab.build": '''
freq = {}
for sent in sentences:
    for w in sent:
        if w not in SPECIALS:
            freq[w] = freq.get(w, 0) + 1
items = [(w, c) for w, c in freq.items() if c >= min_freq]
items.sort(key=lambda wc: wc[0])
items.sort(key=lambda wc: wc[1], reverse=True)  # stable: ties stay alphabetical
vocab_words = [w for w, _ in items]
if max_size is not None and len(vocab_words) > max_size:
    vocab_words = vocab_words[:max_size]
return cls([*SPECIALS, *vocab_words])
''', "Vocab.decode": '''
seq = [int(x) for x in ids]
result = []
k = 0
while k < len(seq):
    idx = seq[k]
    k += 1
    if strip_specials and idx == EOS:
        break
    if strip_specials and idx in (PAD, SOS):
        continue
    result.append(self.id_to_token(idx))
return result
'''},
    {"+": "import itertools\n", "Vocab.build": '''
c = Counter(itertools.chain.from_iterable(sentences))
special_set = set(SPECIALS)
ranked = sorted(((n, t) for t, n in c.items() if t not in special_set and n >= min_freq),
                key=lambda p: (-p[0], p[1]))
chosen = [t for _, t in ranked][:max_size] if max_size is not None else [t for _, t in ranked]
return cls(list(SPECIALS) + chosen)
''', "Vocab.decode": '''
ints = list(map(int, ids))
if not strip_specials:
    return [self.id_to_token(i) for i in ints]
if EOS in ints:
    ints = ints[:ints.index(EOS)]
return [self.id_to_token(i) for i in ints if i not in (PAD, SOS)]
'''},
    {"Vocab.build": '''
counts = Counter(tok for s in sentences for tok in s if tok not in SPECIALS)
eligible = {tok: n for tok, n in counts.items() if n >= min_freq}
order = sorted(eligible.items(), key=lambda kv: (-kv[1], kv[0]))
if max_size is not None:
    order = order[:max_size]
return cls(list(SPECIALS) + [tok for tok, _ in order])
''', "Vocab.decode": '''
tokens = []
for value in ids:
    value = int(value)
    if not strip_specials:
        tokens.append(self.id_to_token(value))
        continue
    if value == EOS:
        break
    if value not in {PAD, SOS}:
        tokens.append(self.id_to_token(value))
return tokens
'''},
    {"+": '''
import itertools
from collections import defaultdict


def _rank(counts, min_freq, max_size):
    survivors = [w for w in counts if counts[w] >= min_freq]
    survivors.sort()
    survivors.sort(key=counts.__getitem__, reverse=True)
    return survivors if max_size is None else survivors[:max_size]
''', "Vocab.build": '''
table = defaultdict(int)
for line in sentences:
    for token in line:
        table[token] += 1
for sp in SPECIALS:
    table.pop(sp, None)
return cls(list(SPECIALS) + _rank(table, min_freq, max_size))
''', "Vocab.decode": '''
stream = (int(t) for t in ids)
if strip_specials:
    stream = itertools.takewhile(lambda t: t != EOS, stream)
    return [self.id_to_token(t) for t in stream if t != PAD and t != SOS]
return [self.id_to_token(t) for t in stream]
'''},
    {"Vocab.build": '''
totals = Counter()
for tokens in sentences:
    totals.update(t for t in tokens if t not in SPECIALS)
kept = []
for token, count in sorted(totals.items(), key=lambda pair: (-pair[1], pair[0])):
    if count < min_freq:
        continue
    if max_size is not None and len(kept) >= max_size:
        break
    kept.append(token)
return cls(list(SPECIALS) + kept)
''', "Vocab.decode": '''
words = []
for position, raw in enumerate(ids):
    index = int(raw)
    if strip_specials and index == EOS:
        break
    elif strip_specials and (index == PAD or index == SOS):
        pass
    else:
        words.append(self.id_to_token(index))
return words
'''},
    {"+": "import heapq\n", "Vocab.build": '''
counter = Counter()
for s in sentences:
    counter += Counter(s)
usable = {w: c for w, c in counter.items() if c >= min_freq and w not in SPECIALS}
limit = len(usable) if max_size is None else max_size
best = heapq.nsmallest(limit, usable, key=lambda w: (-usable[w], w))
return cls(list(SPECIALS) + best)
''', "Vocab.decode": '''
ids = [int(i) for i in ids]
if strip_specials:
    cut = ids.index(EOS) if EOS in ids else len(ids)
    ids = [i for i in ids[:cut] if i not in (PAD, SOS)]
return list(map(self.id_to_token, ids))
'''},
]

VARIANTS = {"Q5": Q5, "Q7": Q7}
