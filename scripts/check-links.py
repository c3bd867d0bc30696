#!/usr/bin/env python3
"""Fails on dead relative links in README.md and docs/*.md: every Markdown link
`[text](target)` whose target is not a URL must name a file or folder that exists
(relative to the page; an #anchor is ignored). Run by scripts/test.sh."""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
pages = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
link = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
dead = []
checked = 0
for page in pages:
    text = page.read_text(encoding="utf-8")
    # Links inside code blocks and inline code are text, not links.
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    for m in link.finditer(text):
        target = m.group(1)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue
        checked += 1
        path = target.split("#", 1)[0]
        if not (page.parent / path).exists():
            dead.append(f"{page.relative_to(root)}: {target}")
if dead:
    print("dead relative links:", *dead, sep="\n  ", file=sys.stderr)
    sys.exit(1)
print(f"links: {checked} relative links in {len(pages)} pages, none dead", file=sys.stderr)
