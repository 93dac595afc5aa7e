"""Independent answers to Q8 (collate_batch, BucketBatchSampler.__iter__); see the package docstring."""

Q8 = [
    {"collate_batch": '''
pairs = list(items)
if sort_by_length:
    pairs.sort(key=lambda p: len(p[0]), reverse=True)
srcs, tgts = zip(*pairs)
lengths = torch.tensor([s.size(0) for s in srcs], dtype=torch.long)
return Batch(pad_sequence(list(srcs), batch_first=True, padding_value=PAD), lengths,
             pad_sequence(list(tgts), batch_first=True, padding_value=PAD))
''', "BucketBatchSampler.__iter__": '''
rng = random.Random(f"{self.seed}:{self.epoch}")
order = list(range(len(self.lengths)))
if self.shuffle:
    rng.shuffle(order)
if self.bucket:
    order = sorted(order, key=lambda i: self.lengths[i])
chunks = []
for start in range(0, len(order), self.batch_size):
    chunks.append(order[start:start + self.batch_size])
if self.shuffle:
    rng.shuffle(chunks)
self.epoch += 1
for chunk in chunks:
    yield chunk
'''},
    {"collate_batch": '''
order = list(range(len(items)))
if sort_by_length:
    order = sorted(order, key=lambda i: -len(items[i][0]))
max_src = max(len(items[i][0]) for i in order)
max_tgt = max(len(items[i][1]) for i in order)
src = torch.full((len(order), max_src), PAD, dtype=torch.long)
tgt = torch.full((len(order), max_tgt), PAD, dtype=torch.long)
lengths = torch.zeros(len(order), dtype=torch.long)
for row, i in enumerate(order):
    s, t = items[i]
    src[row, :len(s)] = s
    tgt[row, :len(t)] = t
    lengths[row] = len(s)
return Batch(src, lengths, tgt)
''', "BucketBatchSampler.__iter__": '''
generator = random.Random("%s:%s" % (self.seed, self.epoch))
self.epoch += 1
idx = list(range(len(self.lengths)))
if self.shuffle:
    generator.shuffle(idx)
if self.bucket:
    idx.sort(key=self.lengths.__getitem__)
batches = [idx[k:k + self.batch_size] for k in range(0, len(idx), self.batch_size)]
if self.shuffle:
    generator.shuffle(batches)
yield from batches
'''},
    {"+": '''
def _pad(seqs):
    width = max(int(x.numel()) for x in seqs)
    return torch.stack([torch.cat([x, x.new_full((width - x.numel(),), PAD)]) for x in seqs])
''', "collate_batch": '''
batch = sorted(items, key=lambda it: len(it[0]), reverse=True) if sort_by_length else list(items)
return Batch(_pad([b[0] for b in batch]), torch.tensor([b[0].numel() for b in batch]), _pad([b[1] for b in batch]))
''', "BucketBatchSampler.__iter__": '''
r = random.Random(str(self.seed) + ":" + str(self.epoch))
pool = [*range(len(self.lengths))]
if self.shuffle:
    r.shuffle(pool)
if self.bucket:
    pool = sorted(pool, key=lambda j: self.lengths[j])
groups = []
while pool:
    groups.append(pool[:self.batch_size])
    pool = pool[self.batch_size:]
if self.shuffle:
    r.shuffle(groups)
self.epoch = self.epoch + 1
while groups:
    yield groups.pop(0)
'''},
    {"+": "import torch.nn.functional as F\n", "collate_batch": '''
if sort_by_length:
    items = [items[i] for i in sorted(range(len(items)), key=lambda i: len(items[i][0]), reverse=True)]
src_len = max(len(s) for s, _ in items)
tgt_len = max(len(t) for _, t in items)
src = torch.stack([F.pad(s, (0, src_len - len(s)), value=PAD) for s, _ in items])
tgt = torch.stack([F.pad(t, (0, tgt_len - len(t)), value=PAD) for _, t in items])
lens = torch.LongTensor([len(s) for s, _ in items])
return Batch(src=src, src_lengths=lens, tgt=tgt)
''', "BucketBatchSampler.__iter__": '''
n = len(self.lengths)
rand = random.Random(f"{self.seed}:{self.epoch}")
perm = list(range(n))
if self.shuffle:
    rand.shuffle(perm)
if self.bucket:
    perm.sort(key=lambda item: self.lengths[item])
n_batches = math.ceil(n / self.batch_size)
batch_list = [perm[b * self.batch_size:(b + 1) * self.batch_size] for b in range(n_batches)]
if self.shuffle:
    rand.shuffle(batch_list)
self.epoch += 1
yield from batch_list
'''},
    {"collate_batch": '''
sources = []
targets = []
lengths = []
for source, target in items:
    sources.append(source)
    targets.append(target)
    lengths.append(len(source))
if sort_by_length:
    perm = sorted(range(len(lengths)), key=lambda k: lengths[k], reverse=True)
    sources = [sources[k] for k in perm]
    targets = [targets[k] for k in perm]
    lengths = [lengths[k] for k in perm]
padded_src = torch.nn.utils.rnn.pad_sequence(sources, batch_first=True, padding_value=PAD)
padded_tgt = torch.nn.utils.rnn.pad_sequence(targets, batch_first=True, padding_value=PAD)
return Batch(padded_src, torch.tensor(lengths, dtype=torch.long), padded_tgt)
''', "BucketBatchSampler.__iter__": '''
seed_text = "{}:{}".format(self.seed, self.epoch)
rng = random.Random(seed_text)
everything = list(range(len(self.lengths)))
if self.shuffle:
    rng.shuffle(everything)
if self.bucket:
    everything = [i for _, i in sorted(enumerate(everything), key=lambda e: (self.lengths[e[1]], e[0]))]
size = self.batch_size
out = []
current = []
for i in everything:
    current.append(i)
    if len(current) == size:
        out.append(current)
        current = []
if current:
    out.append(current)
if self.shuffle:
    rng.shuffle(out)
self.epoch += 1
for b in out:
    yield b
'''},
    {"collate_batch": '''
src_lengths = torch.tensor([len(pair[0]) for pair in items], dtype=torch.long)
src = pad_sequence([pair[0] for pair in items], batch_first=True, padding_value=PAD)
tgt = pad_sequence([pair[1] for pair in items], batch_first=True, padding_value=PAD)
if sort_by_length:
    order = torch.argsort(-src_lengths, stable=True)
    src, tgt, src_lengths = src[order], tgt[order], src_lengths[order]
return Batch(src, src_lengths, tgt)
''', "BucketBatchSampler.__iter__": '''
rnd = random.Random(f"{self.seed}:{self.epoch}")
self.epoch += 1
ids = list(range(len(self.lengths)))
if self.shuffle:
    rnd.shuffle(ids)
ids = sorted(ids, key=lambda x: self.lengths[x]) if self.bucket else ids
batches = list(map(list, itertools.batched(ids, self.batch_size))) if hasattr(itertools, "batched") else [
    ids[i:i + self.batch_size] for i in range(0, len(ids), self.batch_size)]
if self.shuffle:
    rnd.shuffle(batches)
yield from batches
''', "+": "import itertools\n"},
    {"collate_batch": '''
n = len(items)
longest = [0, 0]
for s, t in items:
    longest[0] = max(longest[0], s.shape[0])
    longest[1] = max(longest[1], t.shape[0])
ranking = list(range(n))
if sort_by_length:
    ranking.sort(key=lambda j: items[j][0].shape[0], reverse=True)
src = torch.empty(n, longest[0], dtype=torch.long).fill_(PAD)
tgt = torch.empty(n, longest[1], dtype=torch.long).fill_(PAD)
src_lengths = torch.empty(n, dtype=torch.long)
for slot, j in enumerate(ranking):
    s, t = items[j]
    src[slot].narrow(0, 0, s.shape[0]).copy_(s)
    tgt[slot].narrow(0, 0, t.shape[0]).copy_(t)
    src_lengths[slot] = s.shape[0]
return Batch(src, src_lengths, tgt)
''', "BucketBatchSampler.__iter__": '''
state = random.Random(f"{self.seed}:{self.epoch}")
self.epoch += 1
positions = list(range(len(self.lengths)))
if self.shuffle:
    state.shuffle(positions)
if self.bucket:
    positions.sort(key=self.lengths.__getitem__)
starts = range(0, len(positions), self.batch_size)
result = [positions[s:s + self.batch_size] for s in starts]
if self.shuffle:
    state.shuffle(result)
yield from iter(result)
'''},
    {"collate_batch": '''
columns = {"src": [], "tgt": []}
for s, t in (sorted(items, key=lambda x: -x[0].size(0)) if sort_by_length else items):
    columns["src"].append(s)
    columns["tgt"].append(t)
padded = {k: pad_sequence(v, batch_first=True, padding_value=PAD) for k, v in columns.items()}
lengths = torch.as_tensor([s.size(0) for s in columns["src"]], dtype=torch.long)
return Batch(padded["src"], lengths, padded["tgt"])
''', "BucketBatchSampler.__iter__": '''
epoch_rng = random.Random(":".join([str(self.seed), str(self.epoch)]))
self.epoch += 1
indices = list(range(len(self.lengths)))
if self.shuffle:
    epoch_rng.shuffle(indices)
if self.bucket:
    indices = sorted(indices, key=lambda position: self.lengths[position])
all_batches = []
i = 0
while i < len(indices):
    all_batches.append(indices[i:i + self.batch_size])
    i += self.batch_size
if self.shuffle:
    epoch_rng.shuffle(all_batches)
yield from all_batches
'''},
]

VARIANTS = {"Q8": Q8}
