"""pycparser's lexer, run over the whole text at once (the front end's hot spot).

pycparser's CLexer produces one token per `token()` call, each through several method calls; lexing was
~40% of parse time on the fuzz programs. `FastCLexer.input` tokenises the whole text in one loop that
applies the *same* rules (pycparser's own master regex, keyword table and fixed-token buckets, the same
longest-match choice and line/column bookkeeping), with shortcuts that cannot change the result:
identifiers not followed by a quote skip the master regex (no earlier rule of it can match there), and
punctuation that starts no regex rule skips it too. Everything unusual is left to pycparser's own
code: `#` lines (line markers, pragmas) are handed to it token by token, and a text with a C23
attribute (`[[`) or any token pycparser reports as an error is lexed entirely by the original lexer, so
errors come out exactly as before. tests/compute/compiler/test_frontend.py checks that the token
streams are identical on the c-testsuite, chibicc's tests, fuzz programs and random text.
"""

from __future__ import annotations

import re

from pycparser import c_lexer
from pycparser.c_lexer import CLexer, Token

_IDENT = re.compile(r"[a-zA-Z_$][0-9a-zA-Z_$]*")
_SPACES = re.compile(r"[ \t\f\v]+")
_ID_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$")
# characters that begin no rule of the master regex (only fixed operator/punctuator tokens)
_PUNCT_ONLY = frozenset("(){}];,+-*%&|^!~<>=?:")
_MASTER = c_lexer._regex_master
_ACTIONS = c_lexer._regex_actions
_BUCKETS = c_lexer._fixed_tokens_by_first
_TOKEN = c_lexer._RegexAction.TOKEN
_ID = c_lexer._RegexAction.ID


class _Fallback(Exception):
    """Something the one-pass loop leaves to pycparser's lexer."""


class FastCLexer(CLexer):
    """A CLexer whose input() tokenises the whole text up front (same tokens, same coordinates)."""

    def input(self, text: str, filename: str = "") -> None:
        super().input(text, filename)
        self._all: list[Token] | None = None
        self._next = 0
        if "[" in text and c_lexer._attribute_begin.search(text):
            return
        try:
            self._all = self._lex_all()
        except _Fallback:
            self._all = None
        super().input(text, filename)  # reset the state for the lazy path (or for clex.filename)

    def token(self) -> Token | None:
        toks = self._all
        if toks is None:
            return super().token()
        i = self._next
        if i >= len(toks):
            return None
        self._next = i + 1
        tok = toks[i]
        self._filename = tok.filename
        return tok

    def _lex_all(self) -> list[Token]:
        text = self._lexdata
        n = len(text)
        toks: list[Token] = []
        append = toks.append
        pos, lineno, line_start, filename = 0, 1, 0, self._filename
        keywords = self._keyword_map
        ident = _IDENT.match
        spaces = _SPACES.match
        master = _MASTER.match
        buckets = _BUCKETS
        while pos < n:
            c = text[pos]
            if c == "\n":
                lineno += 1
                pos += 1
                line_start = pos
                continue
            if c in " \t\f\v":
                pos = spaces(text, pos).end()
                continue
            if c == "#":  # line markers and pragmas: pycparser's code, from this position
                self._pos, self._lineno, self._line_start, self._filename = pos, lineno, line_start, filename
                self._pending_tok = None
                tok = self._original_token()
                if tok is not None:
                    append(tok)
                    while self._pending_tok is not None:
                        append(self._original_token())
                pos, lineno, line_start, filename = self._pos, self._lineno, self._line_start, self._filename
                continue
            if c in _ID_START:
                end = ident(text, pos).end()
                if end >= n or text[end] not in "'\"":
                    value = text[pos:end]
                    append(Token(keywords.get(value, "ID"), value, lineno, pos - line_start + 1, filename))
                    pos = end
                    continue
            best = -1
            if c not in _PUNCT_ONLY:
                m = master(text, pos)
                if m is not None:
                    tok_type = m.lastgroup
                    value = m.group(tok_type)
                    best = len(value)
                    action = _ACTIONS[tok_type][0]
            bucket = buckets.get(c)
            if bucket:
                for entry in bucket:
                    if text.startswith(entry.literal, pos):
                        if len(entry.literal) > best:
                            best = len(entry.literal)
                            tok_type, value, action = entry.tok_type, entry.literal, _TOKEN
                        break
            if best < 0 or (action is not _TOKEN and action is not _ID):
                raise _Fallback()
            if action is _ID:
                tok_type = keywords.get(value, "ID")
            append(Token(tok_type, value, lineno, pos - line_start + 1, filename))
            pos += best
        return toks

    def _original_token(self) -> Token | None:
        """One token from pycparser's lexer at the current state (errors: the lazy path)."""
        try:
            return CLexer.token(self)
        except Exception as e:  # its error callback raised: lex lazily so the error comes in order
            raise _Fallback() from e
