"""Find a quoted fragment of Python source in a module by its tokens, so that a quote survives cosmetic edits.

A mutant (tests/helpers.py) replaces a quote of the generated solution by new text. Matching the quote character
for character broke whenever ``source/`` was reformatted; ``replace_once()`` matches it as a sequence of Python
tokens instead, ignoring what cannot change the code's meaning:

* comments, blank lines, line breaks and indentation (NEWLINE, NL, INDENT, DEDENT tokens are dropped), and the
  spaces between tokens, so a line re-wrapped inside brackets or ``a+b`` for ``a + b`` still matches;
* the spelling of a literal: strings and numbers compare by value (``'x'`` is ``"x"``, ``1_000`` is ``1000``), and
  f-strings by their text without the quotes.

The quote must be found exactly once (optionally within ``scope``, a function or ``Class.method``); what is
replaced is the text from its first token to its last, with the whitespace the quote has around its tokens (its
indentation, its final newline) matched to the module's. A quote may start and end mid-line and may leave brackets
open or close brackets it did not open; it may end inside a string (``'raise X(f"device {d!r} was'``), whose
quoted part must then start the module's string word for word (quotes aside), but it starts and ends with whole
tokens otherwise (not mid-name, not inside a comment). Where its tokens occur more than once, the one occurrence
with whitespace where the quote has some around them is taken (``'    random.seed(seed)\\n'`` is a statement,
not the end of ``np.random.seed(seed)``); a quote indented unlike its match has the later lines of its new text
moved to match. A quote that cannot be read as tokens otherwise (``'how?"'``, say) is matched as exact text, as
before, and so is any quote in a module that does not read as tokens.

Nothing is fuzzy: a renamed variable, a changed operator or a changed literal in the quoted code is a different
token sequence, which is refused (an AssertionError naming the file, the quote and the closest run of its tokens
that the module holds).
"""
from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass

DROPPED = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
OPEN = "(" * 64  # a quote is read inside brackets: indentation and line breaks then mean nothing to tokenize
STRING_START = re.compile(r"""(?i)([rbuf]{0,2})('{3}|"{3}|'|")""")  # a string's prefix and opening quotes


@dataclass(frozen=True)
class Token:
    """A significant token: ``key`` compares its meaning, ``start``/``end`` are character offsets in the text."""

    key: tuple
    start: int
    end: int


@dataclass(frozen=True)
class Quote:
    """A fragment read as tokens: ``tokens`` then, where it ends inside a string, ``tail`` (that string's start,
    matched as exact text); ``lead``/``trail``: its text before the first and after the last token."""

    tokens: tuple[Token, ...]
    tail: str
    lead: str
    trail: str


def _key(kind: int, text: str) -> tuple:
    if kind == tokenize.NUMBER:
        value = ast.literal_eval(text)
        return ("number", type(value).__name__, value)
    if kind == tokenize.STRING:
        prefix = re.match(r"[A-Za-z]*", text).group().lower()
        if "f" not in prefix:
            value = ast.literal_eval(text)
            return ("string", type(value).__name__, value)
        body = text[len(prefix):]
        quotes = 3 if body[:3] in ('"""', "'''") else 1
        return ("f-string", "".join(sorted(prefix)), body[quotes:-quotes])
    if kind == getattr(tokenize, "FSTRING_START", None):  # Python 3.12 on: an f-string is read as several tokens
        prefix = STRING_START.match(text)
        return ("f-string start", "".join(sorted(prefix[1].lower())), len(prefix[2]))
    if kind == getattr(tokenize, "FSTRING_END", None):
        return ("f-string end", len(text))
    return ("token", text)


def _offsets(text: str) -> list[int]:
    """The offset of each line's start, indexed by tokenize's line numbers (from 1)."""
    starts = [0, 0]
    for line in io.StringIO(text).readlines():  # the lines tokenize reads: split at "\n" only
        starts.append(starts[-1] + len(line))
    return starts


def _scan(source: str, skip: int = 0) -> tuple[list[Token], int]:
    """The significant tokens of ``source`` after its first ``skip`` characters, and the offset where reading them
    stopped: ``len(source)`` when all of it was read (offsets from ``skip``). Errors at the end (brackets left
    open, a string left open) and any later error stop the reading without raising."""
    lines, tokens, stop = _offsets(source), [], len(source)
    at = lambda position: lines[position[0]] + position[1] - skip  # noqa: E731
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if (tok.type == tokenize.ERRORTOKEN and not tok.string.isspace()
                    or tok.type == tokenize.OP and tok.string not in tokenize.EXACT_TOKEN_TYPES):  # "?" in 3.12
                stop = at(tok.start) + skip
                break
            if tok.type not in DROPPED and tok.type != tokenize.ERRORTOKEN and at(tok.start) >= 0:
                try:
                    tokens.append(Token(_key(tok.type, tok.string), at(tok.start), at(tok.end)))
                except (ValueError, SyntaxError):  # a literal that does not evaluate: compare its text
                    tokens.append(Token(("token", tok.string), at(tok.start), at(tok.end)))
    except tokenize.TokenError as error:
        if "string" in error.args[0]:  # a string left open: it starts after the last token outside it
            unclosed = []  # Python 3.12 on: the f-strings (nested, maybe) that were left open
            for i, token in enumerate(tokens):
                if token.key[0] == "f-string start":
                    unclosed.append(i)
                elif token.key[0] == "f-string end":
                    unclosed.pop()
            del tokens[unclosed[0] if unclosed else len(tokens):]
            stop = tokens[-1].end + skip if tokens else skip
            stop = len(source) - len(source[stop:].lstrip())
    except SyntaxError:  # e.g. an inconsistent dedent in a module: what was read so far
        stop = tokens[-1].end + skip if tokens else skip
    return tokens, stop - skip


def _fragment(old: str) -> tuple[list[Token], int] | None:
    """A fragment's tokens and where the string it ends inside starts (its length if it ends outside strings), or
    None where it does not read as tokens."""
    tokens, stop = _scan(OPEN + old, len(OPEN))
    if not old[stop:].strip():
        return tokens, len(old)
    if tokens and tokens[-1].end == stop and tokens[-1].key[0] == "token" and STRING_START.fullmatch(
            old[tokens[-1].start:stop + 1]):
        stop = tokens.pop().start  # a string prefix (f, r, b...) read as a name before its quote
    return (tokens, stop) if STRING_START.match(old, stop) else None


def read_quote(old: str) -> Quote | None:
    """``old`` as tokens, or None where it does not read as tokens (then it is matched as exact text)."""
    read = _fragment(old)
    if read is None or not read[0]:
        return None
    tokens, stop = read
    tail = old[stop:].rstrip()
    end = stop + len(tail) if tail else tokens[-1].end
    return Quote(tuple(tokens), tail, old[:tokens[0].start], old[end:])


def _module_tokens(text: str) -> list[Token] | None:
    """The module's significant tokens, or None where it does not read as Python tokens to its end."""
    tokens, stop = _scan(text)
    return tokens if stop == len(text) else None


def _char_offset(text: str, lines: list[int], line: int, byte_col: int) -> int:
    """The character offset of ``ast``'s (line, UTF-8 byte column) position."""
    start = lines[line]
    return start + len(text[start:start + byte_col].encode("utf-8")[:byte_col].decode("utf-8", "ignore"))


def scope_span(text: str, scope: str, where: str) -> tuple[int, int]:
    """The character span of the function or class ``scope`` (dotted from the module: ``"Encoder.forward"``)."""
    found: list[ast.AST] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if prefix + child.name == scope:
                    found.append(child)
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(text), "")
    assert len(found) == 1, f"mutation scope {scope!r} found {len(found)} times in {where}"
    node, lines = found[0], _offsets(text)
    first = min([node, *node.decorator_list], key=lambda n: (n.lineno, n.col_offset))
    return (_char_offset(text, lines, first.lineno, first.col_offset),
            _char_offset(text, lines, node.end_lineno, node.end_col_offset))


def _tail_end(text: str, start: int, tail: str) -> tuple[int, str] | None:
    """Where the part of the module's string at ``start`` that ``tail`` quotes ends, and that string's quotes (None
    if it quotes another string): ``tail`` is the start of a string, and the quotes around strings are cosmetic."""
    ours, theirs = STRING_START.match(tail), STRING_START.match(text, start)
    if not theirs or sorted(ours[1].lower()) != sorted(theirs[1].lower()) or len(ours[2]) != len(theirs[2]):
        return None
    body = tail[ours.end():]
    return (theirs.end() + len(body), theirs[2]) if text.startswith(body, theirs.end()) else None


def _matches(tokens: list[Token], quote: Quote, text: str) -> list[tuple[int, int, str]]:
    """Where ``quote`` occurs: its first token's start, its last token's end (or its tail's), and the quotes of the
    string that its tail starts ("" without a tail)."""
    keys, spans = [t.key for t in quote.tokens], []
    n = len(keys)
    for i in range(len(tokens) - n + 1):
        if tokens[i].key != keys[0] or [t.key for t in tokens[i:i + n]] != keys:
            continue
        end = (tokens[i + n - 1].end, "")
        if quote.tail:
            end = _tail_end(text, tokens[i + n].start, quote.tail) if i + n < len(tokens) else None
            if end is None:
                continue
        spans.append((tokens[i].start, *end))
    return spans


def _bounded(text: str, span: tuple[int, int, str], quote: Quote) -> bool:
    """The module has whitespace (or a comment) where the quote has some around its tokens: a quote that starts
    with indentation, ``'    random.seed(seed)\\n'``, quotes a statement, not ``np.random.seed(seed)``."""
    start, end, _ = span
    return ((not quote.lead or start == 0 or text[start - 1].isspace())
            and (not quote.trail or end == len(text) or text[end].isspace() or text[end] == "#"))


def _closest(tokens: list[Token], quote: Quote, text: str, old: str) -> str:
    """Where the module comes closest to the quote: its longest run of the quote's tokens, and what differs at
    either end of that run."""
    keys, best, at, of = [t.key for t in quote.tokens], 0, 0, 0
    runs = [0] * (len(keys) + 1)  # runs[j + 1]: the run of equal tokens ending at quote token j, module token i
    for i, token in enumerate(tokens):
        for j in range(len(keys) - 1, -1, -1):
            runs[j + 1] = runs[j] + 1 if token.key == keys[j] else 0
            if runs[j + 1] > best:
                best, at, of = runs[j + 1], i - runs[j + 1] + 1, j - runs[j + 1] + 1
    if not best:
        return "; the module has none of its tokens"
    said = lambda t: repr(text[t.start:t.end])  # noqa: E731
    quoted = lambda t: repr(old[t.start:t.end])  # noqa: E731
    differences = [f"{said(tokens[at - 1]) if at else 'nothing'} where the quote has {quoted(quote.tokens[of - 1])}"
                   ] if of else []
    if of + best < len(keys):
        follows = said(tokens[at + best]) if at + best < len(tokens) else "nothing"
        differences.append(f"{follows} where the quote has {quoted(quote.tokens[of + best])}")
    elif quote.tail:
        differences.append(f"a string that does not start with {quote.tail!r}")
    return (f"; the closest code, at line {text.count(chr(10), 0, tokens[at].start) + 1}, holds {best} of its "
            f"{len(keys)} tokens in a row, with {' and '.join(differences)}")


def _widen(text: str, span: tuple[int, int, str], quote: Quote) -> tuple[int, int]:
    """``span`` widened over the whitespace the quote has around its tokens: the spaces next to them, as many line
    breaks as the quote has there (with a comment that ends a line) and, where the quote has some, the indentation
    beyond its outermost line break."""
    start, end, _ = span
    if quote.lead:
        outer = quote.lead.split("\n")[:-1]
        start = len(text[:start].rstrip(" \t"))
        for number in range(len(outer)):
            if start == 0 or text[start - 1] != "\n":
                break
            start -= 1
            if number < len(outer) - 1 or outer[0]:
                start = len(text[:start].rstrip(" \t"))
    if quote.trail:
        outer = quote.trail.split("\n")[1:]
        end = len(text) - len(text[end:].lstrip(" \t"))
        for number in range(len(outer)):
            if text.startswith("#", end):
                end = text.find("\n", end) if "\n" in text[end:] else len(text)
            if not text.startswith("\n", end):
                break
            end += 1
            if number < len(outer) - 1 or outer[-1]:
                end = len(text) - len(text[end:].lstrip(" \t"))
    return start, end


def _indentation(text: str, start: int) -> int | None:
    """The column of ``start`` where only whitespace precedes it on its line, else None."""
    line = text.rfind("\n", 0, start) + 1
    return start - line if not text[line:start].strip() else None


def _adapt(new: str, quote: Quote, lead: str, trail: str, shift: int, quotes: str) -> str:
    """``new`` to replace the widened match: the quote's lead and trail, where ``new`` keeps them, become the
    module's, its later lines move ``shift`` columns (where the match is indented unlike the quote), and the string
    it ends inside (as the quote does) opens with the module's ``quotes``."""
    read = _fragment(new) if quotes else None
    if read and read[1] < len(new):
        opening = STRING_START.match(new, read[1])
        if len(opening[2]) == len(quotes):
            new = new[:opening.start(2)] + quotes + new[opening.end(2):]
    head = len(quote.lead) if new.startswith(quote.lead) else 0
    tail = len(quote.trail) if quote.trail and new.endswith(quote.trail) and len(new) - len(quote.trail) >= head else 0
    lines = new[head:len(new) - tail].split("\n")
    moved = slice(0 if quote.lead and not head else 1, None)  # the lines that start at the left margin
    if shift < 0 and any(line.strip() and not line.startswith(" " * -shift) for line in lines[moved]):
        raise AssertionError(f"cannot move the new text {new!r} {-shift} columns left, to where the quote was found")
    lines[moved] = [(" " * shift + line if shift > 0 else line[-shift:]) if line.strip() else line
                    for line in lines[moved]]
    return (lead if head else "") + "\n".join(lines) + (trail if tail else "")


def _exact(text: str, old: str, new: str, where: str, region: tuple[int, int]) -> str:
    """The old way, for a quote that does not read as tokens (or a module that does not): exact text."""
    count = text.count(old, *region)
    assert count == 1, f"mutation target found {count} times in {where} (as exact text): {old!r}"
    start = text.index(old, *region)
    return text[:start] + new + text[start + len(old):]


def replace_once(text: str, old: str, new: str, *, where: str, scope: str | None = None) -> str:
    """``text`` (a module's source) with its one occurrence of the code ``old`` replaced by ``new``; an
    AssertionError naming ``where`` (the file) and the quote if the code occurs any other number of times, in the
    whole module or in ``scope`` (a function or class, ``"Class.method"``). See the module's docstring."""
    region = scope_span(text, scope, where) if scope else (0, len(text))
    quote, tokens = read_quote(old), _module_tokens(text)
    if quote is None or tokens is None:
        return _exact(text, old, new, where, region)
    found = [match for match in _matches(tokens, quote, text) if region[0] <= match[0] and match[1] <= region[1]]
    if len(found) > 1 and sum(_bounded(text, span, quote) for span in found) == 1:
        found = [span for span in found if _bounded(text, span, quote)]
    within = f" (within {scope})" if scope else ""
    if not found:
        raise AssertionError(f"mutation target found 0 times in {where}{within}: {old!r}"
                             + _closest([t for t in tokens if region[0] <= t.start < region[1]], quote, text, old))
    if len(found) > 1:
        lines = ", ".join(str(text.count("\n", 0, match[0]) + 1) for match in found)
        raise AssertionError(f"mutation target found {len(found)} times in {where}{within}: {old!r} (at lines "
                             f"{lines}: quote more of the code, or name the function it is in as its scope)")
    start, end = _widen(text, found[0], quote)
    here, there = _indentation(text, found[0][0]), _indentation(quote.lead, len(quote.lead))
    shift = here - there if quote.lead and here is not None and there is not None else 0
    new = _adapt(new, quote, text[start:found[0][0]], text[found[0][1]:end], shift, found[0][2])
    return text[:start] + new + text[end:]
