#!/usr/bin/env python3
"""Checks what `swift package generate-documentation` cannot (scripts/docs runs it):

- links: every relative link and `#anchor` in README.md and docs/*.md resolves (a file or
  folder of the repository; an anchor is a heading of the target file under GitHub's slug
  rules, or an explicit `id`/`name`); http(s) and mailto links are not followed;
- samples: every ```swift block of README.md, docs/ and the DocC articles (Sources/*/*.docc/*.md) and of the doc
  comments of their modules' Swift files, its import lines aside, appears line for line in
  Tests/ or Examples/ (at any one indentation), where it is compiled and run; every ```c block compiles against workqueue_plugin.h (cc -fsyntax-only).

Prints one line per problem and a summary line; exits 1 on any problem.
Usage: docs-check.py [links|samples]...   (both by default)
"""
import glob
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FENCE = re.compile(r"^\s*(```|~~~)")


def prose_lines(text):
    """The lines of `text` outside fenced code blocks, with inline code blanked out."""
    fenced = False
    for number, line in enumerate(text.split("\n"), 1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, re.sub(r"(`+)(.+?)\1", "", line)


def slug(heading):
    """GitHub's anchor for a heading: lowercase, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links keep their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)  # \w is Unicode-aware: letters, digits, _
    return text.replace(" ", "-")


def anchors(path, cache={}):
    if path not in cache:
        text = open(path, encoding="utf-8").read()
        found, seen = set(), {}
        fenced = False
        for line in text.split("\n"):
            if FENCE.match(line):
                fenced = not fenced
                continue
            if fenced:
                continue
            heading = re.match(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$", line)
            if heading:
                base = slug(heading.group(1))
                count = seen.get(base, 0)
                seen[base] = count + 1
                found.add(base if count == 0 else f"{base}-{count}")
            for explicit in re.findall(r"""<a\s+[^>]*(?:name|id)=["']([^"']+)["']""", line):
                found.add(explicit)
        cache[path] = found
    return cache[path]


def check_links():
    problems, checked = [], 0
    files = [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True))
    link = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
    reference = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
    for path in files:
        if not os.path.exists(path):
            continue
        text = open(path, encoding="utf-8").read()
        for number, line in prose_lines(text):
            targets = link.findall(line) + reference.findall(line)
            targets += re.findall(r"""<a\s+[^>]*href=["']([^"']+)["']""", line)
            for target in targets:
                if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto:
                    continue
                checked += 1
                where = f"{os.path.relpath(path, ROOT)}:{number}"
                file_part, _, anchor = target.partition("#")
                resolved = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
                if file_part.startswith("/"):
                    resolved = os.path.normpath(os.path.join(ROOT, file_part.lstrip("/")))
                if not os.path.exists(resolved):
                    problems.append(f"{where}: broken link {target}: {os.path.relpath(resolved, ROOT)} does not exist")
                    continue
                if anchor and resolved.endswith(".md") and anchor not in anchors(resolved):
                    problems.append(f"{where}: broken anchor {target}: no heading of {os.path.relpath(resolved, ROOT)} has the slug '{anchor}'")
    return problems, f"{checked} links in {len(files)} files"


def code_blocks(path, language):
    """(first line number, lines) of each fenced block tagged `language` in a Markdown file."""
    blocks, current, start = [], None, 0
    for number, line in enumerate(open(path, encoding="utf-8").read().split("\n"), 1):
        fence = re.match(r"^\s*```\s*(\S*)", line)
        if fence and current is None:
            current, start = ([] if fence.group(1) == language else "other"), number + 1
        elif fence:
            if current != "other":
                blocks.append((start, current))
            current = None
        elif current is not None and current != "other":
            current.append(line)
    return blocks


def appears_in(block, test_lines):
    """True when `block` is a run of `test_lines`, every line under one common indentation."""
    first = block[0]
    for index, line in enumerate(test_lines):
        if not line.endswith(first):
            continue
        indent = line[: len(line) - len(first)]
        if indent.strip() or index + len(block) > len(test_lines):
            continue
        if all((test_lines[index + k] == indent + want) if want.strip() else not test_lines[index + k].strip()
               for k, want in enumerate(block)):
            return True
    return False


def doc_comment_blocks(path):
    """(first line number, lines) of each ```swift block in the `///` doc comments of a Swift file."""
    blocks, current, start = [], None, 0
    for number, line in enumerate(open(path, encoding="utf-8").read().split("\n"), 1):
        comment = re.match(r"^\s*/// ?(.*)$", line)
        text = comment.group(1) if comment else None
        if text is not None and re.match(r"^```\s*swift\s*$", text) and current is None:
            current, start = [], number + 1
        elif text is not None and text.startswith("```") and current is not None:
            blocks.append((start, current))
            current = None
        elif current is not None:
            current.append(text if text is not None else "")
    return blocks


def check_samples():
    problems, swift_count, c_count = [], 0, 0
    tests = []
    # Compiled code that may hold a sample: every test target, and the examples (the template
    # package among them), build directories aside.
    sources = glob.glob(os.path.join(ROOT, "Tests", "**", "*.swift"), recursive=True) \
        + glob.glob(os.path.join(ROOT, "Examples", "**", "*.swift"), recursive=True)
    for path in sorted(p for p in sources if "/.build" not in p):
        tests.append(open(path, encoding="utf-8").read().split("\n"))
    articles = sorted(glob.glob(os.path.join(ROOT, "Sources", "*", "*.docc", "*.md"))) \
        + [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True))
    header_dir = os.path.join(ROOT, "Sources", "CWorkQueuePlugin", "include")
    # The modules that have a catalog: their doc comments' samples are shown too.
    commented = sorted(path for catalog in glob.glob(os.path.join(ROOT, "Sources", "*", "*.docc"))
                       for path in glob.glob(os.path.join(os.path.dirname(catalog), "*.swift")))
    for path in articles + commented:
        where = os.path.relpath(path, ROOT)
        blocks = doc_comment_blocks(path) if path.endswith(".swift") else code_blocks(path, "swift")
        for start, lines in blocks:
            body = [line for line in lines if not re.match(r"^\s*import \w+\s*$", line)]
            while body and not body[0].strip():
                body.pop(0)
            while body and not body[-1].strip():
                body.pop()
            if not body:
                continue
            swift_count += 1
            if not any(appears_in(body, test) for test in tests):
                problems.append(f"{where}:{start}: this Swift sample is not in Tests/ or Examples/ as it is "
                                f"(first line: {body[0].strip()!r})")
        for start, lines in ([] if path.endswith(".swift") else code_blocks(path, "c")):
            c_count += 1
            with tempfile.NamedTemporaryFile("w", suffix=".c", delete=False) as source:
                source.write("\n".join(lines) + "\n")
            try:
                compiled = subprocess.run(["cc", "-fsyntax-only", "-Wall", "-Werror", "-I", header_dir, source.name],
                                          capture_output=True, text=True)
            finally:
                os.unlink(source.name)
            if compiled.returncode != 0:
                problems.append(f"{where}:{start}: this C sample does not compile:\n{compiled.stderr.strip()}")
    return problems, f"{swift_count} Swift samples found in Tests/ and Examples/, {c_count} C samples compiled"


def main():
    wanted = sys.argv[1:] or ["links", "samples"]
    problems, parts = [], []
    for name in wanted:
        found, summary = {"links": check_links, "samples": check_samples}[name]()
        problems += found
        parts.append(summary)
    for problem in problems:
        print(problem)
    print(f"docs-check: {'; '.join(parts)}: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
