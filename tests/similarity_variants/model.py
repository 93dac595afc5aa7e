"""Independent answers to Q12 (masked_softmax), Q13 (Attention.__init__, precompute, score) and Q16
(AttentionDecoder.step); see the package docstring."""

Q12 = [
    {"masked_softmax": '''
scores = scores.masked_fill(~mask, float("-inf"))
return torch.softmax(scores, dim=-1)
'''},
    {"masked_softmax": '''
return torch.where(mask, scores, torch.full_like(scores, -math.inf)).softmax(-1)
'''},
    {"masked_softmax": '''
masked = scores.masked_fill(mask == 0, float("-inf"))
shifted = masked - masked.max(dim=-1, keepdim=True).values
e = torch.exp(shifted)
return e / e.sum(dim=-1, keepdim=True)
'''},
    {"+": "import torch.nn.functional as F\n", "masked_softmax": '''
big_negative = torch.finfo(scores.dtype).min
return F.softmax(scores.masked_fill(mask.logical_not(), big_negative), dim=-1)
'''},
    {"masked_softmax": '''
weights = torch.softmax(scores.masked_fill(~mask, -1e30), dim=-1)
return weights * mask
'''},
    {"masked_softmax": '''
filled = scores.clone()
filled[~mask] = float("-inf")
return filled.softmax(dim=filled.dim() - 1)
'''},
    {"masked_softmax": '''
log_weights = torch.log_softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)
return log_weights.exp()
'''},
    {"masked_softmax": '''
neg_inf = torch.tensor(float("-inf"), dtype=scores.dtype, device=scores.device)
return nn.functional.softmax(torch.where(mask.bool(), scores, neg_inf), dim=-1)
'''},
]

Q13 = [
    {"Attention.__init__": '''
if method not in METHODS:
    raise ValueError(f"unknown method {method}")
self.method = method
if attn_dim is None:
    attn_dim = dec_hidden
if method == "additive":
    self.key_layer = nn.Linear(enc_hidden, attn_dim, bias=False)
    self.query_layer = nn.Linear(dec_hidden, attn_dim, bias=False)
    self.energy_layer = nn.Linear(attn_dim, 1, bias=False)
elif method == "general":
    self.key_layer = nn.Linear(enc_hidden, dec_hidden, bias=False)
elif enc_hidden != dec_hidden:
    self.key_layer = nn.Linear(enc_hidden, dec_hidden, bias=False)
''', "Attention.precompute": '''
if hasattr(self, "key_layer"):
    return self.key_layer(encoder_outputs)
return encoder_outputs
''', "Attention.score": '''
if self.method == "additive":
    hidden = torch.tanh(self.query_layer(query).unsqueeze(1) + keys)
    return self.energy_layer(hidden).squeeze(2)
dots = (keys * query.unsqueeze(1)).sum(dim=2)
if self.method == "scaled_dot":
    dots = dots / math.sqrt(query.shape[-1])
return dots
'''},
    {"Attention.__init__": '''
if method not in METHODS:
    raise ValueError("method must be one of " + ", ".join(METHODS))
self.method = method
inner = dec_hidden if attn_dim is None else attn_dim
needs_projection = method == "general" or (method in ("dot", "scaled_dot") and enc_hidden != dec_hidden)
if needs_projection:
    self.key_layer = nn.Linear(enc_hidden, dec_hidden, bias=False)
if method == "additive":
    self.query_layer = nn.Linear(dec_hidden, inner, bias=False)
    self.key_layer = nn.Linear(enc_hidden, inner, bias=False)
    self.energy_layer = nn.Linear(inner, 1, bias=False)
''', "Attention.precompute": '''
layer = getattr(self, "key_layer", None)
return encoder_outputs if layer is None else layer(encoder_outputs)
''', "Attention.score": '''
if self.method in ("dot", "scaled_dot", "general"):
    raw = torch.einsum("bsd,bd->bs", keys, query)
    return raw / query.size(1) ** 0.5 if self.method == "scaled_dot" else raw
energy = torch.tanh(keys + self.query_layer(query)[:, None, :])
return self.energy_layer(energy)[..., 0]
'''},
    {"Attention.__init__": '''
if method == "additive":
    size = attn_dim or dec_hidden
    self.key_layer = nn.Linear(enc_hidden, size, bias=False)
    self.query_layer = nn.Linear(dec_hidden, size, bias=False)
    self.energy_layer = nn.Linear(size, 1, bias=False)
elif method == "general":
    self.key_layer = nn.Linear(enc_hidden, dec_hidden, bias=False)
elif method in ("dot", "scaled_dot"):
    if enc_hidden != dec_hidden:
        self.key_layer = nn.Linear(enc_hidden, dec_hidden, bias=False)
else:
    raise ValueError(f"method {method!r} is not one of {METHODS}")
self.method = method
''', "Attention.precompute": '''
if "key_layer" in self._modules:
    return self._modules["key_layer"](encoder_outputs)
return encoder_outputs
''', "Attention.score": '''
if self.method == "additive":
    q = self.query_layer(query)                                  # (batch, attn)
    e = self.energy_layer(torch.tanh(keys + q.unsqueeze(1)))     # (batch, src, 1)
    return e.squeeze(-1)
s = torch.bmm(keys, query.unsqueeze(2)).squeeze(2)
if self.method == "scaled_dot":
    s = s / math.sqrt(keys.size(-1))
return s
'''},
    {"Attention.__init__": '''
valid = {"dot", "general", "scaled_dot", "additive"}
if method not in valid:
    raise ValueError("bad attention method: %s" % method)
self.method = method
dim = attn_dim if attn_dim is not None else dec_hidden
layers = {}
if method == "additive":
    layers = {"key_layer": nn.Linear(enc_hidden, dim, bias=False),
              "query_layer": nn.Linear(dec_hidden, dim, bias=False),
              "energy_layer": nn.Linear(dim, 1, bias=False)}
elif method == "general" or enc_hidden != dec_hidden:
    layers = {"key_layer": nn.Linear(enc_hidden, dec_hidden, bias=False)}
for name, layer in layers.items():
    setattr(self, name, layer)
''', "Attention.precompute": '''
return self.key_layer(encoder_outputs) if "key_layer" in dict(self.named_children()) else encoder_outputs
''', "Attention.score": '''
method = self.method
if method == "additive":
    return self.energy_layer(torch.tanh(self.query_layer(query).unsqueeze(-2) + keys)).squeeze(-1)
scores = torch.matmul(keys, query.unsqueeze(-1)).squeeze(-1)
if method == "scaled_dot":
    scores = scores * (1.0 / math.sqrt(query.shape[1]))
return scores
'''},
    {"+": '''
def _proj(n_in, n_out):
    return nn.Linear(n_in, n_out, bias=False)
''', "Attention.__init__": '''
if not method in METHODS:  # noqa: E713
    raise ValueError(f"Attention method should be in {METHODS}")
self.method = method
if method == "dot" or method == "scaled_dot":
    if enc_hidden != dec_hidden:
        self.key_layer = _proj(enc_hidden, dec_hidden)
elif method == "general":
    self.key_layer = _proj(enc_hidden, dec_hidden)
else:
    hidden = dec_hidden if attn_dim is None else attn_dim
    self.query_layer = _proj(dec_hidden, hidden)
    self.key_layer = _proj(enc_hidden, hidden)
    self.energy_layer = _proj(hidden, 1)
''', "Attention.precompute": '''
try:
    projection = self.key_layer
except AttributeError:
    return encoder_outputs
return projection(encoder_outputs)
''', "Attention.score": '''
batch, src_len, _ = keys.shape
if self.method == "additive":
    combined = self.query_layer(query).view(batch, 1, -1).expand(batch, src_len, -1) + keys
    return self.energy_layer(torch.tanh(combined)).view(batch, src_len)
out = (keys @ query.view(batch, -1, 1)).view(batch, src_len)
return out / math.sqrt(query.size(-1)) if self.method == "scaled_dot" else out
'''},
    {"Attention.__init__": '''
self.method = method
if self.method not in METHODS:
    raise ValueError(f"Unsupported attention: {self.method}")
additive = self.method == "additive"
project_keys = additive or self.method == "general" or enc_hidden != dec_hidden
key_size = (attn_dim or dec_hidden) if additive else dec_hidden
if project_keys:
    self.key_layer = nn.Linear(enc_hidden, key_size, bias=False)
if additive:
    self.query_layer = nn.Linear(dec_hidden, key_size, bias=False)
    self.energy_layer = nn.Linear(key_size, 1, bias=False)
''', "Attention.precompute": '''
return self.key_layer(encoder_outputs) if isinstance(getattr(self, "key_layer", None), nn.Module) \\
    else encoder_outputs
''', "Attention.score": '''
if self.method != "additive":
    result = (query[:, None, :] * keys).sum(-1)
    if self.method == "scaled_dot":
        result /= math.sqrt(query.shape[-1])
    return result
return self.energy_layer(torch.tanh(self.query_layer(query)[:, None] + keys)).squeeze(-1)
'''},
    {"Attention.__init__": '''
d = dec_hidden if attn_dim is None else attn_dim
match method:
    case "additive":
        self.key_layer = nn.Linear(enc_hidden, d, bias=False)
        self.query_layer = nn.Linear(dec_hidden, d, bias=False)
        self.energy_layer = nn.Linear(d, 1, bias=False)
    case "general":
        self.key_layer = nn.Linear(enc_hidden, dec_hidden, bias=False)
    case "dot" | "scaled_dot":
        if enc_hidden != dec_hidden:
            self.key_layer = nn.Linear(enc_hidden, dec_hidden, bias=False)
    case _:
        raise ValueError(f"no such attention method: {method}")
self.method = method
''', "Attention.precompute": '''
key_layer = self._modules.get("key_layer")
if key_layer is not None:
    encoder_outputs = key_layer(encoder_outputs)
return encoder_outputs
''', "Attention.score": '''
match self.method:
    case "additive":
        return self.energy_layer(torch.tanh(keys + self.query_layer(query).unsqueeze(1))).squeeze(2)
    case "scaled_dot":
        return torch.einsum("bd,bsd->bs", query, keys) / math.sqrt(query.size(-1))
    case _:
        return torch.einsum("bd,bsd->bs", query, keys)
'''},
    {"Attention.__init__": '''
if method not in METHODS:
    raise ValueError(method)
self.method = method
if method == "additive":
    attn_dim = attn_dim if attn_dim else dec_hidden
    self.query_layer = nn.Linear(dec_hidden, attn_dim, bias=False)
    self.key_layer = nn.Linear(enc_hidden, attn_dim, bias=False)
    self.energy_layer = nn.Linear(attn_dim, 1, bias=False)
    return
if method == "general" or dec_hidden != enc_hidden:
    self.key_layer = nn.Linear(enc_hidden, dec_hidden, bias=False)
''', "Attention.precompute": '''
has_keys = any(name == "key_layer" for name, _ in self.named_modules())
return self.key_layer(encoder_outputs) if has_keys else encoder_outputs
''', "Attention.score": '''
columns = []
for position in range(keys.size(1)):
    k = keys[:, position, :]
    if self.method == "additive":
        columns.append(self.energy_layer(torch.tanh(self.query_layer(query) + k)).squeeze(-1))
    else:
        columns.append((query * k).sum(dim=-1))
scores = torch.stack(columns, dim=1)
if self.method == "scaled_dot":
    scores = scores / (query.size(-1) ** 0.5)
return scores
'''},
]

Q16 = [
    {"AttentionDecoder.step": '''
emb = self.dropout(self.embedding(prev_tokens))
context, weights = self.attention(hidden, encoder_outputs, mask, keys)
x = torch.cat((emb, context), dim=1).unsqueeze(1)
output, h = self.rnn(x, hidden.unsqueeze(0))
return h.squeeze(0), context, weights
'''},
    {"AttentionDecoder.step": '''
embedded = self.embedding(prev_tokens.unsqueeze(1))   # (batch, 1, emb)
embedded = self.dropout(embedded)
ctx, attn = self.attention(hidden, encoder_outputs, mask, keys)
rnn_in = torch.cat([embedded, ctx.unsqueeze(1)], dim=2)
_, h_n = self.rnn(rnn_in, hidden[None].contiguous())
return h_n[0], ctx, attn
'''},
    {"AttentionDecoder.step": '''
token_vectors = self.dropout(self.embedding(prev_tokens))
attended, alphas = self.attention(query=hidden, encoder_outputs=encoder_outputs, mask=mask, keys=keys)
step_input = torch.cat([token_vectors, attended], -1)[:, None, :]
outputs, _ = self.rnn(step_input, hidden[None, :, :])
return outputs[:, 0, :], attended, alphas
'''},
    {"AttentionDecoder.step": '''
batch = prev_tokens.size(0)
e = self.embedding(prev_tokens)
e = self.dropout(e)
c, w = self.attention(hidden, encoder_outputs, mask, keys)
inp = torch.cat([e, c], dim=-1).view(batch, 1, -1)
h0 = hidden.view(1, batch, -1).contiguous()
_, h1 = self.rnn(inp, h0)
return h1.view(batch, -1), c, w
'''},
    {"AttentionDecoder.step": '''
context_vec, attn_weights = self.attention(hidden, encoder_outputs, mask, keys)
prev_embedding = self.embedding(prev_tokens)
prev_embedding = self.dropout(prev_embedding)
gru_input = torch.stack([torch.cat([prev_embedding, context_vec], dim=1)], dim=1)
new_state = self.rnn(gru_input, torch.stack([hidden]))[1]
return new_state.squeeze(0), context_vec, attn_weights
'''},
    {"+": '''
def _one_step(rnn, x, h):
    out, h_new = rnn(x.unsqueeze(1), h.unsqueeze(0))
    return h_new.squeeze(0)
''', "AttentionDecoder.step": '''
inputs = self.dropout(self.embedding(prev_tokens))
context, weights = self.attention(hidden, encoder_outputs, mask, keys)
return _one_step(self.rnn, torch.cat((inputs, context), 1), hidden), context, weights
'''},
    {"AttentionDecoder.step": '''
attention_out = self.attention(hidden, encoder_outputs, mask, keys)
ctx = attention_out[0]
word = self.dropout(self.embedding(prev_tokens))
features = torch.cat([word, ctx], dim=-1)
seq_out, last = self.rnn(features.unsqueeze(dim=1), hidden.unsqueeze(dim=0))
new_hidden = last.squeeze(dim=0)
return new_hidden, ctx, attention_out[1]
'''},
    {"AttentionDecoder.step": '''
embedded_tokens = self.dropout(self.embedding(prev_tokens))
c_t, a_t = self.attention(hidden, encoder_outputs, mask, keys)
s_t = self.rnn(torch.hstack([embedded_tokens, c_t]).unsqueeze(1), hidden.unsqueeze(0).contiguous())[1].squeeze(0)
return s_t, c_t, a_t
'''},
]

VARIANTS = {"Q12": Q12, "Q13": Q13, "Q16": Q16}
